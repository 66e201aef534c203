"""The outer envelope read directly (protocol.encoding.decode_wire's fast path) agrees with the
general strict decoder on every input: the same split, or both refuse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import NodeProfile, Payload, seal
from protocol.encoding import _wire_decoder, decode_strict, decode_wire
from protocol.errors import ProtocolError
from tests.factories import T0, genesis, key


def general(data: bytes) -> tuple[int, bytes, bytes] | None:
    try:
        return decode_strict(_wire_decoder, data, "envelope")
    except ProtocolError:
        return None


def fast(data: bytes) -> tuple[int, bytes, bytes] | None:
    try:
        return decode_wire(data)
    except ProtocolError:
        return None


def envelope(size: int) -> bytes:
    signer = key("north")
    body = NodeProfile(name="North", endpoints=["https://north.example.org"], contact="x" * size)
    return seal(signer, Payload(author=signer.public, seq=1, created=T0, body=body, federation=genesis().id)).raw


SIZES = [0, 100, 200, 1990]  # payloads under 256 bytes (bin 8) and over (bin 16)


@given(st.sampled_from(SIZES), st.integers(0, 10**6), st.integers(0, 255))
@settings(max_examples=400, deadline=None)
def test_one_byte_changed_anywhere(size: int, where: int, value: int) -> None:
    data = bytearray(envelope(size))
    data[where % len(data)] = value
    assert fast(bytes(data)) == general(bytes(data))


@given(st.sampled_from(SIZES), st.integers(-3, 3))
def test_cut_or_extended(size: int, change: int) -> None:
    data = envelope(size)
    changed = data[:change] if change < 0 else data + bytes(change)
    assert fast(changed) == general(changed)


def test_a_longer_header_than_needed_is_not_canonical() -> None:
    data = envelope(10)
    size = data[3]
    longer = data[:2] + b"\xc5" + size.to_bytes(2, "big") + data[4:]  # bin 16 for a short payload
    assert general(longer) is None and fast(longer) is None
    assert fast(data) == general(data) is not None
