"""Decisions go up (protocol/upward.py): which mandates count, how an aggregate is built, and
what a recount finds when a region drops a mandate, inflates a weight or misadds (signed
with the region's real key, so every signature holds)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import (
    AgendaItem,
    Aggregate,
    BallotRules,
    Decision,
    DecodeFailure,
    Envelope,
    Mandate,
    Ratio,
    SigningKey,
    open_envelope,
)
from protocol import upward as up
from protocol.aggregates import apportion
from protocol.encoding import encode
from tests.factories import T0, genesis, key, next_envelope, signed_raw

MAJORITY = BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2))
TEXT = "This region calls for a four-day week without loss of pay."
OPENS, CLOSES = T0 + 100_000, T0 + 200_000
ROLLS = {"leeds": 120, "york": 45, "hull": 30, "selby": 5}
FED = genesis().id


@dataclass
class Log:
    """One author's log, built envelope by envelope."""

    signer: SigningKey
    last: Envelope | None = None
    envelopes: list[Envelope] = field(default_factory=list)

    def add(self, body: object, created: int) -> Envelope:
        envelope = next_envelope(self.signer, self.last, body, FED, created=created)  # type: ignore[arg-type]
        self.last = envelope
        self.envelopes.append(envelope)
        return envelope


def decision(text: str, counts: list[int], outcome: str) -> Decision:
    return Decision(ballot=b"\x01" * 16, motion="m1", subject="Four-day week",
                    text_hash=hashlib.sha256(text.encode()).digest(), method="for_against_abstain", rules=MAJORITY,
                    electorate=200, roll=b"\x02" * 32, opened=OPENS,
                    closed=OPENS + 10, counts=counts, receipts=b"", outcome=outcome)  # type: ignore[arg-type]  # fmt: skip


def decided(log: Log, counts: list[int], outcome: str, text: str = TEXT) -> Envelope:
    """A decision as it is signed, with receipts made to match its counts."""
    records = b"".join(i.to_bytes(8, "big") + bytes([c]) for i, c in
                       enumerate(c for c, n in enumerate(counts) for _ in range(n)))  # fmt: skip
    body = msgspec.structs.replace(decision(text, counts, outcome), receipts=records, electorate=sum(counts) + 10)
    return log.add(body, OPENS + 20)


@dataclass
class Region:
    region: Log
    item: Envelope
    branches: dict[str, Log]
    mandates: dict[str, Envelope]
    bases: dict[bytes, Envelope]

    @property
    def weights(self) -> dict[bytes, int]:
        return {self.branches[n].signer.public: w for n, w in ROLLS.items()}

    def judged(self) -> tuple[dict[bytes, tuple[Envelope, str | None]], dict[bytes, Envelope]]:
        """Every mandate's problem and each child's latest valid one, as a node judges them."""
        region_key = self.region.signer.public
        judged: dict[bytes, tuple[Envelope, str | None]] = {}
        latest: dict[bytes, Envelope] = {}
        for log in self.branches.values():
            earlier = None
            for m in (e for e in log.envelopes if isinstance(e.payload.body, Mandate)):
                body = m.payload.body
                assert isinstance(body, Mandate)
                problem = up.mandate_problem(m, self.item, region_key, self.bases.get(body.basis), None, earlier)
                judged[m.id] = (m, problem)
                earlier = m.id
                if problem is None:
                    latest[m.author] = m
        return judged, latest


def region(positions: dict[str, str]) -> Region:
    """Four branches decide on the region's item and send mandates as ``positions`` say."""
    north = Log(key("north"))
    item = north.add(AgendaItem(title="Four-day week", text=TEXT, opens=OPENS, closes=CLOSES, weighting="card_vote",
                                rules=MAJORITY), OPENS - 1)  # fmt: skip
    branches = {n: Log(key(n)) for n in ROLLS}
    mandates, bases = {}, {}
    for name, position in positions.items():
        log = branches[name]
        outcome = {"for": "carried", "against": "lost"}.get(position, "carried")
        basis = decided(log, [7, 3, 1] if outcome == "carried" else [3, 7, 1], outcome)
        bases[basis.id] = basis
        split = [7, 3, 1] if position == "split" else []
        mandates[name] = log.add(Mandate(item=item.id, position=position, basis=basis.id, split=split), OPENS + 50)  # type: ignore[arg-type]
    return Region(north, item, branches, mandates, bases)


