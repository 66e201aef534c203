"""The single transferable vote: Scottish STV and Meek STV (:func:`meek_stv` states its rule),
exact and deterministic; dispatched and re-exported by :mod:`protocol.counting`.

Pure: integers and fractions only, no clock, no randomness but the documented lot. Each count
returns the winners in order of election and a report of every stage, and raises
:class:`~protocol.counting_base.CountError` naming what is wrong with an impossible election
(more seats than candidates, no valid ballot, a malformed ranking).

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

from fractions import Fraction

from .counting_base import (
    MEEK_UNIT,
    UNIT,
    Election,
    Result,
    Stage,
    _break_tie,
    _in_order,
    _next,
    _note,
    _Paper,
    _up,
    lot_order,
)


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
