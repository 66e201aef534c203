"""Join requests: nodes asking this node for a charter, waiting for an officer's decision."""

from __future__ import annotations

import sqlite3
import time

import msgspec

from protocol import node_id_text

from .db import Database
from .errors import BadInput, Conflict, NotFound


class JoinState(msgspec.Struct):
    """What the asking node is told."""

    id: int
    status: str
    charter: str | None = None


class JoinView(msgspec.Struct):
    id: int
    node_id: str
    name: str
    level: str
    url: str
    requested_at: int
    status: str
    charter: str | None = None


class JoinStore:
    """Join requests from nodes that want a charter from this one."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def request(self, key: bytes, name: str, level: str, url: str) -> JoinState:
        if not name or len(name) > 200 or not url.startswith(("http://", "https://")) or len(url) > 2048:
            raise BadInput("a join request has a name (1-200 characters) and an http(s) URL")
        async with self.db.write("joins.request") as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO joins (key, name, level, url, requested_at, status) VALUES (?, ?, ?, ?, ?, ?)",
                (key, name, level, url, int(time.time()), "pending"),
            )
        state = await self.state_of(key)
        assert state is not None
        return JoinState(state.id, state.status, state.charter)

    async def state_of(self, key: bytes) -> JoinView | None:
        row = await self.db.fetchone("SELECT * FROM joins WHERE key = ?", (key,))
        return _view(row) if row else None

    async def list(self, status: str | None = None) -> list[JoinView]:
        rows = await self.db.fetchall("SELECT * FROM joins ORDER BY id")
        return [_view(r) for r in rows if status is None or r["status"] == status]

    async def get(self, join_id: int) -> JoinView:
        row = await self.db.fetchone("SELECT * FROM joins WHERE id = ?", (join_id,))
        if row is None:
            raise NotFound(f"no join request {join_id}")
        return _view(row)

    async def refuse(self, join_id: int, officer_id: int) -> None:
        async with self.db.write("joins.refuse") as conn:
            cursor = await conn.execute(
                "UPDATE joins SET status = 'refused', decided_by = ? WHERE id = ? AND status = 'pending'",
                (officer_id, join_id),
            )
            if cursor.rowcount == 0:
                raise Conflict(f"join request {join_id} is not pending")


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
    )
