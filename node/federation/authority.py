"""Acts of power put to the members (issue 24; docs/federation.md, "Authority").

Where the federation's rules say a charter or a revocation needs its body's carried decision,
an officer proposes the act: the node opens a ballot whose text is the act's canonical
description (:func:`protocol.authority.act_text`), so the members vote on exactly that act;
once the ballot is carried, the node signs the act citing the decision, by itself
(:func:`node.federation.ballots.act_decided`), with no second step by hand. A lost ballot
signs nothing. The act is checked as if it were signed now (:mod:`node.federation.acts`), so
nobody votes on an act that could not take effect.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from node.errors import Conflict
from node.federation.acts import Acting, charter_body, revocation_body
from node.federation.ballots import BallotSpec, Deciding, open_ballot
from node.federation.campaigns import delegates_body
from node.federation.upward import Upward
from node.rules.upward import check_may_act_for_body
from node.storage.ballots import BallotRow
from node.storage.members import Member
from protocol import Charter, Decision, Delegates, Revocation, node_id_text, parse_node_id
from protocol.authority import act_text
from protocol.encoding import encode


@dataclass(frozen=True)
class ActedOn:
    """This body's charter revoked: by whom, from where, why, and the vote behind it (None:
    signed without one, in a federation that did not ask for it)."""

    by: str
    after_seq: int
    reason: str
    revocation: bytes
    decision: bytes | None
    outcome: str | None
    counts: list[int] | None  # for, against, abstain


def acted_on(node: Acting) -> ActedOn | None:
    """What this body's own members are shown when an ancestor revoked its charter: the act,
    its reason, its decision and its counts (docs/federation.md, "Authority")."""
    state = node.federation_state
    me = state.body(node.key.public)
    if me is None or me.cut_reason != "revoked" or me.cut is None:
        return None
    effective = [r for r in state.revocations_of(node.key.public)
                 if isinstance(r.payload.body, Revocation) and r.payload.body.after_seq == me.cut]  # fmt: skip
    if not effective:
        return None
    act = effective[0]
    body = act.payload.body
    assert isinstance(body, Revocation)
    decision = state.authority_of(act)
    decided = decision.payload.body if decision is not None else None
    return ActedOn(state.trust.name_of(act.author) or node_id_text(act.author) if state.trust else "?",
                   body.after_seq, body.reason, act.id, decision.id if decision else None,
                   decided.outcome if isinstance(decided, Decision) else None,
                   list(decided.counts) if isinstance(decided, Decision) else None)  # fmt: skip


@dataclass(frozen=True)
class FrozenBy:
    """This body frozen by an ancestor's officers: by whom, since and until when (ms), why."""

    by: str
    since: int
    until: int
    reason: str
    freeze: bytes
    after_seq: int


def frozen_by(node: Acting) -> FrozenBy | None:
    """What this body's own members are shown while an interim freeze of it is in force."""
    state = node.federation_state
    frozen = state.trust.frozen.get(node.key.public) if state.trust is not None else None
    if frozen is None or state.trust is None:
        return None
    act = state.structural(frozen.freeze)
    since = act.payload.created if act is not None else 0
    return FrozenBy(state.trust.name_of(frozen.by) or node_id_text(frozen.by), since, frozen.until, frozen.reason,
                    frozen.freeze, frozen.after_seq)  # fmt: skip


class Proposing(Acting, Deciding, Protocol):
    """A node that acts and runs ballots (``node.service.Node``)."""


class Delegating(Proposing, Upward, Protocol):
    """A node that also sends decisions up (``node.service.Node``)."""


async def propose_charter(node: Proposing, who: Member, key: bytes, name: str, level: str, url: str | None,
                          closes: int | None = None, clock: Callable[[], float] = time.time) -> BallotRow:  # fmt: skip
    """Put the charter of ``key`` to this body's members."""
    return await _propose(node, who, charter_body(node, key, name, level, url), closes, clock)


async def propose_join(node: Proposing, who: Member, join_id: int, closes: int | None = None,
                       clock: Callable[[], float] = time.time) -> BallotRow:  # fmt: skip
    """Put the charter a pending join request asks for to this body's members (where the
    federation's rules say a charter needs their decision, the way to approve one). The request
    is then 'voting' until the ballot closes: approved with the charter the node signs once it
    is carried, else refused (node/storage/acts.py answers it as it settles the act)."""
    async with node.joins.deciding:
        await node.joins.expire()
        join = await node.joins.get(join_id)
        if join.status != "pending":
            raise Conflict(f"join request {join.id} is {join.status}", code="not_pending")
        act = charter_body(node, parse_node_id(join.node_id), join.name, join.level, join.url)
        return await _propose(node, who, act, closes, clock, join=join.id)


async def propose_revocation(node: Proposing, who: Member, key: bytes, after_seq: int | None, reason: str,
                             closes: int | None = None, clock: Callable[[], float] = time.time
                             ) -> BallotRow:  # fmt: skip
    """Put the revocation of ``key`` from ``after_seq`` to this body's members."""
    return await _propose(node, who, revocation_body(node, key, after_seq, reason), closes, clock)


async def propose_delegates(node: Delegating, who: Member, count: int, names: list[str], closes: int | None = None,
                            clock: Callable[[], float] = time.time) -> BallotRow:  # fmt: skip
    """Put this body's delegates record (an officers' record, no election) to its members."""
    check_may_act_for_body(who)
    return await _propose(node, who, delegates_body(node, count, names), closes, clock)


async def _propose(node: Proposing, who: Member, act: Charter | Revocation | Delegates, closes: int | None,
                   clock: Callable[[], float], join: int | None = None) -> BallotRow:  # fmt: skip
    trust = node.federation_state.trust
    if trust is None:
        raise Conflict("this node holds no federation yet", code="not_federated")
    text = act_text(act, trust.name_of)
    if isinstance(act, Charter):
        kind, subject, about = "charter", f"Charter {act.name} as a {act.level}", act.key
    elif isinstance(act, Revocation):
        kind, subject, about = "revocation", f"Revoke the charter of {trust.name_of(act.key) or 'a body'}", act.key
    else:
        above = trust.name_of(act.to) or "the body above"
        kind, subject, about = "delegates", f"Send {act.count} delegates to {above}", act.to
    spec = BallotSpec(motion=f"act:{kind}:{node_id_text(about)[:24]}", subject=subject, text=text, closes=closes,
                      act=(kind, encode(act)), join=join)  # fmt: skip
    return await open_ballot(node, who, spec, clock)
