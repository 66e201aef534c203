"""Decisions in parts (protocol/parts.py): a ballot of any size published as parts and then
its decision; each part checked alone, the decision alone, the whole once every part is held;
a missing part is ``missing_part`` (not counted), never a wrong count."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import msgspec
import pytest

from protocol import (
    BallotRules,
    Code,
    Decision,
    DecisionPart,
    Envelope,
    Payload,
    ProtocolError,
    Ratio,
    Roll,
    SelectionResult,
    open_envelope,
)
from protocol.audit import audit
from protocol.ballots import ABSTAIN, AGAINST, FOR, ranked_choice, records, tally, votes_counted
from protocol.blt import parse_blt
from protocol.bundle import write_bundle
from protocol.chain import check_logs
from protocol.models import MAX_ENVELOPE_BYTES, MAX_PARTS, MAX_RECEIPT_BYTES
from protocol.parts import (
    check_part,
    check_parts,
    gather_bundles,
    in_parts,
    most_votes,
    places,
    result_in_parts,
    signed_whole,
    split,
)
from protocol.selections import recount
from tests.factories import T0, genesis, key, next_envelope, signed_raw

COUNTS = Path(__file__).parent / "counts"
NATIONAL = key("national")
GEN = genesis()
NO_QUORUM = BallotRules(quorum=Ratio(num=0, den=1), threshold=Ratio(num=1, den=2))


def fab_decision(votes: list[int], electorate: int, ballot: bytes = b"P" * 16) -> tuple[Decision, bytes]:
    """A for/against/abstain decision counted over ``votes`` (choices), receipts inline."""
    data = records(ballot, [(i.to_bytes(16, "big"), bytes([c])) for i, c in enumerate(votes)])
    counts, _ = tally("for_against_abstain", 0, data)
    outcome = "carried" if counts[0] > counts[1] else "lost"
    body = Decision(ballot=ballot, motion="m1", subject="Open a second office", text_hash=hashlib.sha256(b"t").digest(),
                    method="for_against_abstain", rules=NO_QUORUM, electorate=electorate, roll=b"R" * 32,
                    opened=T0, closed=T0 + 1, counts=counts, receipts=data, outcome=outcome)  # fmt: skip
    return body, data


def publish(bodies: list[object], roll_count: int, ballot: bytes = b"P" * 16) -> list[Envelope]:
    """The national body's log: the genesis, the ballot's roll, then ``bodies`` (the roll's id
    is put into each decision)."""
    roll = next_envelope(NATIONAL, GEN, Roll(count=roll_count, root=b"\x01" * 32, as_of=T0, ballot=ballot), GEN.id)
    log = [GEN, roll]
    for body in bodies:
        if isinstance(body, Decision):
            body = msgspec.structs.replace(body, roll=roll.id)
        log.append(next_envelope(NATIONAL, log[-1], body, GEN.id))  # type: ignore[arg-type]
    return log


def twenty_thousand() -> tuple[list[DecisionPart], Decision, Decision]:
    votes = [FOR] * 9_000 + [AGAINST] * 8_000 + [ABSTAIN] * 3_000
    inline, data = fab_decision(votes, 25_000)
    parts, whole = in_parts(inline, data)
    return parts, whole, inline


def test_a_ballot_of_twenty_thousand_votes_is_four_parts_and_its_decision() -> None:
    parts, whole, inline = twenty_thousand()
    assert [len(p.receipts) // 9 for p in parts] == [6_666, 6_666, 6_666, 2]
    assert (whole.parts, whole.cast, whole.receipts, list(whole.counts)) == (4, 20_000, b"", [9_000, 8_000, 3_000])
    assert votes_counted(whole) == votes_counted(inline) == 20_000
    log = publish([*parts, whole], 25_000)
    assert all(len(e.raw) <= MAX_ENVELOPE_BYTES for e in log)
    report = check_logs([e.raw for e in reversed(log)], T0 + 100_000)  # any order
    assert report.failures == [] and len(report.accepted) == 7
    decision = log[-1]
    assert list(places(decision)) == [3, 4, 5, 6]
    assert check_parts(decision, log[2:6]) == inline.receipts  # the whole, in order
    assert open_envelope(decision.raw).payload.body.outcome == "carried"


def test_a_missing_part_is_not_counted_and_not_called_wrong() -> None:
    parts, whole, _ = twenty_thousand()
    log = publish([*parts, whole], 25_000)
    with pytest.raises(ProtocolError) as caught:
        check_parts(log[-1], [log[2], None, log[4], log[5]])
    assert caught.value.code == Code.MISSING_PART and "part 2 of 4 is not held" in caught.value.message
    # a set that lacks part 2 lacks a link of its author's log: nothing after it is taken in
    report = check_logs([e.raw for e in log if e.seq != 4], T0 + 100_000)
    assert {f.error.code for f in report.failures} == {Code.BAD_CHAIN}
    # an author that signed parts 1, 2 and 4 only, then the decision of four parts
    signed = publish([parts[0], parts[1], parts[3], whole], 25_000)
    report = check_logs([e.raw for e in signed], T0 + 100_000)
    assert [f.error.code for f in report.failures] == [Code.MISSING_PART]
    found = audit([("export", write_bundle(e.raw for e in signed))], T0 + 100_000)
    assert [p.code for p in found.problems] == ["missing_part"]


def test_records_run_in_order_across_parts() -> None:
    parts, whole, _ = twenty_thousand()
    swapped = [parts[1], parts[0], *parts[2:]]  # each part in order by itself, not across
    renumbered = [msgspec.structs.replace(p, part=i) for i, p in enumerate(swapped, 1)]
    log = publish([*renumbered, whole], 25_000)
    with pytest.raises(ProtocolError) as caught:
        check_parts(log[-1], log[2:6])
    assert caught.value.code == Code.BAD_DECISION and "not after part 1's last" in caught.value.message
    # the same vote twice, at the end of one part and the start of the next
    repeat = msgspec.structs.replace(parts[1], receipts=parts[0].receipts[-9:] + parts[1].receipts[9:])
    log = publish([parts[0], repeat, *parts[2:], whole], 25_000)
    with pytest.raises(ProtocolError) as caught:
        check_parts(log[-1], log[2:6])
    assert caught.value.code == Code.BAD_DECISION


def test_the_parts_must_add_up_to_the_decision() -> None:
    parts, whole, _ = twenty_thousand()
    moved = msgspec.structs.replace(whole, counts=[9_001, 7_999, 3_000])  # adds up to cast: passes alone
    log = publish([*parts, moved], 25_000)
    report = check_logs([e.raw for e in log], T0 + 100_000)
    assert [(f.index, f.error.code) for f in report.failures] == [(6, Code.BAD_DECISION)]
    assert "not those of the parts" in report.failures[0].error.message
    short = publish([*parts[:3], msgspec.structs.replace(whole, parts=3)], 25_000)  # the last part not cited
    with pytest.raises(ProtocolError, match="hold 19998"):
        check_parts(short[-1], short[2:5])


def test_a_part_of_another_ballot_or_place_is_wrong_part() -> None:
    parts, whole, _ = twenty_thousand()
    other = msgspec.structs.replace(parts[2], ballot=b"Q" * 16)
    log = publish([parts[0], parts[1], other, parts[3], whole], 25_000)
    with pytest.raises(ProtocolError) as caught:
        check_parts(log[-1], log[2:6])
    assert caught.value.code == Code.WRONG_PART
    # something else where a part should be: missing
    log = publish([*parts[:3], Roll(count=1, root=b"\x02" * 32, as_of=T0), whole], 25_000)
    report = check_logs([e.raw for e in log], T0 + 100_000)
    assert Code.MISSING_PART in {f.error.code for f in report.failures}


def test_a_part_alone_is_recounted_on_arrival() -> None:
    parts, _, _ = twenty_thousand()
    bad = msgspec.structs.replace(parts[0], counts=[3_000, 2_000, 1_666])
    envelope = next_envelope(NATIONAL, GEN, parts[0], GEN.id)
    assert open_envelope(envelope.raw).payload.body == parts[0]
    with pytest.raises(ProtocolError) as caught:
        check_part(bad)
    assert caught.value.code == Code.BAD_DECISION and caught.value.field == "body.counts"
    with pytest.raises(ProtocolError, match="a part counts each option"):
        check_part(msgspec.structs.replace(parts[0], method="approval", options=2))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"receipts": b"\x00" * 9}, "carries its receipts in its parts"),
        ({"cast": None}, "states how many votes it counted"),
        ({"cast": 30_000}, "30000 votes from an electorate of 25000"),
        ({"cast": 20_001}, "add up to 20000, not the 20001"),
        ({"outcome": "lost"}, "give carried"),
    ],
)
def test_a_decision_in_parts_that_does_not_add_up_alone_is_refused(changes: dict[str, object], words: str) -> None:
    _, whole, _ = twenty_thousand()
    with pytest.raises(ProtocolError) as caught:
        open_envelope(unchecked(msgspec.structs.replace(whole, **changes)))
    assert caught.value.code == Code.BAD_DECISION and words in caught.value.message


def test_only_a_decision_in_parts_states_its_votes() -> None:
    inline, _ = fab_decision([FOR, AGAINST], 5)
    with pytest.raises(ProtocolError, match="only a decision in parts"):
        open_envelope(unchecked(msgspec.structs.replace(inline, cast=2)))


def unchecked(body: Decision) -> bytes:
    """A decision signed as a hostile author would, its rules unchecked."""
    return signed_raw(NATIONAL, Payload(author=NATIONAL.public, seq=9, created=T0 + 9_000, body=body,
                                        federation=GEN.id, prev=b"P" * 32))  # fmt: skip


def test_a_ballot_as_large_as_a_roll_may_be_fits_the_parts() -> None:
    # the protocol's largest electorate, ranked on 16 candidates: 24-byte records
    assert most_votes("ranked", 16) >= 10_000_000
    assert most_votes("for_against_abstain", 0) >= 10_000_000
    assert MAX_PARTS * MAX_RECEIPT_BYTES // 24 >= 10_000_000


@pytest.mark.parametrize("name", ["stv_two_surpluses", "meek_keep_factor", "schulze_wikipedia", "irv_exactly_half"])
def test_ranked_parts_elect_the_published_worked_count(name: str) -> None:
    """Worked counts written by hand (tests/protocol/counts): cut into parts of seven
    records, the decision's winners are recounted from every part together."""
    election = parse_blt((COUNTS / f"{name}.blt").read_text())
    expected = json.loads((COUNTS / f"{name}.json").read_text())
    names, n = list(election.candidates), len(election.candidates)
    votes, i = [], 0
    for ranking, weight in election.ballots:
        for _ in range(weight):
            votes.append((i.to_bytes(16, "big"), ranked_choice(ranking, n)))
            i += 1
    ballot = b"K" * 16
    data = records(ballot, votes)
    counts, cast = tally("ranked", n, data)
    winners = [names.index(w) for w in expected["winners"]]
    body = Decision(ballot=ballot, motion="m1", subject="Officers", text_hash=b"\x00" * 32, method="ranked",
                    rules=NO_QUORUM, electorate=cast, roll=b"R" * 32, opened=T0, closed=T0 + 1, counts=counts,
                    receipts=b"", outcome="elected", options=names, chosen=winners,
                    seats=expected.get("seats", election.seats),
                    counting=expected["method"], parts=0, cast=None)  # fmt: skip
    size = 8 + n
    chunks = [data[j : j + 7 * size] for j in range(0, len(data), 7 * size)]
    parts = [DecisionPart(ballot=ballot, part=k, method="ranked", options=n, counts=tally("ranked", n, c)[0],
                          receipts=c) for k, c in enumerate(chunks, 1)]  # fmt: skip
    whole = msgspec.structs.replace(body, parts=len(parts), cast=cast)
    log = publish([*parts, whole], cast, ballot)
    assert check_parts(log[-1], log[2:-1]) == data
    others = list(reversed(winners)) if len(winners) > 1 else [(winners[0] + 1) % n]
    other = msgspec.structs.replace(whole, chosen=others)
    log = publish([*parts, other], cast, ballot)
    with pytest.raises(ProtocolError) as caught:
        check_parts(log[-1], log[2:-1])
    assert caught.value.code == Code.BAD_DECISION and caught.value.field == "body.outcome"


