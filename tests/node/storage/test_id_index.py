"""Finding envelopes by id (migration 0010): merged ids in ``envelope_ids``, newer ones by rowid.

Every test runs with a small merge threshold so that both parts hold rows, and each checks
through the same calls the node uses (``EnvelopeStore.get`` and ``many``, ``known_ids``).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import node.storage.envelopes as envelopes_module
from node.storage.db import Database, _statements, migrations
from node.storage.envelopes import IDS_WATERMARK, EnvelopeStore, rowids_of
from node.storage.federation import FederationStore

AUTHOR = hashlib.sha256(b"author").digest()
OTHER = hashlib.sha256(b"other").digest()


def rows(author: bytes, first: int, count: int) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for seq in range(first, first + count):
        raw = os.urandom(64)
        out.append((hashlib.sha256(raw).digest(), author, seq, "node_profile", 1, 1, raw, 1, 1))
    return out


async def store(db: Database, batch: list[tuple[object, ...]]) -> None:
    async with db.write("test.store") as conn:
        await FederationStore.insert_envelopes(conn, batch)


async def merged_ids(db: Database) -> set[bytes]:
    return {bytes(r[0]) for r in await db.fetchall("SELECT id FROM envelope_ids")}


@pytest.fixture
async def server_and_cli(tmp_path: Path) -> AsyncIterator[tuple[Database, Database]]:
    """The server's database and a second one on the same file, as the CLI beside it opens."""
    server = await Database.open(tmp_path / "n.db", create=True, serving=True)
    cli = await Database.open(tmp_path / "n.db")
    try:
        yield server, cli
    finally:
        await cli.close()
        await server.close()


@pytest.fixture(autouse=True)
def small_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelopes_module, "MERGE_ROWS", 25)


async def test_ids_are_found_before_and_after_their_merge(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "n.db", create=True)
    try:
        stored: list[tuple[object, ...]] = []
        for first in range(1, 71, 10):  # 70 rows in batches of 10: merges at 30 and 60
            batch = rows(AUTHOR, first, 10)
            await store(db, batch)
            stored += batch
            store_ = EnvelopeStore(db)
            for row in stored:
                assert await store_.get(row[0]) == row[6]  # type: ignore[arg-type]
        merged = await merged_ids(db)
        mark = await db.fetchone("SELECT value FROM meta WHERE key = ?", (IDS_WATERMARK,))
        assert mark is not None and mark[0] == 60
        assert merged == {r[0] for r in stored[:60]}  # the last ten only by rowid
        ids = [r[0] for r in stored]
        unknown = [hashlib.sha256(b"nothing %d" % i).digest() for i in range(5)]
        assert await FederationStore(db).known_ids([*ids, *unknown], with_held=False) == set(ids)  # type: ignore[arg-type]
        assert set(await EnvelopeStore(db).many([*ids, *unknown])) == set(ids)  # type: ignore[arg-type]
        assert await EnvelopeStore(db).get(unknown[0]) is None
    finally:
        await db.close()


async def test_another_process_finds_what_this_one_stored(server_and_cli: tuple[Database, Database]) -> None:
    """A second connection (the CLI beside the server) keeps its own recent map: it finds
    rows stored after its last look, rows merged since, and both at once."""
    server, cli = server_and_cli
    first = rows(AUTHOR, 1, 20)
    await store(server, first)
    assert await EnvelopeStore(cli).get(first[0][0]) == first[0][6]  # type: ignore[arg-type]
    later = rows(AUTHOR, 21, 20)  # crosses the threshold: a merge moves 40 ids out of recent
    await store(server, later)
    ids = [r[0] for r in first + later]
    assert len(await merged_ids(server)) == 40
    assert set(await rowids_of(cli, ids)) == set(ids)  # type: ignore[arg-type]
    more = rows(OTHER, 1, 5)
    await store(server, more)
    assert await EnvelopeStore(cli).get(more[4][0]) == more[4][6]  # type: ignore[arg-type]


async def test_rows_that_leave_are_not_found(tmp_path: Path) -> None:
    """A cut sets rows aside: neither their merged ids nor this process's recent map find them,
    and a row stored again at the same place is found under its own id."""
    db = await Database.open(tmp_path / "n.db", create=True)
    try:
        stored = rows(AUTHOR, 1, 40)  # 30 merged (one batch of 40 crosses 25), then 10 more
        await store(db, stored[:30])
        await store(db, stored[30:])
        ids = [r[0] for r in stored]
        assert set(await rowids_of(db, ids)) == set(ids)  # type: ignore[arg-type]
        async with db.write("test.cut") as conn:
            await FederationStore.set_aside(conn, AUTHOR, 20, "test", 1)
        kept, gone = ids[:20], ids[20:]
        assert set(await rowids_of(db, ids)) == set(kept)  # type: ignore[arg-type]
        assert await merged_ids(db) == set(kept)  # the trigger took the merged ones out
        assert await FederationStore(db).known_ids(gone, with_held=True) == set(gone)  # type: ignore[arg-type]
        again = rows(AUTHOR, 21, 1)
        await store(db, again)
        assert await EnvelopeStore(db).get(again[0][0]) == again[0][6]  # type: ignore[arg-type]
        assert await EnvelopeStore(db).get(gone[0]) is None  # type: ignore[arg-type]
    finally:
        await db.close()


