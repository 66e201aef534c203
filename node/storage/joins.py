"""Join requests: nodes asking this node for a charter, waiting for an officer's decision
(or, where a charter needs the members' decision, for their ballot: status 'voting').

Anyone with a fresh key can ask, so requests are bounded: their fields are checked as a
charter's are (by the same types), pending requests are capped per client address and in
total, they expire, and the officers' list is paged.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass

import aiosqlite
import msgspec

from node.errors import Conflict, Forbidden, NotFound, Throttled
from node.storage.db import Database
from protocol import node_id_text
from protocol.wire import JoinRequest, JoinState

LIST_LIMIT = 200


class JoinView(msgspec.Struct):
    id: int
    node_id: str
    name: str
    level: str
    url: str
    requested_at: int
    status: str
    charter: str | None = None
    expires_at: int | None = None
    expected: bool = False  # came with a join code an officer gave out
    ballot: int | None = None  # voting: the members' ballot on the charter it asks for


@dataclass(frozen=True)
class JoinLimits:
    pending_max: int = 100
    per_address: int = 5
    ttl_s: int = 7 * 86400
    keep_decided_s: int = 30 * 86400  # refused and expired requests are forgotten after this


class JoinStore:
    """Join requests from nodes that want a charter from this one."""

    def __init__(self, db: Database, limits: JoinLimits | None = None) -> None:
        self.db = db
        self.limits = limits or JoinLimits()
        # Held while an officer's decision is checked and carried out (the check, the charter's
        # signing and the mark span transactions): two decisions on a request never interleave.
        self.deciding = asyncio.Lock()

    async def request(self, key: bytes, asked: JoinRequest, address: str, now: int | None = None) -> JoinState:
        """Record (or repeat) a join request; the caps are checked in the same transaction."""
        now = int(time.time()) if now is None else now
        limits = self.limits
        async with self.db.write("joins.request") as conn:
            await _expire(conn, now, limits)
            async with conn.execute("SELECT id, status FROM joins WHERE key = ?", (key,)) as cursor:
                row = await cursor.fetchone()
            expected = bool(asked.code) and await _use_code(conn, asked.code, key, now)
            if row is None or row[1] == "expired" or (expected and row[1] not in ("approved", "voting")):
                if not expected:
                    async with conn.execute(
                        "SELECT COUNT(*), SUM(address = ?) FROM joins WHERE status = 'pending'", (address,)
                    ) as cursor:
                        counts = await cursor.fetchone()
                    pending, from_address = (int(counts[0]), int(counts[1] or 0)) if counts else (0, 0)
                    if from_address >= limits.per_address:
                        raise Throttled("too many pending join requests from this address", retry_after=3600)
                    if pending >= limits.pending_max:
                        raise Throttled("too many join requests are waiting here; try again later; a join code"
                                        " from this body's officers passes the queue", retry_after=3600)  # fmt: skip
                await conn.execute(
                    "INSERT INTO joins (key, name, level, url, requested_at, status, address, expires_at, expected)"
                    " VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (key) DO UPDATE SET name = excluded.name,"
                    " level = excluded.level, url = excluded.url, requested_at = excluded.requested_at,"
                    " status = 'pending', address = excluded.address, expires_at = excluded.expires_at,"
                    " expected = excluded.expected",
                    (key, asked.name, asked.level, asked.url, now, address, now + limits.ttl_s, int(expected)),
                )
        state = await self.state_of(key)
        assert state is not None
        return JoinState(state.id, state.status, state.charter)

    async def new_code(self, officer_id: int | None, ttl_s: int | None = None, now: int | None = None) -> str:
        """A one-time join code (shown once; only its hash is kept), valid for ``ttl_s``."""
        now = int(time.time()) if now is None else now
        code = "-".join(base64.b32encode(secrets.token_bytes(15)).decode().lower()[i : i + 6] for i in range(0, 24, 6))
        async with self.db.write("joins.new_code") as conn:
            await conn.execute("DELETE FROM join_codes WHERE expires_at <= ?", (now,))
            async with conn.execute("SELECT COUNT(*) FROM join_codes WHERE used_by IS NULL") as cursor:
                open_codes = await cursor.fetchone()
            if open_codes is not None and int(open_codes[0]) >= MAX_OPEN_CODES:
                raise Conflict(f"{MAX_OPEN_CODES} join codes are waiting to be used; let some expire first",
                               code="too_many")  # fmt: skip
            await conn.execute(
                "INSERT INTO join_codes (hash, created_by, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (_code_hash(code), officer_id, now, now + (ttl_s or self.limits.ttl_s)),
            )
        return code

    async def state_of(self, key: bytes) -> JoinView | None:
        row = await self.db.fetchone("SELECT * FROM joins WHERE key = ?", (key,))
        return _view(row) if row else None

    async def list(self, status: str | None = None, after: int = 0, limit: int = LIST_LIMIT) -> list[JoinView]:
        """One page, in id order: requests with ``id > after``, at most ``limit``."""
        limit = max(1, min(limit, LIST_LIMIT))
        if status is None:
            rows = await self.db.fetchall("SELECT * FROM joins WHERE id > ? ORDER BY id LIMIT ?", (after, limit))
        else:
            rows = await self.db.fetchall(
                "SELECT * FROM joins WHERE status = ? AND id > ? ORDER BY id LIMIT ?", (status, after, limit)
            )
        return [_view(r) for r in rows]

    async def get(self, join_id: int) -> JoinView:
        row = await self.db.fetchone("SELECT * FROM joins WHERE id = ?", (join_id,))
        if row is None:
            raise NotFound(f"no join request {join_id}")
        return _view(row)

    async def expire(self, now: int | None = None) -> None:
        async with self.db.write("joins.expire") as conn:
            await _expire(conn, int(time.time()) if now is None else now, self.limits)

    async def mark_chartered(self, key: bytes, charter_id: bytes) -> None:
        """A charter of ``key`` was signed: its pending request is approved."""
        async with self.db.write("joins.mark_chartered") as conn:
            await conn.execute(
                "UPDATE joins SET status = 'approved', charter_id = ? WHERE key = ? AND status = 'pending'",
                (charter_id, key),
            )

    async def decided_by(self, join_id: int, officer_id: int) -> None:
        async with self.db.write("joins.decided") as conn:
            await conn.execute("UPDATE joins SET decided_by = ? WHERE id = ?", (officer_id, join_id))

    async def refuse(self, join_id: int, officer_id: int | None) -> None:
        async with self.db.write("joins.refuse") as conn:
            cursor = await conn.execute(
                "UPDATE joins SET status = 'refused', decided_by = ? WHERE id = ? AND status = 'pending'",
                (officer_id, join_id),
            )
            if cursor.rowcount == 0:
                raise Conflict(f"join request {join_id} is not pending")


MAX_OPEN_CODES = 1000


def _code_hash(code: str) -> bytes:
    return hashlib.sha256(b"branchnet join code v1\x00" + code.strip().lower().encode()).digest()


async def _use_code(conn: aiosqlite.Connection, code: str, key: bytes, now: int) -> bool:
    """Use a join code for ``key`` (a repeat of that key's own request finds it still its own),
    or refuse the request: a wrong code is said, never silently queued like a stranger's."""
    cursor = await conn.execute(
        "UPDATE join_codes SET used_by = ? WHERE hash = ? AND expires_at > ? AND (used_by IS NULL OR used_by = ?)",
        (key, _code_hash(code), now, key),
    )
    if cursor.rowcount != 1:
        raise Forbidden("that join code is not valid here: unknown, used by another node, or expired; ask the "
                        "body's officers for a new one", field="code", code="bad_join_code")  # fmt: skip
    return True


async def _expire(conn: aiosqlite.Connection, now: int, limits: JoinLimits) -> None:
    await conn.execute("UPDATE joins SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?", (now,))
    await conn.execute(
        "DELETE FROM joins WHERE status IN ('expired', 'refused') AND requested_at <= ?", (now - limits.keep_decided_s,)
    )


def _view(r: sqlite3.Row) -> JoinView:
    charter = r["charter_id"]
    return JoinView(
        id=r["id"],
        node_id=node_id_text(bytes(r["key"])),
        name=r["name"],
        level=r["level"],
        url=r["url"],
        requested_at=r["requested_at"],
        status=r["status"],
        charter=bytes(charter).hex() if charter else None,
        expires_at=r["expires_at"] or None,
        expected=bool(r["expected"]),
        ballot=r["ballot_id"],
    )
