"""Stored envelopes: kept as the bytes received, keyed by id and by (author, seq).

The node's own log (:mod:`node.federation.own_log`) and ingest (:mod:`node.federation.ingest`)
write through these rows inside their transactions; readers (gossip, the API) read here.

Finding an envelope by id (migration 0010): ids are hashes, and an index kept beside every
insert dirtied one page of it per stored envelope. The ids of rows up to a watermark are in
``envelope_ids``; the newer rows (at most :data:`MERGE_MOST`) are found through
:class:`RecentIds`, this process's map of their ids read from the table by rowid; every
:func:`merge_after` rows (32,768, more as the table grows), :func:`merge_recent_ids` moves
them into ``envelope_ids`` in one sorted run, inside the writing transaction. Every look-up by id goes through
:func:`rowids_of`, which reads both parts.
"""

from __future__ import annotations

import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

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


IDS_WATERMARK = "ids_rowid"  # meta: the ids of rows with rowid <= this are in envelope_ids
# Rows stored after the watermark before their ids are merged: MERGE_ROWS (~3 MB here per
# process), or one part in MERGE_SHARE of the rows merged already, at most MERGE_MOST (~13 MB).
# A sorted run of random ids dirties about one page of envelope_ids for each of its ids until
# the run is several times the index's pages: with 2,000,000 held (22,000 pages) a run of
# 32,768 dirtied 0.6 pages a row and a stored envelope cost 1.8 times the empty node's
# (bench/store.py); a run growing with the table keeps it near 0.15.
MERGE_ROWS = 32_768
MERGE_SHARE = 16
MERGE_MOST = 131_072


