"""Motions, amendments and debate comments: local to the body (nothing here is published).

State changes are compare-and-set: each names the states it may start from and happens in
one transaction with that check, so two officers acting at once cannot both move a motion.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.errors import Conflict, NotFound, Throttled
from node.storage.db import Database

# Per member, checked in the transaction that would add one more (docs/operating.md, limits).
MAX_WAITING_MOTIONS = 20  # drafts and submitted motions not yet decided on
MAX_OPEN_AMENDMENTS = 20  # proposed amendments to one motion
MAX_COMMENTS_PER_DAY = 100


@dataclass(frozen=True)
class MotionRow:
    id: int
    title: str
    text: str
    current: str
    proposer_id: int | None
    for_body: bytes
    deadline: int | None
    state: str
    reason: str
    ballot_id: int | None
    created_at: int
    updated_at: int
    signed_key: bytes | None = None  # the key its mover signed moving it with (None: not signed)
    signature: bytes | None = None  # protocol.member_keys.MemberSignature, canonical msgpack


@dataclass(frozen=True)
class AmendmentRow:
    id: int
    motion_id: int
    proposer_id: int | None
    paragraph: int
    start: int
    end: int
    original: str
    replacement: str
    state: str
    ballot_id: int | None
    created_at: int
    signed_key: bytes | None = None  # the key its mover signed moving it with (None: not signed)
    signature: bytes | None = None


@dataclass(frozen=True)
class CommentRow:
    id: int
    motion_id: int
    member_id: int | None
    text: str
    created_at: int


_MOTION = ("id, title, text, current, proposer_id, for_body, deadline, state, reason, ballot_id, created_at,"
           " updated_at, signed_key, signature")
_AMENDMENT = ("id, motion_id, proposer_id, paragraph, start, end, original, replacement, state, ballot_id, created_at,"
              " signed_key, signature")
Signed = tuple[bytes, bytes] | None  # (the key's id, the signature): a mover's own signature


def _count(row: sqlite3.Row | None) -> int:
    return int(row[0]) if row else 0


def _motion(r: sqlite3.Row) -> MotionRow:
    return MotionRow(
        id=r["id"], title=r["title"], text=r["text"], current=r["current"], proposer_id=r["proposer_id"],
        for_body=bytes(r["for_body"]), deadline=r["deadline"], state=r["state"], reason=r["reason"],
        ballot_id=r["ballot_id"], created_at=r["created_at"], updated_at=r["updated_at"],
        signed_key=_blob(r["signed_key"]), signature=_blob(r["signature"]),
    )  # fmt: skip


def _blob(value: bytes | None) -> bytes | None:
    return bytes(value) if value is not None else None


def _amendment(r: sqlite3.Row) -> AmendmentRow:
    return AmendmentRow(r["id"], r["motion_id"], r["proposer_id"], r["paragraph"], r["start"], r["end"], r["original"],
                        r["replacement"], r["state"], r["ballot_id"], r["created_at"], _blob(r["signed_key"]),
                        _blob(r["signature"]))  # fmt: skip


class MotionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, title: str, text: str, proposer_id: int, for_body: bytes, deadline: int | None,
                  state: str, signed: Signed = None) -> MotionRow:  # fmt: skip
        now = int(time.time())
        async with self.db.write("motions.add") as conn:
            async with conn.execute(
                "SELECT COUNT(*) FROM motions WHERE proposer_id = ? AND state IN ('draft', 'submitted')", (proposer_id,)
            ) as cursor:
                if _count(await cursor.fetchone()) >= MAX_WAITING_MOTIONS:
                    raise Conflict(f"you have {MAX_WAITING_MOTIONS} motions waiting; withdraw one or wait for "
                                   "officers to decide on them", code="too_many")  # fmt: skip
            cursor = await conn.execute(
                "INSERT INTO motions (title, text, current, proposer_id, for_body, deadline, state, created_at,"
                " updated_at, signed_key, signature) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (title, text, text, proposer_id, for_body, deadline, state, now, now, *(signed or (None, None))),
            )
        return await self.require(int(cursor.lastrowid or 0))

    async def get(self, motion_id: int) -> MotionRow | None:
        row = await self.db.fetchone(f"SELECT {_MOTION} FROM motions WHERE id = ?", (motion_id,))
        return _motion(row) if row else None

    async def require(self, motion_id: int) -> MotionRow:
        found = await self.get(motion_id)
        if found is None:
            raise NotFound(f"no motion {motion_id}")
        return found

    async def recent(self, limit: int = 100) -> list[MotionRow]:
        rows = await self.db.fetchall(f"SELECT {_MOTION} FROM motions ORDER BY id DESC LIMIT ?", (limit,))
        return [_motion(r) for r in rows]

    async def move(self, motion_id: int, from_states: tuple[str, ...], to_state: str, **fields: Any) -> MotionRow:
        """Move a motion from one of ``from_states`` to ``to_state`` (and set ``fields``), or
        Conflict naming the state it is in."""
        async with self.db.write("motions.move") as conn:
            await _move(conn, "motions", motion_id, from_states, to_state, {**fields, "updated_at": int(time.time())})
        return await self.require(motion_id)

    async def add_amendment(self, motion_id: int, proposer_id: int, paragraph: int, start: int, end: int,
                            original: str, replacement: str, open_states: tuple[str, ...],
                            signed: Signed = None) -> AmendmentRow:  # fmt: skip
        """A new amendment, if the motion is in one of ``open_states`` (checked together)."""
        async with self.db.write("motions.add_amendment") as conn:
            async with conn.execute("SELECT state FROM motions WHERE id = ?", (motion_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise NotFound(f"no motion {motion_id}")
            if row[0] not in open_states:
                raise Conflict(f"the motion is {row[0]}: it takes no amendments now", code="wrong_state")
            async with conn.execute(
                "SELECT COUNT(*) FROM amendments WHERE motion_id = ? AND proposer_id = ? AND state = 'proposed'",
                (motion_id, proposer_id),
            ) as cursor:
                if _count(await cursor.fetchone()) >= MAX_OPEN_AMENDMENTS:
                    raise Conflict(f"you have {MAX_OPEN_AMENDMENTS} amendments to this motion waiting",
                                   code="too_many")  # fmt: skip
            cursor = await conn.execute(
                "INSERT INTO amendments (motion_id, proposer_id, paragraph, start, end, original, replacement,"
                " state, created_at, signed_key, signature) VALUES (?, ?, ?, ?, ?, ?, ?, 'proposed', ?, ?, ?)",
                (motion_id, proposer_id, paragraph, start, end, original, replacement, int(time.time()),
                 *(signed or (None, None))),
            )
        return await self.require_amendment(int(cursor.lastrowid or 0))

    async def get_amendment(self, amendment_id: int) -> AmendmentRow | None:
        row = await self.db.fetchone(f"SELECT {_AMENDMENT} FROM amendments WHERE id = ?", (amendment_id,))
        return _amendment(row) if row else None

    async def require_amendment(self, amendment_id: int) -> AmendmentRow:
        found = await self.get_amendment(amendment_id)
        if found is None:
            raise NotFound(f"no amendment {amendment_id}")
        return found

    async def amendments(self, motion_id: int) -> list[AmendmentRow]:
        rows = await self.db.fetchall(
            f"SELECT {_AMENDMENT} FROM amendments WHERE motion_id = ? ORDER BY id", (motion_id,)
        )
        return [_amendment(r) for r in rows]

    async def move_amendment(self, amendment_id: int, from_states: tuple[str, ...], to_state: str,
                             **fields: Any) -> AmendmentRow:  # fmt: skip
        async with self.db.write("motions.move_amendment") as conn:
            await _move(conn, "amendments", amendment_id, from_states, to_state, fields)
        return await self.require_amendment(amendment_id)

    async def fold(
        self,
        amendment_id: int,
        from_states: tuple[str, ...],
        to_state: str,
        motion_states: tuple[str, ...],
        apply: Callable[[str, AmendmentRow], str | None],
    ) -> AmendmentRow:
        """Fold an amendment into its motion's text: read the text, ``apply`` it, and write the
        result with the amendment's new state, in one transaction (two amendments folded at
        once cannot each overwrite the other's change). The amendment falls when ``apply``
        gives None; the motion must be in one of ``motion_states``."""
        async with self.db.write("motions.fold") as conn:
            async with conn.execute(f"SELECT {_AMENDMENT} FROM amendments WHERE id = ?", (amendment_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise NotFound(f"no amendment {amendment_id}")
            amendment = _amendment(row)
            async with conn.execute(
                "SELECT state, current FROM motions WHERE id = ?", (amendment.motion_id,)
            ) as cursor:
                motion = await cursor.fetchone()
            if motion is None:
                raise NotFound(f"no motion {amendment.motion_id}")
            if motion["state"] not in motion_states:
                raise Conflict(f"the motion is {motion['state']}: its amendments are settled", code="wrong_state")
            changed = apply(motion["current"], amendment)
            await _move(conn, "amendments", amendment_id, from_states, "fell" if changed is None else to_state, {})
            if changed is not None:
                await conn.execute(
                    "UPDATE motions SET current = ?, updated_at = ? WHERE id = ?",
                    (changed, int(time.time()), amendment.motion_id),
                )
        return await self.require_amendment(amendment_id)

    async def start_vote(self, motion_id: int, from_states: tuple[str, ...], undecided: tuple[str, ...]) -> None:
        """Move a motion to ``voting``, in one transaction with the check that no amendment
        is still undecided (none can be proposed in between)."""
        async with self.db.write("motions.start_vote") as conn:
            async with conn.execute(
                "SELECT id FROM amendments WHERE motion_id = ? AND state IN (" + ",".join("?" * len(undecided)) + ")",
                (motion_id, *undecided),
            ) as cursor:
                pending = [int(r[0]) for r in await cursor.fetchall()]
            if pending:
                raise Conflict(f"amendments {', '.join(map(str, pending))} are voted on before the motion",
                               code="wrong_state")  # fmt: skip
            await _move(conn, "motions", motion_id, from_states, "voting", {"updated_at": int(time.time())})

    async def by_ballot(self, ballot_id: int) -> tuple[MotionRow | None, AmendmentRow | None]:
        motion = await self.db.fetchone(f"SELECT {_MOTION} FROM motions WHERE ballot_id = ?", (ballot_id,))
        amendment = await self.db.fetchone(f"SELECT {_AMENDMENT} FROM amendments WHERE ballot_id = ?", (ballot_id,))
        return (_motion(motion) if motion else None), (_amendment(amendment) if amendment else None)

    async def comment(self, motion_id: int, member_id: int, text: str) -> CommentRow:
        now = int(time.time())
        async with self.db.write("motions.comment") as conn:
            async with conn.execute(
                "SELECT COUNT(*) FROM motion_comments WHERE member_id = ? AND created_at > ?",
                (member_id, now - 86_400),
            ) as cursor:
                if _count(await cursor.fetchone()) >= MAX_COMMENTS_PER_DAY:
                    raise Throttled(f"at most {MAX_COMMENTS_PER_DAY} comments a day", retry_after=3600)
            cursor = await conn.execute(
                "INSERT INTO motion_comments (motion_id, member_id, text, created_at) VALUES (?, ?, ?, ?)",
                (motion_id, member_id, text, int(time.time())),
            )
        return CommentRow(int(cursor.lastrowid or 0), motion_id, member_id, text, int(time.time()))

    async def comments(self, motion_id: int) -> list[CommentRow]:
        rows = await self.db.fetchall(
            "SELECT id, motion_id, member_id, text, created_at FROM motion_comments WHERE motion_id = ? ORDER BY id",
            (motion_id,),
        )
        return [CommentRow(*tuple(r)) for r in rows]


async def _move(conn: Any, table: str, row_id: int, from_states: tuple[str, ...], to_state: str,
                fields: dict[str, Any]) -> None:  # fmt: skip
    async with conn.execute(f"SELECT state FROM {table} WHERE id = ?", (row_id,)) as cursor:
        row = await cursor.fetchone()
    what = table.rstrip("s")
    if row is None:
        raise NotFound(f"no {what} {row_id}")
    if row[0] not in from_states:
        raise Conflict(f"the {what} is {row[0]}; this needs it {' or '.join(from_states)}", code="wrong_state")
    sets = ", ".join(f"{k} = ?" for k in ["state", *fields])
    await conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?", (to_state, *fields.values(), row_id))
