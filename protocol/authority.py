"""Acts of power cite the decision that authorised them (docs/federation.md, "Authority").

A federation's rules may list acts (``Rules.authority``: ``charter``, ``revocation``, ...)
that its bodies may sign only after their own members carried a decision on exactly that
act. The act names that decision (its ``decision`` field); the decision's ``text_hash`` is
the hash of the act's canonical description (:func:`act_text`), the text the members voted
on, generated from the act itself: so a decision on one act authorises that act and no
other. Every node and the audit judge an act by :func:`authority_problem`:

* ``no_authority``: the rules need a decision and the act cites none;
* ``wrong_authority``: what it cites is not a decision of the acting body earlier in its log
  (whoever holds the act holds that log up to it, so "not held" is this too), was on another
  text, or was not carried.

An act that fails changes nothing in the trust state (:mod:`protocol.trust`).
"""

from __future__ import annotations

from collections.abc import Callable

from .errors import Code
from .keys import node_id_text
from .models import Charter, Decision, Envelope, Revocation, Rules, kind_of
from .upward import text_hash

Act = Charter | Revocation


def needs_authority(rules: Rules, act: Act) -> bool:
    """Whether the federation's rules say this kind of act needs its body's decision."""
    return rules.authority is not None and kind_of(act) in rules.authority


def act_text(act: Act, name_of: Callable[[bytes], str | None]) -> str:
    """The canonical description of an act: the text its body's members vote on, whose hash
    the authorising decision carries. ``name_of`` gives a chartered body's name (a revoked
    body is named as the trust state knows it)."""
    if isinstance(act, Charter):
        where = f", reached at {act.url}" if act.url else ""
        return f"Charter {act.name} as a {act.level} of this federation, its key {node_id_text(act.key)}{where}."
    who = name_of(act.key) or "the body"
    since = "setting aside everything it signed" if act.after_seq == 0 else f"from its envelope {act.after_seq + 1} on"
    why = f": {act.reason}" if act.reason else ""
    return f"Revoke the charter of {who}, {node_id_text(act.key)}, {since}{why}."


def authority_problem(act: Envelope, decision: Envelope | None, text: str) -> tuple[Code, str] | None:
    """Why ``act`` (an act that needs authority) is not authorised by ``decision``, the
    envelope its ``decision`` field names as the verifier holds it (None: not held), for the
    act's canonical ``text``; None when it is."""
    body = act.payload.body
    assert isinstance(body, Charter | Revocation)
    kind = kind_of(body)
    if body.decision is None:
        return Code.NO_AUTHORITY, f"a {kind} in this federation needs a carried decision of its body on it"
    cited = decision.payload.body if decision is not None else None
    if (decision is None or decision.id != body.decision or not isinstance(cited, Decision)
            or decision.author != act.author or decision.seq >= act.seq):  # fmt: skip
        return Code.WRONG_AUTHORITY, f"what it cites ({body.decision.hex()[:16]}…) is not a decision of its own body " \
                                     "earlier in its log"
    if cited.text_hash != text_hash(text) or cited.method != "for_against_abstain":
        return Code.WRONG_AUTHORITY, f"its decision was on another text than this {kind}"
    if cited.outcome != "carried":
        return Code.WRONG_AUTHORITY, f"its decision was {cited.outcome.replace('_', ' ')}, not carried"
    return None
