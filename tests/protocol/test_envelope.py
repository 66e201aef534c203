"""Sealing and opening envelopes: every check in open_envelope, each with its code."""

from __future__ import annotations

import hashlib

import msgspec
import pytest

from protocol import (
    Code,
    Envelope,
    ForkProof,
    KeyRotation,
    NodeProfile,
    Payload,
    ProtocolError,
    Revocation,
    encode,
    make_fork_proof,
    open_envelope,
    rotation_message,
    seal,
    signing_input,
    verify_fork_proof,
)
from protocol.models import MAX_ENVELOPE_BYTES
from tests.factories import T0, charter, genesis, key, next_envelope, profile

L = 2**252 + 27742317777372353535851937790883648493


def _raw(payload_bytes: bytes, signature: bytes, version: int = 1) -> bytes:
    return encode((version, payload_bytes, signature))


def _signed(author_label: str, payload_bytes: bytes) -> bytes:
    return _raw(payload_bytes, key(author_label).sign(signing_input(payload_bytes)))


def _code(data: bytes) -> Code:
    with pytest.raises(ProtocolError) as info:
        open_envelope(data)
    return info.value.code


@pytest.fixture(scope="module")
def gen() -> Envelope:
    return genesis()


def test_genesis_round_trip(gen: Envelope) -> None:
    again = open_envelope(gen.raw)
    assert again == gen
    assert gen.id == hashlib.sha256(gen.raw).digest()
    assert gen.kind == "genesis" and gen.seq == 1 and gen.payload.federation is None


def test_every_kind_seals_and_opens(gen: Envelope) -> None:
    author, child, new = key("national"), key("north"), key("national-2")
    fed = gen.id
    e2 = next_envelope(author, gen, charter(child), fed)
    e3 = next_envelope(author, e2, profile("National"), fed)
    e4 = next_envelope(author, e3, Revocation(key=child.public, after_seq=0, reason="lost key"), fed)
    proof = new.sign(rotation_message(fed, author.public, new.public))
    e5 = next_envelope(author, e4, KeyRotation(new_key=new.public, proof=proof), fed)
    kinds = [e.kind for e in (gen, e2, e3, e4, e5)]
    assert kinds == ["genesis", "charter", "node_profile", "revocation", "key_rotation"]
    for e in (e2, e3, e4, e5):
        assert open_envelope(e.raw) == e


def test_decoded_payload_is_canonical_and_sorted(gen: Envelope) -> None:
    # The payload map's keys are sorted and defaults (federation, prev at seq 1) are absent.
    payload_bytes = msgspec.msgpack.decode(gen.raw)[1]
    as_map = msgspec.msgpack.decode(payload_bytes)
    assert list(as_map) == ["author", "body", "created", "seq"]
    assert list(as_map["body"]) == sorted(as_map["body"])


# --- 1. size -------------------------------------------------------------------------------
def test_too_large_before_decoding() -> None:
    assert _code(b"\x93" + b"\x00" * (3 * MAX_ENVELOPE_BYTES)) == Code.TOO_LARGE


def test_too_large_non_fork_proof(gen: Envelope) -> None:
    m = _genesis_map(gen)
    m["padding"] = b"p" * (MAX_ENVELOPE_BYTES + 100)  # under the fork-proof cap, over the limit
    data = _signed("national", encode(m))
    assert MAX_ENVELOPE_BYTES < len(data) < 2 * MAX_ENVELOPE_BYTES
    assert _code(data) == Code.TOO_LARGE


# --- 2. outer array ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", b"\x92\x01\xc4\x00", b"\x93\x01\xc4\x00\xc4\x00\x00", b"\x90", b"\xa3abc"],
)
def test_malformed_outer(data: bytes) -> None:
    assert _code(data) in {Code.MALFORMED, Code.BAD_FIELD}


def test_outer_long_header_is_not_canonical(gen: Envelope) -> None:
    # version 1 written as uint8 (0xcc 0x01) instead of a positive fixint
    data = b"\x93\xcc\x01" + gen.raw[2:]
    assert _code(data) == Code.NOT_CANONICAL


def test_trailing_bytes_rejected(gen: Envelope) -> None:
    assert _code(gen.raw + b"\x00") == Code.MALFORMED


# --- 3. version ----------------------------------------------------------------------------
def test_other_version_rejected(gen: Envelope) -> None:
    _, payload_bytes, sig = msgspec.msgpack.decode(gen.raw)
    assert _code(_raw(payload_bytes, sig, version=2)) == Code.BAD_VERSION


# --- 4. payload schema and canonical form --------------------------------------------------
def _genesis_map(gen: Envelope) -> dict[str, object]:
    return dict(msgspec.msgpack.decode(msgspec.msgpack.decode(gen.raw)[1]))


