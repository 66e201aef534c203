"""Who may do what with ballots: the rules the API, the pages and the CLI all obey.

* Officers (and admins) open and close ballots.
* Members in good standing vote; the ballot itself holds who may (its frozen electorate:
  :mod:`node.storage.ballots`), so a member who joined after it opened cannot.
* A ballot's shape: ``for_against_abstain`` has no options; ``approval`` has 2 to 16
  different options and a base of ``cast`` or ``electorate``; ``ranked`` has 2 to 16
  candidates, fewer seats than candidates, and a counting method; ratios are at most 1.
"""

from __future__ import annotations

from node.errors import BadInput, Forbidden
from node.rules.members import access
from node.storage.ballots import ElectionSpec
from node.storage.members import Member
from protocol import BallotRules
from protocol.models import MAX_OPTIONS


def check_may_run_ballots(who: Member) -> None:
    if access(who.role) < 1:
        raise Forbidden("only officers open and close ballots")


def check_may_vote(who: Member) -> None:
    if who.status != "active":
        raise Forbidden("only members in good standing vote", code="not_an_elector")


def check_shape(method: str, options: list[str], rules: BallotRules, election: ElectionSpec | None = None) -> None:
    for name in ("quorum", "threshold"):
        ratio = getattr(rules, name)
        if ratio.num > ratio.den:
            raise BadInput(f"the {name} is a share of at most 1", field=f"rules.{name}")
    if (method == "ranked") != (election is not None):
        raise BadInput("a ranked ballot, and only a ranked ballot, says how many seats and how it is counted",
                       field="method")  # fmt: skip
    if election is not None:
        if not 2 <= len(options) <= MAX_OPTIONS or len(set(options)) != len(options):
            raise BadInput(f"a ranked ballot has 2 to {MAX_OPTIONS} different candidates", field="options")
        if election.counting not in ("stv", "meek", "irv", "schulze"):
            raise BadInput("a ranked ballot is counted by stv, meek, irv or schulze", field="counting")
        if not 1 <= election.seats <= len(options) - 1:
            raise BadInput(f"a ranked ballot of {len(options)} candidates fills 1 to {len(options) - 1} seats",
                           field="seats")  # fmt: skip
        if election.counting == "irv" and election.seats != 1:
            raise BadInput("instant runoff fills one seat; use stv or meek for more", field="seats")
        return
    if method == "for_against_abstain":
        if options:
            raise BadInput("a for/against/abstain ballot has no options", field="options")
    else:
        if not 2 <= len(options) <= MAX_OPTIONS or len(set(options)) != len(options):
            raise BadInput(f"an approval ballot has 2 to {MAX_OPTIONS} different options", field="options")
        if rules.base == "for_against":
            raise BadInput("an approval ballot's base is cast or electorate", field="rules.base")
