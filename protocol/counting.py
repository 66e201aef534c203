"""Counting ranked ballots: Scottish STV, IRV, Schulze and approval, exact and deterministic.

Pure: integers and fractions only, no clock, no randomness but the documented lot. Each count
returns the winners in order of election and a report of every stage, and raises
:class:`CountError` naming what is wrong with an impossible election (more seats than
candidates, no valid ballot, a malformed ranking).

**Scottish STV**, as The Scottish Local Government Elections Order 2007 (SSI 2007/42),
Schedule 1, rules 46 to 52:

* quota (rule 46): the valid ballots divided by one more than the seats, ignoring any
  fraction, plus one;
* a candidate whose votes reach the quota at the end of a stage is elected (rules 47, 48),
  in order of their votes;
* surpluses (rules 48, 49): the largest first; every ballot paper credited to the candidate
  passes to its next continuing preference at the value *surplus times the value when received, divided by
  the candidate's total*, calculated to five decimal places, any remainder ignored
  (weighted inclusive Gregory); papers with no further preference are non-transferable;
* exclusion (rule 50): when no surplus remains, the candidate with the fewest votes is
  excluded and all their papers pass on at the value at which they were received;
* ties (rules 49, 50): the candidate with the most (for a surplus) or fewest (for an
  exclusion) votes at the most recent earlier stage at which the tied candidates differed;
  equal at every stage, by lot;
* last vacancies (rule 51): when the continuing candidates are as many as the vacancies left
  they are elected; with one vacancy left, a candidate whose votes are at least all the other
  continuing candidates' together with any surplus not transferred is elected.

Values are held as integers in hundred-thousandths of a vote, so the five-decimal
truncation is exact. **Lot** is deterministic and published: candidates are drawn in the
order of SHA-256 of ``"branchnet lot v1"``, a zero byte, the election's ``lot_seed`` and the
candidate's name, smallest first; the first drawn is favoured (elected first, its surplus
first, kept when another is excluded) and the last drawn excluded. The report says where lot
decided.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
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


def scottish_stv(election: Election) -> Result:
    election.check()
    n, seats = len(election.candidates), election.seats
    lot = lot_order(election)
    continuing = set(range(n)) - set(election.withdrawn)
    piles: dict[int, list[_Paper]] = {c: [] for c in range(n)}
    votes = [0] * n
    valid = 0
    for ranking, weight in election.ballots:
        ranking = tuple(c for c in ranking if c not in election.withdrawn)
        if not ranking or not weight:
            continue
        valid += weight
        piles[ranking[0]].append(_Paper(ranking, 0, UNIT, weight))
        votes[ranking[0]] += UNIT * weight
    quota = (valid // (seats + 1) + 1) * UNIT
    elected: list[int] = []
    excluded: list[int] = []
    pending: list[int] = []  # elected with a surplus not yet transferred
    exhausted = 0
    history: list[dict[int, int]] = []
    stages: list[Stage] = []

    def snapshot() -> dict[int, int]:
        return {c: votes[c] for c in range(n) if c not in election.withdrawn}

    def elect_reaching(stage: Stage) -> None:
        # In order of votes; equal votes by the earlier stages (history: this one is not in it yet).
        reached, notes = _in_order((c for c in continuing if votes[c] >= quota), votes, history, True, lot)
        _note(stage, notes)
        for c in reached:
            if len(elected) < seats:
                continuing.discard(c)
                elected.append(c)
                stage.elected.append(c)
                if votes[c] > quota:
                    pending.append(c)

    def finish(stage: Stage) -> None:
        history.append(snapshot())
        stage.votes = {c: Fraction(v, UNIT) for c, v in history[-1].items()}
        stage.exhausted = Fraction(exhausted, UNIT)
        stages.append(stage)

    first = Stage(1, "first")
    elect_reaching(first)
    finish(first)
    while len(elected) < seats:
        vacancies = seats - len(elected)
        stage = Stage(len(stages) + 1, "")
        if len(continuing) <= vacancies:  # rule 52(1)
            stage.action = "elected"
            stage.note = "the continuing candidates are as many as the vacancies left (rule 52(1))"
            order, notes = _in_order(continuing, votes, history[:-1], True, lot)
            _note(stage, notes)
            for c in order:
                elected.append(c)
                stage.elected.append(c)
            continuing.clear()
            finish(stage)
            break
        if vacancies == 1:  # this project's rule, not the Order's (docs/elections.md, "last vacancy")
            untransferred = sum(votes[c] - quota for c in pending)
            order, notes = _in_order(continuing, votes, history[:-1], True, lot)
            top = order[0]
            if votes[top] >= sum(votes[c] for c in continuing if c != top) + untransferred:
                stage.action = "elected"
                stage.note = ("one vacancy left, and no other continuing candidate can overtake"
                              " (branchnet's last-vacancy rule)")  # fmt: skip
                _note(stage, notes[:1] if votes[top] == votes[order[1]] else [])
                continuing.discard(top)
                elected.append(top)
                stage.elected.append(top)
                finish(stage)
                break
        moved: dict[int, int] = {}
        if pending:  # rules 48, 49: the largest surplus first
            order, notes = _in_order(pending, votes, history[:-1], True, lot)
            source, note = order[0], (notes[0] if len(order) > 1 and votes[order[0]] == votes[order[1]] else "")
            pending.remove(source)
            surplus, total = votes[source] - quota, votes[source]
            stage.action, stage.candidate, stage.note = "surplus", source, note
            stage.transfer_value = Fraction(surplus * UNIT // total, UNIT)
            papers, piles[source] = piles[source], []
            sent = 0
            for paper in papers:
                new_value = surplus * paper.value // total  # five decimal places, the remainder ignored
                nxt = _next(paper, continuing)
                if nxt is None or new_value == 0:
                    stage.non_transferable += Fraction(new_value * paper.count, UNIT)
                    exhausted += new_value * paper.count
                    sent += new_value * paper.count
                    continue
                paper.value = new_value
                piles[nxt].append(paper)
                votes[nxt] += new_value * paper.count
                moved[nxt] = moved.get(nxt, 0) + new_value * paper.count
                sent += new_value * paper.count
            votes[source] = quota
            stage.loss = Fraction(surplus - sent, UNIT)
        else:  # rule 50: exclude the candidate with the fewest votes
            fewest = min(votes[c] for c in continuing)
            tied = [c for c in continuing if votes[c] == fewest]
            source, note = (tied[0], "") if len(tied) == 1 else _break_tie(tied, history[:-1], False, lot)  # rule 51
            stage.action, stage.candidate, stage.note = "exclusion", source, note
            continuing.discard(source)
            excluded.append(source)
            stage.excluded.append(source)
            papers, piles[source] = piles[source], []
            for paper in papers:
                nxt = _next(paper, continuing)
                if nxt is None:
                    stage.non_transferable += Fraction(paper.value * paper.count, UNIT)
                    exhausted += paper.value * paper.count
                    continue
                piles[nxt].append(paper)
                votes[nxt] += paper.value * paper.count
                moved[nxt] = moved.get(nxt, 0) + paper.value * paper.count
            votes[source] = 0
        stage.transfers = {c: Fraction(v, UNIT) for c, v in sorted(moved.items())}
        elect_reaching(stage)
        finish(stage)
    return Result("stv", seats, elected, stages, Fraction(quota, UNIT))


def meek_stv(election: Election) -> Result:
    """Meek's method (Hill, Wichmann and Woodall, Computer Journal 30(3), 1987, Algorithm 123),
    in the fixed-point form of the Proportional Representation Foundation's Reference Meek
    Rule: values to nine decimal places; each candidate keeps a share (its keep factor) of
    every vote that reaches it and passes the rest on, elected candidates included; the quota
    is the votes held by candidates, divided by one more than the seats, truncated, plus
    0.000000001; keep factors are recomputed as kf x quota / votes (each step rounded up)
    until the total surplus is under 0.000001 or stops falling; then the hopeful with the
    fewest votes is defeated (ties as for Scottish STV: earlier rounds, then lot). One stage
    per round, after its iterations converge, with its quota and the keep factors below one;
    ``exhausted`` is the value no candidate keeps (the excess)."""
    election.check()
    n, seats, unit = len(election.candidates), election.seats, MEEK_UNIT
    lot = lot_order(election)
    groups: dict[tuple[int, ...], int] = {}
    for ranking, weight in election.ballots:
        ranking = tuple(c for c in ranking if c not in election.withdrawn)
        if ranking and weight:
            groups[ranking] = groups.get(ranking, 0) + weight
    keep = [0 if c in election.withdrawn else unit for c in range(n)]
    hopeful = set(range(n)) - set(election.withdrawn)
    elected: list[int] = []
    stages: list[Stage] = []
    history: list[dict[int, int]] = []
    omega = unit // 10**6

    def compress() -> dict[tuple[int, ...], int]:
        """The rankings as far as their first hopeful candidate (who keeps all that reaches
        them), without the defeated: the same count, over far fewer distinct parcels. Valid
        until a candidate is elected or defeated."""
        out: dict[tuple[int, ...], int] = {}
        for ranking, weight in groups.items():
            key = []
            for c in ranking:
                if keep[c]:
                    key.append(c)
                    if c in hopeful:
                        break
            out[tuple(key)] = out.get(tuple(key), 0) + weight
        return out

    parcels = groups

    def distribute() -> tuple[list[int], int]:
        votes, excess = [0] * n, 0
        for ranking, weight in parcels.items():
            w = unit
            for c in ranking:
                if keep[c]:
                    given = min(w, _up(w * keep[c], unit))  # w x kf, rounded up
                    votes[c] += given * weight
                    w -= given
                    if not w:
                        break
            excess += w * weight
        return votes, excess

    quota = 0
    while len(elected) < seats and len(elected) + len(hopeful) > seats:
        stage = Stage(len(stages) + 1, "round")
        parcels = compress()
        previous: int | None = None
        while True:
            votes, excess = distribute()
            quota = sum(votes) // (seats + 1) + 1
            reached, notes = _in_order((c for c in hopeful if votes[c] >= quota), votes, history, True, lot)
            _note(stage, notes)
            for c in reached[: seats - len(elected)]:
                hopeful.discard(c)
                elected.append(c)
                stage.elected.append(c)
            surplus = max(0, sum(votes[c] - quota for c in elected))
            if reached or surplus < omega or (previous is not None and surplus >= previous):
                break
            previous = surplus
            for c in elected:
                keep[c] = _up(_up(keep[c] * quota, unit) * unit, votes[c])  # each step rounded up
        if not stage.elected and len(elected) < seats and len(elected) + len(hopeful) > seats:
            fewest = min(votes[c] for c in hopeful)
            tied = [c for c in hopeful if votes[c] == fewest]
            loser, stage.note = (tied[0], "") if len(tied) == 1 else _break_tie(tied, history, False, lot)
            hopeful.discard(loser)
            keep[loser] = 0
            stage.action, stage.candidate = "exclusion", loser
            stage.excluded.append(loser)
        history.append({c: votes[c] for c in range(n) if c not in election.withdrawn})
        stage.votes = {c: Fraction(v, unit) for c, v in history[-1].items()}
        stage.keep = {c: Fraction(keep[c], unit) for c in sorted(history[-1])}
        stage.exhausted = Fraction(excess, unit)
        stage.quota = Fraction(quota, unit)
        stages.append(stage)
    if len(elected) < seats:
        parcels = compress()
        votes, excess = distribute()
        stage = Stage(len(stages) + 1, "elected", note="the hopeful candidates are as many as the seats left")
        order, notes = _in_order(hopeful, votes, history, True, lot)
        _note(stage, notes)
        for c in order:
            elected.append(c)
            stage.elected.append(c)
        stage.votes = {c: Fraction(votes[c], unit) for c in range(n) if c not in election.withdrawn}
        stage.exhausted = Fraction(excess, unit)
        stages.append(stage)
    return Result("meek", seats, elected, stages, Fraction(quota, unit), places=9)


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


def irv(election: Election) -> Result:
    """Instant runoff for one seat: a candidate with more than half the votes still counting
    wins; otherwise the candidate with the fewest is excluded (ties as for STV exclusions)."""
    election.check()
    if election.seats != 1:
        raise CountError("instant runoff fills one seat; use stv for more")
    n = len(election.candidates)
    lot = lot_order(election)
    continuing = set(range(n)) - set(election.withdrawn)
    history: list[dict[int, int]] = []
    stages: list[Stage] = []
    exhausted = 0
    while True:
        tally = dict.fromkeys(continuing, 0)
        counting = 0
        for ranking, weight in election.ballots:
            top = next((c for c in ranking if c in continuing), None)
            if top is None:
                continue
            tally[top] += weight
            counting += weight
        valid = sum(w for r, w in election.ballots if election._valid(r))
        exhausted = valid - counting
        stage = Stage(len(stages) + 1, "round", votes={c: Fraction(v) for c, v in sorted(tally.items())},
                      exhausted=Fraction(exhausted))  # fmt: skip
        history.append(tally)
        stages.append(stage)
        leader = max(tally.values())
        leaders = [c for c in continuing if tally[c] == leader]
        if 2 * leader > counting or len(continuing) == 1:
            winner = leaders[0] if len(leaders) == 1 else _break_tie(leaders, history[:-1], True, lot)[0]
            stage.elected.append(winner)
            return Result("irv", 1, [winner], stages)
        fewest = min(tally.values())
        tied = [c for c in continuing if tally[c] == fewest]
        loser, note = (tied[0], "") if len(tied) == 1 else _break_tie(tied, history[:-1], False, lot)
        stage.excluded.append(loser)
        stage.note = note
        continuing.discard(loser)


def schulze(election: Election) -> Result:
    """The Schulze method (Schulze 2011): pairwise preferences, strongest paths (widest path
    by winning votes), and the order they give; ties in that order by lot. Winners are the
    first ``seats`` of the order. A ranked candidate is preferred to every unranked one."""
    election.check()
    n = len(election.candidates)
    lot = lot_order(election)
    standing = [c for c in range(n) if c not in election.withdrawn]
    d = [[0] * n for _ in range(n)]
    for ranking, weight in election.ballots:
        ranked = [c for c in ranking if c not in election.withdrawn]
        if not ranked or not weight:
            continue
        seen: set[int] = set()
        for c in ranked:
            seen.add(c)
            for other in standing:
                if other not in seen:
                    d[c][other] += weight
    p = [[d[i][j] if d[i][j] > d[j][i] else 0 for j in range(n)] for i in range(n)]
    for k in standing:
        for i in standing:
            if i == k:
                continue
            for j in standing:
                if j not in (i, k):
                    p[i][j] = max(p[i][j], min(p[i][k], p[k][j]))
    beats = {i: sum(1 for j in standing if j != i and p[i][j] > p[j][i]) for i in standing}
    order = sorted(standing, key=lambda c: (-beats[c], lot[c]))
    notes = [f"{election.candidates[a]} and {election.candidates[b]} tied: order by lot"
             for a, b in itertools.pairwise(order) if beats[a] == beats[b]
             and p[a][b] == p[b][a]]  # fmt: skip
    stage = Stage(1, "pairwise", votes={c: Fraction(beats[c]) for c in standing}, note="; ".join(notes))
    stage.transfers = {}
    stage.elected = order[: election.seats]
    result = Result("schulze", election.seats, order[: election.seats], [stage])
    result.pairwise = d  # type: ignore[attr-defined]
    result.paths = p  # type: ignore[attr-defined]
    return result


def approval(election: Election) -> Result:
    """Every candidate a ballot lists is approved; the ``seats`` with the most approvals win
    (ties by lot)."""
    election.check()
    n = len(election.candidates)
    lot = lot_order(election)
    tally = {c: 0 for c in range(n) if c not in election.withdrawn}
    for ranking, weight in election.ballots:
        for c in set(ranking):
            if c in tally:
                tally[c] += weight
    order = sorted(tally, key=lambda c: (-tally[c], lot[c]))
    winners = order[: election.seats]
    note = ""
    if election.seats < len(order) and tally[order[election.seats - 1]] == tally[order[election.seats]]:
        note = "the last seat was tied: decided by lot"
    stage = Stage(1, "approvals", votes={c: Fraction(v) for c, v in tally.items()}, elected=winners, note=note)
    return Result("approval", election.seats, winners, [stage])


def ordered_list(election: Election, length: int | None = None, method: str = "stv"
                 ) -> tuple[list[int], list[Result]]:  # fmt: skip
    """A ranked slate, as parties order a list: successive STV counts (Scottish or Meek) for 1, 2, ...
    ``length`` seats (default: the election's seats); each count's newly elected candidate
    takes the next place. STV is not house-monotonic: a larger count can leave out someone
    placed by a smaller one; the earlier place stands, and of several newly elected the first
    in order of election takes the place. Returns the order and every count."""
    length = election.seats if length is None else length
    order: list[int] = []
    results: list[Result] = []
    for seats in range(1, length + 1):
        result = count(method, replace(election, seats=seats))
        results.append(result)
        order.append(next(w for w in result.winners if w not in order))  # seats > len(order): one is new
    return order, results


BALANCING = ("", "alternate")


def balance(order: Sequence[int], categories: Sequence[str], rule: str) -> list[int]:
    """An ordered list after a balancing rule declared before the vote (``categories`` gives
    each candidate's declared category). ``alternate``: each place goes to the highest-placed
    candidate not yet placed whose category differs from the previous place's, or, when no
    such candidate is left, to the highest-placed left; the order within a category never
    changes. ``""``: no balancing. Both lists are published, before and after."""
    if rule not in BALANCING:
        raise CountError(f"{rule!r} is not a balancing rule: {', '.join(r or 'none' for r in BALANCING)}")
    if not rule:
        return list(order)
    left, out = list(order), list[int]()
    while left:
        previous = categories[out[-1]] if out else None
        pick = next((c for c in left if categories[c] != previous), left[0])
        left.remove(pick)
        out.append(pick)
    return out


def count(method: str, election: Election) -> Result:
    counters = {"stv": scottish_stv, "meek": meek_stv, "irv": irv, "schulze": schulze, "approval": approval}
    if method not in counters:
        raise CountError(f"{method!r} is not a method: {', '.join(METHODS)}")
    return counters[method](election)
