"""The database layer: migrations, named transactions, and noticing other processes' writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from node.storage.db import Database, DatabaseError, migrations


async def test_migrations_are_numbered_and_applied_once(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "n.db", create=True)
    try:
        row = await db.fetchone("PRAGMA user_version")
        assert row is not None and row[0] == len(migrations()) >= 2
        assert await db.integrity_check() == "ok"
        mode = await db.fetchone("PRAGMA journal_mode")
        assert mode is not None and mode[0] == "wal"
    finally:
        await db.close()
    again = await Database.open(tmp_path / "n.db")  # nothing to migrate: opens as is
    await again.close()


async def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    await (await Database.open(path, create=True)).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()
    with pytest.raises(DatabaseError, match="newer than this branchnet"):
        await Database.open(path)


async def test_failed_transactions_leave_nothing(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "n.db", create=True)
    try:
        with pytest.raises(RuntimeError):
            async with db.write("test.fails") as conn:
                await conn.execute("INSERT INTO meta (key, value) VALUES ('half', 1)")
                raise RuntimeError("in the middle")
        assert await db.fetchone("SELECT value FROM meta WHERE key = 'half'") is None
    finally:
        await db.close()


async def test_the_server_notices_writes_of_other_processes_only(tmp_path: Path) -> None:
    path = tmp_path / "n.db"
    server = await Database.open(path, create=True, serving=True)
    tool = await Database.open(path)
    noticed: list[int] = []

    async def listener() -> None:
        noticed.append(1)

    server.on_outside_change.append(listener)
    try:
        for _ in range(3):
            async with server.write("server.own") as conn:
                await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('s', 1)")
        await server.notice_outside_changes()
        assert noticed == []  # its own writes are not "elsewhere"
        async with tool.write("cli.charter") as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('x', 1)")
        async with server.write("server.own") as conn:  # the next transaction reloads first
            await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('s', 2)")
        assert noticed == [1]
        await server.notice_outside_changes()
        assert noticed == [1]  # reported once
    finally:
        await tool.close()
        await server.close()


async def test_member_ids_are_never_used_again(tmp_path: Path) -> None:
    from node.storage.members import MemberIn, MemberStore

    db = await Database.open(tmp_path / "m.db", create=True)
    try:
        store = MemberStore(db)
        first = [await store.add(MemberIn(name=f"P{i}", email=f"p{i}@example.org")) for i in range(3)]
        await store.remove(first[-1].id)  # the newest goes...
        again = await store.add(MemberIn(name="Q", email="q@example.org"))
        assert again.id not in {m.id for m in first}  # ...and its id is not given to someone else
        await store.remove(again.id)
        await store.import_all([(2, MemberIn(name="R", email="r@example.org"))])
        assert max(m.id for m in await store.list()) > again.id
    finally:
        await db.close()
