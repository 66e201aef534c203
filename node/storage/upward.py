"""The upward index: which envelope refers to what (mandates and aggregates to their agenda
item, consents to their composite, pledges to their campaign, submissions and delegates to
the body they go to, agenda items to the body that tabled them), and the latest recount of
each aggregate held.

The index follows the envelopes table: :meth:`UpwardStore.catch_up` reads the upward
envelopes stored since its watermark (by rowid, whoever stored them: ingest, our own log, a
restore) and indexes them in one transaction with the new watermark. It never holds what
the envelopes table does not: readers join back to it, so an envelope set aside (its author
cut) drops out of every answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from node.storage.db import Database
from node.storage.envelopes import EnvelopeStore
from protocol import Envelope

WATERMARK = "refs_rowid"
# An indexed envelope still in its author's log, joined by (author, seq), which the envelopes
# table keeps unique (it has no index on the id: migration 0010).
_HELD_REF = "e.author = r.author AND e.seq = r.seq AND e.id = r.envelope"
BATCH = 2000


class UpwardStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _watermark(self) -> int:
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = ?", (WATERMARK,))
        return int(row[0]) if row else 0

    async def catch_up(self, kinds: tuple[str, ...], refs_of: Callable[[bytes], list[tuple[bytes, Envelope]]],
                       due_of: Callable[[Envelope], list[tuple[bytes, str]]] = lambda _: []
                       ) -> list[Envelope]:  # fmt: skip
        """Index every envelope of ``kinds`` stored since the watermark; ``refs_of(raw)`` gives
        (ref, envelope) pairs for one. Returns the envelopes indexed now (bounded batches).
        ``due_of`` names what each new envelope makes due for judging again (the findings
        store's ``findings_due``), written in the same transaction as the new watermark, so
        that whoever catches up, nothing that arrived goes unjudged."""
        marks = ", ".join("?" for _ in kinds)
        done: list[Envelope] = []
        while True:
            mark = await self._watermark()
            newest = await self.db.fetchone("SELECT MAX(rowid) FROM envelopes")
            if newest is None or newest[0] is None or int(newest[0]) <= mark:
                return done
            rows = await self.db.fetchall(
                f"SELECT rowid, raw FROM envelopes WHERE kind IN ({marks}) AND rowid > ? ORDER BY rowid LIMIT ?",
                (*kinds, mark, BATCH),
            )
            last = int(rows[-1][0]) if len(rows) == BATCH else int(newest[0])
            refs = [(ref, e) for row in rows for ref, e in refs_of(bytes(row[1]))]
            async with self.db.write("upward.catch_up") as conn:
                cursor = await conn.execute("SELECT value FROM meta WHERE key = ?", (WATERMARK,))
                now = await cursor.fetchone()
                if (int(now[0]) if now else 0) != mark:
                    continue  # another task indexed this stretch meanwhile
                await conn.executemany(
                    "INSERT OR IGNORE INTO envelope_refs (ref, kind, envelope, author, seq, created)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    [(ref, e.kind, e.id, e.author, e.seq, e.payload.created) for ref, e in refs],
                )
                await conn.executemany(
                    "INSERT OR IGNORE INTO findings_due (about, kind) VALUES (?, ?)",
                    sorted({d for e in {e.id: e for _, e in refs}.values() for d in due_of(e)}),
                )
                await conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                    (WATERMARK, last),
                )
            done.extend({e.id: e for _, e in refs}.values())

    async def referring(self, ref: bytes, kind: str, limit: int | None = 10_000) -> list[bytes]:
        """The raw envelopes of ``kind`` that refer to ``ref``, by author and sequence (all of
        them with ``limit`` None: a count must not lose anyone's to someone else's flood)."""
        rows = await self.db.fetchall(
            f"SELECT e.raw FROM envelope_refs r JOIN envelopes e ON {_HELD_REF}"
            " WHERE r.ref = ? AND r.kind = ? ORDER BY r.author, r.seq LIMIT ?",
            (ref, kind, -1 if limit is None else limit),
        )
        return [bytes(r[0]) for r in rows]

    async def of_kind(self, kind: str, limit: int = 1000) -> list[bytes]:
        """The newest raw envelopes of ``kind`` in the index (each once)."""
        rows = await self.db.fetchall(
            "SELECT e.raw FROM envelopes e WHERE e.rowid IN"
            f" (SELECT e.rowid FROM envelope_refs r JOIN envelopes e ON {_HELD_REF} WHERE r.kind = ?)"
            " ORDER BY e.rowid DESC LIMIT ?",
            (kind, limit),
        )
        return [bytes(r[0]) for r in rows]

    async def referring_by(self, ref: bytes, kind: str, author: bytes) -> list[bytes]:
        """The raw envelopes of ``kind`` by ``author`` that refer to ``ref``, in sequence order."""
        rows = await self.db.fetchall(
            f"SELECT e.raw FROM envelope_refs r JOIN envelopes e ON {_HELD_REF}"
            " WHERE r.ref = ? AND r.kind = ? AND r.author = ? ORDER BY r.seq",
            (ref, kind, author),
        )
        return [bytes(r[0]) for r in rows]

    async def many(self, ids: Iterable[bytes]) -> dict[bytes, bytes]:
        """Raw envelopes by id (those held)."""
        return await EnvelopeStore(self.db).many(ids)

    async def latest_before(self, kind: str, authors: Iterable[bytes], created: int) -> dict[bytes, bytes]:
        """Each author's latest envelope of ``kind`` signed at or before ``created``."""
        wanted = list(dict.fromkeys(authors))
        out: dict[bytes, bytes] = {}
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            rows = await self.db.fetchall(
                "SELECT e.author, e.raw FROM envelopes e JOIN (SELECT author, MAX(seq) AS seq FROM envelopes"
                f" WHERE kind = ? AND created <= ? AND author IN ({', '.join('?' for _ in part)}) GROUP BY author) m"
                " ON e.author = m.author AND e.seq = m.seq",
                (kind, created, *part),
            )
            out.update((bytes(r[0]), bytes(r[1])) for r in rows)
        return out

    async def save_recount(self, aggregate: bytes, item: bytes, author: bytes, checked_at: int,
                           findings: list[dict[str, str]]) -> None:  # fmt: skip
        async with self.db.write("upward.save_recount") as conn:
            await conn.execute(
                "INSERT INTO recounts (aggregate, item, author, checked_at, findings) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (aggregate) DO UPDATE SET checked_at = excluded.checked_at, findings = excluded.findings",
                (aggregate, item, author, checked_at, json.dumps(findings)),
            )

    async def recounts(
        self, only_flagged: bool = False, limit: int = 200
    ) -> list[tuple[bytes, bytes, bytes, int, list[dict[str, str]]]]:
        """(aggregate, item, author, checked_at, findings), latest checked first."""
        rows = await self.db.fetchall(
            "SELECT aggregate, item, author, checked_at, findings FROM recounts"
            + (" WHERE findings != '[]'" if only_flagged else "")
            + " ORDER BY checked_at DESC LIMIT ?",
            (limit,),
        )
        return [(bytes(r[0]), bytes(r[1]), bytes(r[2]), int(r[3]), json.loads(r[4])) for r in rows]