def sealed(log: Log, body: Aggregate) -> Envelope:
    return log.add(body, CLOSES + 1)


def test_an_honest_aggregate_recounts_to_nothing_wrong() -> None:
    # The card vote of docs/decisions.md: Leeds against (120), York, Hull, Selby for: 80 / 120, lost.
    r = region({"leeds": "against", "york": "for", "hull": "for", "selby": "for"})
    judged, latest = r.judged()
    assert all(problem is None for _, problem in judged.values())
    aggregate = up.build(r.item, r.weights, latest)
    got = (aggregate.votes, aggregate.weight_sent, aggregate.weight_all, aggregate.outcome)
    assert got == ([80, 120, 0], 200, 200, "lost")
    envelope = sealed(r.region, aggregate)
    assert open_envelope(envelope.raw).payload.body == aggregate
    assert up.recount(envelope, r.item, r.weights, judged, latest) == []


def test_absent_children_are_listed_with_their_weight() -> None:
    r = region({"leeds": "for"})
    judged, latest = r.judged()
    aggregate = up.build(r.item, r.weights, latest)
    assert len(aggregate.absent) == 3 * up.RECORD and aggregate.weight_sent == 120 and aggregate.outcome == "carried"
    assert up.recount(sealed(r.region, aggregate), r.item, r.weights, judged, latest) == []


def codes(findings: list[up.Finding]) -> list[str]:
    return [f.code for f in findings]


def test_a_dropped_mandate_is_flagged_as_omitted() -> None:
    r = region({"leeds": "against", "york": "for", "hull": "for", "selby": "for"})
    judged, latest = r.judged()
    leeds = r.branches["leeds"].signer.public
    # The region leaves Leeds out and lists it as absent: the aggregate adds up (carried, 80 of
    # 200 took part... not quorate in fact), and its signature holds; the recount finds it.
    dropped = up.build(r.item, r.weights, {k: v for k, v in latest.items() if k != leeds})
    envelope = sealed(r.region, dropped)
    open_envelope(envelope.raw)  # signed by the real key and consistent in itself
    assert codes(up.recount(envelope, r.item, r.weights, judged, latest)) == [up.OMITS_MANDATE]


def test_an_inflated_weight_is_flagged() -> None:
    r = region({"leeds": "against", "york": "for", "hull": "for", "selby": "for"})
    judged, latest = r.judged()
    york = r.branches["york"].signer.public
    inflated = up.build(r.item, {**r.weights, york: 145}, latest)  # York weighed 145, its roll says 45
    assert inflated.outcome == "carried" and inflated.votes == [180, 120, 0]  # the inflation turns the vote
    findings = up.recount(sealed(r.region, inflated), r.item, r.weights, judged, latest)
    assert codes(findings) == [up.WRONG_WEIGHT] and "not 45" in findings[0].message


def test_totals_that_do_not_match_the_cited_mandates_are_flagged() -> None:
    r = region({"leeds": "against", "york": "for", "hull": "for", "selby": "for"})
    judged, latest = r.judged()
    honest = up.build(r.item, r.weights, latest)
    # 120 for and 80 against instead of 80 / 120: consistent in itself (carried), wrong by its mandates.
    swapped = msgspec.structs.replace(honest, votes=[120, 80, 0], outcome="carried")
    assert codes(up.recount(sealed(r.region, swapped), r.item, r.weights, judged, latest)) == [up.WRONG_TOTALS]


def test_an_aggregate_that_does_not_add_up_by_itself_is_rejected() -> None:
    r = region({"leeds": "against", "york": "for"})
    _, latest = r.judged()
    honest = up.build(r.item, r.weights, latest)
    north = key("north")
    for changes, fieldname in (
        ({"outcome": "carried"}, "body.outcome"),
        ({"weight_sent": 166}, "body.weight_sent"),
        ({"weight_all": 999}, "body.weight_all"),
        ({"votes": [45, 120, 10]}, "body.votes"),
        ({"counted": honest.counted[12:] + honest.counted[:12]}, "body.counted"),
        ({"absent": honest.absent[:-1]}, "body.absent"),
    ):
        bad = msgspec.structs.replace(honest, **changes)
        assert r.region.last is not None
        payload = msgspec.structs.replace(r.region.last.payload, body=bad, seq=2, prev=r.region.last.id)
        with pytest.raises(DecodeFailure) as caught:
            open_envelope(signed_raw(north, payload))
        assert (caught.value.code, caught.value.field) == ("bad_aggregate", fieldname), changes


