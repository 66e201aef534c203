"""What a body does to its federation: charter, revoke, rotate its key, answer join requests.

The CLI and the API call these same functions, and each checks the federation's rules
before signing, so a node never signs a charter or revocation the rules make ineffective.
"""

from __future__ import annotations

import time

import aiosqlite
import msgspec

from node.errors import BadInput, Conflict, Forbidden, NotFound
from node.service import Node
from node.validation import describe
from protocol import (
    Charter,
    Genesis,
    KeyRotation,
    ProtocolError,
    Revocation,
    SigningKey,
    node_id_text,
    open_envelope,
    rotation_message,
)
from protocol.models import MAX_SEQ, Envelope


def _standing(node: Node) -> None:
    state = node.federation_state
    if state.trust is None:
        raise Conflict("this node holds no federation yet (found one, or join one and sync)", code="not_federated")
    me = state.body(node.key.public)
    if me is None:
        raise Forbidden("this node is not chartered in its federation (yet)", code="not_chartered")
    if me.cut is not None:
        raise Forbidden(f"this node's key was {me.cut_reason}; it cannot act", code="key_cut")


def check_may_charter(node: Node, level: str) -> None:
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


async def issue_charter(node: Node, key: bytes, name: str, level: str, url: str | None) -> Envelope:
    """Sign a Charter admitting ``key`` as ``level``, if the genesis rules let us."""
    check_may_charter(node, level)
    state = node.federation_state
    assert state.trust is not None
    existing = state.trust.bodies.get(key)
    if existing is not None and not (existing.parent == node.key.public and existing.level == level):
        raise Conflict(f"{node_id_text(key)} is already chartered (as {existing.name}, {existing.level})", field="key")
    if key == node.key.public:
        raise BadInput("a node cannot charter itself", field="key")
    try:
        body = Charter(key=key, name=name, level=level, url=url)
        msgspec.convert(msgspec.to_builtins(body), Charter)  # the schema's limits (name length, URL form)
    except msgspec.ValidationError as exc:
        message, field = describe(exc)
        raise BadInput(message, field=field) from None
    envelope = await node.own_log.append(body)
    async with node.db.write("joins.mark_chartered") as conn:
        await conn.execute(
            "UPDATE joins SET status = 'approved', charter_id = ? WHERE key = ? AND status = 'pending'",
            (envelope.id, key),
        )
    return envelope


async def revoke(node: Node, key: bytes, after_seq: int, reason: str) -> Envelope:
    _standing(node)
    state = node.federation_state
    assert state.trust is not None
    if key not in state.trust.bodies:
        raise NotFound(f"{node_id_text(key)} is not chartered here", field="key")
    if node.key.public not in state.trust.ancestors(key):
        raise Forbidden("only a parent or an ancestor body revokes", field="key", code="not_allowed")
    if not 0 <= after_seq <= MAX_SEQ:
        raise BadInput(f"after-seq is from 0 to {MAX_SEQ}", field="after_seq")
    return await node.own_log.append(Revocation(key=key, after_seq=after_seq, reason=reason))


async def rotate(node: Node, new_key: SigningKey) -> Envelope:
    """Sign a KeyRotation handing this body over to ``new_key`` (which signs its consent)."""
    _standing(node)
    federation = node.federation_state.federation
    assert federation is not None
    proof = new_key.sign(rotation_message(federation, node.key.public, new_key.public))
    return await node.own_log.append(KeyRotation(new_key=new_key.public, proof=proof))


_ADD_SEED = "INSERT OR IGNORE INTO peers (url, node_id, source, added_at) VALUES (?, NULL, 'seed', ?)"


async def _add_seed(conn: aiosqlite.Connection, url: str) -> None:
    await conn.execute(_ADD_SEED, (url.rstrip("/"), int(time.time())))


async def add_seed_peer(node: Node, url: str) -> None:
    """`branchnet peer add`: a peer to gossip with, kept in the database."""
    async with node.db.write("peers.add") as conn:
        await _add_seed(conn, url)


async def join_federation(node: Node, genesis: bytes, parent_url: str) -> None:
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
    async with node.db.write("federation.join") as conn:
        await conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('federation', ?)", (envelope.id,))
        await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('joined_through', ?)", (parent_url,))
        await _add_seed(conn, parent_url)
    await node.federation_state.load()
    await node.federation_state.ingest([genesis])


async def leave_federation(node: Node) -> str:
    """Undo `branchnet join` while nothing but the genesis was accepted (a mistyped id or the
    wrong parent); returns the parent URL that is no longer a seed."""
    federation = node.federation_state.federation
    if federation is None:
        raise Conflict("this node has joined no federation")
    async with node.db.write("federation.leave") as conn:
        async with conn.execute("SELECT COUNT(*) FROM envelopes WHERE id != ?", (federation,)) as cursor:
            row = await cursor.fetchone()
        if row is not None and int(row[0]) > 0:
            raise Conflict(f"this node already holds {int(row[0])} envelopes of the federation; it cannot leave it")
        async with conn.execute("SELECT value FROM meta WHERE key = 'joined_through'") as cursor:
            through = await cursor.fetchone()
        parent = str(through[0]) if through else ""
        for sql in ("DELETE FROM envelopes", "DELETE FROM quarantine", "DELETE FROM bodies",
                    "DELETE FROM meta WHERE key IN ('federation', 'joined_through')"):  # fmt: skip
            await conn.execute(sql)
        await conn.execute("DELETE FROM peers WHERE url = ? AND source = 'seed'", (parent.rstrip("/"),))
    await node.federation_state.load(init=False)
    return parent
