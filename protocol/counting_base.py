"""What every count shares (protocol.counting): the election, its stages and result, the
published lot, ties broken by earlier stages then lot, and parcels of identical ballot
papers moving along their rankings. Pure: integers and fractions only."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

UNIT = 100_000  # values are held in hundred-thousandths of a vote
MEEK_UNIT = 10**9  # Meek's values: nine decimal places
METHODS = ("stv", "meek", "irv", "schulze", "approval")
# "Re-open nominations": a candidate like any other on the ballot; elected, the seat stays
# empty and nominations open again (as UK parties use it).
RON = "Re-open nominations (RON)"


class CountError(ValueError):
    """An election that cannot be counted, with the reason."""


@dataclass(frozen=True)
class Election:
    """Candidates by name, seats, and ballots as (ranking of candidate indices, how many)."""

    candidates: tuple[str, ...]
    seats: int
    ballots: tuple[tuple[tuple[int, ...], int], ...]
    withdrawn: frozenset[int] = frozenset()
    title: str = ""
    lot_seed: bytes = b""

    def check(self) -> None:
        n = len(self.candidates)
        if n == 0:
            raise CountError("there are no candidates")
        if len(set(self.candidates)) != n:
            raise CountError("two candidates have the same name")
        standing = n - len(self.withdrawn)
        if self.seats < 1:
            raise CountError("an election fills at least one seat")
        if self.seats > standing:
            raise CountError(f"{self.seats} seats and only {standing} candidates standing")
        for number, (ranking, weight) in enumerate(self.ballots, 1):
            if weight < 0:
                raise CountError(f"ballot {number} has a negative weight")
            if len(set(ranking)) != len(ranking):
                raise CountError(f"ballot {number} ranks a candidate twice")
            if any(not 0 <= c < n for c in ranking):
                raise CountError(f"ballot {number} ranks a candidate who does not exist")
        if not any(weight for ranking, weight in self.ballots if self._valid(ranking)):
            raise CountError("there is no valid ballot")

    def _valid(self, ranking: Sequence[int]) -> bool:
        return any(c not in self.withdrawn for c in ranking)


@dataclass
class Stage:
    """One stage of a count: what was done, and every candidate's votes after it."""

    number: int
    action: str  # first, surplus, exclusion, elected, round (irv), pairwise (schulze), approvals
    candidate: int | None = None
    transfer_value: Fraction | None = None  # of papers received at value one (stv surplus)
    votes: dict[int, Fraction] = field(default_factory=dict)
    transfers: dict[int, Fraction] = field(default_factory=dict)
    non_transferable: Fraction = Fraction(0)
    exhausted: Fraction = Fraction(0)  # in all, after this stage
    loss: Fraction = Fraction(0)  # lost to the five-decimal truncation in this stage
    elected: list[int] = field(default_factory=list)
    excluded: list[int] = field(default_factory=list)
    note: str = ""
    quota: Fraction | None = None  # meek: the quota after this round's iterations
    keep: dict[int, Fraction] = field(default_factory=dict)  # meek: every candidate's keep factor