def test_a_replacement_counts_and_the_mandate_it_replaced_does_not() -> None:
    r = region({"leeds": "against", "york": "for"})
    leeds = r.branches["leeds"]
    basis = decided(leeds, [9, 1, 0], "carried")
    r.bases[basis.id] = basis
    first = r.mandates["leeds"]
    second = leeds.add(Mandate(item=r.item.id, position="for", basis=basis.id, replaces=first.id), OPENS + 90)
    judged, latest = r.judged()
    assert judged[second.id][1] is None and latest[leeds.signer.public] is second
    aggregate = up.build(r.item, r.weights, latest)
    assert aggregate.votes == [165, 0, 0]
    # An aggregate still counting the replaced mandate cites one that may not count.
    stale = up.build(r.item, r.weights, {**latest, leeds.signer.public: first})
    found = codes(up.recount(sealed(r.region, stale), r.item, r.weights, judged, latest))
    assert up.CITES_INVALID in found and up.OMITS_MANDATE in found


def problem_of(r: Region, mandate: Envelope, parent: bytes | None = None, earlier: bytes | None = None) -> str | None:
    body = mandate.payload.body
    assert isinstance(body, Mandate)
    return up.mandate_problem(mandate, r.item, parent or r.region.signer.public, r.bases.get(body.basis), None,
                              earlier)  # fmt: skip


def test_mandates_that_may_not_count_and_why() -> None:
    r = region({})
    leeds = r.branches["leeds"]
    carried = decided(leeds, [7, 3, 1], "carried")
    elsewhere = decided(leeds, [7, 3, 1], "carried", text="Another motion entirely.")
    r.bases.update({carried.id: carried, elsewhere.id: elsewhere})
    york_decision = decided(r.branches["york"], [7, 3, 1], "carried")
    r.bases[york_decision.id] = york_decision

    def mandate(created: int = OPENS + 50, **fields: object) -> Envelope:
        body = {"item": r.item.id, "position": "for", "basis": carried.id, **fields}
        return leeds.add(msgspec.convert(body, Mandate), created)

    assert problem_of(r, mandate()) is None
    assert problem_of(r, mandate(), parent=key("south").public) == up.NOT_A_CHILD
    assert problem_of(r, mandate(created=CLOSES + 1)) == up.LATE
    assert problem_of(r, mandate(basis=b"\x09" * 32)) == up.NO_BASIS
    assert problem_of(r, mandate(basis=elsewhere.id)) == up.OTHER_MOTION
    assert problem_of(r, mandate(basis=york_decision.id)) == up.NOT_ITS_OWN
    assert problem_of(r, mandate(position="against")) == up.NOT_FOLLOWING
    assert problem_of(r, mandate(position="split", split=[7, 3, 1])) is None
    assert problem_of(r, mandate(position="split", split=[3, 7, 1])) == up.NOT_FOLLOWING
    assert problem_of(r, mandate(position="free")) is None
    assert problem_of(r, mandate(replaces=b"\x03" * 32)) == up.BAD_REPLACEMENT


def test_a_region_carries_its_aggregate_upward() -> None:
    r = region({"leeds": "for", "york": "for"})
    _, latest = r.judged()
    aggregate = sealed(r.region, up.build(r.item, r.weights, latest))
    national = Log(key("national"))
    item = national.add(AgendaItem(title="Four-day week", text=TEXT, opens=CLOSES + 10, closes=CLOSES + 100_000,
                                   weighting="one_branch_one_vote", rules=MAJORITY), CLOSES + 5)  # fmt: skip
    carried = r.region.add(Mandate(item=item.id, position="for", basis=aggregate.id), CLOSES + 20)
    assert up.mandate_problem(carried, item, national.signer.public, aggregate, r.item, None) is None
    other = national.add(AgendaItem(title="Else", text="Something else.", opens=CLOSES + 10, closes=CLOSES + 100_000,
                                    weighting="one_branch_one_vote", rules=MAJORITY), CLOSES + 6)  # fmt: skip
    wrong = r.region.add(Mandate(item=other.id, position="for", basis=aggregate.id), CLOSES + 30)
    assert up.mandate_problem(wrong, other, national.signer.public, aggregate, r.item, None) == up.OTHER_MOTION


