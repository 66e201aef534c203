"""Canonical bytes: deterministic msgpack, and strict decoding that accepts nothing else.

The canonical form (docs/protocol.md, "Encoding") is msgpack where every Struct is a
map with keys sorted by their bytes, fields at their default value are left out, and
every integer, string, byte string, array and map uses its shortest header. msgspec's
encoder with ``order="sorted"`` produces exactly that.

Decoding is strict: the typed decoder enforces kinds, fields, types and length limits,
and then the decoded value is re-encoded and compared with the input. Any difference
(unsorted keys, a default written out, a long header, a duplicate key, trailing
bytes) is ``not_canonical``, so one object has exactly one byte string and one id.
The re-encoding is used only for this comparison; signatures are always checked on the
bytes as received.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from .errors import Code, DecodeFailure
from .models import Payload

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder(order="sorted")
_payload_decoder = msgspec.msgpack.Decoder(Payload)
_wire_decoder = msgspec.msgpack.Decoder(tuple[int, bytes, bytes])

_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def encode(obj: Any) -> bytes:
    """The canonical encoding of a Struct (or any msgpack-able value)."""
    return _encoder.encode(obj)


def _field_of(message: str, prefix: str) -> str | None:
    match = _PATH.search(message)
    if match is None:
        return prefix or None
    path = match.group("path")
    return f"{prefix}.{path}" if prefix and path else (path or prefix or None)


def _failure(exc: Exception, prefix: str) -> DecodeFailure:
    """Map a decoding exception to a protocol error with a stable code and field path."""
    message = str(exc)
    field = _field_of(message, prefix)
    text = _PATH.sub("", message)
    if isinstance(exc, msgspec.ValidationError) and prefix != "envelope":
        if text.startswith("Object contains unknown field"):
            return DecodeFailure(Code.UNKNOWN_FIELD, text, field)
        if field is not None and field.endswith("body.kind") and text.startswith("Invalid value"):
            return DecodeFailure(Code.UNKNOWN_KIND, text.replace("Invalid value", "unknown kind"), field)
        return DecodeFailure(Code.BAD_FIELD, text, field)
    if isinstance(exc, RecursionError):
        return DecodeFailure(Code.MALFORMED, "nested too deeply", field)
    return DecodeFailure(Code.MALFORMED, text, field)


_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError, ValueError)


def decode_strict(decoder: msgspec.msgpack.Decoder[T], data: bytes, what: str) -> T:
    """Decode ``data`` with ``decoder`` and insist the input is canonical."""
    try:
        value = decoder.decode(data)
    except _DECODE_ERRORS as exc:
        raise _failure(exc, what) from None
    if _encoder.encode(value) != data:
        raise DecodeFailure(Code.NOT_CANONICAL, f"{what} is not in canonical form", what)
    return value


def decode_payload(data: bytes) -> Payload:
    """Decode a payload strictly (kind, fields, limits, canonical form)."""
    return decode_strict(_payload_decoder, data, "payload")


def decode_payload_again(data: bytes) -> Payload:
    """Decode a payload this process (or a store it trusts) already decoded strictly: the
    schema still applies, the canonical form is not checked again."""
    try:
        return _payload_decoder.decode(data)
    except _DECODE_ERRORS as exc:
        raise _failure(exc, "payload") from None


def decode_wire(data: bytes) -> tuple[int, bytes, bytes]:
    """Split the outer envelope ``[version, payload, signature]``, strictly.

    The canonical form of a version 1 envelope is fixed byte by byte (``0x93 0x01``, the
    payload as bin 8, 16 or 32 with the shortest header, ``0xc4 0x40`` and the 64-byte
    signature, nothing after), so it is read here directly; anything else, or any doubt, goes
    through the general decoder, which names what is wrong."""
    n = len(data)
    framed = n > 70 and data[0] == 0x93 and data[1] == 0x01 and data[n - 66] == 0xC4 and data[n - 65] == 0x40
    if framed and type(data) is bytes:
        head = data[2]
        if head == 0xC4:
            size, start = data[3], 4
        elif head == 0xC5:
            size, start = int.from_bytes(data[3:5], "big"), 5
        elif head == 0xC6:
            size, start = int.from_bytes(data[3:7], "big"), 7
        else:
            size, start = -1, 0
        shortest = (start == 4) or (start == 5 and size > 0xFF) or (start == 7 and size > 0xFFFF)
        if shortest and start + size == n - 66:
            return 1, data[start : start + size], data[n - 64 :]
    return decode_strict(_wire_decoder, data, "envelope")
