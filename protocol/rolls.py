"""Whether a roll's count is plausible (docs/decisions.md, "Rolls that give weight").

A body declares its own roll, and a card vote weighs the body by it: a chartered body that
signs a roll of 10,000,000 members outweighs every honest branch. Nothing can prove a count
without the members' own keys, but two things show one that is far out of line, and every
node flags such a roll (``implausible_roll``) wherever it gives weight:

* **a jump**: more than :data:`GROWTH` times the body's previous roll plus :data:`SLACK`
  (500 to 550 in a month is growth; 500 to 10,000,000 is not);
* **turnout**: more than :data:`TURNOUT` times the most votes any of the body's recent
  decisions counted, plus :data:`SLACK` (a body of 10,000,000 whose ballots draw one vote).

A finding is a flag for people to look into, not a refusal: the aggregate still counts what
its author says, and shows why this node doubts it. Pure integers, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

from .ballots import votes_counted
from .models import Decision

IMPLAUSIBLE_ROLL = "implausible_roll"
GROWTH = 2
SLACK = 50
TURNOUT = 100
RECENT_DECISIONS = 10  # a body's latest decisions whose turnout its roll is held against


def roll_problem(count: int, previous: int | None, votes_cast: Iterable[int]) -> str | None:
    """Why a roll of ``count`` is implausible given the body's ``previous`` roll (None: its
    first) and the votes its recent decisions counted; None when nothing shows it."""
    if previous is not None and count > previous * GROWTH + SLACK:
        return (f"a roll of {count} members after one of {previous}: more than {GROWTH} times the previous roll "
                f"plus {SLACK}")  # fmt: skip
    most = max(votes_cast, default=None)
    if most is not None and count > most * TURNOUT + SLACK:
        return (f"a roll of {count} members where the most votes any of its recent decisions counted is {most}: "
                f"more than {TURNOUT} times that plus {SLACK}")  # fmt: skip
    return None


def doubt(count: int, previous: int | None, recent: Iterable[Decision]) -> str | None:
    """:func:`roll_problem` from the body's previous roll count and its recent decisions (the
    node's and the audit's one way of asking)."""
    return roll_problem(count, previous, [votes_counted(d) for d in recent])