def test_unknown_kind(gen: Envelope) -> None:
    m = _genesis_map(gen)
    m["body"] = {"kind": "motion", "title": "x"}
    assert _code(_signed("national", encode(m))) == Code.UNKNOWN_KIND


def test_unknown_field_named(gen: Envelope) -> None:
    m = _genesis_map(gen)
    body = dict(m["body"])  # type: ignore[call-overload]
    body["zz_new_field"] = 1
    m["body"] = body
    with pytest.raises(ProtocolError) as info:
        open_envelope(_signed("national", encode(m)))
    assert info.value.code == Code.UNKNOWN_FIELD and info.value.field == "payload.body"


def test_float_rejected_with_field(gen: Envelope) -> None:
    m = _genesis_map(gen)
    m["created"] = float(T0)
    with pytest.raises(ProtocolError) as info:
        open_envelope(_signed("national", encode(m)))
    assert info.value.code == Code.BAD_FIELD and info.value.field == "payload.created"


def test_unsorted_keys_not_canonical(gen: Envelope) -> None:
    m = _genesis_map(gen)
    reordered = {k: m[k] for k in reversed(list(m))}
    data = msgspec.msgpack.Encoder().encode(reordered)  # insertion order, not sorted
    assert _code(_signed("national", data)) == Code.NOT_CANONICAL


def test_default_written_out_not_canonical(gen: Envelope) -> None:
    m = _genesis_map(gen)
    body = dict(m["body"])  # type: ignore[call-overload]
    body["description"] = ""  # the default; canonical form leaves it out
    m["body"] = body
    assert _code(_signed("national", encode(m))) == Code.NOT_CANONICAL


def test_string_limit_enforced(gen: Envelope) -> None:
    m = _genesis_map(gen)
    body = dict(m["body"])  # type: ignore[call-overload]
    body["name"] = "n" * 201
    m["body"] = body
    with pytest.raises(ProtocolError) as info:
        open_envelope(_signed("national", encode(m)))
    assert info.value.code == Code.BAD_FIELD and info.value.field == "payload.body.name"


def test_deep_nesting_rejected(gen: Envelope) -> None:
    m = _genesis_map(gen)
    m["body"] = "PLACEHOLDER"
    deep = b"\x91" * 20000 + b"\x01"  # 20,000 nested one-element arrays
    data = encode(m).replace(encode("PLACEHOLDER"), deep)
    assert _code(_signed("national", data)) in {Code.BAD_FIELD, Code.MALFORMED}


# --- 5. header rules -----------------------------------------------------------------------
def test_header_rules(gen: Envelope) -> None:
    author = key("national")
    cases = [
        Payload(author=author.public, seq=2, created=T0, body=profile(), federation=gen.id),  # no prev
        Payload(author=author.public, seq=1, created=T0, body=profile(), federation=gen.id, prev=gen.id),
        Payload(author=author.public, seq=1, created=T0, body=profile()),  # no federation
        Payload(author=author.public, seq=1, created=T0, body=gen.payload.body, federation=gen.id),
    ]
    for payload in cases:
        assert _code(_signed("national", encode(payload))) == Code.BAD_FIELD


# --- 6. signature --------------------------------------------------------------------------
def test_signature_by_another_key(gen: Envelope) -> None:
    payload_bytes = msgspec.msgpack.decode(gen.raw)[1]
    assert _code(_signed("mallory", payload_bytes)) == Code.BAD_SIGNATURE


def test_signature_without_domain_tag_fails(gen: Envelope) -> None:
    payload_bytes = msgspec.msgpack.decode(gen.raw)[1]
    assert _code(_raw(payload_bytes, key("national").sign(payload_bytes))) == Code.BAD_SIGNATURE


def test_malleated_s_rejected(gen: Envelope) -> None:
    _, payload_bytes, sig = msgspec.msgpack.decode(gen.raw)
    s = int.from_bytes(sig[32:], "little") + L  # same equation, non-canonical S
    assert s < 2**256
    assert _code(_raw(payload_bytes, sig[:32] + s.to_bytes(32, "little"))) == Code.BAD_SIGNATURE


def test_signature_does_not_move_to_other_kind_author_or_federation(gen: Envelope) -> None:
    author = key("national")
    e2 = next_envelope(author, gen, charter(key("north")), gen.id)
    sig = e2.signature
    p = e2.payload
    variants = [
        msgspec.structs.replace(p, body=profile()),  # other kind
        msgspec.structs.replace(p, author=key("mallory").public),  # other author
        msgspec.structs.replace(p, federation=hashlib.sha256(b"another federation").digest()),
    ]
    for variant in variants:
        assert _code(_raw(encode(variant), sig)) == Code.BAD_SIGNATURE


