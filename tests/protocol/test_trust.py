"""Trust rules: charters from the genesis down, revocations, rotations, forks, cascades."""

from __future__ import annotations

import pytest

from protocol import (
    Code,
    Envelope,
    KeyRotation,
    ProtocolError,
    Revocation,
    SigningKey,
    make_fork_proof,
    rotation_message,
)
from protocol.trust import Trust
from tests.factories import charter, genesis, key, next_envelope, profile


class Fed:
    """A small federation built envelope by envelope, with each author's last envelope."""

    def __init__(self) -> None:
        self.national = key("national")
        self.gen = genesis(self.national)
        self.trust = Trust.from_genesis(self.gen)
        self.last: dict[bytes, Envelope] = {self.national.public: self.gen}

    def sign(self, author: SigningKey, body: object, accept: bool = True) -> Envelope:
        envelope = next_envelope(author, self.last.get(author.public), body, self.gen.id)  # type: ignore[arg-type]
        if accept:
            self.trust.check(envelope)
            self.trust.apply(envelope)
            self.last[author.public] = envelope
        return envelope

    def code(self, envelope: Envelope) -> Code | None:
        try:
            self.trust.check(envelope)
        except ProtocolError as exc:
            return exc.code
        return None


def test_charters_follow_the_genesis_rules() -> None:
    fed = Fed()
    north, leeds, youth = key("north"), key("leeds"), key("youth")
    fed.sign(fed.national, charter(north, "North", "region"))
    fed.sign(north, charter(leeds, "Leeds", "branch"))
    assert fed.trust.bodies[leeds.public].parent == north.public
    assert fed.trust.ancestors(leeds.public) == [north.public, fed.national.public]
    # A branch may not charter anything; a region may not charter a youth section.
    rogue = key("rogue")
    fed.sign(leeds, charter(rogue, "Rogue", "branch"))
    fed.sign(north, charter(youth, "Youth", "youth"))
    assert rogue.public not in fed.trust.bodies and youth.public not in fed.trust.bodies
    assert fed.code(next_envelope(rogue, None, profile(), fed.gen.id)) == Code.UNKNOWN_AUTHOR


def test_another_federation_is_refused() -> None:
    fed = Fed()
    other = genesis(key("elsewhere"))
    assert fed.code(other) == Code.WRONG_FEDERATION
    assert fed.code(next_envelope(fed.national, fed.gen, profile(), other.id)) == Code.WRONG_FEDERATION
    assert fed.code(fed.gen) is None


def test_revocation_by_an_ancestor_cuts_and_cascades() -> None:
    fed = Fed()
    north, leeds, york = key("north"), key("leeds"), key("york")
    fed.sign(fed.national, charter(north, "North", "region"))
    fed.sign(north, profile("North"))  # north seq 1
    fed.sign(north, charter(leeds, "Leeds", "branch"))  # north seq 2
    fed.sign(north, charter(york, "York", "branch"))  # north seq 3
    fed.sign(leeds, profile("Leeds"))
    # A sibling cannot revoke; the national body (an ancestor) can.
    sibling = fed.sign(york, Revocation(key=leeds.public, after_seq=0), accept=False)
    fed.trust.check(sibling)
    assert [c.kind for c in fed.trust.apply(sibling)] == ["ineffective"]
    fed.last[york.public] = sibling
    assert fed.trust.bodies[leeds.public].cut is None
    fed.sign(fed.national, Revocation(key=north.public, after_seq=2, reason="mandate withdrawn"))
    assert fed.trust.bodies[north.public].cut == 2
    assert fed.trust.bodies[leeds.public].cut is None  # chartered at north seq 2: still good
    assert york.public not in fed.trust.bodies  # chartered at seq 3, after the cut: it never counted
    assert fed.code(next_envelope(north, fed.last[north.public], profile(), fed.gen.id)) == Code.REVOKED
    assert fed.code(next_envelope(york, fed.last[york.public], profile(), fed.gen.id)) == Code.UNKNOWN_AUTHOR
    assert fed.code(next_envelope(leeds, fed.last[leeds.public], profile(), fed.gen.id)) is None


