"""Acts of power cite the decision that authorised them (protocol/authority.py, issue 24): in a
federation whose rules say so, a charter or a revocation changes trust only when it names its
body's carried decision on exactly that act; each failure has its code, in the trust replay
and in the audit, whatever order the envelopes come in."""

from __future__ import annotations

import hashlib

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import Envelope, Revocation, Roll, SigningKey, Trust, write_bundle
from protocol.audit import audit
from protocol.authority import act_text
from protocol.ballots import AGAINST, FOR, records
from protocol.merkle import root
from protocol.upward import text_hash
from tests.factories import T0, charter, key, next_envelope, profile, rules, seal_genesis
from tests.protocol.test_audit import NOW, decision

NATIONAL, NORTH, SOUTH = key("national"), key("north"), key("south")


def founded(authority: list[str] | None = None) -> Envelope:
    return seal_genesis(NATIONAL, msgspec.structs.replace(rules(), authority=authority or ["charter", "revocation"]))


def decided(after: Envelope, fed: bytes, text: str, carried: bool = True, author: SigningKey = NATIONAL
            ) -> tuple[Envelope, Envelope]:  # fmt: skip
    """A roll and the body's decision on ``text`` (carried, or lost), after ``after``."""
    ballot = hashlib.sha256(text.encode()).digest()[:16]  # a ballot of its own for each text
    roll = next_envelope(author, after, Roll(count=10, root=root([bytes(32)]), as_of=T0, ballot=ballot), fed)
    choices = [FOR] * 5 + [AGAINST] * 2 if carried else [FOR] * 2 + [AGAINST] * 5
    votes = [(bytes([i]) * 16, bytes([c])) for i, c in enumerate(choices)]
    counts = [choices.count(FOR), choices.count(AGAINST), 0]
    body = decision(roll, choices, text_hash=text_hash(text), counts=counts, receipts=records(ballot, votes),
                    outcome="carried" if carried else "lost", ballot=ballot)  # fmt: skip
    return roll, next_envelope(author, roll, body, fed)


def no_names(_: bytes) -> str | None:
    return None


def chartered_by_decision(**override: object) -> dict[str, Envelope]:
    """National's members carry "Charter North Region ..."; national signs the charter citing it."""
    gen = founded()
    fed = gen.id
    act = charter(NORTH)
    text = override.pop("text", act_text(act, no_names))
    roll, vote = decided(gen, fed, str(text), carried=bool(override.pop("carried", True)))
    cited = override.pop("cites", vote.id)
    signed = next_envelope(NATIONAL, vote, msgspec.structs.replace(act, decision=cited), fed)
    north = next_envelope(NORTH, None, profile("North Region"), fed)
    return {"genesis": gen, "roll": roll, "decision": vote, "charter": signed, "north": north}


def outcome(envelopes: dict[str, Envelope] | list[Envelope]) -> tuple[list[tuple[str, bytes | None]], Trust]:
    held = list(envelopes.values()) if isinstance(envelopes, dict) else envelopes
    report = audit([("all", write_bundle([e.raw for e in held]))], NOW)
    assert report.trust is not None
    return [(p.code, p.object) for p in report.problems], report.trust


def test_a_charter_with_its_carried_decision_charters() -> None:
    f = chartered_by_decision()
    problems, trust = outcome(f)
    assert problems == [] and NORTH.public in trust.bodies


def test_a_charter_without_a_decision_is_refused_and_charters_nobody() -> None:
    f = chartered_by_decision()
    bare = next_envelope(NATIONAL, f["decision"], charter(NORTH), f["genesis"].id)
    problems, trust = outcome([f["genesis"], f["roll"], f["decision"], bare, f["north"]])
    assert set(problems) == {("no_authority", bare.id), ("unknown_author", f["north"].id)}
    assert NORTH.public not in trust.bodies and trust.refused[bare.id][0] == "no_authority"


def test_a_decision_on_another_text_a_lost_one_and_one_not_held_authorise_nothing() -> None:
    other = chartered_by_decision(text="Charter South Region as a region of this federation.")
    lost = chartered_by_decision(carried=False)
    for f, why in ((other, "another text"), (lost, "lost, not carried")):
        problems, trust = outcome(f)
        assert set(problems) == {("wrong_authority", f["charter"].id), ("unknown_author", f["north"].id)}, why
        assert why in trust.refused[f["charter"].id][1]
    f = chartered_by_decision(cites=b"\x07" * 32)  # a decision nobody holds (its body's own precede it)
    problems, _ = outcome(f)
    assert ("wrong_authority", f["charter"].id) in problems


def test_a_decision_of_another_body_authorises_nothing() -> None:
    f = chartered_by_decision()
    fed = f["genesis"].id
    south_charter = next_envelope(NATIONAL, f["charter"], msgspec.structs.replace(charter(SOUTH, "South Region"),
                                  decision=None), fed)  # fmt: skip
    problems, _ = outcome([*f.values(), south_charter])
    assert ("no_authority", south_charter.id) in problems
    act = charter(SOUTH, "South Region")
    north_roll, north_vote = decided(f["north"], fed, act_text(act, no_names), author=NORTH)
    borrowed = next_envelope(NATIONAL, f["charter"], msgspec.structs.replace(act, decision=north_vote.id), fed)
    problems, trust = outcome([*f.values(), north_roll, north_vote, borrowed])
    assert ("wrong_authority", borrowed.id) in problems and SOUTH.public not in trust.bodies


def test_a_revocation_needs_its_decision_too() -> None:
    f = chartered_by_decision()
    fed = f["genesis"].id
    bare = next_envelope(NATIONAL, f["charter"], Revocation(key=NORTH.public, after_seq=1, reason="lost its key"),
                         fed)  # fmt: skip
    problems, trust = outcome([*f.values(), bare])
    assert problems == [("no_authority", bare.id)] and trust.bodies[NORTH.public].cut is None
    act = Revocation(key=NORTH.public, after_seq=1, reason="lost its key")
    text = act_text(act, lambda k: "North Region" if k == NORTH.public else None)
    assert text.startswith("Revoke the charter of North Region, bn1") and text.endswith("on: lost its key.")
    roll, vote = decided(f["charter"], fed, text)
    revoked = next_envelope(NATIONAL, vote, msgspec.structs.replace(act, decision=vote.id), fed)
    problems, trust = outcome([*f.values(), roll, vote, revoked])
    assert problems == [] and trust.bodies[NORTH.public].cut == 1


def test_a_federation_founded_before_authority_charters_as_it_did() -> None:
    gen = seal_genesis(NATIONAL, rules())
    plain = next_envelope(NATIONAL, gen, charter(NORTH), gen.id)
    problems, trust = outcome([gen, plain, next_envelope(NORTH, None, profile("North Region"), gen.id)])
    assert problems == [] and NORTH.public in trust.bodies


@settings(max_examples=40, database=None)
@given(st.permutations(list(range(6))))
def test_the_trust_is_the_same_for_any_order(order: list[int]) -> None:
    f = chartered_by_decision()
    bare = next_envelope(NORTH, f["north"], charter(SOUTH, "South Branch", "branch"), f["genesis"].id)
    items = [*f.values(), bare]
    problems, trust = outcome([items[i] for i in order])
    expected_problems, expected = outcome(items)
    assert problems == expected_problems == [("no_authority", bare.id)]
    assert trust.bodies == expected.bodies and trust.refused == expected.refused
