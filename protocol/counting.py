"""Counting ranked ballots: Scottish STV and Meek STV (:mod:`protocol.counting_stv`, which
states the rules), IRV, Schulze and approval, exact and deterministic; ordered lists by
successive counts, and their balancing.

Pure: integers and fractions only, no clock, no randomness but the documented lot
(:func:`protocol.counting_base.lot_order`). Each count returns the winners in order of
election and a report of every stage, and raises :class:`CountError` naming what is wrong
with an impossible election (more seats than candidates, no valid ballot, a malformed
ranking). What every count shares is in :mod:`protocol.counting_base`; this module is where
the rest of the protocol and the node take them from.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

from .counting_base import MEEK_UNIT as MEEK_UNIT
from .counting_base import METHODS as METHODS
from .counting_base import RON as RON
from .counting_base import UNIT as UNIT
from .counting_base import CountError as CountError
from .counting_base import Election as Election
from .counting_base import Result as Result
from .counting_base import Stage, _break_tie, lot_order
from .counting_stv import meek_stv as meek_stv
from .counting_stv import scottish_stv as scottish_stv


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
