"""A decision or a selection result as counted: one in parts (protocol.parts) read with every
record or bundle of its parts, which are the envelopes just before it in its author's log
(held wherever it is: a node holds every earlier envelope of a log). What counts a ranked
decision for people, finds a voter's receipt, or counts a selection's bundles and result
reads them through this."""

from __future__ import annotations

from typing import Protocol

from node.storage.envelopes import EnvelopeStore
from protocol import Decision, Envelope
from protocol.envelope import reopen
from protocol.parts import gather, places, signed_whole, whole_decision
from protocol.selections import Signed


class Holding(Protocol):
    @property
    def envelopes(self) -> EnvelopeStore: ...


async def held_parts(envelopes: EnvelopeStore, decision: Envelope) -> list[Envelope | None]:
    """What is held at each place of a decision's or a result's parts, in one read."""
    where = places(decision)
    if not where:
        return []
    found = {e.seq: e for e in map(reopen, await envelopes.range(decision.author, where.start - 1, len(where)))}
    return [found.get(seq) for seq in where]


async def whole(node: Holding, decision: Envelope) -> Decision:
    """The decision with every receipt record it counted (its own, or its parts'), read from
    its parts without counting it again (it was, when it was signed or taken in). A part not
    held (never, on a node that took the decision in) raises the protocol's ``missing_part``."""
    body = decision.payload.body
    assert isinstance(body, Decision)
    if not body.parts:
        return body
    return whole_decision(body, gather(decision, await held_parts(node.envelopes, decision)))


async def signed(node: Holding, envelope: Envelope) -> Signed:
    """A bundle or a result as the selection checks read it (:func:`protocol.parts.signed_whole`)."""
    return signed_whole(envelope, await held_parts(node.envelopes, envelope))
