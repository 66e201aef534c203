"""The node's SQLite database: connections, durability settings, migrations, transactions.

All thread bridging lives in aiosqlite; this module only decides how it is used:

* WAL journal with ``synchronous=FULL``: every commit is fsynced to the WAL before the
  commit returns, so a write the node has acknowledged survives a crash or power loss.
* One writer connection, guarded by an asyncio lock, in autocommit mode; every store
  method that writes runs as one ``BEGIN IMMEDIATE … COMMIT`` through :meth:`Database.write`.
  ``BEGIN IMMEDIATE`` also serialises against other processes (the CLI) on the same file.
* Reads never wait for the writer (WAL). Point reads (one row by key: the session or token
  behind a request, one member, one envelope) run inline on the event loop through a plain
  ``sqlite3`` connection: they take microseconds, while handing a query to aiosqlite's thread
  costs hundreds (bench/api.py measured 350 µs against 5 µs). Its busy timeout is short, and
  a read that would wait falls back to the aiosqlite reader, so the loop never blocks for
  long. Scans and every write go through aiosqlite.
* Numbered migrations in ``node/storage/migrations/NNNN_name.sql``, applied in order, each in its
  own transaction together with the bump of ``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from node.errors import DatabaseError as DatabaseError  # re-exported

INLINE_BUSY_MS = 20
_MIGRATION = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(number, file name, SQL) of every migration shipped with the node, in order."""
    found = []
    for entry in resources.files("node.storage.migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _, _ in found]
    if numbers != list(range(1, len(found) + 1)):
        raise DatabaseError(f"migrations are not numbered 1..n: {numbers}")
    return found


WAL_AUTOCHECKPOINT_PAGES = 10_000


async def _configure(conn: aiosqlite.Connection) -> None:
    conn.row_factory = sqlite3.Row
    await conn.execute("PRAGMA busy_timeout = 10000")
    await conn.execute("PRAGMA foreign_keys = ON")
    await conn.execute("PRAGMA synchronous = FULL")
    # Checkpoint every ~40 MB of WAL instead of every ~4 MB: ingest batches dirty index pages
    # all over the 32-byte id index, and a page rewritten by several batches is copied back
    # once per checkpoint. With 400,000 envelopes held this cut the writer's cost per stored
    # envelope by about a quarter (bench/store.py, docs/performance.md).
    await conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
    # What is deleted is overwritten, not left in free pages: removed members, and the votes
    # of a secret ballot once it is counted (docs/decisions.md).
    await conn.execute("PRAGMA secure_delete = ON")


class Database:
    """A node database file with one writer and one reader connection."""

    def __init__(
        self, path: Path, writer: aiosqlite.Connection, reader: aiosqlite.Connection, inline: sqlite3.Connection
    ) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._inline = inline
        self._lock = asyncio.Lock()
        self._seen_version = 0
        self._data_version = 0  # the writer's PRAGMA data_version: moves when another connection commits
        self._serving = False
        # Called (inside the write lock, at the start of a transaction) when another process
        # committed since our last write: in-memory state must be reloaded before it is used.
        self.on_outside_change: list[Callable[[], Awaitable[None]]] = []

    @classmethod
    async def open(cls, path: Path, *, create: bool = False, serving: bool = False) -> Database:
        """Open (or, with ``create``, create) the database and bring it to the latest schema.

        ``serving``: this is the node's server; any other opener (the CLI) marks its writes
        so that the server notices them (:meth:`changed_elsewhere`)."""
        if not create and not path.exists():
            raise DatabaseError(f"no database at {path} (run `branchnet init` first)")
        if create and not path.exists():
            # Members' personal data lives here: owner-only from the first byte. SQLite gives
            # the -wal and -shm files the same mode as the database file.
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        opened: list[aiosqlite.Connection] = []
        try:
            writer = await aiosqlite.connect(path, isolation_level=None)
            opened.append(writer)
            mode = await (await writer.execute("PRAGMA journal_mode = WAL")).fetchone()
            if mode is None or mode[0] != "wal":
                raise DatabaseError(f"{path}: could not switch to WAL mode")
            await _configure(writer)
            reader = await aiosqlite.connect(path, isolation_level=None)
            opened.append(reader)
            await _configure(reader)
            inline = sqlite3.connect(path, isolation_level=None)
            inline.row_factory = sqlite3.Row
            inline.execute(f"PRAGMA busy_timeout = {INLINE_BUSY_MS}")
            inline.execute("PRAGMA query_only = ON")
        except (sqlite3.Error, DatabaseError) as exc:
            # Each aiosqlite connection is a thread the process waits for at exit: close them,
            # or a file that is not a database leaves the command hanging after its error.
            for connection in opened:
                with contextlib.suppress(Exception):
                    await connection.close()
            if isinstance(exc, DatabaseError):
                raise
            raise DatabaseError(f"cannot open {path}: {exc}") from None
        db = cls(path, writer, reader, inline)
        db._serving = serving
        try:
            await db._migrate()
        except BaseException:
            await db.close()
            raise
        db._seen_version = db._outside_writes()
        db._data_version = await db._writer_data_version()
        return db

    async def _writer_data_version(self) -> int:
        row = await (await self._writer.execute("PRAGMA data_version")).fetchone()
        return int(row[0]) if row else 0

    def _outside_writes(self) -> int:
        row = self._inline.execute("SELECT value FROM meta WHERE key = 'outside_writes'").fetchone()
        return int(row[0]) if row else 0

    async def notice_outside_changes(self) -> None:
        """Run the outside-change listeners now if another process committed (an empty
        transaction: taking the write lock orders this with our own writes)."""
        async with self.write("notice_outside_changes"):
            pass

    def changed_elsewhere(self) -> bool:
        """True when another process (the CLI) committed since our last look; then resets.

        Every write transaction of a process that is not the serving node bumps the
        ``outside_writes`` counter in ``meta``, in the same transaction, so a change is
        never missed, however the commits interleave."""
        version = self._outside_writes()
        changed = version != self._seen_version
        self._seen_version = version
        return changed

    async def close(self) -> None:
        self._inline.close()
        await self._writer.close()
        await self._reader.close()

    async def _migrate(self) -> None:
        row = await (await self._writer.execute("PRAGMA user_version")).fetchone()
        current = int(row[0]) if row else 0
        known = migrations()
        if current > len(known):
            raise DatabaseError(f"{self.path} has schema {current}, newer than this branchnet ({len(known)})")
        for number, name, sql in known[current:]:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                for statement in _statements(sql):
                    await self._writer.execute(statement)
                await self._writer.execute(f"PRAGMA user_version = {number}")
                await self._writer.execute("COMMIT")
            except sqlite3.Error as exc:
                await self._writer.execute("ROLLBACK")
                raise DatabaseError(f"migration {name} failed: {exc}") from None

    @asynccontextmanager
    async def write(
        self, name: str, on_rollback: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[aiosqlite.Connection]:
        """One named write transaction: commits when the block ends, rolls back if it raises
        or the commit fails.

        A storage failure (disk full, I/O error) becomes a DatabaseError naming the
        transaction; constraint errors pass through for the store method to explain.
        ``on_rollback`` runs after a rollback, still inside the write lock: whoever keeps
        state in memory beside the database puts it back there, before anyone else writes."""
        async with self._lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise DatabaseError(f"{name}: cannot start a write transaction: {exc}") from None
            try:
                # A command-line process also reloads when the server committed since its own last
                # look (the data version of its writer moved): else it would write back a stale
                # view, such as the bodies of the federation without a charter the server took in.
                served_meanwhile = False
                if not self._serving:
                    version = await self._writer_data_version()
                    served_meanwhile, self._data_version = version != self._data_version, version
                if self.changed_elsewhere() or served_meanwhile:
                    for listener in self.on_outside_change:
                        await listener()
                yield self._writer
                if not self._serving:
                    await self._writer.execute(
                        "INSERT INTO meta (key, value) VALUES ('outside_writes', 1)"
                        " ON CONFLICT (key) DO UPDATE SET value = value + 1"
                    )
                await self._writer.execute("COMMIT")
                if not self._serving:
                    # Our own bump, under the write lock since the check above: not a change from
                    # elsewhere (without this, each CLI write reloaded the federation state).
                    self._seen_version += 1
            except BaseException as exc:
                # SQLite may have rolled back already (a full disk does): then ROLLBACK fails.
                with contextlib.suppress(sqlite3.Error):
                    await self._writer.execute("ROLLBACK")
                if on_rollback is not None:
                    await on_rollback()
                if _is_storage_failure(exc):
                    raise DatabaseError(f"{name}: storage failed, nothing was stored: {exc}") from None
                raise

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Any query, in aiosqlite's thread (one hop for execute and fetch)."""
        return list(await self._reader.execute_fetchall(sql, tuple(params)))

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Row | None:
        """A point read (at most one row, by key): inline, or in the thread if it would wait."""
        try:
            row: sqlite3.Row | None = self._inline.execute(sql, tuple(params)).fetchone()
            return row
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchpage(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """A short bounded read (one page of a list, by an index: tens of rows, well under a
        millisecond): inline like :meth:`fetchone`, which saves the thread's round trip that
        costs more than such a read; in the thread if it would wait."""
        try:
            return self._inline.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        return await self.fetchall(sql, params)

    async def checkpoint(self) -> None:
        """Copy the WAL into the database and empty it (so pages rewritten since, such as a
        secret ballot's deleted votes, are no longer in the WAL file); best effort."""
        async with self._lock:
            # A reader in the middle of a long read would make the checkpoint wait: give up
            # after 200 ms rather than hold every writer (the next close, or SQLite's own
            # checkpoints, copy the pages later).
            with contextlib.suppress(sqlite3.Error):
                await self._writer.execute("PRAGMA busy_timeout = 200")
                await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await self._writer.execute("PRAGMA busy_timeout = 10000")

    async def backup(self, target: Path) -> None:
        """A consistent copy of the whole database to a new file, while the node runs
        (``VACUUM INTO``: one read transaction, so it holds every commit up to its start)."""
        if target.exists():
            raise DatabaseError(f"{target} already exists; refusing to overwrite it")
        try:
            await self._reader.execute("VACUUM INTO ?", (str(target),))
        except sqlite3.Error as exc:
            raise DatabaseError(f"backup to {target} failed: {exc}") from None
        os.chmod(target, 0o600)

    async def integrity_check(self) -> str:
        rows = await self.fetchall("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows) if rows else "no answer"


def _is_storage_failure(exc: BaseException) -> bool:
    """A failure of the storage itself (full disk, I/O error, corruption), not of the data."""
    return isinstance(exc, sqlite3.OperationalError | sqlite3.InternalError) or type(exc) is sqlite3.DatabaseError


def _statements(sql: str) -> list[str]:
    """Split a migration file into statements.

    Migrations are plain DDL written for this splitter: ``--`` comments on their own lines
    and no semicolons inside literals; a trigger's body (``BEGIN ...; END``) stays whole
    (SQLite says when a statement is complete).
    """
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    statements: list[str] = []
    pending = ""
    for piece in "\n".join(lines).split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip().removesuffix(";"))
            pending = ""
    if pending.strip(" \n;"):
        statements.append(pending.strip().removesuffix(";"))
    return statements


def is_node_database(path: Path) -> bool:
    """Whether the SQLite file at ``path`` is a node's (it has the ``meta`` table), read only;
    DatabaseError naming the problem when it cannot be read at all."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone()
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path} cannot be read as a database: {exc}") from None
    return found is not None


def fold_wal(path: Path) -> None:
    """Copy the database's WAL into it and empty the WAL (the node is stopped): the file alone
    is then the whole database."""
    try:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise DatabaseError(f"cannot fold the WAL of {path} into it: {exc}") from None
