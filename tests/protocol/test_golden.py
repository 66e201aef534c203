"""Golden vectors: literal bytes, ids and signatures from docs/vectors/golden.json.

Checked three ways: our code still produces them byte for byte; they open and their ids
and signatures are what the file says; and each payload equals what a tiny msgpack
encoder written here from docs/protocol.md (not msgspec) makes of its JSON view."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from protocol import ENVELOPE_TAG, SigningKey, node_id_text, open_envelope
from protocol.ed25519 import verify
from tests.protocol.golden import build

GOLDEN = json.loads((Path(__file__).resolve().parents[2] / "docs" / "vectors" / "golden.json").read_text())
BYTES_FIELDS = {"author", "federation", "prev", "key", "new_key", "proof", "a", "b"}


def _pack(value: Any) -> bytes:
    """msgpack as docs/protocol.md states the canonical form: shortest headers, sorted maps."""
    if isinstance(value, bool) or value is None:
        raise TypeError("booleans and nil do not occur in version 1 payloads")
    if isinstance(value, int):
        if 0 <= value <= 0x7F:
            return bytes([value])
        for limit, tag, fmt in ((0xFF, 0xCC, ">B"), (0xFFFF, 0xCD, ">H"), (0xFFFFFFFF, 0xCE, ">I")):
            if 0 <= value <= limit:
                return bytes([tag]) + struct.pack(fmt, value)
        return b"\xcf" + struct.pack(">Q", value)
    if isinstance(value, str):
        raw = value.encode()
        n = len(raw)
        head = bytes([0xA0 | n]) if n < 32 else (b"\xd9" + bytes([n]) if n < 256 else b"\xda" + struct.pack(">H", n))
        return head + raw
    if isinstance(value, bytes):
        n = len(value)
        return (b"\xc4" + bytes([n]) if n < 256 else b"\xc5" + struct.pack(">H", n)) + value
    if isinstance(value, list):
        assert len(value) < 16
        return bytes([0x90 | len(value)]) + b"".join(_pack(v) for v in value)
    if isinstance(value, dict):
        assert len(value) < 16
        items = sorted(value.items(), key=lambda kv: kv[0].encode())
        return bytes([0x80 | len(items)]) + b"".join(_pack(k) + _pack(v) for k, v in items)
    raise TypeError(type(value))


def _from_view(value: Any, name: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _from_view(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_view(v) for v in value]
    if name in BYTES_FIELDS:
        return bytes.fromhex(value)
    return value


def test_file_matches_what_the_code_makes() -> None:
    assert build() == GOLDEN


def test_keys() -> None:
    for k in GOLDEN["keys"]:
        signer = SigningKey.from_seed(bytes.fromhex(k["seed"]))
        assert signer.public.hex() == k["public"]
        assert node_id_text(signer.public) == k["node_id"]


@pytest.mark.parametrize("vector", GOLDEN["envelopes"], ids=[v["name"] for v in GOLDEN["envelopes"]])
def test_vector(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["envelope"])
    payload = bytes.fromhex(vector["payload"])
    signature = bytes.fromhex(vector["signature"])
    assert hashlib.sha256(raw).hexdigest() == vector["id"]
    assert bytes.fromhex(vector["signing_input"]) == ENVELOPE_TAG + payload
    # the envelope is [1, payload, signature] in msgpack, written out by hand here
    assert raw == b"\x93\x01" + _pack(payload) + _pack(signature)
    # the payload is exactly the documented encoding of its JSON view
    assert _pack(_from_view(vector["payload_json"])) == payload
    env = open_envelope(raw)
    assert env.id.hex() == vector["id"] and env.kind == vector["payload_json"]["body"]["kind"]
    author = next(k for k in GOLDEN["keys"] if k["label"] == vector["author"])
    assert verify(bytes.fromhex(author["public"]), signature, ENVELOPE_TAG + payload)


def test_literal_genesis_id_and_signature() -> None:
    """Pinned here as well as in the file, so regenerating the file cannot hide a change."""
    gen = GOLDEN["envelopes"][0]
    assert gen["name"] == "genesis"
    assert gen["id"] == "dd40b3c54a10ce96d40db27be7658554e6c537de0dd6b562a07efb2ab2290db8"
    assert gen["signature"] == (
        "7fed57e6306a1dde474b89e74c5a28bde094c3e423684731a5e9496c8cd7819f"
        "caccd9eedf87866e3cafa963205e3ea3dec1798b3f77f8b473100d7447f4300e"
    )
