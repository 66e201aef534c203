"""The federation's tables: logs' heads, quarantine, set-aside envelopes, bodies, forks,
counters, and the node's own place (the federation it joined, whether its head is confirmed).

Ingest and the own log (:mod:`node.federation`) decide; this module only reads and writes.
Methods that take ``conn`` run inside the caller's write transaction (ingest writes a whole
batch in one); the others are one named transaction or a read of their own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from node.storage.db import Database
from node.storage.envelopes import INSERT_ENVELOPE, UNCONFIRMED, merge_recent_ids, rowids_of
from protocol.trust import CharteredBody

HeadRow = tuple[bytes, int, bytes, int, int | None, int | None]  # author, seq, id, created, quota_n, quota_b

_HEAD_OF = "SELECT seq, id, created, quota_n, quota_b FROM envelopes WHERE author = ? ORDER BY seq DESC LIMIT 1"


def _head_row(author: bytes, row: Sequence[Any] | None) -> HeadRow | None:
    if row is None:
        return None
    seq, envelope_id, created, n, b = row
    return (author, int(seq), bytes(envelope_id), int(created), None if n is None else int(n),
            None if b is None else int(b))  # fmt: skip


@dataclass(frozen=True)
class OwnState:
    """What the own log needs to know inside its transaction before it signs."""

    federation: bytes | None
    unconfirmed: bool
    head: HeadRow | None
    highest_set_aside: int | None


class FederationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- reads ------------------------------------------------------------------------------
    async def federation_id(self) -> bytes | None:
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = 'federation'")
        return bytes(row[0]) if row else None

    async def heads(self) -> list[HeadRow]:
        """Every author's last stored envelope."""
        rows = await self.db.fetchall(
            "SELECT e.author, e.seq, e.id, e.created, e.quota_n, e.quota_b FROM envelopes e JOIN"
            " (SELECT author, MAX(seq) AS top FROM envelopes GROUP BY author) h"
            " ON e.author = h.author AND e.seq = h.top"
        )
        return [r for r in (_head_row(bytes(row[0]), tuple(row[1:])) for row in rows) if r is not None]

    async def quarantine_sizes(self) -> list[tuple[bytes, int, bool]]:
        """(id, size, unknown author) of every quarantined envelope."""
        rows = await self.db.fetchall("SELECT id, length(raw), unknown FROM quarantine")
        return [(bytes(r[0]), int(r[1]), bool(r[2])) for r in rows]

    async def held_any(self) -> bool:
        return (await self.db.fetchone("SELECT 1 FROM held LIMIT 1")) is not None

    async def structural_raws(self, kinds: Sequence[str]) -> list[bytes]:
        """The bytes of every envelope of ``kinds`` held or set aside (and of set-aside rows
        stored before their kind was kept)."""
        marks = ",".join("?" * len(kinds))
        rows = await self.db.fetchall(
            f"SELECT raw FROM envelopes WHERE kind IN ({marks})"
            f" UNION ALL SELECT raw FROM held WHERE kind IN ({marks}) OR kind = ''",
            [*kinds, *kinds],
        )
        return [bytes(r[0]) for r in rows]

    async def forks(self) -> set[tuple[bytes, int]]:
        return {(bytes(r[0]), int(r[1])) for r in await self.db.fetchall("SELECT author, seq FROM forks")}

    async def unconfirmed(self) -> bool:
        """Whether this node must still learn its latest sequence from its peers."""
        return await self.db.fetchone("SELECT 1 FROM meta WHERE key = ?", (UNCONFIRMED,)) is not None

    async def fork_published(self, author: bytes, seq: int) -> bool:
        row = await self.db.fetchone("SELECT published FROM forks WHERE author = ? AND seq = ?", (author, seq))
        return row is not None and bool(row[0])

    async def fork_pairs(self) -> list[tuple[bytes, bytes]]:
        return [(bytes(r[0]), bytes(r[1])) for r in await self.db.fetchall("SELECT a, b FROM forks")]

    async def bodies(self) -> list[CharteredBody]:
        return [_body_from_row(r) for r in await self.db.fetchall("SELECT * FROM bodies")]

    async def log_sizes(self, author: bytes) -> list[tuple[int, int]]:
        """(created, size) of the author's envelopes, in order (to rebuild its quota)."""
        rows = await self.db.fetchall(
            "SELECT created, length(raw) FROM envelopes WHERE author = ? ORDER BY seq", (author,)
        )
        return [(int(r[0]), int(r[1])) for r in rows]

    async def known_ids(self, ids: list[bytes], with_held: bool) -> set[bytes]:
        """Which of ``ids`` are stored (or, ``with_held``, set aside)."""
        found = set(await rowids_of(self.db, ids))
        if with_held:
            rest = [i for i in ids if i not in found]
            for start in range(0, len(rest), 900):
                chunk = rest[start : start + 900]
                marks = ",".join("?" * len(chunk))
                rows = await self.db.fetchall(f"SELECT id FROM held WHERE id IN ({marks})", chunk)
                found.update(bytes(r[0]) for r in rows)
        return found

    async def latest_profiles(self) -> list[bytes]:
        """The bytes of every author's latest node profile (kept by migration 0019's triggers)."""
        rows = await self.db.fetchall(
            # CROSS JOIN: from the few profiles to their rows (SQLite would rather scan the envelopes)
            "SELECT e.raw FROM latest_profiles p CROSS JOIN envelopes e ON e.author = p.author AND e.seq = p.seq"
        )
        return [bytes(r[0]) for r in rows]

    async def counters(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in await self.db.fetchall("SELECT name, value FROM counters ORDER BY name")}

    async def counts(self) -> tuple[int, int]:
        """(forks proven, envelopes set aside)."""
        forks = await self.db.fetchall("SELECT COUNT(*) FROM forks")
        held = await self.db.fetchall("SELECT COUNT(*) FROM held")
        return int(forks[0][0]), int(held[0][0])

    async def ping(self) -> None:
        """The database answers (for /healthz)."""
        await self.db.fetchone("SELECT 1")

    # --- transactions of their own -----------------------------------------------------------
    async def save_quotas(self, updates: list[tuple[int, int, bytes, int]]) -> None:
        """(quota_n, quota_b, author, seq) on head rows."""
        async with self.db.write("federation.restore_quotas") as conn:
            await conn.executemany(
                "UPDATE envelopes SET quota_n = ?, quota_b = ? WHERE author = ? AND seq = ?", updates
            )

    async def save_counters(self, counters: dict[str, int]) -> None:
        async with self.db.write("federation.save_counters") as conn:
            await conn.executemany(
                "INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = ?",
                [(name, value, value) for name, value in counters.items()],
            )

    async def mark_fork_published(self, author: bytes, seq: int) -> None:
        async with self.db.write("forks.published") as conn:
            await conn.execute("UPDATE forks SET published = 1 WHERE author = ? AND seq = ?", (author, seq))

    async def pin(self, federation: bytes, parent_url: str, now: int) -> None:
        """`branchnet join`: the federation id and the parent it was joined through (a seed)."""
        async with self.db.write("federation.join") as conn:
            await conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('federation', ?)", (federation,))
            await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('joined_through', ?)", (parent_url,))
            await conn.execute(
                "INSERT OR IGNORE INTO peers (url, node_id, source, added_at) VALUES (?, NULL, 'seed', ?)",
                (parent_url.rstrip("/"), now),
            )

    async def unpin(self, federation: bytes) -> tuple[int, str]:
        """Forget the federation while nothing but its genesis is held: returns (how many other
        envelopes are held: nothing was changed unless 0, the parent URL no longer a seed)."""
        async with self.db.write("federation.leave") as conn:
            async with conn.execute("SELECT COUNT(*) FROM envelopes WHERE id != ?", (federation,)) as cursor:
                row = await cursor.fetchone()
            others = int(row[0]) if row else 0
            if others:
                return others, ""
            async with conn.execute("SELECT value FROM meta WHERE key = 'joined_through'") as cursor:
                through = await cursor.fetchone()
            parent = str(through[0]) if through else ""
            for sql in ("DELETE FROM envelopes", "DELETE FROM quarantine", "DELETE FROM bodies",
                        "DELETE FROM meta WHERE key IN ('federation', 'joined_through')"):  # fmt: skip
                await conn.execute(sql)
            await conn.execute("DELETE FROM peers WHERE url = ? AND source = 'seed'", (parent.rstrip("/"),))
        return 0, parent

    async def owner(self) -> bytes | None:
        """The key of the node whose database this is, as it last said (None before it did)."""
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = 'node_key'")
        return bytes(row[0]) if row is not None and isinstance(row[0], bytes) else None

    async def set_owner(self, key: bytes) -> None:
        """Say whose database this is (so that a backup of it says so too)."""
        async with self.db.write("federation.set_owner") as conn:
            await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('node_key', ?)", (key,))

    async def set_unconfirmed(self, unconfirmed: bool) -> None:
        """Mark (or clear) that this node must learn its own latest sequence from its peers
        before it signs anything (after a start, or a restore from a backup)."""
        async with self.db.write("own_log.confirmation") as conn:
            if unconfirmed:
                await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, 1)", (UNCONFIRMED,))
            else:
                await conn.execute("DELETE FROM meta WHERE key = ?", (UNCONFIRMED,))

    # --- inside the caller's transaction --------------------------------------------------------
    @staticmethod
    async def own_state(conn: aiosqlite.Connection, author: bytes) -> OwnState:
        async with conn.execute("SELECT value FROM meta WHERE key = 'federation'") as cursor:
            row = await cursor.fetchone()
        federation = bytes(row[0]) if row else None
        async with conn.execute("SELECT 1 FROM meta WHERE key = ?", (UNCONFIRMED,)) as cursor:
            unconfirmed = await cursor.fetchone() is not None
        async with conn.execute(_HEAD_OF, (author,)) as cursor:
            head = _head_row(author, await cursor.fetchone())
        async with conn.execute("SELECT MAX(seq) FROM held WHERE author = ?", (author,)) as cursor:
            held = await cursor.fetchone()
        return OwnState(federation, unconfirmed, head, None if held is None or held[0] is None else int(held[0]))

    @staticmethod
    async def head(conn: aiosqlite.Connection, author: bytes) -> HeadRow | None:
        async with conn.execute(_HEAD_OF, (author,)) as cursor:
            return _head_row(author, await cursor.fetchone())

    @staticmethod
    async def insert_envelopes(conn: aiosqlite.Connection, rows: list[tuple[object, ...]]) -> None:
        await conn.executemany(INSERT_ENVELOPE, rows)
        await merge_recent_ids(conn)

    @staticmethod
    async def envelope_at(conn: aiosqlite.Connection, author: bytes, seq: int) -> bytes | None:
        async with conn.execute("SELECT raw FROM envelopes WHERE author = ? AND seq = ?", (author, seq)) as cursor:
            row = await cursor.fetchone()
        return bytes(row[0]) if row else None

    @staticmethod
    async def envelopes_between(conn: aiosqlite.Connection, author: bytes, first: int, last: int
                                ) -> dict[int, bytes]:  # fmt: skip
        """An author's envelopes held from sequence ``first`` to ``last``, by sequence."""
        async with conn.execute("SELECT seq, raw FROM envelopes WHERE author = ? AND seq BETWEEN ? AND ?",
                                (author, first, last)) as cursor:  # fmt: skip
            return {int(r[0]): bytes(r[1]) for r in await cursor.fetchall()}

    @staticmethod
    async def quarantined_authors(conn: aiosqlite.Connection) -> set[bytes]:
        async with conn.execute("SELECT DISTINCT author FROM quarantine") as cursor:
            return {bytes(r[0]) for r in await cursor.fetchall()}

    @staticmethod
    async def quarantined_of(conn: aiosqlite.Connection, authors: Iterable[bytes]) -> list[tuple[bytes, bytes, int]]:
        """(id, author, seq) of the quarantined envelopes of ``authors``, by author and seq."""
        keys = tuple(authors)
        marks = ",".join("?" * len(keys))
        async with conn.execute(
            f"SELECT id, author, seq FROM quarantine WHERE author IN ({marks}) ORDER BY author, seq", keys
        ) as cursor:
            return [(bytes(r[0]), bytes(r[1]), int(r[2])) for r in await cursor.fetchall()]

    @staticmethod
    async def quarantined_raw(conn: aiosqlite.Connection, envelope_id: bytes) -> bytes | None:
        async with conn.execute("SELECT raw FROM quarantine WHERE id = ?", (envelope_id,)) as cursor:
            row = await cursor.fetchone()
        return bytes(row[0]) if row else None

    @staticmethod
    async def insert_quarantined(conn: aiosqlite.Connection, rows: list[tuple[object, ...]]) -> None:
        """(id, author, seq, raw, reason, received_at, unknown) rows."""
        await conn.executemany(
            "INSERT OR IGNORE INTO quarantine (id, author, seq, raw, reason, received_at, unknown)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    @staticmethod
    async def release_quarantined(conn: aiosqlite.Connection, ids: list[bytes]) -> None:
        await conn.executemany("DELETE FROM quarantine WHERE id = ?", [(i,) for i in ids])

    @staticmethod
    async def expire_quarantined(conn: aiosqlite.Connection, before: int) -> list[bytes]:
        """Drop quarantined envelopes received before ``before``; their ids."""
        async with conn.execute("SELECT id FROM quarantine WHERE received_at < ?", (before,)) as cursor:
            expired = [bytes(r[0]) for r in await cursor.fetchall()]
        await conn.execute("DELETE FROM quarantine WHERE received_at < ?", (before,))
        return expired

    @staticmethod
    async def insert_fork(
        conn: aiosqlite.Connection, author: bytes, seq: int, a: bytes, b: bytes, found_at: int, published: bool
    ) -> None:
        await conn.execute(
            "INSERT OR IGNORE INTO forks (author, seq, a, b, found_at, published) VALUES (?, ?, ?, ?, ?, ?)",
            (author, seq, a, b, found_at, int(published)),
        )
        if published:
            await conn.execute("UPDATE forks SET published = 1 WHERE author = ? AND seq = ?", (author, seq))

    @staticmethod
    async def set_aside(conn: aiosqlite.Connection, author: bytes, cut: int, reason: str, now: int) -> None:
        """Move the author's envelopes after ``cut`` from its log to ``held``."""
        await conn.execute(
            "INSERT OR IGNORE INTO held (id, author, seq, raw, reason, held_at, kind)"
            " SELECT id, author, seq, raw, ?, ?, kind FROM envelopes WHERE author = ? AND seq > ?",
            (reason, now, author, cut),
        )
        await conn.execute("DELETE FROM envelopes WHERE author = ? AND seq > ?", (author, cut))

    @staticmethod
    async def set_aside_between(
        conn: aiosqlite.Connection, author: bytes, after: int, until: int
    ) -> list[tuple[bytes, bytes]]:
        """(id, raw) of the author's set-aside envelopes with after < seq <= until, in order."""
        async with conn.execute(
            "SELECT id, raw FROM held WHERE author = ? AND seq > ? AND seq <= ? ORDER BY seq", (author, after, until)
        ) as cursor:
            return [(bytes(r[0]), bytes(r[1])) for r in await cursor.fetchall()]

    @staticmethod
    async def take_back(conn: aiosqlite.Connection, ids: list[bytes]) -> None:
        """Forget set-aside rows whose envelopes went back into their log."""
        await conn.executemany("DELETE FROM held WHERE id = ?", [(i,) for i in ids])

    @staticmethod
    async def save_bodies(conn: aiosqlite.Connection, bodies: Iterable[CharteredBody]) -> None:
        await conn.execute("DELETE FROM bodies")
        await conn.executemany(
            "INSERT INTO bodies (key, name, level, parent, issuer, issued_at, admitted_by, url, cut, cut_reason,"
            " successor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(b.key, b.name, b.level, b.parent, b.issuer, b.issued_at, b.admitted_by, b.url, b.cut, b.cut_reason,
              b.successor) for b in bodies],
        )  # fmt: skip


def _body_from_row(r: sqlite3.Row) -> CharteredBody:
    def opt(v: bytes | None) -> bytes | None:
        return bytes(v) if v is not None else None

    return CharteredBody(
        key=bytes(r["key"]),
        name=r["name"],
        level=r["level"],
        parent=opt(r["parent"]),
        issuer=opt(r["issuer"]),
        issued_at=r["issued_at"],
        admitted_by=bytes(r["admitted_by"]),
        url=r["url"],
        cut=r["cut"],
        cut_reason=r["cut_reason"],
        successor=opt(r["successor"]),
    )
