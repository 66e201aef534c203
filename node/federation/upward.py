"""Decisions go up: agenda items, ballots on a parent's item, mandates, aggregates and their
recount (docs/decisions.md, "Decisions go up"); submissions and composites are in
:mod:`~node.federation.submissions`, an item's report in :mod:`~node.federation.items`,
delegates and campaigns in :mod:`~node.federation.campaigns`. Each step is checked here before
anything is signed. :func:`refresh` indexes what arrived and recounts what it concerns."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from node.errors import BadInput, Conflict, NotFound
from node.federation.ballots import default_rules, now_ms
from node.federation.findings import judge_decisions, roll_doubt
from node.federation.motions import Moving
from node.federation.own_log import Stored, none_signed
from node.rules.upward import check_may_act_for_body, check_title_text, check_window
from node.storage.findings import FindingStore
from node.storage.members import Member
from node.storage.upward import UpwardStore
from protocol import (
    AgendaItem,
    Aggregate,
    BallotPaper,
    BallotRules,
    Campaign,
    Composite,
    Consent,
    Decision,
    Delegates,
    Envelope,
    Mandate,
    Nomination,
    Pledge,
    Roll,
    Ruling,
    Selection,
    SelectionResult,
    Submission,
    Withdrawal,
)
from protocol import upward as up
from protocol.envelope import reopen
from protocol.models import Body
from protocol.rolls import IMPLAUSIBLE_ROLL

KINDS = ("submission", "agenda_item", "ruling", "composite", "consent", "delegates", "mandate", "aggregate",
         "campaign", "pledge", "selection", "nomination", "ballot_paper", "selection_result", "decision",
         "withdrawal")  # fmt: skip
_locks: dict[bytes, asyncio.Lock] = {}


class Upward(Moving, Protocol):
    @property
    def upward(self) -> UpwardStore: ...

    @property
    def findings(self) -> FindingStore: ...


def _open(raw: bytes) -> Envelope:
    return reopen(raw)  # verified (signature and all) when it was stored


def refs_of(raw: bytes) -> list[tuple[bytes, Envelope]]:
    """What one upward envelope is indexed under."""
    e = _open(raw)
    b = e.payload.body
    match b:
        case Submission() | Delegates():
            return [(b.to, e)]
        case AgendaItem() | Composite():
            return [(e.author, e), *((s, e) for s in b.sources)]
        case Ruling():
            return [(b.submission, e)]
        case Consent():
            return [(b.composite, e)]
        case Mandate() | Aggregate():
            return [(b.item, e)]
        case Campaign():
            return [(e.author, e)]
        case Pledge():
            return [(b.campaign, e)]
        case Withdrawal():
            return [(b.notice, e)]
        case Selection():
            return [(e.author, e)]
        case Nomination() | BallotPaper() | SelectionResult():
            return [(b.selection, e)]
        case Decision(ballot=ballot, selection=bytes() as selection):  # a branch's bundle for a selection
            return [(ballot, e), (selection, e)]
        case Decision(ballot=ballot):  # under its ballot: one decision per ballot
            return [(ballot, e)]
        case _:
            return []


def _me(node: Upward) -> bytes:
    return node.own_log.key.public


def _parent(node: Upward, key: bytes) -> bytes | None:
    body = node.federation_state.body(key)
    return body.parent if body is not None else None


def ancestors(node: Upward, key: bytes) -> list[bytes]:
    out: list[bytes] = []
    current = _parent(node, key)
    while current is not None and current not in out and len(out) < 64:
        out.append(current)
        current = _parent(node, current)
    return out


def name_of(node: Upward, key: bytes) -> str:
    body = node.federation_state.body(key)
    return body.name if body is not None else key.hex()[:16] + "…"


async def held(node: Upward, envelope_id: bytes, kind: type | tuple[type, ...], what: str) -> Envelope:
    """The envelope held here with this id, whose body is a ``kind`` (NotFound naming ``what``)."""
    raw = await node.envelopes.get(envelope_id)
    if raw is None:
        raise NotFound(f"no {what} {envelope_id.hex()[:16]}… is held here")
    envelope = _open(raw)
    if not isinstance(envelope.payload.body, kind):
        raise NotFound(f"{envelope_id.hex()[:16]}… is not a {what}")
    return envelope


async def _referring(node: Upward, ref: bytes, kind: str) -> list[Envelope]:
    return [_open(raw) for raw in await node.upward.referring(ref, kind)]


async def _sign(node: Upward, body: Body, stored: Stored | None = None) -> Envelope:
    return await node.own_log.append(body, stored=stored)


# --- keeping up: index what arrived, recount the aggregates it concerns --------------------


async def index(node: Upward) -> list[Envelope]:
    """Index the upward envelopes stored since the last time (each marks what it makes due for
    judging again, in the same transaction); the envelopes indexed now."""
    return await node.upward.catch_up(KINDS, refs_of, due_of)


async def refresh(node: Upward, clock: Callable[[], float] = time.time) -> int:
    """Index what arrived; recount every aggregate on an item that got a new mandate or
    aggregate, and judge every new decision (a second on one ballot). Works from what is due,
    so whoever indexed an envelope first, it is judged. Returns how many were indexed."""
    new = await index(node)
    await judge_decisions(node, await node.findings.due("decision"), now_ms(clock))
    for item_id in await node.findings.due("item"):
        aggregates = await _referring(node, item_id, "aggregate")
        if aggregates:
            await _recount_and_keep(node, item_id, aggregates, clock)
        await node.findings.judged(item_id)
    return len(new)


def due_of(e: Envelope) -> list[tuple[bytes, str]]:
    """What an arriving envelope makes due for judging again: an item's aggregates (a mandate
    or an aggregate on it), a decision (one per ballot), a selection's papers and results."""
    match e.payload.body:
        case Mandate(item=item) | Aggregate(item=item):
            return [(item, "item")]
        case Selection():
            return [(e.id, "selection")]
        case Nomination(selection=s) | BallotPaper(selection=s) | SelectionResult(selection=s):
            return [(s, "selection")]
        case Decision(selection=bytes() as s):
            return [(e.id, "decision"), (s, "selection")]
        case Decision():
            return [(e.id, "decision")]
        case _:
            return []


