"""Acts of power put to the members: the act each such ballot decides, and what became of it
(migration 0014; node/federation/authority.py signs the act once its ballot is carried)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import aiosqlite

from node.storage.db import Database

_COLUMNS = "a.ballot_id, a.kind, a.body, a.proposed_by, a.state, a.signed, b.text"
_FROM = "acts a JOIN ballots b ON b.id = a.ballot_id"


@dataclass(frozen=True)
class ActRow:
    ballot_id: int
    kind: str  # charter, revocation
    body: bytes  # the act, canonical msgpack, without its decision
    proposed_by: int | None
    state: str  # voting, signed, lost, void (what was voted on is not the act held: nothing signed)
    signed: bytes | None  # the signed act's envelope id
    text: str  # what the members vote on: the act's canonical description (its ballot's text)


def _row(r: sqlite3.Row) -> ActRow:
    return ActRow(r["ballot_id"], r["kind"], bytes(r["body"]), r["proposed_by"], r["state"],
                  None if r["signed"] is None else bytes(r["signed"]), r["text"])  # fmt: skip


class ActStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def for_ballot(self, ballot_id: int) -> ActRow | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM {_FROM} WHERE a.ballot_id = ?", (ballot_id,))
        return _row(row) if row is not None else None

    async def unsettled(self) -> list[tuple[int, bytes]]:
        """Acts still marked voting whose ballot has closed with a decision (a close cut short
        before the act was signed): (ballot id, decision id)."""
        rows = await self.db.fetchall(
            "SELECT a.ballot_id, b.decision FROM acts a JOIN ballots b ON b.id = a.ballot_id"
            " WHERE a.state = 'voting' AND b.state = 'closed' AND b.decision IS NOT NULL ORDER BY a.ballot_id"
        )
        return [(int(r[0]), bytes(r[1])) for r in rows]

    async def recent(self, limit: int = 50) -> list[ActRow]:
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM {_FROM} ORDER BY a.ballot_id DESC LIMIT ?", (limit,))
        return [_row(r) for r in rows]

    async def settle(self, ballot_id: int, state: str, signed: bytes | None = None) -> bool:
        """The act's ballot closed: ``signed`` (with the act's id), ``lost``, or ``void`` (the
        text voted on is not the act's); once (False: settled already). A join request the
        ballot decided is answered in the same transaction: approved with the charter, or
        refused."""
        async with self.db.write("acts.settle") as conn:
            cursor = await conn.execute(
                "UPDATE acts SET state = ?, signed = ? WHERE ballot_id = ? AND state = 'voting'",
                (state, signed, ballot_id),
            )
            await conn.execute(
                "UPDATE joins SET status = ?, charter_id = ? WHERE ballot_id = ? AND status = 'voting'",
                ("approved" if state == "signed" else "refused", signed, ballot_id),
            )
            return cursor.rowcount == 1


@dataclass(frozen=True)
class RuleChangeRow:
    item: bytes  # the agenda item that puts it to the children
    rules: bytes  # the proposed rules, canonical msgpack
    proposed_by: int | None
    state: str  # open, signed, refused
    why: str  # refused: why
    signed: bytes | None  # the signed rules_change's envelope id


class RuleChangeStore:
    """Changes of the rules put to the founding body's children (migration 0015)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    async def add_in(conn: aiosqlite.Connection, item: bytes, rules: bytes, proposed_by: int | None) -> None:
        """Written in the transaction that stores the item (node/federation/rules_change.py):
        a crash keeps both or neither."""
        await conn.execute("INSERT INTO rule_changes (item, rules, proposed_by) VALUES (?, ?, ?)",
                           (item, rules, proposed_by))  # fmt: skip

    async def get(self, item: bytes) -> RuleChangeRow | None:
        row = await self.db.fetchone("SELECT * FROM rule_changes WHERE item = ?", (item,))
        return RuleChangeRow(**dict(row)) if row is not None else None

    async def open(self) -> list[RuleChangeRow]:
        return [RuleChangeRow(**dict(r)) for r in await self.db.fetchall(
            "SELECT * FROM rule_changes WHERE state = 'open' ORDER BY rowid")]  # fmt: skip

    async def recent(self, limit: int = 50) -> list[RuleChangeRow]:
        return [RuleChangeRow(**dict(r)) for r in await self.db.fetchall(
            "SELECT * FROM rule_changes ORDER BY rowid DESC LIMIT ?", (limit,))]  # fmt: skip

    async def settle(self, item: bytes, state: str, why: str = "", signed: bytes | None = None) -> bool:
        """Signed (with its envelope id) or refused (why); once (False: settled already)."""
        async with self.db.write("rule_changes.settle") as conn:
            cursor = await conn.execute(
                "UPDATE rule_changes SET state = ?, why = ?, signed = ? WHERE item = ? AND state = 'open'",
                (state, why, signed, item),
            )
            return cursor.rowcount == 1