def test_key_rotation_hands_over() -> None:
    fed = Fed()
    north, north2, leeds = key("north"), key("north, second key"), key("leeds")
    fed.sign(fed.national, charter(north, "North", "region"))
    fed.sign(north, charter(leeds, "Leeds", "branch"))
    proof = north2.sign(rotation_message(fed.gen.id, north.public, north2.public))
    rotation = fed.sign(north, KeyRotation(new_key=north2.public, proof=proof))
    old, new = fed.trust.bodies[north.public], fed.trust.bodies[north2.public]
    assert (old.cut, old.cut_reason, old.successor) == (rotation.seq, "retired", north2.public)
    assert (new.name, new.level, new.parent) == ("North", "region", fed.national.public)
    assert fed.trust.bodies[leeds.public].parent == north2.public
    assert fed.code(next_envelope(north, rotation, profile(), fed.gen.id)) == Code.RETIRED
    assert fed.code(next_envelope(north2, None, profile(), fed.gen.id)) is None
    # The new key may revoke the branch its old key chartered.
    fed.sign(north2, Revocation(key=leeds.public, after_seq=0))
    assert fed.trust.bodies[leeds.public].cut == 0


def test_fork_proof_freezes_until_the_parent_acts() -> None:
    fed = Fed()
    north, leeds, leeds2 = key("north"), key("leeds"), key("leeds, new key")
    fed.sign(fed.national, charter(north, "North", "region"))
    fed.sign(north, charter(leeds, "Leeds", "branch"))
    first = fed.sign(leeds, profile("Leeds"))
    side_a = next_envelope(leeds, first, profile("Leeds A"), fed.gen.id)
    side_b = next_envelope(leeds, first, profile("Leeds B"), fed.gen.id)
    fed.sign(north, make_fork_proof(side_a, side_b))  # any witness may publish the proof
    body = fed.trust.bodies[leeds.public]
    assert (body.cut, body.cut_reason) == (1, "frozen")
    assert fed.code(side_a) == fed.code(side_b) == Code.FROZEN
    assert fed.code(first) is None
    # The parent acts: revokes the key and charters a new one for the branch.
    fed.sign(north, Revocation(key=leeds.public, after_seq=1, reason="equivocation"))
    fed.sign(north, charter(leeds2, "Leeds", "branch"))
    assert fed.code(next_envelope(leeds2, None, profile(), fed.gen.id)) is None


def test_fork_proof_about_an_unknown_author_is_ineffective() -> None:
    fed = Fed()
    stranger = key("stranger")
    one = next_envelope(stranger, None, profile("a"), fed.gen.id)
    two = next_envelope(stranger, None, profile("b"), fed.gen.id)
    proof = fed.sign(fed.national, make_fork_proof(one, two), accept=False)
    fed.trust.check(proof)
    changes = fed.trust.apply(proof)
    assert [(c.kind, c.key) for c in changes] == [("ineffective", stranger.public)]
    assert stranger.public not in fed.trust.bodies


def test_charter_of_an_existing_key_by_another_parent_is_ineffective() -> None:
    fed = Fed()
    north, south, leeds = key("north"), key("south"), key("leeds")
    fed.sign(fed.national, charter(north, "North", "region"))
    fed.sign(fed.national, charter(south, "South", "region"))
    fed.sign(north, charter(leeds, "Leeds", "branch"))
    changes = fed.trust.apply(fed.sign(south, charter(leeds, "Leeds (stolen)", "branch"), accept=False))
    assert [c.kind for c in changes] == ["ineffective"]
    assert fed.trust.bodies[leeds.public].parent == north.public
    # the real parent may update the name
    fed.sign(north, charter(leeds, "Leeds Central", "branch"))
    assert fed.trust.bodies[leeds.public].name == "Leeds Central"


def test_from_genesis_needs_a_genesis() -> None:
    fed = Fed()
    with pytest.raises(ProtocolError):
        Trust.from_genesis(fed.sign(fed.national, profile()))
