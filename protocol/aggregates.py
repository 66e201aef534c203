"""Decisions go up: a higher body's total from its children's mandates, exactly.

This is the arithmetic of docs/decisions.md, "Decisions go up" (the signed objects that will
carry it, agenda items, mandates and aggregates, come next). Each child counted gives a
position and a weight:

* **weight** by the federation's rule: ``card_vote`` (the child's latest roll count before
  the window opened), ``one_branch_one_vote`` (1), or ``delegates`` (its delegate count);
* **position**: ``for``, ``against`` or ``abstain`` puts the whole weight there; ``split``
  shares it in proportion to three counts (a split card vote, as the child's own ballot
  came out); ``free`` (delegates vote as they wish) counts for turnout and in no total.

Totals are exact fractions (a split shares weight unevenly). Turnout is the share of
children, and of weight, that sent a mandate: an absent child drops out of the totals and
counts against the quorum, as at card-vote conferences. The outcome is that of
:func:`protocol.ballots.decide` on the weighted totals, with the weight that took part as
votes cast and the weight of every child as the electorate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import msgspec

from .ballots import decide
from .models import BallotRules, Ratio

POSITIONS = ("for", "against", "abstain", "split", "free")


@dataclass(frozen=True)
class Counted:
    """One child's mandate as the aggregate counts it."""

    position: str
    weight: int
    split: tuple[int, int, int] | None = None  # for, against, abstain: only with "split"


@dataclass(frozen=True)
class Totals:
    votes: tuple[Fraction, Fraction, Fraction]  # weighted for, against, abstain
    weight_sent: int
    weight_all: int
    children_sent: int
    children_all: int
    outcome: str


def totals(counted: Sequence[Counted], weights_of_all: Sequence[int], rules: BallotRules) -> Totals:
    """The weighted totals and outcome; ``weights_of_all`` is every direct child's weight,
    sent or not. ValueError naming what is wrong with an input."""
    votes = [Fraction(0), Fraction(0), Fraction(0)]
    for n, c in enumerate(counted):
        if c.position not in POSITIONS:
            raise ValueError(f"mandate {n}: {c.position!r} is not a position")
        if c.weight < 0:
            raise ValueError(f"mandate {n}: a weight is not negative")
        if c.position == "split":
            if c.split is None or any(s < 0 for s in c.split) or sum(c.split) == 0:
                raise ValueError(f"mandate {n}: a split gives three counts, not all zero")
            for i, share in enumerate(c.split):
                votes[i] += Fraction(c.weight * share, sum(c.split))
        elif c.position != "free":
            votes[("for", "against", "abstain").index(c.position)] += c.weight
    sent = sum(c.weight for c in counted)
    everyone = sum(weights_of_all)
    if sent > everyone or len(counted) > len(weights_of_all):
        raise ValueError("more weight or children counted than there are")
    if everyone == 0 or sent * rules.quorum.den < rules.quorum.num * everyone:
        outcome = "not_quorate"  # turnout counts every weight that sent a mandate, free votes too
    else:
        cast = sent - sum(c.weight for c in counted if c.position == "free")
        no_quorum = msgspec.structs.replace(rules, quorum=Ratio(num=0, den=1))  # tested just above
        outcome, _ = decide("for_against_abstain", votes, cast, everyone, no_quorum)  # type: ignore[arg-type]
    return Totals((votes[0], votes[1], votes[2]), sent, everyone, len(counted), len(weights_of_all), outcome)
