"""Stored envelopes: kept as the bytes received, keyed by id and by (author, seq).

The node's own log (:mod:`node.federation.own_log`) and ingest (:mod:`node.federation.ingest`)
write through these rows inside their transactions; readers (gossip, the API) read here.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import aiosqlite

from node.storage.db import Database
from protocol import Envelope, open_envelope

UNCONFIRMED = "own_head_unconfirmed"  # meta key: our latest sequence is not yet confirmed by peers


INSERT_ENVELOPE = (
    "INSERT INTO envelopes (id, author, seq, kind, created, received_at, raw, quota_n, quota_b)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def envelope_row(envelope: Envelope, received_at: int, quota: tuple[int, int] | None) -> tuple[object, ...]:
    """The ``envelopes`` row for ``envelope`` (with its author's quota buckets after it), in
    :data:`INSERT_ENVELOPE` order."""
    n, b = quota if quota is not None else (None, None)
    return (envelope.id, envelope.author, envelope.seq, envelope.kind, envelope.payload.created, received_at,
            envelope.raw, n, b)  # fmt: skip


class EnvelopeStore:
    """Read access to stored envelopes, and the insert used inside write transactions."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def own_of_kind_in(conn: aiosqlite.Connection, author: bytes, kind: str, limit: int = 10_000) -> list[bytes]:
        """The author's envelopes of one kind, newest first, read inside the caller's
        transaction (so the own log's check sees what it has just stored in the same batch)."""
        async with conn.execute(
            "SELECT raw FROM envelopes WHERE kind = ? AND author = ? ORDER BY seq DESC LIMIT ?", (kind, author, limit)
        ) as cursor:
            return [bytes(r[0]) for r in await cursor.fetchall()]

    @staticmethod
    async def insert(
        conn: aiosqlite.Connection, envelope: Envelope, received_at: int, quota: tuple[int, int] | None = None
    ) -> None:
        await conn.execute(INSERT_ENVELOPE, envelope_row(envelope, received_at, quota))

    async def get(self, envelope_id: bytes) -> bytes | None:
        row = await self.db.fetchone("SELECT raw FROM envelopes WHERE id = ?", (envelope_id,))
        return bytes(row[0]) if row else None

    async def of_kind(self, kind: str, limit: int = 100) -> list[bytes]:
        """The latest envelopes of one kind by any author, newest received first."""
        rows = await self.db.fetchall(
            "SELECT raw FROM envelopes WHERE kind = ? ORDER BY received_at DESC, rowid DESC LIMIT ?", (kind, limit)
        )
        return [bytes(r[0]) for r in rows]

    async def own_of_kind(self, author: bytes, kind: str, limit: int = 1000) -> list[bytes]:
        """The author's latest envelopes of one kind, newest first (by the kind index)."""
        rows = await self.db.fetchall(
            "SELECT raw FROM envelopes WHERE kind = ? AND author = ? ORDER BY seq DESC LIMIT ?", (kind, author, limit)
        )
        return [bytes(r[0]) for r in rows]

    async def ids_starting(self, kind: str, hex_prefix: str, limit: int = 2) -> list[bytes]:
        """Ids of envelopes of ``kind`` whose hex starts with ``hex_prefix`` (for people who
        type a short id): a scan of that kind, not for hot paths."""
        rows = await self.db.fetchall(
            "SELECT id FROM envelopes WHERE kind = ? AND hex(id) LIKE ? LIMIT ?",
            (kind, hex_prefix.upper() + "%", limit),
        )
        return [bytes(r[0]) for r in rows]

    async def count(self) -> int:
        rows = await self.db.fetchall("SELECT COUNT(*) FROM envelopes")  # a scan: not inline
        return int(rows[0][0])

    async def range(self, author: bytes, after_seq: int = 0, limit: int = 500) -> list[bytes]:
        rows = await self.db.fetchall(
            "SELECT raw FROM envelopes WHERE author = ? AND seq > ? ORDER BY seq LIMIT ?", (author, after_seq, limit)
        )
        return [bytes(r[0]) for r in rows]

    async def ranges(
        self, wants: list[tuple[bytes, int, int]], max_count: int, max_bytes: int
    ) -> list[tuple[int, int, bytes]]:
        """For each want ``(author, after, until)`` in order, the held envelopes with
        ``after < seq <= until``, as ``(want index, seq, raw)``; at most ``max_count`` rows and
        ``max_bytes`` bytes in all (always the first row, whatever its size). One query."""
        if not wants:
            return []
        values = ", ".join("(?, ?, ?, ?)" for _ in wants)
        params: list[object] = [v for i, (a, after, until) in enumerate(wants) for v in (i, a, after, until)]
        rows = await self.db.fetchall(
            f"WITH w(i, author, after, until) AS (VALUES {values}),"
            " picked AS (SELECT w.i AS i, e.seq AS seq, e.raw AS raw,"
            " SUM(length(e.raw)) OVER (ORDER BY w.i, e.seq ROWS UNBOUNDED PRECEDING) AS total,"
            " ROW_NUMBER() OVER (ORDER BY w.i, e.seq) AS n"
            " FROM w JOIN envelopes e ON e.author = w.author AND e.seq > w.after AND e.seq <= w.until)"
            " SELECT i, seq, raw FROM picked WHERE (total <= ? OR n = 1) AND n <= ? ORDER BY i, seq",
            [*params, max_bytes, max_count],
        )
        return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows]

    async def batches(self, size: int = 2000) -> AsyncIterator[list[bytes]]:
        """Every envelope held, by author and sequence, ``size`` at a time (bounded memory)."""
        after: tuple[bytes, int] = (b"", 0)
        while True:
            rows = await self.db.fetchall(
                "SELECT author, seq, raw FROM envelopes WHERE (author, seq) > (?, ?) ORDER BY author, seq LIMIT ?",
                (*after, size),
            )
            if not rows:
                return
            yield [bytes(r[2]) for r in rows]
            after = (bytes(rows[-1][0]), int(rows[-1][1]))

    async def all_raw(self) -> list[bytes]:
        rows = await self.db.fetchall("SELECT raw FROM envelopes ORDER BY author, seq")
        return [bytes(r[0]) for r in rows]


async def store_genesis(db: Database, envelope: Envelope) -> None:
    """Store our own genesis (seq 1) and record the federation id, in one transaction."""
    checked = open_envelope(envelope.raw)
    async with db.write("envelopes.store_genesis") as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('federation', ?)", (checked.id,))
        await EnvelopeStore.insert(conn, checked, int(time.time() * 1000))
