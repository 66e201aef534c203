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