def merge_after(merged: int) -> int:
    """Rows stored after a watermark of ``merged`` rows before their ids are merged."""
    return min(MERGE_MOST, max(MERGE_ROWS, merged // MERGE_SHARE))
_REFRESH_STEP = 5_000
_INLINE_ROWS = 64  # a refresh of at most this many rows reads inline (no thread hop)


class RecentIds:
    """The ids of the rows stored after the watermark, as this process last read them.

    Read by rowid, which only grows (AUTOINCREMENT), so a refresh reads just the rows stored
    since the last one. A row may have left the table since (a cut, a reset): every hit is
    checked against the table by rowid before it is believed."""

    def __init__(self) -> None:
        self.seen: int | None = None  # the highest rowid read; None before the first read
        self.mark = 0  # the watermark when last read: entries at or below it are dropped
        self.rows: dict[bytes, int] = {}

    async def refresh(self, db: Database) -> None:
        """Read the ids stored since the last refresh (none: two point reads, no thread hop)."""
        row = await db.fetchone("SELECT value FROM meta WHERE key = ?", (IDS_WATERMARK,))
        mark = int(row[0]) if row else 0
        if self.seen is None:
            self.seen = mark
        if mark > self.mark:
            self.mark = mark
            self.rows = {i: r for i, r in self.rows.items() if r > mark}
        row = await db.fetchone("SELECT MAX(rowid) FROM envelopes")
        top = int(row[0]) if row is not None and row[0] is not None else 0
        if top <= self.seen:
            return
        read = db.fetchpage if top - self.seen <= _INLINE_ROWS else db.fetchall  # a few: inline
        while True:
            rows = await read(
                "SELECT rowid, id FROM envelopes WHERE rowid > ? ORDER BY rowid LIMIT ?", (self.seen, _REFRESH_STEP)
            )
            for r in rows:
                if int(r[0]) > self.mark:
                    self.rows[bytes(r[1])] = int(r[0])
            if rows:
                self.seen = max(self.seen, int(rows[-1][0]))
            if len(rows) < _REFRESH_STEP:
                return


_recent: weakref.WeakKeyDictionary[Database, RecentIds] = weakref.WeakKeyDictionary()


def recent_ids(db: Database) -> RecentIds:
    """This process's map of recent ids for ``db`` (one per open database)."""
    found = _recent.get(db)
    if found is None:
        found = _recent[db] = RecentIds()
    return found


async def _select_in(db: Database, sql: str, keys: list[Any]) -> list[sqlite3.Row]:
    """``sql`` (with ``{marks}`` where the keys go) for every key, 500 at a time; a few keys
    are read inline (a short bounded read), more in the reader's thread."""
    found: list[sqlite3.Row] = []
    read = db.fetchpage if len(keys) <= _INLINE_ROWS else db.fetchall
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        found += await read(sql.format(marks=",".join("?" * len(part))), part)
    return found


async def _indexed(db: Database, ids: list[bytes]) -> dict[bytes, int]:
    rows = await _select_in(db, "SELECT id, row FROM envelope_ids WHERE id IN ({marks})", ids)
    return {bytes(r[0]): int(r[1]) for r in rows}


async def rowids_of(db: Database, ids: Iterable[bytes]) -> dict[bytes, int]:
    """The rowid of each of ``ids`` that is stored (absent ids are left out): the merged
    index first, then the recent rows. Every look-up by id comes here (or, for one id, to
    :meth:`EnvelopeStore.get`, which reads the index its own way, then :func:`_recent_rowids`)."""
    mark = recent_ids(db).mark  # before the first read (see _recent_rowids)
    wanted = list(dict.fromkeys(ids))
    found = await _indexed(db, wanted)
    missing = [i for i in wanted if i not in found]
    if missing:
        found.update(await _recent_rowids(db, missing, mark))
    return found


async def _recent_rowids(db: Database, missing: list[bytes], mark: int) -> dict[bytes, int]:
    """Rowids of ``missing`` (ids the index did not have when asked) among the recent rows,
    as this process knew them, then as they are now; each hit checked against the table.
    ``mark`` is this process's watermark from before the index was asked: if a merge moved it
    meanwhile, the ids it took out of the recent map are asked of the index again."""
    recent = recent_ids(db)
    found: dict[bytes, int] = {}
    for attempt in range(2):
        candidates = {recent.rows[i]: i for i in missing if i in recent.rows}
        rows = await _select_in(db, "SELECT rowid, id FROM envelopes WHERE rowid IN ({marks})", list(candidates))
        found.update((bytes(r[1]), int(r[0])) for r in rows if candidates.get(int(r[0])) == bytes(r[1]))
        missing = [i for i in missing if i not in found]
        if not missing or attempt:
            break
        await recent.refresh(db)
        if recent.mark != mark:
            found.update(await _indexed(db, missing))
            missing = [i for i in missing if i not in found]
    return found


async def merge_recent_ids(conn: aiosqlite.Connection) -> int:
    """Inside a write transaction: once :func:`merge_after` rows are stored after the watermark,
    put their ids into ``envelope_ids`` in id order and move the watermark. The rows merged."""
    async with conn.execute("SELECT value FROM meta WHERE key = ?", (IDS_WATERMARK,)) as cursor:
        row = await cursor.fetchone()
    mark = int(row[0]) if row else 0
    async with conn.execute("SELECT MAX(rowid) FROM envelopes") as cursor:
        row = await cursor.fetchone()
    top = int(row[0]) if row and row[0] is not None else 0
    if top - mark < merge_after(mark):
        return 0
    cursor = await conn.execute(
        "INSERT OR REPLACE INTO envelope_ids (id, row)"
        " SELECT id, rowid FROM envelopes WHERE rowid > ? AND rowid <= ? ORDER BY id",
        (mark, top),
    )
    merged = cursor.rowcount
    await cursor.close()
    await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (IDS_WATERMARK, top))
    return merged


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
    async def by_id_in(conn: aiosqlite.Connection, envelope_id: bytes) -> bytes | None:
        """One envelope by id, read inside the caller's transaction: the merged index, else a
        scan of the rows stored since its watermark (at most :data:`MERGE_MOST`). For
        checks that are rare (a decision's roll), not for hot paths."""
        async with conn.execute(
            "SELECT e.raw FROM envelope_ids i JOIN envelopes e ON e.rowid = i.row WHERE i.id = ?"
            " UNION ALL SELECT raw FROM envelopes"
            " WHERE rowid > COALESCE((SELECT value FROM meta WHERE key = ?), 0) AND id = ? LIMIT 1",
            (envelope_id, IDS_WATERMARK, envelope_id),
        ) as cursor:
            row = await cursor.fetchone()
        return bytes(row[0]) if row is not None else None

    @staticmethod
    async def insert(
        conn: aiosqlite.Connection, envelope: Envelope, received_at: int, quota: tuple[int, int] | None = None
    ) -> None:
        await conn.execute(INSERT_ENVELOPE, envelope_row(envelope, received_at, quota))
        await merge_recent_ids(conn)

    async def get(self, envelope_id: bytes) -> bytes | None:
        """One envelope by id: one point read when its id is merged (most are), else among
        the recent rows (a few more, inline too)."""
        mark = recent_ids(self.db).mark  # before the index is asked (see _recent_rowids)
        found = await self._indexed_raw(envelope_id)
        if found is not None:
            return found
        rowid = (await _recent_rowids(self.db, [envelope_id], mark)).get(envelope_id)
        if rowid is None:
            return None
        row = await self.db.fetchone("SELECT raw FROM envelopes WHERE rowid = ?", (rowid,))
        return bytes(row[0]) if row is not None else None

    async def _indexed_raw(self, envelope_id: bytes) -> bytes | None:
        row = await self.db.fetchone(
            "SELECT e.raw FROM envelope_ids i JOIN envelopes e ON e.rowid = i.row WHERE i.id = ?", (envelope_id,)
        )
        return bytes(row[0]) if row is not None else None

    async def many(self, ids: Iterable[bytes]) -> dict[bytes, bytes]:
        """Raw envelopes by id (those held)."""
        where = {rowid: i for i, rowid in (await rowids_of(self.db, ids)).items()}
        rows = await _select_in(self.db, "SELECT rowid, raw FROM envelopes WHERE rowid IN ({marks})", list(where))
        return {where[int(r[0])]: bytes(r[1]) for r in rows}

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

    async def before(self, author: bytes, kind: str, seq: int) -> bytes | None:
        """The author's latest envelope of one kind before ``seq`` (by the kind index)."""
        row = await self.db.fetchone(
            "SELECT raw FROM envelopes WHERE kind = ? AND author = ? AND seq < ? ORDER BY seq DESC LIMIT 1",
            (kind, author, seq),
        )
        return bytes(row[0]) if row is not None else None

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
        self, wants: list[tuple[bytes, int, int]], max_count: int, max_bytes: int, top: Callable[[bytes], int]
    ) -> list[tuple[int, int, bytes]]:
        """For each want ``(author, after, until)`` in order, the held envelopes with
        ``after < seq <= until``, as ``(want index, seq, raw)``; at most ``max_count`` rows and
        ``max_bytes`` bytes in all (always the first row, whatever its size).

        Reads only the rows it answers with: an author's log is held whole from seq 1 to its
        head (``top(author)``; 0 when none), so each want's rows are known before any is read;
        they are read RANGE_CHUNK at a time until a cap is met. (One query joining every want
        read every row wanted, then cut: 21 s for one answer with 2,000,000 held.)"""
        plan: list[tuple[int, bytes, int, int]] = []  # (want, author, after, last)
        left = max_count
        for i, (author, after, until) in enumerate(wants):
            last = min(until, top(author), after + left)
            if last > after:
                plan.append((i, author, after, last))
                left -= last - after
            if left <= 0:
                break
        out: list[tuple[int, int, bytes]] = []
        size = 0
        for piece in _pieces(plan, RANGE_CHUNK):
            one = "SELECT ? AS i, seq, raw FROM envelopes WHERE author = ? AND seq > ? AND seq <= ?"
            sql = f"SELECT i, seq, raw FROM ({' UNION ALL '.join([one] * len(piece))}) ORDER BY i, seq"
            for i, seq, raw in await self.db.fetchall(sql, [v for p in piece for v in p]):
                if out and size + len(raw) > max_bytes:
                    return out
                out.append((int(i), int(seq), bytes(raw)))
                size += len(raw)
        return out

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


RANGE_CHUNK = 256  # rows read in one query while answering a ranges request


def _pieces(plan: list[tuple[int, bytes, int, int]], rows: int) -> Iterator[list[tuple[int, bytes, int, int]]]:
    """The planned ranges, in order, cut into pieces of at most ``rows`` rows each."""
    piece: list[tuple[int, bytes, int, int]] = []
    room = rows
    for i, author, after, last in plan:
        while last > after:
            upto = min(last, after + room)
            piece.append((i, author, after, upto))
            room -= upto - after
            after = upto
            if room == 0:
                yield piece
                piece, room = [], rows
    if piece:
        yield piece
