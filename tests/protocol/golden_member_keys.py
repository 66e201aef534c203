"""The golden vectors of members' own keys (tests/protocol/golden.py builds them all; kept
apart by what they show): a roll committing to keys, a decision committing to who took part,
a nomination carrying its candidate's signed consent."""

from __future__ import annotations

import hashlib

from protocol import BallotRules, Decision, Envelope, Nomination, Ratio, Roll, SigningKey
from protocol.ballots import FOR, records
from protocol.merkle import root
from tests.factories import T0, key, next_envelope

MEMBER_KEY_NAMES = ("roll_with_keys", "decision_with_participations", "nomination_with_consent")


def member_keys_vectors(national: SigningKey, fed: bytes, last: Envelope) -> list[Envelope]:
    """Members' own keys (docs/protocol.md, `roll`, `decision` and `nomination`): a roll of five
    whose leaves are version 2, three of them holding a key file's key; four vote, the three
    with keys signing their participation, and the decision commits to every participation;
    then the body nominates the first of them for a selection, with her signed consent and her
    leaf in that roll."""
    from protocol.member_keys import (
        MemberKey,
        MemberSignature,
        Participation,
        candidacy_statement,
        participation_root,
        participation_statement,
        roll_leaf_v2,
        selection_contest,
        signature_digest,
    )
    from protocol.merkle import inclusion_proof
    from protocol.models_keys import SignedConsent

    members = [key(f"member {i}") for i in range(3)]
    keys = [[MemberKey(alg="ed25519", public=m.public)] for m in members] + [[], []]
    leaves = [roll_leaf_v2(bytes([i]) * 32, 300 + i, k) for i, k in enumerate(keys)]
    ballot, at = bytes(range(48, 64)), T0 + 500_000
    roll = next_envelope(national, last, Roll(count=5, root=root(sorted(leaves)), as_of=at, ballot=ballot, keyed=3),
                         fed, created=at)  # fmt: skip
    statement = participation_statement(fed, national.public, ballot)
    entries = [Participation(leaves[i], signature_digest(keys[i][0], MemberSignature(signature=members[i].sign(
        statement)))) for i in range(3)] + [Participation(leaves[3])]  # fmt: skip
    tree, signed = participation_root(entries)
    votes = [(bytes([i]) * 16, bytes([FOR])) for i in range(4)]
    decided = next_envelope(national, roll, Decision(
        ballot=ballot, motion="m-keys", subject="Hold the AGM in March", text_hash=hashlib.sha256(b"March").digest(),
        method="for_against_abstain", rules=BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2)),
        electorate=5, roll=roll.id, opened=at, closed=at + 50_000, counts=[4, 0, 0], receipts=records(ballot, votes),
        outcome="carried", secrecy="secret", participations=tree, signed=signed), fed, created=at + 50_000)  # fmt: skip
    selection, ordered = bytes(range(100, 132)), sorted(leaves)
    consent = SignedConsent(
        roll=roll.id, salt=bytes([0]) * 32, member=300, keys=keys[0], signer=0, index=ordered.index(leaves[0]),
        path=inclusion_proof(ordered, ordered.index(leaves[0])), signature=MemberSignature(signature=members[0].sign(
            candidacy_statement(fed, national.public, selection_contest(selection), "Member Zero"))))  # fmt: skip
    nominated = next_envelope(national, decided, Nomination(selection=selection, candidate="Member Zero",
                                                            statement="", consented=at, consent=consent),
                              fed, created=at + 60_000)  # fmt: skip
    return [roll, decided, nominated]