async def _recount_and_keep(node: Upward, item_id: bytes, aggregates: list[Envelope], clock: Callable[[], float],
                            keep: bool = True) -> list[tuple[Envelope, list[up.Finding]]]:  # fmt: skip
    raw = await node.envelopes.get(item_id)
    item = _open(raw) if raw is not None else None
    judged = await judge(node, item) if item is not None and isinstance(item.payload.body, AgendaItem) else None
    out = []
    for aggregate in aggregates:
        if judged is None or item is None:
            findings = [up.Finding("item_not_held", "the agenda item it counts is not held here (yet)")]
        else:
            findings = up.recount(aggregate, item, judged.weights, judged.mandates, judged.latest)
            findings += [up.Finding(IMPLAUSIBLE_ROLL, f"{judged.names.get(child, '?')} weighs by {why}")
                         for child, (_, why) in sorted(judged.doubted_rolls.items())]  # fmt: skip
        if keep:
            await node.upward.save_recount(aggregate.id, item_id, aggregate.author, now_ms(clock),
                                           [{"code": f.code, "message": f.message} for f in findings])  # fmt: skip
            await node.findings.replace(aggregate.id, "aggregate", aggregate.author, item_id,
                                        [(f.code, f.message) for f in findings], now_ms(clock))  # fmt: skip
            for roll, why in judged.doubted_rolls.values() if judged is not None else ():
                await node.findings.replace(roll.id, "roll", roll.author, item_id, [(IMPLAUSIBLE_ROLL, why)],
                                            now_ms(clock))  # fmt: skip
        out.append((aggregate, findings))
    return out


# --- submissions as they are checked; composites' answers ---------------------------------


async def _submission_problem(node: Upward, envelope: Envelope) -> str | None:
    body = envelope.payload.body
    assert isinstance(body, Submission)
    if body.to not in ancestors(node, envelope.author):
        return "its author is not below this body"
    raw = await node.envelopes.get(body.decision)
    cited = _open(raw) if raw is not None else None
    decision = cited.payload.body if cited is not None else None
    if not isinstance(decision, Decision) or cited is None or cited.author != envelope.author:
        return "the decision it cites is not held here, or is not its author's"
    if decision.outcome != "carried":
        return f"the decision it cites is {decision.outcome}, not carried"
    if decision.text_hash != up.text_hash(body.text):
        return "its text is not the text the decision carried"
    return None


