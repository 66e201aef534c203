"""Decisions go up: a higher body's total from its children's mandates, exactly.

This is the arithmetic of docs/decisions.md, "Decisions go up" (the signed objects that will
carry it, agenda items, mandates and aggregates, come next). Each child counted gives a
position and a weight:

* **weight** by the federation's rule: ``card_vote`` (the child's latest roll count before
  the window opened), ``one_branch_one_vote`` (1), or ``delegates`` (its delegate count);
* **position**: ``for``, ``against`` or ``abstain`` puts the whole weight there; ``split``
  shares it in proportion to three counts (a split card vote, as the child's own ballot
  came out), in whole votes by largest remainder (:func:`apportion`); ``free`` (delegates
  vote as they wish) counts for turnout and in no total.

Totals are whole numbers: every node gets the same ones with integer arithmetic. Turnout is the share of
children, and of weight, that sent a mandate: an absent child drops out of the totals and
counts against the quorum, as at card-vote conferences. The outcome is that of
:func:`protocol.ballots.decide` on the weighted totals, with the weight that took part as
votes cast and the weight of every child as the electorate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .ballots import decide, quorate
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
    votes: tuple[int, int, int]  # weighted for, against, abstain
    weight_sent: int
    weight_all: int
    children_sent: int
    children_all: int
    outcome: str


def apportion(weight: int, split: Sequence[int]) -> tuple[int, int, int]:
    """A weight shared in proportion to (for, against, abstain) counts, in whole votes: each
    share rounded down, the votes left over to the largest remainders (ties: for, then
    against, then abstain), as card votes are split at conferences."""
    total = sum(split)
    shares = [weight * s // total for s in split]
    remainders = [weight * s % total for s in split]
    for i in sorted(range(3), key=lambda i: (-remainders[i], i))[: weight - sum(shares)]:
        shares[i] += 1
    return shares[0], shares[1], shares[2]


def outcome_of(votes: Sequence[int], weight_sent: int, weight_all: int, rules: BallotRules) -> str:
    """The outcome of weighted totals: the quorum on the weight that sent a mandate (free
    votes too), then the ballot rules on for/against/abstain, their sum as votes cast."""
    if not quorate(weight_sent, weight_all, rules.quorum):
        return "not_quorate"
    no_quorum = BallotRules(quorum=Ratio(num=0, den=1), threshold=rules.threshold, base=rules.base, reach=rules.reach)
    outcome, _ = decide("for_against_abstain", list(votes), sum(votes), weight_all, no_quorum)
    return outcome


def totals(counted: Sequence[Counted], weights_of_all: Sequence[int], rules: BallotRules) -> Totals:
    """The weighted totals and outcome; ``weights_of_all`` is every direct child's weight,
    sent or not. ValueError naming what is wrong with an input."""
    votes = [0, 0, 0]
    for n, c in enumerate(counted):
        if c.position not in POSITIONS:
            raise ValueError(f"mandate {n}: {c.position!r} is not a position")
        if c.weight < 0:
            raise ValueError(f"mandate {n}: a weight is not negative")
        if c.position == "split":
            if c.split is None or len(c.split) != 3 or any(s < 0 for s in c.split) or sum(c.split) == 0:
                raise ValueError(f"mandate {n}: a split gives three counts, not all zero")
            for i, share in enumerate(apportion(c.weight, c.split)):
                votes[i] += share
        elif c.position != "free":
            votes[("for", "against", "abstain").index(c.position)] += c.weight
    sent = sum(c.weight for c in counted)
    everyone = sum(weights_of_all)
    if sent > everyone or len(counted) > len(weights_of_all):
        raise ValueError("more weight or children counted than there are")
    outcome = outcome_of(votes, sent, everyone, rules)
    return Totals((votes[0], votes[1], votes[2]), sent, everyone, len(counted), len(weights_of_all), outcome)
