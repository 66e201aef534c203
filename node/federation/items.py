"""What a body does with an agenda item of the body above, and what it shows of one: this
body's ballot on its text; the item with every mandate judged, each aggregate recounted here
and now (not kept: reading changes nothing), this body's own mandates, and what is wrong with
the item itself (a composite without its sources' consent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from node.errors import BadInput, Conflict
from node.federation.ballots import BallotSpec, now_ms, open_ballot
from node.federation.upward import (
    Judged,
    Upward,
    _me,
    _open,
    _parent,
    _recount_and_keep,
    _referring,
    answers,
    item,
    judge,
    refresh,
)
from node.rules.notices import when_text
from node.rules.upward import check_may_act_for_body
from node.storage.ballots import BallotRow
from node.storage.members import Member
from protocol import (
    AgendaItem,
    Composite,
    Envelope,
)
from protocol import upward as up


async def item_findings(node: Upward, item_envelope: Envelope) -> list[up.Finding]:
    """What is wrong with an agenda item itself: one from a composite must name the composite's
    sources, and each source's latest answer signed before the item must be consent."""
    body = item_envelope.payload.body
    assert isinstance(body, AgendaItem)
    if body.composite is None:
        return []
    raw = await node.envelopes.get(body.composite)
    composite = _open(raw) if raw is not None else None
    if composite is None or not isinstance(composite.payload.body, Composite):
        return [up.Finding(up.NO_COMPOSITE, "the composite it names is not held here")]
    if composite.author != item_envelope.author or list(composite.payload.body.sources) != list(body.sources):
        return [up.Finding(up.NO_COMPOSITE, "the composite it names is another body's, or has other sources")]
    signed_before = {c.id for c in map(_open, await node.upward.referring(composite.id, "consent", limit=None))
                     if c.payload.created <= item_envelope.payload.created}  # fmt: skip
    given = await answers(node, composite, only=signed_before)
    missing = [s for s in body.sources if given.get(s) != "consent"]
    return [up.Finding(up.WITHOUT_CONSENT, f"source {s.hex()[:16]}… had not consented ({given.get(s, 'no answer')})")
            for s in missing]  # fmt: skip


@dataclass(frozen=True)
class ItemReport:
    item: Envelope
    judged: Judged | None  # None: the item is another body's and this one is not its child or parent
    aggregates: list[tuple[Envelope, list[up.Finding]]]
    own_mandates: list[Envelope]
    findings: list[up.Finding]


async def report(node: Upward, item_id: bytes, clock: Callable[[], float] = time.time) -> ItemReport:
    """An item with every mandate judged, each aggregate recounted here and now, and this
    body's own mandates on it."""
    await refresh(node, clock)
    envelope = await item(node, item_id)
    judged = await judge(node, envelope)
    aggregates = await _referring(node, item_id, "aggregate")
    # Recounted afresh for whoever asks, and not written: reading a page changes nothing (what
    # arrives is recounted and kept by refresh).
    recounted = await _recount_and_keep(node, item_id, aggregates, clock, keep=False) if aggregates else []
    own = [m for m, _ in judged.mandates.values() if m.author == _me(node)]
    return ItemReport(envelope, judged, recounted, own, await item_findings(node, envelope))


async def ballot_on_item(node: Upward, who: Member, item_id: bytes, clock: Callable[[], float] = time.time,
                         *, closes: int | None = None) -> BallotRow:  # fmt: skip
    """This body's members vote on the exact text of an item of its parent (its decision is
    what the mandate will follow); with ``closes``, the node closes it then, which must leave
    time before the item's deadline for the mandate. Once per item: an officer cannot run the
    vote again until it gives the answer they want."""
    check_may_act_for_body(who)
    envelope = await item(node, item_id)
    body = envelope.payload.body
    assert isinstance(body, AgendaItem)
    if _parent(node, _me(node)) != envelope.author:
        raise Conflict("only a direct child of the body that tabled the item votes on it for a mandate",
                       code="not_a_child")  # fmt: skip
    if now_ms(clock) > body.closes:
        raise Conflict("the item's deadline for mandates has passed", code="deadline_passed")
    if closes is not None and closes >= body.closes:
        raise BadInput(f"the ballot must close before the item's deadline for mandates ({when_text(body.closes)})",
                       field="closes")  # fmt: skip
    if await node.ballots.of_motion(envelope.id.hex()):  # (checked again where the ballot is written)
        raise Conflict("this body has opened its ballot on this item already", code="already_balloted")
    spec = BallotSpec(motion=envelope.id.hex(), subject=body.title, text=body.text, closes=closes, once=True)
    return await open_ballot(node, who, spec, clock)
