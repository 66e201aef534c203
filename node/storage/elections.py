"""Candidacies: members standing in a contest (a branch's delegate election, or a body's
selection), each with the name they stand under, their statement and when they consented.
A candidacy is written by the member themselves: it is their consent."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from node.storage.db import Database

_COLUMNS = "contest, member_id, name, statement, category, consented, nomination, consent_key, consent"


@dataclass(frozen=True)
class Candidacy:
    contest: str
    member_id: int
    name: str
    statement: str
    category: str
    consented: int
    nomination: bytes | None
    consent_key: bytes | None = None  # their own key's signature of their consent (a selection's candidacy)
    consent: bytes | None = None  # protocol.member_keys.MemberSignature, canonical msgpack


def _blob(value: bytes | None) -> bytes | None:
    return bytes(value) if value is not None else None


def _row(r: sqlite3.Row) -> Candidacy:
    return Candidacy(r["contest"], r["member_id"], r["name"], r["statement"], r["category"], r["consented"],
                     _blob(r["nomination"]), _blob(r["consent_key"]), _blob(r["consent"]))  # fmt: skip


class CandidacyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def stand(self, candidacy: Candidacy) -> None:
        """Stand (or restate the statement); a candidacy already nominated keeps its name and
        its signed consent (the nomination carries them), else both are as given now."""
        async with self.db.write("candidacies.stand") as conn:
            await conn.execute(
                "INSERT INTO candidacies (contest, member_id, name, statement, category, consented, consent_key,"
                " consent) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (contest, member_id) DO UPDATE SET"
                " statement = excluded.statement, category = excluded.category, consented = excluded.consented,"
                " name = CASE WHEN nomination IS NULL THEN excluded.name ELSE name END,"
                " consent_key = CASE WHEN nomination IS NULL THEN excluded.consent_key ELSE consent_key END,"
                " consent = CASE WHEN nomination IS NULL THEN excluded.consent ELSE consent END",
                (candidacy.contest, candidacy.member_id, candidacy.name, candidacy.statement, candidacy.category,
                 candidacy.consented, candidacy.consent_key, candidacy.consent),
            )  # fmt: skip

    async def withdraw(self, contest: str, member_id: int) -> bool:
        async with self.db.write("candidacies.withdraw") as conn:
            cursor = await conn.execute(
                "DELETE FROM candidacies WHERE contest = ? AND member_id = ? AND nomination IS NULL",
                (contest, member_id),
            )
            return bool(cursor.rowcount)

    async def of(self, contest: str) -> list[Candidacy]:
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM candidacies WHERE contest = ? ORDER BY name, member_id", (contest,)
        )
        return [_row(r) for r in rows]

    async def get(self, contest: str, member_id: int) -> Candidacy | None:
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM candidacies WHERE contest = ? AND member_id = ?", (contest, member_id)
        )
        return _row(row) if row else None

    async def mark_nominated(self, contest: str, member_id: int, nomination: bytes) -> bool:
        """Record the signed nomination, once: False when another officer got there first."""
        async with self.db.write("candidacies.nominated") as conn:
            cursor = await conn.execute(
                "UPDATE candidacies SET nomination = ? WHERE contest = ? AND member_id = ? AND nomination IS NULL",
                (nomination, contest, member_id),
            )
            return bool(cursor.rowcount)
