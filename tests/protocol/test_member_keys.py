"""Members' own keys (issue 25): a passkey's assertion checked against the W3C WebAuthn
spec's own test vectors, statements signed by a software passkey and a key file, the roll
leaf that commits to keys, the participation tree a decision commits to (a member's proof of
presence or absence), and the checks every node makes of a decision's published numbers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from protocol import ChainFailure, DecodeFailure, SignatureFailure
from protocol.ballots import check_against_roll, check_decision, receipt_digest, records, roll_leaf
from protocol.member_keys import (
    MemberKey,
    MemberSignature,
    Participation,
    ParticipationProof,
    ProofStep,
    candidacy_statement,
    check_participation_proof,
    key_id,
    keys_digest,
    participation_problem,
    participation_proof,
    participation_root,
    participation_statement,
    roll_leaf_v2,
    signature_digest,
    verify_assertion,
    verify_member_signature,
)
from protocol.merkle import EMPTY_ROOT
from protocol.merkle import root as merkle_root
from protocol.models import BallotRules, Decision, Envelope, Ratio, Roll
from protocol.register import Elector, Entry, MarkedRegister, check_register
from tests.factories import T0, key, next_envelope, rules
from tests.passkeys import KeyFile, SoftPasskey

W3C = json.loads((Path(__file__).parent / "webauthn" / "w3c_vectors.json").read_text())["vectors"]
FED, BODY, BALLOT = bytes(range(32)), bytes(range(32, 64)), bytes(range(16))
STATEMENT = participation_statement(FED, BODY, BALLOT)


def _w3c(vector: dict[str, str]) -> tuple[MemberKey, bytes, MemberSignature]:
    if vector["alg"] == "es256":
        public = b"\x04" + bytes.fromhex(vector["cose_x"]) + bytes.fromhex(vector["cose_y"])
    else:
        public = bytes.fromhex(vector["cose_x"])
    signed = MemberSignature(signature=bytes.fromhex(vector["signature"]),
                             authenticator_data=bytes.fromhex(vector["authenticatorData"]),
                             client_data=bytes.fromhex(vector["clientDataJSON"]))  # fmt: skip
    return MemberKey(alg=vector["alg"], public=public, passkey=True), bytes.fromhex(vector["challenge"]), signed  # type: ignore[arg-type]


@pytest.mark.parametrize("vector", W3C, ids=[v["section"] for v in W3C])
def test_the_w3c_webauthn_vectors_verify(vector: dict[str, str]) -> None:
    member, challenge, signed = _w3c(vector)
    verify_assertion(member, challenge, signed)


@pytest.mark.parametrize("vector", W3C, ids=[v["section"] for v in W3C])
@pytest.mark.parametrize("bend", ["signature", "authenticator data", "client data", "challenge", "not present"])
def test_a_bent_w3c_assertion_is_refused(vector: dict[str, str], bend: str) -> None:
    member, challenge, signed = _w3c(vector)
    flip = lambda b, i: b[:i] + bytes([b[i] ^ 1]) + b[i + 1 :]  # noqa: E731
    if bend == "signature":
        signed = msgspec.structs.replace(signed, signature=flip(signed.signature, 40))
    elif bend == "authenticator data":
        signed = msgspec.structs.replace(signed, authenticator_data=flip(signed.authenticator_data, 36))
    elif bend == "client data":
        signed = msgspec.structs.replace(signed, client_data=signed.client_data.replace(b"example.org", b"example.com"))
    elif bend == "challenge":
        challenge = flip(challenge, 0)
    else:  # the user-present flag cleared (the signature no longer matters: it is refused first)
        data = signed.authenticator_data
        signed = msgspec.structs.replace(signed, authenticator_data=data[:32] + bytes([data[32] & 0xFE]) + data[33:])
    with pytest.raises(SignatureFailure) as refused:
        verify_assertion(member, challenge, signed)
    assert refused.value.code == "bad_member_signature"


def test_a_passkey_signs_a_statement_and_only_that_one() -> None:
    passkey = SoftPasskey()
    signed = passkey.sign(STATEMENT)
    verify_member_signature(passkey.key, STATEMENT, signed)
    other_ballot = participation_statement(FED, BODY, bytes(16))
    for statement, key_used, why in [
        (other_ballot, passkey.key, "challenge"),  # a participation in another ballot
        (STATEMENT, SoftPasskey().key, "does not hold"),  # another member's passkey
    ]:
        with pytest.raises(SignatureFailure) as refused:
            verify_member_signature(key_used, statement, signed)
        assert why in refused.value.message
    with pytest.raises(SignatureFailure, match=r"type webauthn\.get"):  # a registration's client data
        verify_member_signature(passkey.key, STATEMENT, passkey.sign(STATEMENT, kind="webauthn.create"))
    with pytest.raises(SignatureFailure, match="present"):
        verify_member_signature(passkey.key, STATEMENT, passkey.sign(STATEMENT, flags=0x04))


def test_a_key_file_signs_the_statement_itself() -> None:
    keyfile = KeyFile()
    signed = keyfile.sign(STATEMENT)
    verify_member_signature(keyfile.key, STATEMENT, signed)
    with pytest.raises(SignatureFailure):
        verify_member_signature(keyfile.key, candidacy_statement(FED, BODY, "delegates:x", "Val"), signed)
    with pytest.raises(SignatureFailure, match="no authenticator or client data"):
        verify_member_signature(keyfile.key, STATEMENT, msgspec.structs.replace(signed, client_data=b"{}"))
    es256_file = msgspec.structs.replace(SoftPasskey().key, passkey=False)
    with pytest.raises(SignatureFailure, match="only as a passkey"):
        verify_member_signature(es256_file, STATEMENT, signed)
    small_order = MemberKey(alg="ed25519", public=bytes(32))
    with pytest.raises(SignatureFailure, match="not a valid public key"):
        verify_member_signature(small_order, STATEMENT, signed)


def test_statements_are_bound_to_their_object() -> None:
    assert len({
        participation_statement(FED, BODY, BALLOT), participation_statement(bytes(32), BODY, BALLOT),
        participation_statement(FED, bytes(32), BALLOT), candidacy_statement(FED, BODY, "c", "Val"),
        candidacy_statement(FED, BODY, "c", "Vall"), candidacy_statement(FED, BODY, "d", "Val"),
    }) == 6  # fmt: skip


def test_a_roll_leaf_commits_to_the_members_keys_in_any_order() -> None:
    salt, a, b = os.urandom(32), SoftPasskey().key, KeyFile().key
    assert roll_leaf_v2(salt, 7, [a, b]) == roll_leaf_v2(salt, 7, [b, a])
    assert len({roll_leaf_v2(salt, 7, [a, b]), roll_leaf_v2(salt, 7, [a]), roll_leaf_v2(salt, 7, []),
                roll_leaf_v2(salt, 8, [a]), roll_leaf(salt, 7)}) == 5  # fmt: skip
    assert keys_digest([]) != keys_digest([a])


# --- participations --------------------------------------------------------------------------

def _entries(n: int, signed_every: int = 2) -> list[Participation]:
    passkey = SoftPasskey()
    out = []
    for i in range(n):
        leaf = roll_leaf_v2(bytes([i]) * 32, i, [])
        digest = signature_digest(passkey.key, passkey.sign(STATEMENT)) if i % signed_every == 0 else None
        out.append(Participation(leaf, digest))
    return out


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 16])
def test_every_member_learns_whether_the_decision_holds_a_participation_in_their_name(n: int) -> None:
    entries = _entries(n)
    tree, signed = participation_root(entries)
    assert signed == sum(e.signed is not None for e in entries) and (n or tree == EMPTY_ROOT)
    for e in entries:
        assert check_participation_proof(e.roll_leaf, participation_proof(entries, e.roll_leaf), tree) == (
            "signed" if e.signed is not None else "unsigned")  # fmt: skip
    ordered = sorted(e.roll_leaf for e in entries)
    outsiders = [bytes(32), b"\xff" * 32] + [bytes(x) for x in ordered[:-1]]  # before all, after all, between
    outsiders = [o[:-1] + bytes([(o[-1] + 1) % 256]) if o in ordered else o for o in outsiders]
    for leaf in outsiders:
        if leaf in ordered:
            continue
        assert check_participation_proof(leaf, participation_proof(entries, leaf), tree) == "absent"


def test_a_node_cannot_prove_absent_what_its_decision_holds() -> None:
    entries = _entries(9)
    tree, _ = participation_root(entries)
    ordered = sorted(entries, key=lambda e: e.roll_leaf)
    mine = ordered[4]
    below = participation_proof(entries, ordered[3].roll_leaf)
    above = participation_proof(entries, ordered[5].roll_leaf)
    skipping = ParticipationProof(below.size, [below.steps[0], above.steps[0]])  # neighbours 3 and 5: not adjacent
    with pytest.raises(ValueError, match="not the neighbours"):
        check_participation_proof(mine.roll_leaf, skipping, tree)
    forged = ParticipationProof(9, [ProofStep(4, Participation(mine.roll_leaf, None), below.steps[0].path)])
    with pytest.raises(ValueError, match="not in the decision's participation tree"):
        check_participation_proof(mine.roll_leaf, forged, tree)  # "unsigned" where it was signed
    with pytest.raises(ValueError):
        participation_root([*entries, entries[0]])  # one roll leaf twice


# --- the published numbers --------------------------------------------------------------------

NATIONAL = key("national")
RULES = BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2))


def _decision(votes: int, signed: int | None, *, keyed: int | None = 5, count: int = 6) -> tuple[Decision, Roll]:
    recs = records(BALLOT, [(receipt_digest(BALLOT, bytes([i]) * 16), b"\x00") for i in range(votes)])
    roll = Roll(count=count, root=bytes(32), as_of=T0, ballot=BALLOT, keyed=keyed)
    body = Decision(ballot=BALLOT, motion="m1", subject="Fund the food bank", text_hash=bytes(32),
                    method="for_against_abstain", rules=RULES, electorate=count, roll=bytes(32), opened=T0,
                    closed=T0 + 1, counts=[votes, 0, 0], receipts=recs, outcome="carried" if votes else "not_quorate",
                    participations=None if signed is None else bytes(32), signed=signed)  # fmt: skip
    return body, roll


def _against_roll(body: Decision, roll: Roll) -> None:
    gen = next_envelope(NATIONAL, None, roll, bytes(32))
    decided = next_envelope(NATIONAL, gen, msgspec.structs.replace(body, roll=gen.id), bytes(32))
    check_against_roll(decided, gen)


def test_a_decision_says_how_many_were_signed_within_what_its_roll_allows() -> None:
    body, roll = _decision(4, 3)
    check_decision(body)
    _against_roll(body, roll)
    with pytest.raises(DecodeFailure, match="or neither"):
        check_decision(msgspec.structs.replace(body, participations=None))
    with pytest.raises(DecodeFailure, match="5 signed participations of 4 votes"):
        check_decision(msgspec.structs.replace(body, signed=5))
    for roll_now, words in [(msgspec.structs.replace(roll, keyed=None), "commits to no keys"),
                            (msgspec.structs.replace(roll, keyed=2), "2 members holding a key"),
                            (msgspec.structs.replace(roll, keyed=7), "7 of 6 members hold a key")]:  # fmt: skip
        with pytest.raises(ChainFailure, match=words) as refused:
            _against_roll(body, roll_now)
        assert refused.value.code == "wrong_roll"


def test_where_the_rules_say_so_every_vote_is_signed() -> None:
    required = msgspec.structs.replace(rules(), signed_participation=["selection"])
    bundle, _ = _decision(4, 3)
    bundle = msgspec.structs.replace(bundle, selection=bytes(32))
    assert participation_problem(bundle, required) == (
        "unsigned_participation", "every vote on a selection is signed by its voter here; 1 of 4 are not")
    assert participation_problem(msgspec.structs.replace(bundle, signed=4), required) is None
    assert participation_problem(msgspec.structs.replace(bundle, signed=None, participations=None), required)
    motion, _ = _decision(4, None)
    assert participation_problem(motion, required) is None  # motions: as the rules say, not required
    assert participation_problem(bundle, rules()) is None  # a federation without the rule


def signed_federation(signed: int) -> list[Envelope]:
    """A federation whose rules say every vote on a motion is signed: North's roll of 10, 8
    of them holding a key, and a decision on 8 votes that says ``signed`` were."""
    from tests.factories import charter, profile, seal_genesis
    from tests.protocol.test_audit import NORTH, decision

    gen = seal_genesis(NATIONAL, msgspec.structs.replace(rules(), signed_participation=["motion"]))
    chartered = next_envelope(NATIONAL, gen, charter(NORTH), gen.id)
    north_profile = next_envelope(NORTH, None, profile("North Region"), gen.id)
    leaves = sorted(roll_leaf_v2(bytes([i]) * 32, 100 + i, []) for i in range(10))
    roll = next_envelope(NORTH, north_profile, Roll(count=10, root=merkle_root(leaves), as_of=T0 + 10_000,
                                                    ballot=BALLOT, keyed=8), gen.id)  # fmt: skip
    decided = next_envelope(NORTH, roll, decision(roll, participations=bytes(32), signed=signed), gen.id)
    return [gen, chartered, north_profile, roll, decided]


@pytest.mark.parametrize("signed", [8, 7])
def test_the_audit_names_a_decision_with_unsigned_votes_where_the_rules_require_signatures(signed: int) -> None:
    from protocol.audit import audit
    from tests.protocol.test_audit import NOW, bundle, codes

    envelopes = signed_federation(signed)
    report = audit([("all", bundle(*envelopes))], NOW)
    assert codes(report) == ([] if signed == 8 else [("unsigned_participation", envelopes[-1].id)])


def _register() -> MarkedRegister:
    """Four electors (two holding a key file); three vote, one of them signed."""
    signers = [KeyFile(), KeyFile()]
    electors = [Elector(10 + i, bytes([i]) * 32, [signers[i].key] if i < 2 else [], f"M{i}") for i in range(4)]
    leaves = [roll_leaf_v2(e.salt, e.member, e.keys) for e in electors]
    gen = next_envelope(NATIONAL, None, Roll(count=4, root=merkle_root(sorted(leaves)), as_of=T0, ballot=BALLOT,
                                             keyed=2), bytes(32))  # fmt: skip
    statement = participation_statement(bytes(32), NATIONAL.public, BALLOT)
    signed = signers[0].sign(statement)
    entries = [Entry(10, leaves[0], key_id(signers[0].key), signed), Entry(12, leaves[2]), Entry(13, leaves[3])]
    tree, n = participation_root([Participation(leaves[0], signature_digest(signers[0].key, signed)),
                                  Participation(leaves[2]), Participation(leaves[3])])  # fmt: skip
    body, _ = _decision(3, n, count=4)
    decided = next_envelope(NATIONAL, gen, msgspec.structs.replace(body, roll=gen.id, participations=tree), bytes(32))
    return MarkedRegister("branchnet marked register v1", gen.raw, decided.raw, electors, entries)


def test_a_register_checked_offline_names_what_does_not_hold() -> None:
    register = _register()
    assert check_register(register) == []
    short = msgspec.structs.replace(register, electors=register.electors[1:])  # an elector left out
    assert {f.code for f in check_register(short)} >= {"not_the_roll", "not_on_roll"}
    stranger = Entry(99, os.urandom(32))
    assert "not_on_roll" in {f.code for f in check_register(msgspec.structs.replace(
        register, participations=[*register.participations, stranger]))}  # fmt: skip
    swapped = msgspec.structs.replace(register, participations=[
        msgspec.structs.replace(register.participations[0], key_id=bytes(32)), *register.participations[1:]])
    assert ("bad_member_signature", 10) in {(f.code, f.member) for f in check_register(swapped)}
