"""Who may do what as decisions go up: the rules the API, the pages and the CLI all obey.

* Officers (and admins) act for their body: submit a motion it carried, table agenda items,
  rule submissions out, propose composites and answer them, record delegates, issue
  mandates, publish aggregates, campaigns and pledges. Each signs an envelope in the
  body's log, so it is an officer's act, as opening a ballot is.
* Members read the agenda, the mandates, aggregates with their recounts and campaigns.
* Deadlines and windows are the item's: a mandate only while it is open, an aggregate only
  after it closes (node.federation.upward checks them with the clock).
"""

from __future__ import annotations

from node.errors import BadInput, Forbidden
from node.rules.members import access
from node.storage.members import Member


def check_may_act_for_body(who: Member) -> None:
    if access(who.role) < 1:
        raise Forbidden("only officers act for the body (they sign in its name)")


def check_window(opens: int, closes: int, now: int) -> None:
    if closes <= opens:
        raise BadInput("an agenda item closes after it opens", field="closes")
    if closes <= now:
        raise BadInput("an agenda item's deadline is in the future", field="closes")


MAX_TITLE = 200  # protocol.models.Name
MAX_TEXT = 20_000  # protocol.models.MotionText


def check_title_text(title: str, text: str, max_text: int = MAX_TEXT) -> None:
    """A title and a text within what the signed object holds: checked here, before signing,
    for the API, the pages and the CLI alike (an over-long one would otherwise fail only when
    sealed, as an internal error)."""
    if not title.strip():
        raise BadInput("a title is needed", field="title")
    if len(title) > MAX_TITLE:
        raise BadInput(f"a title has at most {MAX_TITLE} characters", field="title")
    if not text.strip():
        raise BadInput("a text is needed", field="text")
    if len(text) > max_text:
        raise BadInput(f"a text has at most {max_text:,} characters", field="text")