async def _submission_to_us(node: Upward, submission_id: bytes) -> Envelope:
    envelope = await held(node, submission_id, Submission, "submission")
    if envelope.payload.body.to != _me(node):  # type: ignore[union-attr]
        raise Conflict("that submission is to another body", code="not_ours")
    problem = await _submission_problem(node, envelope)
    if problem is not None:
        raise Conflict(f"that submission is not valid: {problem}", code="invalid_submission")
    if await node.upward.referring_by(submission_id, "ruling", _me(node)):
        raise Conflict("that submission was ruled out", code="ruled_out")
    return envelope


async def answers(node: Upward, composite: Envelope, only: set[bytes] | None = None) -> dict[bytes, str]:
    """Each source submission's latest answer from its own author (none: no answer yet);
    ``only``: counting these consent envelopes alone."""
    body = composite.payload.body
    assert isinstance(body, Composite)
    authors = {s: e.author for s, raw in (await node.upward.many(body.sources)).items() for e in [_open(raw)]}
    out: dict[bytes, str] = {}
    for consent in map(_open, await node.upward.referring(composite.id, "consent", limit=None)):  # latest wins
        c = consent.payload.body
        assert isinstance(c, Consent)
        if authors.get(c.submission) == consent.author and (only is None or consent.id in only):
            out[c.submission] = c.answer
    return out


# --- agenda items ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewItem:
    title: str
    text: str
    opens: int | None = None  # ms; None: now
    closes: int | None = None  # ms; required
    weighting: str | None = None  # None: the federation's rule
    rules: BallotRules | None = None  # None: the federation's defaults
    sources: tuple[bytes, ...] = ()
    composite: bytes | None = None


async def table_item(node: Upward, who: Member, new: NewItem, clock: Callable[[], float] = time.time,
                     stored: Stored | None = None) -> Envelope:  # fmt: skip
    """Put a question to this body's children: its own motion, a submission, or a composite
    every source consented to. ``stored``: what is written with the item, in its transaction."""
    check_may_act_for_body(who)
    await refresh(node, clock)
    rules = new.rules or default_rules(node)
    now = now_ms(clock)
    opens = new.opens if new.opens is not None else now
    if new.closes is None:
        raise BadInput("an agenda item has a deadline for mandates", field="closes")
    check_window(opens, new.closes, now)
    for name in ("quorum", "threshold"):
        if getattr(rules, name).num > getattr(rules, name).den:
            raise BadInput(f"the {name} is a share of at most 1", field=f"rules.{name}")
    trust = node.federation_state.trust
    weighting = new.weighting or (trust.rules.weighting if trust else "card_vote")
    if weighting not in ("card_vote", "one_branch_one_vote", "delegates"):
        raise BadInput("the weighting is card_vote, one_branch_one_vote or delegates", field="weighting")
    sources = list(dict.fromkeys(new.sources))
    title, text = new.title, new.text
    if new.composite is not None:
        composite = await held(node, new.composite, Composite, "composite")
        body = composite.payload.body
        assert isinstance(body, Composite)
        if composite.author != _me(node):
            raise Conflict("that composite is another body's", code="not_ours")
        given = await answers(node, composite)
        missing = [s for s in body.sources if given.get(s) != "consent"]
        if missing:
            said = ", ".join(f"{s.hex()[:16]}… ({given.get(s, 'no answer')})" for s in missing)
            raise Conflict(f"every source must consent to the composite; not yet: {said}", code="no_consent")
        sources, title, text = list(body.sources), title or body.title, text or body.text
    else:
        for source in sources:
            await _submission_to_us(node, source)
            for composite in map(_open, await node.upward.referring_by(source, "composite", _me(node))):
                if (await answers(node, composite)).get(source) == "withdraw":
                    raise Conflict("that motion was withdrawn by its body", code="withdrawn")
    check_title_text(title, text)
    return await _sign(node, AgendaItem(title=title.strip(), text=text, opens=opens, closes=new.closes,
                                        weighting=weighting, rules=rules, sources=sources,  # type: ignore[arg-type]
                                        composite=new.composite), stored)  # fmt: skip