@dataclass
class Result:
    method: str
    seats: int
    winners: list[int]
    stages: list[Stage]
    quota: Fraction | None = None
    places: int = 5  # decimal places of every value (Meek: 9)

    def reopened(self, election: Election) -> bool:
        """Whether "re-open nominations" won a seat: that seat stays empty."""
        return any(election.candidates[w] == RON for w in self.winners)

    def as_json(self, election: Election) -> dict[str, object]:
        names = election.candidates
        unit = 10**self.places

        def value(x: Fraction) -> str:
            if x.denominator == 1:
                return str(x.numerator)
            units = x * unit  # every value of a count is a whole number of units
            whole, part = divmod(abs(units.numerator // units.denominator), unit)
            return f"{'-' if x < 0 else ''}{whole}.{part:0{self.places}d}"

        return {
            "method": self.method,
            "seats": self.seats,
            "quota": value(self.quota) if self.quota is not None else None,
            "winners": [names[w] for w in self.winners],
            "reopen_nominations": self.reopened(election),
            "rounds": [
                {"round": s.number, "action": s.action, "candidate": names[s.candidate] if s.candidate is not None
                 else None, "transfer_value": value(s.transfer_value) if s.transfer_value is not None else None,
                 "votes": {names[c]: value(v) for c, v in s.votes.items()},
                 "transfers": {names[c]: value(v) for c, v in s.transfers.items() if v},
                 "non_transferable": value(s.non_transferable), "exhausted": value(s.exhausted),
                 "loss_by_fractions": value(s.loss), "elected": [names[c] for c in s.elected],
                 "excluded": [names[c] for c in s.excluded], "note": s.note}
                | ({"quota": value(s.quota), "keep": {names[c]: value(v) for c, v in s.keep.items() if 0 < v < 1}}
                   if s.quota is not None else {})
                for s in self.stages
            ],
        }  # fmt: skip


def lot_order(election: Election) -> dict[int, bytes]:
    """Each candidate's place in the lot (smaller first): SHA-256 of the seed and the name."""
    return {i: hashlib.sha256(b"branchnet lot v1\x00" + election.lot_seed + name.encode()).digest()
            for i, name in enumerate(election.candidates)}  # fmt: skip


def _break_tie(tied: list[int], history: list[dict[int, int]], highest: bool, lot: dict[int, bytes]
               ) -> tuple[int, str]:  # fmt: skip
    """Rules 49 and 50: the most recent earlier stage at which the tied candidates had unequal
    votes decides; equal at every stage, lot. Returns (candidate, note)."""
    for back, votes in enumerate(reversed(history)):
        values = {c: votes.get(c, 0) for c in tied}
        if len(set(values.values())) > 1:
            best = max(values.values()) if highest else min(values.values())
            pick = [c for c in tied if values[c] == best]
            if len(pick) == 1:
                return pick[0], f"tie decided by the votes {back + 1} stage(s) earlier"
            tied = pick
    # Lot draws candidates in the published order: the first drawn is favoured (it goes first,
    # or stays), the last drawn is excluded.
    chosen = min(tied, key=lambda c: lot[c]) if highest else max(tied, key=lambda c: lot[c])
    return chosen, "tie decided by lot"


def _in_order(candidates: Iterable[int], now: Sequence[int], history: list[dict[int, int]], highest: bool,
              lot: dict[int, bytes]) -> tuple[list[int], list[str]]:  # fmt: skip
    """``candidates`` by their votes ``now`` (most first when ``highest``, else fewest first),
    every tie broken by :func:`_break_tie` over the earlier stages ``history``, the one rule for
    every use (order of election, whose surplus first, who is excluded). Returns the order
    and a note for each tie it decided."""
    left = list(candidates)
    order: list[int] = []
    notes: list[str] = []
    while left:
        best = max(now[c] for c in left) if highest else min(now[c] for c in left)
        tied = [c for c in left if now[c] == best]
        if len(tied) == 1:
            pick = tied[0]
        else:
            pick, note = _break_tie(tied, history, highest, lot)
            notes.append(note)
        order.append(pick)
        left.remove(pick)
    return order, notes


def _note(stage: Stage, notes: Iterable[str]) -> None:
    for note in notes:
        if note not in stage.note.split("; "):
            stage.note = f"{stage.note}; {note}" if stage.note else note


class _Paper:
    """A parcel of identical ballot papers: their ranking, where they stand in it, their value."""

    __slots__ = ("at", "count", "ranking", "value")

    def __init__(self, ranking: tuple[int, ...], at: int, value: int, count: int) -> None:
        self.ranking, self.at, self.value, self.count = ranking, at, value, count


def _up(a: int, b: int) -> int:
    return -(-a // b)


def _next(paper: _Paper, continuing: set[int]) -> int | None:
    """Move the paper to its next continuing preference; None when it has none."""
    ranking = paper.ranking
    at = paper.at + 1
    while at < len(ranking) and ranking[at] not in continuing:
        at += 1
    if at >= len(ranking):
        return None
    paper.at = at
    return ranking[at]
