"""Who looked: the record of every officer's access to members' personal data (a member's
record viewed, the members searched or listed, exported, imported), one row per access.

Rows carry ids and counts, never the data itself nor what was searched for (a name typed
in a search box is personal data too): admins read the whole record, each member the rows
about their own record, and the retention rule removes rows past their time.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from node.storage.db import Database

ACTIONS = ("view", "search", "export", "import", "download", "erase", "register")
VIA = ("page", "api", "cli", "rule")  # rule: the node itself, applying the retention rule
_COLUMNS = "id, at, actor_id, action, member_id, rows, via"


@dataclass(frozen=True)
class Access:
    id: int
    at: int  # s
    actor_id: int | None
    action: str
    member_id: int | None
    rows: int
    via: str


def _access(r: sqlite3.Row) -> Access:
    return Access(int(r["id"]), int(r["at"]), r["actor_id"], r["action"], r["member_id"], int(r["rows"]), r["via"])


MAX_BATCH = 500
LINGER_S = 0.25  # how long an access that does not wait may stay uncommitted, gathering others
LINGERING = "access-linger"  # the writer's task name while it waits to gather (a record that waits goes now)


def _retrieved(future: asyncio.Future[None]) -> None:
    """An access nobody waits for: if it could not be written, the log says so."""
    if not future.cancelled() and future.exception() is not None:
        logging.getLogger("branchnet.access").error("an access to members' data was not recorded",
                                                    exc_info=future.exception())  # fmt: skip
_Row = tuple[int, int | None, str, int | None, int, str]


class AccessStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self._pending: list[tuple[_Row, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, actor_id: int | None, action: str, via: str, *, member_id: int | None = None,
                     rows: int = 0, wait: bool = True) -> None:  # fmt: skip
        """Record one access; returns once it is committed (``wait``), or at once, the commit
        following within milliseconds (for a page of a list an officer pages through: the
        one access a crash in that moment could leave out; a record viewed, an export, an
        import always wait). Accesses that arrive together share one transaction (group
        commit, as votes do)."""
        assert action in ACTIONS and via in VIA, (action, via)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append(((int(self.clock()), actor_id, action, member_id, rows, via), future))
        if self._writer is None or self._writer.done() or (wait and self._lingering):
            # A task of its own: a caller that goes away (a closed connection) cannot stop it.
            self._writer = asyncio.create_task(self._drain(0.0 if wait else LINGER_S),
                                               name="access-record" if wait else LINGERING)  # fmt: skip
        if wait:
            await future
        else:
            future.add_done_callback(_retrieved)

    async def flush(self) -> None:
        """Write what is gathering now (at close)."""
        if self._pending:
            await self._drain(0.0)

    @property
    def _lingering(self) -> bool:
        return self._writer is not None and not self._writer.done() and self._writer.get_name() == LINGERING

    async def _drain(self, linger_s: float) -> None:
        if linger_s:  # gather what comes in the meantime into the same transaction
            await asyncio.sleep(linger_s)
            asyncio.current_task().set_name("access-record")  # type: ignore[union-attr]
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                async with self.db.write("access.record") as conn:
                    await conn.executemany(
                        "INSERT INTO access_log (at, actor_id, action, member_id, rows, via) VALUES (?, ?, ?, ?, ?, ?)",
                        [row for row, _ in batch],
                    )
            except BaseException as exc:  # the commit failed: none of the batch was recorded
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def page(self, *, member_id: int | None = None, before: int | None = None, limit: int = 100
                   ) -> list[Access]:  # fmt: skip
        """Newest first; ``member_id``: only the accesses to that member's record; ``before``:
        rows with a smaller id (the next page)."""
        where, args = [], []
        if member_id is not None:
            where.append("member_id = ?")
            args.append(member_id)
        if before is not None:
            where.append("id < ?")
            args.append(before)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM access_log {clause} ORDER BY id DESC LIMIT ?",
                                      (*args, limit))  # fmt: skip
        return [_access(r) for r in rows]

    async def prune(self, older_than_s: int) -> int:
        """Remove rows older than the retention period; how many."""
        async with self.db.write("access.prune") as conn:
            cursor = await conn.execute("DELETE FROM access_log WHERE at < ?", (int(self.clock()) - older_than_s,))
            return int(cursor.rowcount or 0)