def test_small_order_author_is_bad_key(gen: Envelope) -> None:
    p = msgspec.structs.replace(gen.payload, author=b"\x01" + bytes(31))
    assert _code(_raw(encode(p), gen.signature)) == Code.BAD_KEY


def test_seal_refuses_foreign_author(gen: Envelope) -> None:
    with pytest.raises(ProtocolError) as info:
        seal(key("mallory"), gen.payload)
    assert info.value.code == Code.BAD_KEY


# --- 7. body rules -------------------------------------------------------------------------
def test_genesis_rules_must_be_consistent() -> None:
    author = key("national")
    base = genesis().payload
    rules = base.body.rules  # type: ignore[union-attr]
    bad_bodies = [
        msgspec.structs.replace(base.body, founder_level="planet"),
        msgspec.structs.replace(base.body, rules=msgspec.structs.replace(rules, levels=["branch", "branch"])),
        msgspec.structs.replace(base.body, rules=msgspec.structs.replace(rules, levels=["national"])),
        msgspec.structs.replace(
            base.body, rules=msgspec.structs.replace(rules, quorum=msgspec.structs.replace(rules.quorum, num=5))
        ),
    ]
    for body in bad_bodies:
        with pytest.raises(ProtocolError) as info:
            seal(author, msgspec.structs.replace(base, body=body))
        assert info.value.code == Code.BAD_FIELD, body


def test_charter_of_own_or_small_order_key(gen: Envelope) -> None:
    author = key("national")
    for child_key, code in ((author.public, Code.BAD_FIELD), (bytes(32), Code.BAD_KEY)):
        body = msgspec.structs.replace(charter(key("north")), key=child_key)
        with pytest.raises(ProtocolError) as info:
            next_envelope(author, gen, body, gen.id)
        assert info.value.code == code


def test_key_rotation_needs_new_keys_proof(gen: Envelope) -> None:
    author, new = key("national"), key("national-2")
    forged = author.sign(rotation_message(gen.id, author.public, new.public))  # old key, not new
    with pytest.raises(ProtocolError) as info:
        next_envelope(author, gen, KeyRotation(new_key=new.public, proof=forged), gen.id)
    assert info.value.code == Code.BAD_SIGNATURE and info.value.field == "body.proof"


# --- fork proofs ---------------------------------------------------------------------------
def _fork(gen: Envelope) -> tuple[Envelope, Envelope]:
    north = key("north")
    a = next_envelope(north, None, profile("North"), gen.id)
    b = next_envelope(north, None, profile("North, other story"), gen.id)
    return a, b


def test_fork_proof_verifies_alone(gen: Envelope) -> None:
    a, b = _fork(gen)
    proof = make_fork_proof(b, a)
    first, second = verify_fork_proof(proof)
    assert {first.id, second.id} == {a.id, b.id} and first.id < second.id
    witness = key("south")
    env = next_envelope(witness, None, proof, gen.id)
    assert open_envelope(env.raw).kind == "fork_proof"


def test_fork_proof_rejects_non_forks_and_wrong_order(gen: Envelope) -> None:
    a, b = _fork(gen)
    with pytest.raises(ProtocolError):
        make_fork_proof(a, a)
    first, second = sorted((a, b), key=lambda e: e.id)
    with pytest.raises(ProtocolError) as info:
        verify_fork_proof(ForkProof(a=second.raw, b=first.raw))
    assert info.value.code == Code.NOT_CANONICAL
    other = next_envelope(key("south"), None, profile("South"), gen.id)
    with pytest.raises(ProtocolError) as info:
        verify_fork_proof(ForkProof(*sorted((a.raw, other.raw), key=lambda r: hashlib.sha256(r).digest())))
    assert info.value.code == Code.BAD_FIELD


def test_fork_proof_with_forged_side_is_rejected(gen: Envelope) -> None:
    a, b = _fork(gen)
    payload_bytes = msgspec.msgpack.decode(b.raw)[1]
    forged = _raw(payload_bytes, bytes(64))
    pair = sorted((a.raw, forged), key=lambda r: hashlib.sha256(r).digest())
    with pytest.raises(ProtocolError) as info:
        verify_fork_proof(ForkProof(a=pair[0], b=pair[1]))
    assert info.value.code == Code.BAD_SIGNATURE


def test_fork_proof_may_exceed_normal_limit(gen: Envelope) -> None:
    north = key("north")
    big = NodeProfile(name="x", endpoints=["https://a.example/" + "a" * 2000] * 8, contact="c" * 2000)
    # several profiles of ~18 KiB can't make 64 KiB; the two-envelope proof may be near 2x anyway
    a = next_envelope(north, None, big, gen.id)
    b = next_envelope(north, None, msgspec.structs.replace(big, name="y"), gen.id)
    env = next_envelope(key("south"), None, make_fork_proof(a, b), gen.id)
    assert open_envelope(env.raw).kind == "fork_proof"
