"""Bundle layout: magic, length-prefixed records, clear errors on damage."""

from __future__ import annotations

import pytest

from protocol import BUNDLE_MAGIC, Code, ProtocolError, read_bundle, write_bundle
from tests.factories import genesis


def test_layout_is_magic_then_length_prefixed_records() -> None:
    g = genesis().raw
    data = write_bundle([g, b"xyz"])
    assert data == b"BRANCHNET-BUNDLE-1\n" + len(g).to_bytes(4, "big") + g + b"\x00\x00\x00\x03xyz"
    assert list(read_bundle(data)) == [g, b"xyz"]
    assert list(read_bundle(BUNDLE_MAGIC)) == []


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"BRANCHNET-BUNDLE-2\n", "bad magic"),
        (BUNDLE_MAGIC + b"\x00\x00", "truncated length"),
        (BUNDLE_MAGIC + b"\x00\x00\x00\x05abc", "truncated (3 of 5"),
        (BUNDLE_MAGIC + b"\x00\x00\x00\x00", "out of range"),
        (BUNDLE_MAGIC + b"\x7f\xff\xff\xff", "out of range"),
    ],
)
def test_damage_is_named(data: bytes, words: str) -> None:
    with pytest.raises(ProtocolError) as info:
        list(read_bundle(data))
    assert info.value.code == Code.BAD_BUNDLE and words in info.value.message