def test_split_cuts_whole_records() -> None:
    data = bytes(range(24)) * 5_000  # 5,000 records of 24 bytes
    chunks = split(data, "ranked", 16)
    assert all(len(c) % 24 == 0 and len(c) <= MAX_RECEIPT_BYTES for c in chunks) and b"".join(chunks) == data
    assert len(chunks) == 2


# --- a selection result citing more bundles than one envelope lists ---------------------------


def _result(bundles: int) -> SelectionResult:
    return SelectionResult(selection=b"S" * 32, paper=b"Q" * 32,
                           bundles=sorted(hashlib.sha256(bytes([i % 256, i // 256])).digest() for i in range(bundles)),
                           ballots=bundles * 10, quota=0, rounds=[], winners=[])  # fmt: skip


def test_a_result_citing_four_thousand_bundles_is_three_parts_and_the_result() -> None:
    result = _result(4_000)
    parts, whole = result_in_parts(result)
    assert [len(p.bundles) for p in parts] == [1_500, 1_500, 1_000] and (whole.parts, whole.bundles) == (3, [])
    log = [GEN]
    for body in [*parts, whole]:
        log.append(next_envelope(NATIONAL, log[-1], body, GEN.id))
    assert all(len(e.raw) <= MAX_ENVELOPE_BYTES for e in log)
    assert check_logs([e.raw for e in log], T0 + 100_000).failures == []
    signed = signed_whole(log[-1], log[1:4])
    assert signed.unread is None and signed.body == result  # as one: every bundle it cites
    gone = signed_whole(log[-1], [log[1], None, log[3]])
    assert gone.unread is not None and gone.unread.startswith("missing_part: part 2 of 3")
    judged = recount(gone, b"S" * 32, None, b"Q" * 32, None, [], [], NATIONAL.public, set())  # type: ignore[arg-type]
    assert judged == [gone.unread]  # a finding: not counted, not called a wrong count
    with pytest.raises(ProtocolError) as caught:
        gather_bundles(log[-1], [log[2], log[1], log[3]])  # held, but not at their places
    assert caught.value.code == Code.MISSING_PART
    other = [GEN]
    for body in [parts[0], msgspec.structs.replace(parts[1], selection=b"T" * 32), parts[2], whole]:
        other.append(next_envelope(NATIONAL, other[-1], body, GEN.id))
    with pytest.raises(ProtocolError) as caught:
        gather_bundles(other[-1], other[1:4])  # part 2 of another selection's result
    assert caught.value.code == Code.WRONG_PART
    swapped = [msgspec.structs.replace(parts[1], part=1), msgspec.structs.replace(parts[0], part=2), parts[2]]
    out_of_order = [GEN]
    for body in [*swapped, whole]:
        out_of_order.append(next_envelope(NATIONAL, out_of_order[-1], body, GEN.id))
    report = check_logs([e.raw for e in out_of_order], T0 + 100_000)
    assert [(f.index, f.error.code) for f in report.failures] == [(4, Code.BAD_SELECTION)]


def test_a_result_in_parts_lists_no_bundles_of_its_own() -> None:
    _, whole = result_in_parts(_result(2_000))
    bent = msgspec.structs.replace(whole, bundles=[b"\x01" * 32])
    raw = signed_raw(NATIONAL, Payload(author=NATIONAL.public, seq=9, created=T0 + 9_000, body=bent,
                                       federation=GEN.id, prev=b"P" * 32))  # fmt: skip
    with pytest.raises(ProtocolError, match="lists its bundles in its parts"):
        open_envelope(raw)