async def test_a_database_from_before_the_id_index_keeps_every_id(tmp_path: Path) -> None:
    """A node's file at schema 9 (the id UNIQUE on the table), opened by this version."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for number, _name, sql in migrations()[:9]:
        for statement in _statements(sql):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
    old = rows(AUTHOR, 1, 30) + rows(OTHER, 1, 30)
    conn.executemany(
        "INSERT INTO envelopes (id, author, seq, kind, created, received_at, raw, quota_n, quota_b)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        old,
    )
    conn.execute("DELETE FROM envelopes WHERE author = ? AND seq > 25", (OTHER,))  # the top rowids freed
    conn.close()
    db = await Database.open(path)
    try:
        kept = [r for r in old if not (r[1] == OTHER and int(r[2]) > 25)]  # type: ignore[call-overload]
        assert await merged_ids(db) == {r[0] for r in kept}
        for row in kept:
            assert await EnvelopeStore(db).get(row[0]) == row[6]  # type: ignore[arg-type]
        assert await db.integrity_check() == "ok"
        async with db.write("test.cut") as write:  # frees the highest rowid (55)
            await FederationStore.set_aside(write, OTHER, 24, "test", 1)
        new = rows(OTHER, 25, 5)  # AUTOINCREMENT from now on: a freed rowid is not handed out again
        await store(db, new)
        rowids = await rowids_of(db, [r[0] for r in new])  # type: ignore[misc]
        assert len(rowids) == 5 and min(rowids.values()) > 55
        assert await EnvelopeStore(db).get(new[0][0]) == new[0][6]  # type: ignore[arg-type]
    finally:
        await db.close()


async def test_a_merge_between_the_reads_is_noticed(
    server_and_cli: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server merges recent ids into the index just after the CLI's look at the index
    missed them: the CLI still finds them (one by ``get``, many by ``rowids_of``)."""
    server, cli = server_and_cli
    first = rows(AUTHOR, 1, 10)
    await store(server, first)
    more = iter([rows(AUTHOR, 11, 30), rows(AUTHOR, 51, 30)])  # each crosses 25: a merge
    real_ids, real_raw = envelopes_module._indexed, EnvelopeStore._indexed_raw

    async def look_then_merge(db: Database, ids: list[bytes]) -> dict[bytes, int]:
        found = await real_ids(db, ids)
        if db is cli and len(found) < len(ids):
            await store(server, next(more))
        return found

    async def look_one_then_merge(self: EnvelopeStore, envelope_id: bytes) -> bytes | None:
        found = await real_raw(self, envelope_id)
        if self.db is cli and found is None:
            await store(server, next(more))
        return found

    monkeypatch.setattr(envelopes_module, "_indexed", look_then_merge)
    monkeypatch.setattr(EnvelopeStore, "_indexed_raw", look_one_then_merge)
    assert await EnvelopeStore(cli).get(first[0][0]) == first[0][6]  # type: ignore[arg-type]
    assert first[0][0] in await merged_ids(server)  # it was merged between the reads
    second = rows(AUTHOR, 41, 10)
    await store(server, second)  # recent again (the watermark is at 40)
    ids = [r[0] for r in second]
    assert set(await rowids_of(cli, ids)) == set(ids)  # type: ignore[arg-type]
    assert set(ids) <= await merged_ids(server)  # type: ignore[operator]


def test_merges_grow_with_the_table() -> None:
    """A sorted run of random ids dirties a page of envelope_ids for each id until the run is
    larger than the index: runs grow with what is merged (bench/store.py at 2,000,000), within
    a bound on the map of recent ids each process keeps."""
    assert envelopes_module.merge_after(0) == 25  # (this module's small merges)
    assert envelopes_module.merge_after(2_000_000) == 125_000
    assert envelopes_module.merge_after(10**8) == envelopes_module.MERGE_MOST


async def test_ranges_read_only_what_they_answer_within_both_caps(tmp_path: Path) -> None:
    """A ranges answer (POST /fed/v1/ranges) reads each want's rows from where it starts, in
    pieces, and stops at a cap: in want order, each author's rows in sequence, the first row
    whatever its size (one query joining every want read every row wanted: 21 s at 2,000,000)."""
    from node.storage import envelopes as module

    b = b"b" * 32
    db = await Database.open(tmp_path / "n.db", create=True)
    try:
        await store(db, rows(AUTHOR, 1, 700))
        await store(db, rows(b, 1, 5))
        envelopes = EnvelopeStore(db)
        tops = {AUTHOR: 700, b: 5}.get
        got = await envelopes.ranges([(b, 0, 5), (AUTHOR, 10, 700)], 600, 10**9, lambda a: tops(a, 0))
        assert [(i, seq) for i, seq, _ in got] == [(0, s) for s in range(1, 6)] + [(1, s) for s in range(11, 606)]
        size = len(got[0][2])
        got = await envelopes.ranges([(AUTHOR, 0, 700)], 600, size * 3 + 1, lambda a: tops(a, 0))
        assert [seq for _, seq, _ in got] == [1, 2, 3]
        got = await envelopes.ranges([(AUTHOR, 0, 700)], 600, 1, lambda a: tops(a, 0))
        assert [seq for _, seq, _ in got] == [1]  # the first row, whatever its size
        assert await envelopes.ranges([(b"c" * 32, 0, 9), (b, 5, 9)], 10, 10**9, lambda a: tops(a, 0)) == []
        assert module.RANGE_CHUNK < 600  # the answers above were read in more than one piece
    finally:
        await db.close()
