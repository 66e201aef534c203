"""Counts for people: the rounds of a selection's result, and a branch's ranked decision
counted again round by round (the same count every node recounts), in names and decimals."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import msgspec

from protocol import BallotPaper, Decision, SelectionResult
from protocol.ballots import ranked_election
from protocol.counting import CountError, count


class RoundRow(msgspec.Struct, frozen=True):
    """One round of a result, for people: names and decimal values."""

    round: int
    action: str
    candidate: str | None
    votes: dict[str, str]
    exhausted: str
    elected: list[str]
    excluded: list[str]
    note: str
    quota: str | None
    keep: dict[str, str]


def _decimal(units: int, places: int) -> str:
    whole, part = divmod(units, 10**places)
    return str(whole) if not part else f"{whole}.{part:0{places}d}".rstrip("0")


def rounds_for_people(result: SelectionResult, paper: BallotPaper, method: str) -> list[RoundRow]:
    places = 9 if method == "meek" else 5
    names = paper.candidates
    return [
        RoundRow(round=i, action=r.action, candidate=names[r.candidate] if r.candidate is not None else None,
                 votes={names[c]: _decimal(v, places) for c, v in enumerate(r.votes)},
                 exhausted=_decimal(r.exhausted, places), elected=[names[c] for c in r.elected],
                 excluded=[names[c] for c in r.excluded], note=r.note,
                 quota=_decimal(r.quota, places) if r.quota else None,
                 keep={names[c]: _decimal(k, places) for c, k in enumerate(r.keep) if k not in (0, 10**places)})
        for i, r in enumerate(result.rounds, 1)
    ]  # fmt: skip


def quota_for_people(result: SelectionResult, method: str) -> str:
    return _decimal(result.quota, 9 if method == "meek" else 5)


@dataclass(frozen=True)
class RankedCount:
    """A branch's ranked decision counted again for people: its quota, winners and rounds."""

    quota: str
    winners: list[str]
    rounds: list[RoundRow]


def _fraction(value: Fraction, places: int) -> str:
    return _decimal(int(value * 10**places), places)


def count_for_people(decision: Decision) -> RankedCount | None:
    """Every round of a ranked decision's count (the same count every node recounts), or None
    where there is none to show (a selection's bundle, not quorate, nobody ranked)."""
    if decision.method != "ranked" or decision.outcome != "elected":
        return None
    names = decision.options
    election = ranked_election(names, decision.seats, decision.receipts, decision.ballot)
    try:
        result = count(decision.counting, election)
    except CountError:
        return None
    p = result.places
    rounds = [
        RoundRow(round=s.number, action=s.action, candidate=names[s.candidate] if s.candidate is not None else None,
                 votes={names[c]: _fraction(v, p) for c, v in s.votes.items()}, exhausted=_fraction(s.exhausted, p),
                 elected=[names[c] for c in s.elected], excluded=[names[c] for c in s.excluded], note=s.note,
                 quota=_fraction(s.quota, p) if s.quota else None,
                 keep={names[c]: _fraction(k, p) for c, k in s.keep.items() if k not in (0, 1)})
        for s in result.stages
    ]  # fmt: skip
    quota = _fraction(result.quota, p) if result.quota is not None else ""
    return RankedCount(quota, [names[w] for w in result.winners], rounds)
