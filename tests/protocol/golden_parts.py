"""The golden vectors of a decision in parts (tests/protocol/golden.py builds them all; kept
apart by what they show): a ranked ballot's records in three parts and the decision after
them, and the sets that check as logs with a part left out or out of place."""

from __future__ import annotations

import hashlib

import msgspec

from protocol import BallotRules, Decision, DecisionPart, Envelope, Ratio, ResultPart, Roll, SelectionResult, SigningKey
from protocol.ballots import ranked_choice, records, tally
from tests.factories import T0, next_envelope

PARTS_NAMES = ("roll_for_parts", "decision_part_1", "decision_part_2", "decision_part_3", "decision_in_parts",
               "result_part_1", "result_part_2", "result_in_parts")
BALLOT = bytes(range(200, 216))
CANDIDATES = ["Ann", "Bea", "Col"]


def _records() -> bytes:
    """Seven ranked ballots (receipt i is 16 bytes of value 64 + i): three "Ann", one
    "Bea, Col", three "Col, Bea". Instant runoff: Ann 3, Bea 1, Col 3; Bea excluded, her
    ballot goes to Col: Col 4 of 7, elected."""
    rankings = [[0]] * 3 + [[1, 2]] + [[2, 1]] * 3
    return records(BALLOT, [(bytes([64 + i]) * 16, ranked_choice(r, 3)) for i, r in enumerate(rankings)])


def _bodies() -> tuple[Roll, list[DecisionPart], Decision]:
    data = _records()
    size = 8 + 3
    chunks = [data[: 3 * size], data[3 * size : 6 * size], data[6 * size :]]
    parts = [DecisionPart(ballot=BALLOT, part=i, method="ranked", options=3, counts=tally("ranked", 3, c)[0],
                          receipts=c) for i, c in enumerate(chunks, 1)]  # fmt: skip
    counts, cast = tally("ranked", 3, data)
    decision = Decision(
        ballot=BALLOT, motion="m-parts", subject="Branch secretary", text_hash=hashlib.sha256(b"secretary").digest(),
        method="ranked", rules=BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2)),
        electorate=9, roll=b"", opened=T0 + 700_000, closed=T0 + 750_000, counts=counts, receipts=b"",
        outcome="elected", options=CANDIDATES, chosen=[2], secrecy="secret", seats=1, counting="irv",
        parts=len(parts), cast=cast)  # fmt: skip
    roll = Roll(count=9, root=hashlib.sha256(b"nine members").digest(), as_of=T0 + 700_000, ballot=BALLOT)
    return roll, parts, decision


def parts_vectors(national: SigningKey, fed: bytes, last: Envelope) -> list[Envelope]:
    """A decision in parts (docs/protocol.md, `decision_part`): the roll, three parts of three,
    three and one records, and the decision, each the next envelope of the author's log; then
    a result in parts (`result_part`)."""
    roll, parts, decision = _bodies()
    out = [next_envelope(national, last, roll, fed, created=T0 + 700_000)]
    for i, part in enumerate(parts):
        out.append(next_envelope(national, out[-1], part, fed, created=T0 + 750_000 + i))
    out.append(next_envelope(national, out[-1], msgspec.structs.replace(decision, roll=out[0].id), fed,
                             created=T0 + 750_010))  # fmt: skip
    for i, body in enumerate(_result_bodies()):
        out.append(next_envelope(national, out[-1], body, fed, created=T0 + 800_000 + i))
    return out


def _result_bodies() -> list[ResultPart | SelectionResult]:
    """A selection result citing three bundles (ids: SHA-256 of "bundle 1" to "bundle 3",
    sorted) in two parts of two and one: the parts, then the result (no rounds: what it counted
    is for the recount, not these vectors)."""
    selection = hashlib.sha256(b"selection").digest()
    bundles = sorted(hashlib.sha256(f"bundle {i}".encode()).digest() for i in range(1, 4))
    parts = [ResultPart(selection=selection, part=1, bundles=bundles[:2]),
             ResultPart(selection=selection, part=2, bundles=bundles[2:])]  # fmt: skip
    result = SelectionResult(selection=selection, paper=hashlib.sha256(b"paper").digest(), bundles=[], ballots=30,
                             quota=0, rounds=[], winners=[], parts=2)  # fmt: skip
    return [*parts, result]


def parts_bundles(south: SigningKey, fed: bytes) -> list[tuple[str, list[Envelope], list[tuple[int, str]]]]:
    """Sets checked as logs: a decision with its parts; its author left part 3 out and the roll
    stands where part 1 would (``missing_part``); part 3 stands where part 2 would (``wrong_part``)."""
    roll, parts, decision = _bodies()
    roll_env = next_envelope(south, None, roll, fed)
    whole = msgspec.structs.replace(decision, roll=roll_env.id)

    def log(*bodies: object) -> list[Envelope]:
        out = [roll_env]
        for body in bodies:
            out.append(next_envelope(south, out[-1], body, fed))  # type: ignore[arg-type]
        return out

    return [
        ("decision_with_its_parts", log(*parts, whole), []),
        ("decision_missing_a_part", log(parts[0], parts[1], whole), [(3, "missing_part")]),
        ("decision_part_out_of_place", log(parts[0], parts[2], msgspec.structs.replace(whole, parts=2)),
         [(3, "wrong_part")]),
    ]  # fmt: skip

