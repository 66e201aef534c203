"""A higher body's totals from its children's mandates (protocol/aggregates.py): a worked
example of each weighting rule (docs/decisions.md has the same figures), split card votes,
free votes, absent children."""

from __future__ import annotations

import pytest

from protocol import BallotRules, Ratio
from protocol.aggregates import Counted, totals

MAJORITY = BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2))

# A region with four branches: Leeds 120 members, York 45, Hull 30, Selby 5.
ROLLS = {"Leeds": 120, "York": 45, "Hull": 30, "Selby": 5}


def test_card_vote_weighs_each_branch_by_its_roll() -> None:
    # Leeds against; York, Hull and Selby for: 80 for, 120 against. The card vote is lost...
    counted = [Counted("against", 120), Counted("for", 45), Counted("for", 30), Counted("for", 5)]
    result = totals(counted, list(ROLLS.values()), MAJORITY)
    assert result.votes == (80, 120, 0) and result.outcome == "lost"


def test_one_branch_one_vote_counts_branches() -> None:
    # ... the same mandates, one branch one vote: 3 for, 1 against, carried.
    counted = [Counted("against", 1), Counted("for", 1), Counted("for", 1), Counted("for", 1)]
    result = totals(counted, [1, 1, 1, 1], MAJORITY)
    assert result.votes == (3, 1, 0) and result.outcome == "carried"


def test_delegate_count_weighs_by_delegates() -> None:
    # Delegates: Leeds 4, York 2, Hull 1, Selby 1: 4 for (York, Hull, Selby), 4 against: a tie, lost.
    counted = [Counted("against", 4), Counted("for", 2), Counted("for", 1), Counted("for", 1)]
    result = totals(counted, [4, 2, 1, 1], MAJORITY)
    assert result.votes == (4, 4, 0) and result.outcome == "lost"


def test_a_split_card_vote_shares_the_weight_exactly() -> None:
    # Leeds splits as its own ballot came out, 70 for, 40 against, 10 abstain: its 120 go
    # 70/40/10; York's 45 are for: 115 for, 40 against, 10 abstain: carried.
    counted = [Counted("split", 120, (70, 40, 10)), Counted("for", 45)]
    result = totals(counted, list(ROLLS.values()), MAJORITY)
    assert result.votes == (115, 40, 10) and result.outcome == "carried"
    # Shares that do not divide evenly are whole votes by largest remainder: 5 split 2/1/0
    # is 3 1/3 for and 1 2/3 against: 3 and 1, and the vote left over to the larger
    # remainder, against: 3 / 2 / 0.
    odd = totals([Counted("split", 5, (2, 1, 0))], [5], MAJORITY)
    assert odd.votes == (3, 2, 0)


def test_absent_children_drop_out_and_count_against_the_quorum() -> None:
    # Only Leeds sends a mandate (for): 120 of 200 weight took part, quorum 1/2 met, carried;
    # only York and Hull: 75 of 200, not quorate.
    assert totals([Counted("for", 120)], list(ROLLS.values()), MAJORITY).outcome == "carried"
    assert totals([Counted("for", 45), Counted("for", 30)], list(ROLLS.values()), MAJORITY).outcome == "not_quorate"


def test_a_free_vote_counts_for_turnout_only() -> None:
    # Leeds free (120), York for (45): quorate (165 of 200), and 45 for to 0 against carries.
    result = totals([Counted("free", 120), Counted("for", 45)], list(ROLLS.values()), MAJORITY)
    assert result.votes == (45, 0, 0) and result.weight_sent == 165 and result.outcome == "carried"


@pytest.mark.parametrize(
    ("counted", "words"),
    [
        ([Counted("maybe", 1)], "not a position"),
        ([Counted("split", 1, (0, 0, 0))], "not all zero"),
        ([Counted("split", 1)], "three counts"),
        ([Counted("for", 500)], "more weight"),
    ],
)
def test_bad_inputs_are_named(counted: list[Counted], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        totals(counted, list(ROLLS.values()), MAJORITY)
