"""Who may do what with ballots: the rules the API, the pages and the CLI all obey.

* Officers (and admins) open and close ballots.
* Members in good standing vote; the ballot itself holds who may (its frozen electorate:
  :mod:`node.storage.ballots`), so a member who joined after it opened cannot.
* A ballot's shape: ``for_against_abstain`` has no options; ``approval`` has 2 to 16
  different options and a base of ``cast`` or ``electorate``; ratios are at most 1.
"""

from __future__ import annotations

from node.errors import BadInput, Forbidden
from node.rules.members import access
from node.storage.members import Member
from protocol import BallotRules
from protocol.models import MAX_OPTIONS


def check_may_run_ballots(who: Member) -> None:
    if access(who.role) < 1:
        raise Forbidden("only officers open and close ballots")


def check_may_vote(who: Member) -> None:
    if who.status != "active":
        raise Forbidden("only members in good standing vote", code="not_an_elector")


def check_shape(method: str, options: list[str], rules: BallotRules) -> None:
    for name in ("quorum", "threshold"):
        ratio = getattr(rules, name)
        if ratio.num > ratio.den:
            raise BadInput(f"the {name} is a share of at most 1", field=f"rules.{name}")
    if method == "for_against_abstain":
        if options:
            raise BadInput("a for/against/abstain ballot has no options", field="options")
    else:
        if not 2 <= len(options) <= MAX_OPTIONS or len(set(options)) != len(options):
            raise BadInput(f"an approval ballot has 2 to {MAX_OPTIONS} different options", field="options")
        if rules.base == "for_against":
            raise BadInput("an approval ballot's base is cast or electorate", field="rules.base")
