"""Decisions in parts taken in by ingest (protocol/parts.py; docs/decisions.md, "Decisions in
parts"): parts before their decision, in one push or earlier ones; a part its author left out,
parts that do not add up, a part that does not add up alone."""

from __future__ import annotations

import msgspec

from node.federation.ingest import Federation
from protocol import BallotRules, Decision, Envelope, Payload, Ratio, Roll
from protocol.ballots import records, tally
from tests.factories import T0, charter, next_envelope, signed_raw
from tests.node.federation.test_ingest import GEN, NATIONAL, NORTH, chain, statuses
from tests.node.federation.test_ingest import fed as fed  # the fixture


def _in_parts(count: int = 14_000) -> tuple[Envelope, list[object], Decision]:
    """North's roll for a ballot of ``count`` votes (a third each), and the parts and decision
    it closes into (protocol/parts.py)."""
    from protocol.parts import in_parts

    ballot = b"B" * 16
    data = records(ballot, [(i.to_bytes(16, "big"), bytes([i % 3])) for i in range(count)])
    roll = chain(NORTH, Roll(count=15_000, root=b"\x01" * 32, as_of=T0, ballot=ballot))[0]
    inline = Decision(ballot=ballot, motion="m1", subject="s", text_hash=bytes(32), method="for_against_abstain",
                      electorate=15_000, roll=roll.id, opened=1, closed=2,
                      rules=BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2)),
                      counts=tally("for_against_abstain", 0, data)[0], receipts=data, outcome="lost")  # fmt: skip
    parts, whole = in_parts(inline, data)
    return roll, list(parts), whole


def _unchecked(after: Envelope, body: Decision) -> bytes:
    """North's next envelope, signed as a hostile author would (its rules unchecked)."""
    return signed_raw(NORTH, Payload(author=NORTH.public, seq=after.seq + 1, created=after.payload.created + 1,
                                     federation=GEN.id, prev=after.id, body=body))  # fmt: skip


async def test_a_decision_in_parts_is_refused_when_its_author_left_one_out(fed: Federation) -> None:
    """Parts come just before their decision (protocol/parts.py): one left out by its author
    makes the decision refused (``missing_part``: not counted, not called wrong); the parts
    themselves are harmless alone and stay."""
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    roll, parts, whole = _in_parts()
    assert len(parts) == 3
    p1 = chain(NORTH, parts[0], after=roll)[0]
    p3 = chain(NORTH, parts[2], after=p1)[0]
    assert await statuses(fed, [GEN, *c_north, roll, p1, p3]) == [("accepted", None)] * 5
    decision = _unchecked(p3, whole)  # three parts: the roll stands where part 1 would
    assert await statuses(fed, [decision]) == [("rejected", "missing_part")]
    assert fed.heads[NORTH.public].seq == 3


async def test_parts_and_their_decision_in_one_push(fed: Federation) -> None:
    """Each part recounted on arrival, the whole when its decision comes (here in the same
    push, its parts not yet written): counts moved between choices, each still adding up
    alone, are refused with ``bad_decision``; the true decision is taken in."""
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    roll, parts, whole = _in_parts()
    log = chain(NORTH, *parts, after=roll)
    assert list(whole.counts) == [4_667, 4_667, 4_666]  # a tie: lost
    bent = _unchecked(log[-1], msgspec.structs.replace(whole, counts=[4_668, 4_666, 4_666], outcome="carried"))
    good = next_envelope(NORTH, log[-1], whole, GEN.id)
    assert await statuses(fed, [GEN, *c_north, roll, *log, bent]) == [("accepted", None)] * 6 + [
        ("rejected", "bad_decision")]
    assert await statuses(fed, [good]) == [("accepted", None)]
    assert fed.heads[NORTH.public].seq == 5
    bad_part = msgspec.structs.replace(parts[0], counts=[4_000, 1_000, 1_666])
    assert (await fed.ingest([_unchecked(good, bad_part)]))[0].code == "bad_decision"  # type: ignore[arg-type]
