"""What waits for a member (and an officer) on the home page: the words for each kind of
ballot, and the latest decisions of this body."""

from __future__ import annotations

from dataclasses import dataclass

from node.federation import upward
from node.federation.elections import OpenToCandidates as OpenToCandidates  # re-exported
from node.federation.elections import open_to_candidates as open_to_candidates  # re-exported
from node.service import Node
from node.storage.ballots import BallotRow
from protocol import AgendaItem, Decision, Mandate, open_envelope


def ballot_kind(row: BallotRow) -> str:
    """What a ballot decides, in a member's words."""
    if row.election is not None and row.election.selection is not None:
        return "selection ballot"
    if row.election is not None:
        return "delegate election"
    if len(row.motion) == 64:
        return "agenda question"
    if row.amendment:
        return "amendment"
    return "motion"


@dataclass(frozen=True)
class Decided:
    id: str  # the decision envelope's id (hex): its public page is /decisions/{id}
    subject: str
    outcome: str
    closed: int  # ms


async def recent_decisions(node: Node, limit: int) -> list[Decided]:
    """This body's own latest decisions, newest first (by their place in its log)."""
    found = []
    for raw in await node.envelopes.own_of_kind(node.key.public, "decision", limit):
        envelope = open_envelope(raw)
        body = envelope.payload.body
        if isinstance(body, Decision):
            found.append(Decided(envelope.id.hex(), body.subject, body.outcome, body.closed))
    return found


@dataclass(frozen=True)
class MandateDue:
    id: str  # the agenda item (hex): its page is /agenda/{id}
    title: str
    by: str
    closes: int  # ms
    soon: bool  # within two days


async def mandates_due(node: Node, now_ms: int) -> list[MandateDue]:
    """Questions of the bodies above, open now, on which this body has sent no mandate yet,
    soonest to close first."""
    me = node.own_log.key.public
    sent = set()
    for raw in await node.envelopes.own_of_kind(me, "mandate", 1000):
        body = open_envelope(raw).payload.body
        if isinstance(body, Mandate):
            sent.add(body.item)
    due = []
    for envelope in await upward.agenda(node):
        item = envelope.payload.body
        if envelope.author == me or envelope.id in sent or not isinstance(item, AgendaItem):
            continue
        if item.opens <= now_ms <= item.closes:
            due.append(MandateDue(envelope.id.hex(), item.title, upward.name_of(node, envelope.author), item.closes,
                                  item.closes - now_ms < 2 * 86_400_000))  # fmt: skip
    return sorted(due, key=lambda d: d.closes)
