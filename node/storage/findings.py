"""Findings: what this node found wrong in the envelopes it holds, in one table.

Each judge (the recount of an aggregate, of a selection's result or paper, the check for a
second decision on a ballot, the plausibility of a roll) replaces the findings of the object
it judged, all of them together, so an object judged again after more arrived shows only
what is wrong now. Readers page newest first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from node.storage.db import Database

_COLUMNS = "object, code, kind, author, about, message, found_at"


@dataclass(frozen=True)
class Finding:
    object: bytes
    code: str
    kind: str
    author: bytes
    about: bytes | None
    message: str
    found_at: int


def _finding(r: sqlite3.Row) -> Finding:
    about = r["about"]
    return Finding(bytes(r["object"]), r["code"], r["kind"], bytes(r["author"]),
                   bytes(about) if about is not None else None, r["message"], int(r["found_at"]))  # fmt: skip


class FindingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def replace(self, object_id: bytes, kind: str, author: bytes, about: bytes | None,
                      found: Sequence[tuple[str, str]], found_at: int) -> None:  # fmt: skip
        """The findings of one object are now ``found`` (code, message): none, or these."""
        async with self.db.write("findings.replace") as conn:
            await conn.execute("DELETE FROM findings WHERE object = ?", (object_id,))
            await conn.executemany(
                f"INSERT OR REPLACE INTO findings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(object_id, code, kind, author, about, message, found_at) for code, message in found],
            )

    async def page(self, limit: int = 50, before: tuple[int, bytes, str] | None = None) -> list[Finding]:
        """Newest first; ``before`` the (found_at, object, code) of the last one seen."""
        if before is None:
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM findings ORDER BY found_at DESC, object, code LIMIT ?", (limit,)
            )
        else:
            at, obj, code = before
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM findings WHERE found_at < ? OR (found_at = ? AND (object > ?"
                " OR (object = ? AND code > ?))) ORDER BY found_at DESC, object, code LIMIT ?",
                (at, at, obj, obj, code, limit),
            )
        return [_finding(r) for r in rows]

    async def of(self, object_id: bytes) -> list[Finding]:
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM findings WHERE object = ? ORDER BY code", (object_id,))
        return [_finding(r) for r in rows]

    async def about(self, ref: bytes) -> list[Finding]:
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM findings WHERE about = ? ORDER BY found_at", (ref,))
        return [_finding(r) for r in rows]

    async def count(self) -> int:
        row = await self.db.fetchone("SELECT COUNT(*) FROM findings")
        return int(row[0]) if row else 0

    async def due(self, kind: str, limit: int = 500) -> list[bytes]:
        """What of ``kind`` is due to be judged again (marked as the upward index caught up)."""
        rows = await self.db.fetchall(
            "SELECT about FROM findings_due WHERE kind = ? ORDER BY about LIMIT ?", (kind, limit)
        )
        return [bytes(r[0]) for r in rows]

    async def judged(self, about: bytes) -> None:
        async with self.db.write("findings.judged") as conn:
            await conn.execute("DELETE FROM findings_due WHERE about = ?", (about,))
