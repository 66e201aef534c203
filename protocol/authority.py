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

Three more rules hold where the rules list authorities at all (``Rules.authority`` present,
even empty: a federation founded before these rules keeps its old ones):

* a revocation takes effect from where it says (``after_seq``) forward; one that sets aside
  everything its body signed (``after_seq`` 0) needs evidence: a fork proof of that body
  earlier in the revoker's own log (``evidence``), or its members' carried decision on exactly
  that (:func:`needs_authority`, :func:`evidence_problem`, ``no_evidence``);
* a change of the rules (:class:`RulesChange`) is signed by the founding body citing its own
  aggregate on the agenda item whose text is the change's canonical description
  (:func:`rules_text`), weighed by the rules' own weighting, carried under
  :func:`amendment_rules` (at least the amendment threshold of the weight voting, abstentions
  counted, and the amendment quorum) whatever the item's own rules said
  (:func:`rules_change_problem`, ``wrong_authority`` / ``below_amendment``);
* an interim freeze lasts at most the rules' ``freeze_days`` (:func:`freeze_problem`,
  ``freeze_too_long``);
* where the list names ``officers_delegates``, a delegates record is either an election's
  (``election``: its body's decision electing exactly those delegates, :func:`election_problem`)
  or an officers' record citing its members' carried decision on it (``wrong_authority`` /
  ``no_authority``): a record weighs in every delegates-weighted aggregate above.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import get_args

from .aggregates import outcome_of
from .ballots import quorate
from .chain import verify_fork_proof
from .counting import RON
from .errors import Code
from .keys import node_id_text
from .models import (
    AgendaItem,
    Aggregate,
    BallotRules,
    Charter,
    Decision,
    Delegates,
    Envelope,
    ForkProof,
    Freeze,
    Ratio,
    Revocation,
    Rules,
    RulesChange,
    kind_of,
)
from .models_federation import AuthorityAct
from .upward import text_hash

Act = Charter | Revocation | Delegates
AUTHORITY_ACTS: tuple[str, ...] = get_args(AuthorityAct)  # what a genesis may list (`branchnet genesis`: all)
AMEND_THRESHOLD = Ratio(num=2, den=3)  # when the rules name none
FREEZE_DAYS = 14  # when the rules name none
DAY_MS = 86_400_000


def needs_authority(rules: Rules, act: Act) -> bool:
    """Whether the federation's rules say this kind of act needs its body's decision; and a
    revocation of everything a body signed, without a fork proof, wherever rules list
    authorities at all."""
    if rules.authority is None:
        return False
    if isinstance(act, Revocation) and act.after_seq == 0 and act.evidence is None:
        return True
    if isinstance(act, Delegates):  # an officers' record: no election behind it
        return act.election is None and "officers_delegates" in rules.authority
    return kind_of(act) in rules.authority


def election_problem(act: Envelope, election: Envelope | None) -> tuple[Code, str] | None:
    """Why a delegates record's ``election`` (the decision as held) is not the author's own
    election of exactly these delegates, earlier in its log; None when it is, or names none."""
    body = act.payload.body
    assert isinstance(body, Delegates)
    if body.election is None:
        return None
    decided = election.payload.body if election is not None else None
    if (election is None or election.id != body.election or not isinstance(decided, Decision)
            or election.author != act.author or election.seq >= act.seq or decided.outcome != "elected"):  # fmt: skip
        return Code.WRONG_AUTHORITY, "what it cites as its election is not an election its body decided earlier"
    winners = [decided.options[i] for i in decided.chosen if decided.options[i] != RON]
    if body.names != winners or body.count != len(winners):
        return Code.WRONG_AUTHORITY, "its delegates are not the winners of the election it cites"
    return None


def evidence_problem(act: Envelope, evidence: Envelope | None) -> tuple[Code, str] | None:
    """Why the fork proof a revocation cites (``evidence``, as held) does not stand; None when it
    does, or when it cites none."""
    body = act.payload.body
    assert isinstance(body, Revocation)
    if body.evidence is None:
        return None
    proof = evidence.payload.body if evidence is not None else None
    if (evidence is None or evidence.id != body.evidence or not isinstance(proof, ForkProof)
            or evidence.author != act.author or evidence.seq >= act.seq
            or _fork_author(proof) != body.key):  # fmt: skip
        return Code.NO_EVIDENCE, "what it cites as evidence is not a fork proof of this body earlier in its own log"
    return None


def _fork_author(proof: ForkProof) -> bytes:
    return verify_fork_proof(proof)[0].author


def freeze_days(rules: Rules) -> int:
    return rules.freeze_days or FREEZE_DAYS


def freeze_problem(rules: Rules, act: Envelope) -> tuple[Code, str] | None:
    """Why an interim freeze may not stand as signed (it lasts beyond the rules' limit)."""
    body = act.payload.body
    assert isinstance(body, Freeze)
    days = freeze_days(rules)
    if body.until - act.payload.created > days * DAY_MS:
        return Code.FREEZE_TOO_LONG, f"a freeze lasts at most {days} days in this federation"
    return None


def _ratio(r: Ratio) -> str:
    return f"{r.num}/{r.den}"


def rules_text(rules: Rules) -> str:
    """The canonical description of a change to these rules: the text of the agenda item that
    puts it to the founding body's children, whose aggregate the change cites."""
    charters = "; ".join(f"a {r.parent} charters a {r.child}" for r in rules.charter_rules) or "none"
    acts = ", ".join(rules.authority) if rules.authority else "none"
    quota = (f"{rules.quota.envelopes_per_day} envelopes and {rules.quota.bytes_per_day} bytes a day"
             if rules.quota else "the protocol's default")  # fmt: skip
    return (f"Change the federation's rules to: levels {', '.join(rules.levels)}; charters: {charters}; "
            f"weighting {rules.weighting.replace('_', ' ')}; quorum {_ratio(rules.quorum)}; threshold "
            f"{_ratio(rules.threshold)}; acts needing a decision: {acts}; a change of the rules needs at least "
            f"{_ratio(rules.amend_threshold or AMEND_THRESHOLD)} of the weight voting and a quorum of "
            f"{_ratio(rules.amend_quorum or rules.quorum)}; an interim freeze lasts at most "
            f"{rules.freeze_days or FREEZE_DAYS} days; quota: {quota}{_signed_text(rules)}.")  # fmt: skip


def _signed_text(rules: Rules) -> str:
    """What the members' own keys must sign, said only when the rules ask for any (so the text
    of rules that predate them is unchanged)."""
    text = ""
    if rules.signed_participation:
        text += f"; every vote signed by its voter's own key on: {', '.join(rules.signed_participation)}"
    if rules.signed_consent:
        text += "; every nomination carries its candidate's own signed consent"
    return text


def amendment_rules(rules: Rules) -> BallotRules:
    """How a change of ``rules`` is decided: at least the amendment threshold of the weight
    voting (abstentions count), and the amendment quorum of all the weight taking part. The
    node tables the question with these rules, so its aggregate's outcome says it."""
    return BallotRules(quorum=rules.amend_quorum or rules.quorum, threshold=rules.amend_threshold or AMEND_THRESHOLD,
                       base="cast", reach="at_least")  # fmt: skip


def rules_change_problem(body: RulesChange, author: bytes, seq: int, aggregate: Envelope | None,
                         item: Envelope | None, rules: Rules, root: bool) -> tuple[Code, str] | None:  # fmt: skip
    """Why ``body``, a RulesChange signed by ``author`` at ``seq``, does not stand under
    ``rules``, the rules in force where it comes: ``aggregate`` and ``item`` as the verifier
    holds them (None: not held, which for the author's own earlier log means never); ``root``:
    its author is the founding body. The aggregate's own totals are the recount's to check
    (protocol.upward.recount)."""
    if not root:
        return Code.WRONG_AUTHORITY, "only the federation's founding body changes its rules"
    agg = aggregate.payload.body if aggregate is not None else None
    if (aggregate is None or aggregate.id != body.aggregate or not isinstance(agg, Aggregate)
            or aggregate.author != author or aggregate.seq >= seq):  # fmt: skip
        return Code.WRONG_AUTHORITY, f"what it cites ({body.aggregate.hex()[:16]}…) is not an aggregate of its own " \
                                     "body earlier in its log"
    tabled = item.payload.body if item is not None else None
    if item is None or item.id != agg.item or not isinstance(tabled, AgendaItem) or item.author != author:
        return Code.WRONG_AUTHORITY, "its aggregate is not on an agenda item of its own body"
    if tabled.text != rules_text(body.rules):
        return Code.WRONG_AUTHORITY, "its aggregate was on another text than this change of the rules"
    if tabled.weighting != rules.weighting:
        return Code.WRONG_AUTHORITY, f"its item was weighed by {tabled.weighting}, not the rules' {rules.weighting}"
    amending = amendment_rules(rules)
    if not quorate(agg.weight_sent, agg.weight_all, amending.quorum):
        return Code.BELOW_AMENDMENT, f"{agg.weight_sent} of {agg.weight_all} weight took part; a change of the " \
                                     f"rules needs {_ratio(amending.quorum)}"
    if outcome_of(agg.votes, agg.weight_sent, agg.weight_all, amending) != "carried":
        return Code.BELOW_AMENDMENT, f"{agg.votes[0]} of the {sum(agg.votes)} weight voting was for it; a change " \
                                     f"of the rules needs at least {_ratio(amending.threshold)}"
    return None


def act_text(act: Act, name_of: Callable[[bytes], str | None]) -> str:
    """The canonical description of an act: the text its body's members vote on, whose hash
    the authorising decision carries. ``name_of`` gives a chartered body's name (a revoked
    body is named as the trust state knows it)."""
    if isinstance(act, Charter):
        where = f", reached at {act.url}" if act.url else ""
        return f"Charter {act.name} as a {act.level} of this federation, its key {node_id_text(act.key)}{where}."
    if isinstance(act, Delegates):
        named = f": {', '.join(act.names)}" if act.names else ""
        return f"Send {act.count} delegates to {name_of(act.to) or 'the body'}, {node_id_text(act.to)}{named}."
    who = name_of(act.key) or "the body"
    since = "setting aside everything it signed" if act.after_seq == 0 else f"from its envelope {act.after_seq + 1} on"
    why = f": {act.reason}" if act.reason else ""
    return f"Revoke the charter of {who}, {node_id_text(act.key)}, {since}{why}."


def authority_problem(act: Envelope, decision: Envelope | None, text: str) -> tuple[Code, str] | None:
    """Why ``act`` (an act that needs authority) is not authorised by ``decision``, the
    envelope its ``decision`` field names as the verifier holds it (None: not held), for the
    act's canonical ``text``; None when it is."""
    body = act.payload.body
    assert isinstance(body, Charter | Revocation | Delegates)
    kind = "officers' delegates record" if isinstance(body, Delegates) else kind_of(body)
    if body.decision is None:
        if isinstance(body, Revocation) and body.after_seq == 0:
            return Code.NO_EVIDENCE, "a revocation setting aside everything its body signed needs evidence: a fork " \
                                     "proof, or its members' carried decision on it"
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
