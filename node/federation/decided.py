"""A decision as counted: one in parts (protocol.parts) read with every record of its parts,
which are the envelopes just before it in its author's log (held wherever it is: a node holds
every earlier envelope of a log). What counts a ranked decision for people, finds a voter's
receipt, or counts a selection's bundles reads decisions through this."""

from __future__ import annotations

from typing import Protocol

from node.storage.envelopes import EnvelopeStore
from protocol import Decision, Envelope
from protocol.envelope import reopen
from protocol.parts import gather, places, whole_decision


class Holding(Protocol):
    @property
    def envelopes(self) -> EnvelopeStore: ...


async def held_parts(envelopes: EnvelopeStore, decision: Envelope) -> list[Envelope | None]:
    """What is held at each place of a decision's parts, in one read."""
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