async def agenda(node: Upward) -> list[Envelope]:
    """Agenda items tabled by this body and by every body above it, newest first."""
    await refresh(node)
    items: list[Envelope] = []
    for body in [_me(node), *ancestors(node, _me(node))]:
        items.extend(await _referring(node, body, "agenda_item"))
    items = [e for e in items if isinstance(e.payload.body, AgendaItem)]
    return sorted(items, key=lambda e: e.payload.created, reverse=True)


async def item(node: Upward, item_id: bytes) -> Envelope:
    return await held(node, item_id, AgendaItem, "agenda item")



# --- judging mandates; aggregates --------------------------------------------------------------


@dataclass
class Judged:
    item: Envelope
    weights: dict[bytes, int]
    mandates: dict[bytes, tuple[Envelope, str | None]]
    latest: dict[bytes, Envelope]
    names: dict[bytes, str] = field(default_factory=dict)
    doubted_rolls: dict[bytes, tuple[Envelope, str]] = field(default_factory=dict)  # child: (roll, why)


async def judge(node: Upward, item_envelope: Envelope) -> Judged:
    """Every direct child of the item's body with its weight, every mandate on the item with
    its problem, and each child's mandate to count: what both building and recounting use."""
    await index(node)  # (refresh recounts; judging only needs the index)
    agenda_item = item_envelope.payload.body
    assert isinstance(agenda_item, AgendaItem)
    author = item_envelope.author
    trust = node.federation_state.trust
    # its electorate when it opened: a body revoked since stays counted (protocol.trust.Trust.children_at)
    children = trust.children_at(author, agenda_item.opens) if trust is not None else []
    rolls: dict[bytes, int] = {}
    delegates: dict[bytes, int] = {}
    doubted: dict[bytes, tuple[Envelope, str]] = {}
    if agenda_item.weighting == "card_vote":
        for key, raw in (await node.upward.latest_before("roll", children, agenda_item.opens)).items():
            roll_envelope = _open(raw)
            roll = roll_envelope.payload.body
            assert isinstance(roll, Roll)
            rolls[key] = roll.count
            why = await roll_doubt(node, roll_envelope)
            if why is not None:
                doubted[key] = (roll_envelope, why)
    elif agenda_item.weighting == "delegates":
        for envelope in map(_open, await node.upward.referring(author, "delegates", limit=None)):  # the latest wins
            if envelope.payload.created <= agenda_item.opens:
                delegates[envelope.author] = envelope.payload.body.count  # type: ignore[union-attr]
    mandates = [_open(raw) for raw in await node.upward.referring(item_envelope.id, "mandate", limit=None)]
    bases = {k: _open(v) for k, v in (await node.upward.many(m.payload.body.basis for m in mandates)).items()}  # type: ignore[union-attr]
    below = [b.payload.body.item for b in bases.values() if isinstance(b.payload.body, Aggregate)]
    held = {**bases, **{k: _open(v) for k, v in (await node.upward.many(below)).items()}}
    found = up.judge_item(item_envelope, children, lambda key: _parent(node, key), rolls, delegates, mandates, held)
    weights, judged, latest = found.weights, found.mandates, found.latest
    return Judged(item_envelope, weights, judged, latest, {k: name_of(node, k) for k in children}, doubted)


async def _our_basis(node: Upward, wanted: bytes) -> tuple[Envelope, str, list[int]] | None:
    """This body's latest decision on exactly this text, or its latest aggregate on an item of
    its own with this text: (envelope, outcome, for/against/abstain counts)."""
    me = _me(node)
    found: list[tuple[int, Envelope, str, list[int]]] = []
    for raw in await node.envelopes.own_of_kind(me, "decision", 200):
        envelope = _open(raw)
        d = envelope.payload.body
        if isinstance(d, Decision) and d.text_hash == wanted and d.method == "for_against_abstain":
            found.append((envelope.seq, envelope, d.outcome, list(d.counts)))
            break
    for raw in await node.envelopes.own_of_kind(me, "aggregate", 200):
        envelope = _open(raw)
        a = envelope.payload.body
        assert isinstance(a, Aggregate)
        below = await node.envelopes.get(a.item)
        if below is not None and up.text_hash(_open(below).payload.body.text) == wanted:  # type: ignore[union-attr]
            found.append((envelope.seq, envelope, a.outcome, list(a.votes)))
            break
    if not found:
        return None
    _, envelope, outcome, counts = max(found, key=lambda f: f[0])
    return envelope, outcome, counts