def test_objects_that_break_their_own_rules_are_rejected() -> None:
    north = key("north")
    item = AgendaItem(title="T", text="x", opens=OPENS, closes=CLOSES, weighting="card_vote", rules=MAJORITY)
    base = next_envelope(north, None, item, FED).payload
    for body, code in (
        (msgspec.structs.replace(item, closes=OPENS), "bad_agenda_item"),
        (msgspec.structs.replace(item, sources=[b"\x01" * 32] * 2), "bad_agenda_item"),
        (Mandate(item=b"\x01" * 32, position="split", basis=b"\x02" * 32), "bad_mandate"),
        (Mandate(item=b"\x01" * 32, position="for", basis=b"\x02" * 32, split=[1, 0, 0]), "bad_mandate"),
        (Mandate(item=b"\x01" * 32, position="split", basis=b"\x02" * 32, split=[0, 0, 0]), "bad_mandate"),
    ):
        with pytest.raises(DecodeFailure) as caught:
            open_envelope(signed_raw(north, msgspec.structs.replace(base, body=body)))
        assert caught.value.code == code, body


def test_five_thousand_children_fit_one_aggregate() -> None:
    item = next_envelope(key("north"), None, AgendaItem(title="T", text="x", opens=OPENS, closes=CLOSES,
                                                        weighting="card_vote", rules=MAJORITY), FED)  # fmt: skip
    weights = {hashlib.sha256(i.to_bytes(4, "big")).digest(): 10_000 for i in range(up.MAX_CHILDREN)}
    aggregate = up.build(item, weights, {})
    assert len(encode(aggregate)) < 61_000 and aggregate.outcome == "not_quorate"
    with pytest.raises(ValueError, match="at most 5000"):
        up.build(item, {**weights, b"\xff" * 32: 1}, {})


@given(st.integers(0, 10_000_000), st.tuples(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 10**6)))
def test_a_split_shares_exactly_its_weight_and_each_share_is_within_one_of_its_quota(
    weight: int, split: tuple[int, int, int]
) -> None:
    if sum(split) == 0:
        return
    shares = apportion(weight, split)
    assert sum(shares) == weight
    for share, count in zip(shares, split, strict=True):
        exact = weight * count / sum(split)
        assert exact - 1 < share < exact + 1


def test_a_child_left_out_of_both_lists_is_flagged() -> None:
    r = region({"leeds": "against", "york": "for", "hull": "for"})  # Selby sent nothing: absent, weight 5
    judged, latest = r.judged()
    selby = r.branches["selby"].signer.public
    hidden = up.build(r.item, {k: w for k, w in r.weights.items() if k != selby}, latest)  # nor absent
    findings = up.recount(sealed(r.region, hidden), r.item, r.weights, judged, latest)
    assert codes(findings) == [up.MISSING_CHILD] and selby.hex()[:16] in findings[0].message


def test_an_absent_childs_weight_misstated_is_flagged() -> None:
    r = region({"leeds": "against", "york": "for", "hull": "for"})
    judged, latest = r.judged()
    selby = r.branches["selby"].signer.public
    heavier = up.build(r.item, {**r.weights, selby: 500}, latest)  # absent, but weighed 500, not 5: not quorate
    findings = up.recount(sealed(r.region, heavier), r.item, r.weights, judged, latest)
    assert codes(findings) == [up.WRONG_WEIGHT] and "absent record" in findings[0].message


def test_an_aggregate_signed_before_the_deadline_is_flagged() -> None:
    r = region({"leeds": "against", "york": "for", "hull": "for", "selby": "for"})
    judged, latest = r.judged()
    early = r.region.add(up.build(r.item, r.weights, latest), CLOSES - 1)
    assert codes(up.recount(early, r.item, r.weights, judged, latest)) == [up.EARLY_AGGREGATE]
