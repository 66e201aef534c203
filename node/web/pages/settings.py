"""The settings of a ballot an officer opens on the web: its closing time, quorum, majority,
secrecy and whether votes may change, with the federation's defaults filled in."""

from __future__ import annotations

import datetime as dt
import math
import time
from dataclasses import dataclass

from node.errors import BadInput, Conflict
from node.federation.ballots import Deciding, default_rules
from node.validation import whole_number
from node.web.pages.common import Form, checked, text
from protocol import BallotRules
from protocol.models import Ratio

MAJORITIES = {"half": (Ratio(num=1, den=2), "more_than"), "two_thirds": (Ratio(num=2, den=3), "at_least"),
              "three_quarters": (Ratio(num=3, den=4), "at_least")}  # fmt: skip
BASES = ("for_against", "cast", "electorate")
MOST_HOURS = 24 * 90


@dataclass(frozen=True)
class Chosen:
    rules: BallotRules
    secrecy: str
    may_change: bool
    closes: int | None  # ms


def settings_of(node: Deciding) -> dict[str, object]:
    """The form's values before anything is typed: the federation's rules, secret, no change."""
    try:
        rules = default_rules(node)
    except Conflict:  # not in a federation yet: the form still shows (opening will say why not)
        rules = BallotRules(quorum=Ratio(num=0, den=1), threshold=Ratio(num=1, den=2))
    majority = next((k for k, (r, reach) in MAJORITIES.items() if (r, reach) == (rules.threshold, rules.reach)), "half")
    return {"closes_in": "", "closes_at": "", "quorum": math.floor(100 * rules.quorum.num / rules.quorum.den),
            "majority": majority, "base": rules.base, "secrecy": "secret", "may_change": False}  # fmt: skip


def settings_as_sent(form: Form) -> dict[str, object]:
    """What the officer sent, to show again beside an error."""
    return {"closes_in": text(form, "closes_in"), "closes_at": text(form, "closes_at")[:40],
            "quorum": text(form, "quorum")[:10], "majority": text(form, "majority"), "base": text(form, "base"),
            "secrecy": text(form, "secrecy") or "secret", "may_change": checked(form, "may_change")}  # fmt: skip


def read_settings(form: Form, node: Deciding, now: float | None = None) -> Chosen:
    """The checked settings, or BadInput naming the field."""
    current = time.time() if now is None else now
    quorum = whole_number(text(form, "quorum").strip() or "0", 0, 100)
    if quorum is None:
        raise BadInput("the quorum is a whole number of per cent, from 0 to 100", field="quorum")
    majority = MAJORITIES.get(text(form, "majority"))
    base = text(form, "base")
    if majority is None or base not in BASES:
        raise BadInput("choose the majority from the list")
    secrecy = text(form, "secrecy") or "secret"
    if secrecy not in ("secret", "open"):
        raise BadInput("a ballot is secret or open")
    closes: int | None = None
    at, within = text(form, "closes_at").strip(), text(form, "closes_in").strip()
    if at:
        try:
            when = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)
        except ValueError:
            raise BadInput("the closing time is a date and time, like 2026-12-24T18:00", field="closes") from None
        closes = int(when.timestamp() * 1000)
    elif within:
        hours = whole_number(within, 1, MOST_HOURS)
        if hours is None:
            raise BadInput("choose when voting closes from the list", field="closes")
        closes = int((current + hours * 3600) * 1000)
    if closes is not None and not current * 1000 < closes <= (current + MOST_HOURS * 3600) * 1000:
        raise BadInput("voting closes after now and within 90 days", field="closes")
    threshold, reach = majority
    usual = settings_of(node)
    try:  # the federation's own quorum when the officer left it as shown (1/3 stays 1/3, not 33/100)
        exact = default_rules(node).quorum if quorum == usual["quorum"] else Ratio(num=quorum, den=100)
    except Conflict:
        exact = Ratio(num=quorum, den=100)
    rules = BallotRules(quorum=exact, threshold=threshold, base=base, reach=reach)  # type: ignore[arg-type]
    return Chosen(rules, secrecy, checked(form, "may_change"), closes)
