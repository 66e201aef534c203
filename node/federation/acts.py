"""What a body does to its federation: charter, revoke, freeze, rotate its key, answer join
requests.

The CLI and the API call these same functions, and each checks the federation's rules
before signing, so a node never signs a charter or revocation the rules make ineffective.
Each takes only what it acts with (:class:`Acting`: the key, the federation state, the own
log and two stores), not the whole running node.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol, TypeVar

import msgspec

from node.errors import BadInput, Conflict, Forbidden, NotFound
from node.federation.ingest import Federation
from node.federation.own_log import OwnLog
from node.rules.motions import check_officer
from node.storage.envelopes import EnvelopeStore
from node.storage.joins import JoinStore
from node.storage.members import Member
from node.storage.peers import PeerStore
from node.validation import describe
from protocol import (
    Charter,
    Freeze,
    Genesis,
    KeyRotation,
    NodeProfile,
    ProtocolError,
    Revocation,
    SigningKey,
    node_id_text,
    open_envelope,
    parse_node_id,
    rotation_message,
)
from protocol.authority import DAY_MS, freeze_days, needs_authority
from protocol.models import MAX_SEQ, Envelope
from protocol.trust import CharteredBody


class Acting(Protocol):
    """What an act needs: a node (``node.service.Node``) has these, and so may a test."""

    @property
    def key(self) -> SigningKey: ...

    @property
    def federation_state(self) -> Federation: ...

    @property
    def own_log(self) -> OwnLog: ...

    @property
    def joins(self) -> JoinStore: ...

    @property
    def peers(self) -> PeerStore: ...


def _standing(node: Acting) -> None:
    state = node.federation_state
    if state.trust is None:
        raise Conflict("this node holds no federation yet (found one, or join one and sync)", code="not_federated")
    me = state.body(node.key.public)
    if me is None:
        raise Forbidden("this node is not chartered in its federation (yet)", code="not_chartered")
    if me.cut is not None:
        raise Forbidden(f"this node's key was {me.cut_reason}; it cannot act", code="key_cut")


def check_may_charter(node: Acting, level: str) -> None:
    """Whether this node may charter a body of ``level`` now (standing and genesis rules):
    asked before signing a charter, and before taking a join request for one."""
    _standing(node)
    state = node.federation_state
    assert state.trust is not None
    me = state.trust.bodies[node.key.public]
    if level not in state.trust.rules.levels:
        raise BadInput(
            f"{level!r} is not a level of this federation ({', '.join(state.trust.rules.levels)})", field="level"
        )
    if not state.trust.may_charter(me.level, level):
        raise Forbidden(f"a {me.level} may not charter a {level} in this federation", field="level", code="not_allowed")


def charter_body(node: Acting, key: bytes, name: str, level: str, url: str | None) -> Charter:
    """The Charter admitting ``key`` as ``level``, if the genesis rules let this body sign
    it (whether signed at once or put to the members first)."""
    check_may_charter(node, level)
    state = node.federation_state
    assert state.trust is not None
    existing = state.trust.bodies.get(key)
    if existing is not None and not (existing.parent == node.key.public and existing.level == level):
        raise Conflict(f"{node_id_text(key)} is already chartered (as {existing.name}, {existing.level})", field="key")
    if key == node.key.public:
        raise BadInput("a node cannot charter itself", field="key")
    return _in_schema(Charter(key=key, name=name, level=level, url=url))


def _not_without_members(node: Acting, act: Charter | Revocation) -> None:
    """Where the federation's rules say this act needs its body's carried decision, an
    officer cannot sign it alone (every other node would refuse it, and this body's log
    with it): it is put to the members (node/federation/authority.py)."""
    trust = node.federation_state.trust
    if trust is not None and needs_authority(trust.rules, act):
        kind = "charter" if isinstance(act, Charter) else "revocation"
        raise Conflict(f"in this federation a {kind} needs the members' carried decision on it: put it to them "
                       f"(`branchnet {'charter' if kind == 'charter' else 'revoke'} ... --propose --as EMAIL`, or "
                       "'Put to the members' on the page)", code="needs_decision")  # fmt: skip


async def issue_charter(node: Acting, key: bytes, name: str, level: str, url: str | None) -> Envelope:
    """Sign a Charter admitting ``key`` as ``level``, if the genesis rules let us."""
    body = charter_body(node, key, name, level, url)
    _not_without_members(node, body)
    envelope = await node.own_log.append(body)
    await node.joins.mark_chartered(key, envelope.id)
    return envelope


async def approve_join(node: Acting, join_id: int, officer_id: int | None) -> Envelope:
    """An officer approves a pending join request: the charter it asked for is signed (the
    genesis rules and this node's standing checked as for any charter). One decision at a
    time: a second approval, or a refusal, at the same moment finds it no longer pending."""
    async with node.joins.deciding:
        await node.joins.expire()
        join = await node.joins.get(join_id)
        if join.status != "pending":
            raise Conflict(f"join request {join.id} is {join.status}", code="not_pending")
        trust = node.federation_state.trust
        if trust is not None and "charter" in (trust.rules.authority or []):
            raise Conflict("in this federation a charter needs the members' carried decision: put this request to "
                           f"them (the join requests page, `branchnet joins propose {join.id} --as EMAIL`, or POST "
                           f"/api/v1/joins/{join.id}/proposals)", code="needs_decision")  # fmt: skip
        envelope = await issue_charter(node, parse_node_id(join.node_id), join.name, join.level, join.url)
        if officer_id is not None:
            await node.joins.decided_by(join.id, officer_id)
        return envelope


async def join_code(node: Acting, officer_id: int | None) -> str:
    """A one-time code for a node this body expects: its join request passes the queue (still
    waiting for an officer's approval). Shown once; valid for the join requests' lifetime."""
    _standing(node)
    return await node.joins.new_code(officer_id)


async def refuse_join(node: Acting, join_id: int, officer_id: int | None) -> None:
    async with node.joins.deciding:
        await node.joins.refuse(join_id, officer_id)


async def revoke(node: Acting, key: bytes, after_seq: int | None, reason: str) -> Envelope:
    body = revocation_body(node, key, after_seq, reason)
    _not_without_members(node, body)
    held = node.federation_state.heads.get(key)
    trust = node.federation_state.trust
    if trust is not None and trust.rules.authority is not None and held is not None and body.after_seq < held.seq:
        raise Conflict(f"{node_id_text(key)} has signed up to envelope {held.seq}, held here: setting aside what "
                       "it signed before the revocation needs its members' carried decision naming the sequence "
                       "(propose it to them) or a fork proof", field="after_seq", code="needs_decision")  # fmt: skip
    return await node.own_log.append(body)


def revocation_body(node: Acting, key: bytes, after_seq: int | None, reason: str) -> Revocation:
    """The Revocation of ``key`` from ``after_seq`` (None: from its next envelope, the latest
    held here staying valid), if this body may sign it."""
    _below(node, key, "only a parent or an ancestor body revokes")
    after_seq = _head_seq(node, key) if after_seq is None else after_seq
    if not 0 <= after_seq <= MAX_SEQ:
        raise BadInput(f"after-seq is from 0 to {MAX_SEQ}", field="after_seq")
    return _in_schema(Revocation(key=key, after_seq=after_seq, reason=reason))


_Act = TypeVar("_Act", Charter, Revocation, Freeze)


def _below(node: Acting, key: bytes, refusal: str) -> CharteredBody:
    """The chartered body ``key``, below this one, which may act on it (else the error)."""
    _standing(node)
    trust = node.federation_state.trust
    assert trust is not None
    target = trust.bodies.get(key)
    if target is None:
        raise NotFound(f"{node_id_text(key)} is not chartered here", field="key")
    if node.key.public not in trust.ancestors(key):
        raise Forbidden(refusal, field="key", code="not_allowed")
    return target


def _head_seq(node: Acting, key: bytes) -> int:
    """The latest envelope of ``key`` held here (0: none)."""
    held = node.federation_state.heads.get(key)
    return held.seq if held is not None else 0


def _in_schema(body: _Act) -> _Act:
    """``body`` if it keeps the schema's limits (a text's length, a URL's form), else BadInput
    naming the field: checked before signing, so sealing never fails as an internal error."""
    try:
        msgspec.convert(msgspec.to_builtins(body), type(body))
    except msgspec.ValidationError as exc:
        message, field = describe(exc)
        raise BadInput(message, field=field) from None
    return body


async def freeze(node: Acting, who: Member, key: bytes, days: int, reason: str,
                 clock: Callable[[], float] = time.time) -> Envelope:  # fmt: skip
    """An officer of an ancestor freezes ``key`` at once, from its next envelope, for ``days``
    (at most the rules' limit): its new envelopes are set aside until the freeze lapses, unless
    a revocation its parent's members carry cuts it meanwhile (docs/federation.md, "Authority")."""
    check_officer(who, "freeze a body")
    target = _below(node, key, "only an officer of a parent or an ancestor body freezes")
    trust = node.federation_state.trust
    assert trust is not None
    limit = freeze_days(trust.rules)
    if not 1 <= days <= limit:
        raise BadInput(f"a freeze lasts from 1 to {limit} days in this federation", field="days")
    if target.cut is not None and target.cut_reason != "suspended":
        raise Conflict(f"{target.name} is {target.cut_reason} already", field="key", code="already_cut")
    now = int(clock() * 1000)
    last = trust.last_freeze.get(key)
    if last is not None and now < last + limit * DAY_MS:
        raise Conflict(f"{target.name} was frozen less than {limit} days ago: freezes cannot follow one another; "
                       "put its revocation to your members", field="key", code="freeze_again")  # fmt: skip
    if not reason.strip():
        raise BadInput("say why: the frozen body's members are shown it", field="reason")
    body = _in_schema(Freeze(key=key, after_seq=_head_seq(node, key), until=now + days * DAY_MS, reason=reason))
    return await node.own_log.append(body)


async def rotate(node: Acting, new_key: SigningKey) -> Envelope:
    """Sign a KeyRotation handing this body over to ``new_key`` (which signs its consent)."""
    _standing(node)
    federation = node.federation_state.federation
    assert federation is not None
    proof = new_key.sign(rotation_message(federation, node.key.public, new_key.public))
    return await node.own_log.append(KeyRotation(new_key=new_key.public, proof=proof))


async def add_seed_peer(node: Acting, url: str) -> None:
    """`branchnet peer add`: a peer to gossip with, kept in the database."""
    await node.peers.add_seed(url, int(time.time()))


async def join_federation(node: Acting, genesis: bytes, parent_url: str) -> None:
    """`branchnet join`: pin the federation (the trust root) from its genesis envelope, as the
    parent served it, store that genesis, and add the parent as a seed peer.

    ``genesis`` must open as a genesis envelope; its id is the federation id pinned."""
    try:
        envelope = open_envelope(genesis)
    except ProtocolError as exc:
        raise BadInput(f"the parent's genesis does not open: {exc.message}", code=str(exc.code)) from None
    if not isinstance(envelope.payload.body, Genesis):
        raise BadInput(f"envelope {envelope.id.hex()} is a {envelope.kind}, not a genesis")
    current = node.federation_state.federation
    if current is not None and current != envelope.id:
        raise Conflict("this node already belongs to another federation")
    await node.federation_state.store.pin(envelope.id, parent_url, int(time.time()))
    await node.federation_state.load()
    await node.federation_state.ingest([genesis])


async def leave_federation(node: Acting) -> str:
    """Undo `branchnet join` while nothing but the genesis was accepted (a mistyped id or the
    wrong parent); returns the parent URL that is no longer a seed."""
    federation = node.federation_state.federation
    if federation is None:
        raise Conflict("this node has joined no federation")
    others, parent = await node.federation_state.store.unpin(federation)
    if others:
        raise Conflict(f"this node already holds {others} envelopes of the federation; it cannot leave it")
    await node.federation_state.load(init=False)
    return parent


async def publish_contact(own_log: OwnLog, name: str, url: str, who: Member, contact: str) -> Envelope:
    """An officer says how to contact or join this body: a new signed profile (its name and
    address as configured), which its about page shows to everyone and gossip carries."""
    check_officer(who, "write what the about page says")
    text = contact.replace("\r\n", "\n").strip()
    if len(text) > 2000:
        raise BadInput("at most 2,000 characters", field="contact")
    try:
        return await own_log.append(NodeProfile(name=name, endpoints=[url], contact=text))
    except (msgspec.ValidationError, ProtocolError) as exc:
        raise BadInput(f"the profile cannot be signed: {exc}", field="contact") from None


async def contact_of(own_log: OwnLog, envelopes: EnvelopeStore) -> str:
    """What this body's latest signed profile says about contacting or joining it."""
    for raw in await envelopes.own_of_kind(own_log.key.public, "node_profile", 1):
        body = open_envelope(raw).payload.body
        if isinstance(body, NodeProfile):
            return body.contact
    return ""
