"""Bundles: many envelopes in one byte string, for export, import and audit.

Layout (docs/protocol.md, "Bundles"): the 19-byte magic ``BRANCHNET-BUNDLE-1\\n``,
then for each envelope a 4-byte big-endian length followed by that many bytes of
envelope. Nothing else: no index, no trailer, so a bundle can be written and read as
a stream, concatenated after its magic, and read in any language in a few lines.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from .errors import Code, DecodeFailure
from .models import MAX_FORK_PROOF_ENVELOPE_BYTES

MAGIC = b"BRANCHNET-BUNDLE-1\n"
_LEN = struct.Struct(">I")


def record(envelope: bytes) -> bytes:
    """One bundle record: the length prefix and the envelope."""
    return _LEN.pack(len(envelope)) + envelope


def write_bundle(envelopes: Iterable[bytes]) -> bytes:
    """A whole bundle holding ``envelopes`` in the order given."""
    return MAGIC + b"".join(record(e) for e in envelopes)


def records(data: bytes | memoryview, start: int | None = None) -> Iterator[tuple[int, int]]:
    """Each record's envelope as (offset, size) in ``data`` (bytes, or a memoryview of an mmap),
    without copying it; raise bad_bundle on a bad magic, length or truncation. ``start``: the
    offset of a record boundary to begin at, in a piece of a bundle that has no magic."""
    if start is None:
        if bytes(data[: len(MAGIC)]) != MAGIC:
            raise DecodeFailure(Code.BAD_BUNDLE, "not a branchnet bundle (bad magic)")
        start = len(MAGIC)
    offset, number, end = start, 0, len(data)
    while offset < end:
        number += 1
        if offset + _LEN.size > end:
            raise DecodeFailure(Code.BAD_BUNDLE, f"record {number}: truncated length prefix")
        (size,) = _LEN.unpack_from(data, offset)
        offset += _LEN.size
        if size == 0 or size > MAX_FORK_PROOF_ENVELOPE_BYTES:
            raise DecodeFailure(Code.BAD_BUNDLE, f"record {number}: length {size} is out of range")
        if offset + size > end:
            raise DecodeFailure(Code.BAD_BUNDLE, f"record {number}: truncated ({end - offset} of {size} bytes)")
        yield offset, size
        offset += size


def read_bundle(data: bytes) -> Iterator[bytes]:
    """Yield each envelope's bytes; raise bad_bundle on a bad magic, length or truncation.

    Envelopes are not opened here: the reader decides what to check."""
    view = memoryview(data)
    for offset, size in records(view):
        yield bytes(view[offset : offset + size])