async def issue_mandate(node: Upward, who: Member, item_id: bytes, *, position: str | None = None,
                        split: bool = False, clock: Callable[[], float] = time.time) -> Envelope:  # fmt: skip
    """Send this body's mandate on its parent's item, following its own decision on the
    item's text (or its aggregate of its own children on that text): for when carried,
    against when lost, abstain when not quorate; ``split``: the decision's counts; a free
    vote when ``position`` is ``free``. A later mandate replaces the earlier, citing it."""
    check_may_act_for_body(who)
    await refresh(node, clock)
    envelope = await item(node, item_id)
    body = envelope.payload.body
    assert isinstance(body, AgendaItem)
    me = _me(node)
    if _parent(node, me) != envelope.author:
        raise Conflict("only a direct child of the body that tabled the item sends a mandate on it",
                       code="not_a_child")  # fmt: skip
    now = now_ms(clock)
    if now < body.opens:
        raise Conflict("the item is not open for mandates yet", code="not_open")
    if now > body.closes:
        raise Conflict("the deadline for mandates on this item has passed", code="deadline_passed")
    basis = await _our_basis(node, up.text_hash(body.text))
    if basis is None:
        raise Conflict("this body has not decided on the item's text: hold a ballot on it first",
                       code="no_decision")  # fmt: skip
    cited, outcome, counts = basis
    if split:
        chosen, shares = "split", counts
        if sum(counts) == 0:
            raise Conflict("a split follows the decision's counts, and it counted no votes", code="not_following")
    else:
        chosen, shares = position or up.outcome_position(outcome) or "abstain", []
    if chosen not in ("for", "against", "abstain", "free", "split"):
        raise BadInput("the position is for, against, abstain, free or split", field="position")
    if not up.follows(chosen, shares, outcome, counts):
        raise Conflict(f"the mandate must follow the decision ({outcome}): {chosen} does not", code="not_following")
    earlier = await node.upward.referring_by(item_id, "mandate", me)
    mandate = Mandate(item=item_id, position=chosen, basis=cited.id, split=shares,  # type: ignore[arg-type]
                      replaces=_open(earlier[-1]).id if earlier else None)  # fmt: skip
    return await _sign(node, mandate)


async def aggregate(node: Upward, who: Member, item_id: bytes, clock: Callable[[], float] = time.time) -> Envelope:
    """After the deadline: count the valid on-time mandates of this body's direct children on
    its item, sign the aggregate (one per item)."""
    check_may_act_for_body(who)
    envelope = await item(node, item_id)
    body = envelope.payload.body
    assert isinstance(body, AgendaItem)
    if envelope.author != _me(node):
        raise Conflict("only the body that tabled an item aggregates it", code="not_ours")
    if now_ms(clock) <= body.closes:
        raise Conflict("the item is open for mandates until its deadline", code="still_open")
    aggregated = Conflict("this item has been aggregated already", code="already_aggregated")
    lock = _locks.setdefault(_me(node), asyncio.Lock())
    async with lock:  # (one count at a time here; the check below holds across processes too)
        await refresh(node, clock)
        if await node.upward.referring_by(item_id, "aggregate", _me(node)):
            raise aggregated
        judged = await judge(node, envelope)
        try:
            result = up.build(envelope, judged.weights, judged.latest)
        except ValueError as exc:
            raise Conflict(str(exc), code="too_many_children") from None
        once = none_signed(_me(node), "aggregate", lambda b: isinstance(b, Aggregate) and b.item == item_id,
                           aggregated)  # fmt: skip
        signed = await node.own_log.append(result, check=once)
        await refresh(node, clock)
    return signed
