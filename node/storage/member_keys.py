"""Members' own keys: the public half of each member's passkeys and key files, and the one
pending passkey registration per member (migration 0017; node/rules/member_keys.py)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import msgspec

from node.errors import Conflict, NotFound
from node.storage.db import Database
from protocol.encoding import encode
from protocol.member_keys import MemberKey, key_id
from protocol.models_keys import MAX_MEMBER_KEYS

MAX_KEYS = MAX_MEMBER_KEYS  # keys in force per member: a phone, a laptop, a key file, and some to spare
CHALLENGE_S = 300  # a passkey registration's challenge is good for five minutes


@dataclass(frozen=True)
class KeyRow:
    id: int
    member_id: int
    key: MemberKey
    key_id: bytes
    credential: bytes | None
    label: str
    sign_count: int
    added_at: int
    revoked_at: int | None


def _row(r: sqlite3.Row) -> KeyRow:
    return KeyRow(r["id"], r["member_id"], msgspec.msgpack.decode(r["key"], type=MemberKey), bytes(r["key_id"]),
                  None if r["credential"] is None else bytes(r["credential"]), r["label"], r["sign_count"],
                  r["added_at"], r["revoked_at"])  # fmt: skip


class MemberKeyStore:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def add(self, member_id: int, key: MemberKey, label: str, credential: bytes | None = None,
                  sign_count: int = 0) -> KeyRow:  # fmt: skip
        """A key for ``member_id``: refused (409) past :data:`MAX_KEYS` in force, or when it is
        held already (by this member or another: a key is one member's), checked in the same
        transaction as the write."""
        now = int(self.clock())
        async with self.db.write("member_keys.add") as conn:
            async with conn.execute(
                "SELECT COUNT(*) FROM member_keys WHERE member_id = ? AND revoked_at IS NULL", (member_id,)
            ) as cursor:
                row = await cursor.fetchone()
            if row is not None and int(row[0]) >= MAX_KEYS:
                raise Conflict(f"a member holds at most {MAX_KEYS} keys: revoke one first", code="too_many")
            try:
                cursor = await conn.execute(
                    "INSERT INTO member_keys (member_id, key, key_id, credential, label, sign_count, added_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (member_id, encode(key), key_id(key), credential, label, sign_count, now),
                )
            except sqlite3.IntegrityError:
                raise Conflict("that key is held here already", code="key_held") from None
            new_id = int(cursor.lastrowid or 0)
            await conn.execute("DELETE FROM key_challenges WHERE member_id = ?", (member_id,))
        return await self.get(member_id, new_id)

    async def get(self, member_id: int, key_row: int) -> KeyRow:
        row = await self.db.fetchone("SELECT * FROM member_keys WHERE id = ? AND member_id = ?", (key_row, member_id))
        if row is None:
            raise NotFound(f"no key {key_row} of yours")
        return _row(row)

    async def of(self, member_id: int, *, revoked: bool = True) -> list[KeyRow]:
        where = "" if revoked else " AND revoked_at IS NULL"
        rows = await self.db.fetchall(f"SELECT * FROM member_keys WHERE member_id = ?{where} ORDER BY id", (member_id,))
        return [_row(r) for r in rows]

    async def in_force(self, members: Iterable[int]) -> dict[int, list[MemberKey]]:
        """Each of ``members``' keys in force now (members without one are left out)."""
        wanted = sorted(set(members))
        out: dict[int, list[MemberKey]] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = await self.db.fetchall(
                f"SELECT member_id, key FROM member_keys WHERE revoked_at IS NULL AND member_id IN"
                f" ({','.join('?' * len(chunk))}) ORDER BY id",
                chunk,
            )
            for r in rows:
                out.setdefault(int(r[0]), []).append(msgspec.msgpack.decode(r[1], type=MemberKey))
        return out

    async def by_credential(self, credential: bytes) -> KeyRow | None:
        row = await self.db.fetchone("SELECT * FROM member_keys WHERE credential = ?", (credential,))
        return _row(row) if row is not None else None

    async def revoke(self, member_id: int, key_row: int) -> KeyRow:
        """Revoke one of the member's keys: it signs nothing more here (once; 404 if not theirs)."""
        async with self.db.write("member_keys.revoke") as conn:
            cursor = await conn.execute(
                "UPDATE member_keys SET revoked_at = ? WHERE id = ? AND member_id = ? AND revoked_at IS NULL",
                (int(self.clock()), key_row, member_id),
            )
            if cursor.rowcount != 1:
                async with conn.execute(
                    "SELECT revoked_at FROM member_keys WHERE id = ? AND member_id = ?", (key_row, member_id)
                ) as found:
                    if await found.fetchone() is None:
                        raise NotFound(f"no key {key_row} of yours")
                raise Conflict(f"key {key_row} is revoked already", code="revoked")
        return await self.get(member_id, key_row)

    async def used(self, key_row: int, sign_count: int) -> bool:
        """A passkey signed with this counter (WebAuthn's clone detection): moved forward, or
        False when it is not above the last one kept (checked and written in one statement)."""
        async with self.db.write("member_keys.used") as conn:
            cursor = await conn.execute("UPDATE member_keys SET sign_count = ? WHERE id = ? AND sign_count < ?",
                                        (sign_count, key_row, sign_count))  # fmt: skip
            return bool(cursor.rowcount)

    async def new_challenge(self, member_id: int, challenge: bytes) -> None:
        async with self.db.write("member_keys.challenge") as conn:
            await conn.execute(
                "INSERT INTO key_challenges (member_id, challenge, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (member_id) DO UPDATE SET challenge = excluded.challenge,"
                " expires_at = excluded.expires_at",
                (member_id, challenge, int(self.clock()) + CHALLENGE_S),
            )

    async def take_challenge(self, member_id: int) -> bytes | None:
        """The member's pending registration challenge, once (None: none, or expired)."""
        async with self.db.write("member_keys.take_challenge") as conn, conn.execute(
            "DELETE FROM key_challenges WHERE member_id = ? RETURNING challenge, expires_at", (member_id,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None or int(row[1]) <= int(self.clock()):
            return None
        return bytes(row[0])


@dataclass(frozen=True)
class Scrutineer:
    member_id: int
    name: str
    appointed_by: int | None
    appointed_at: int


class ScrutineerStore:
    """The members the branch appoints to check each ballot's marked register."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def all(self) -> list[Scrutineer]:
        rows = await self.db.fetchall(
            "SELECT s.member_id, m.name, s.appointed_by, s.appointed_at FROM scrutineers s"
            " JOIN members m ON m.id = s.member_id ORDER BY m.name"
        )
        return [Scrutineer(int(r[0]), r[1], r[2], int(r[3])) for r in rows]

    async def has(self, member_id: int) -> bool:
        return await self.db.fetchone("SELECT 1 FROM scrutineers WHERE member_id = ?", (member_id,)) is not None

    async def appoint(self, member_id: int, by: int | None) -> None:
        async with self.db.write("scrutineers.appoint") as conn:
            try:
                await conn.execute("INSERT INTO scrutineers (member_id, appointed_by, appointed_at) VALUES (?, ?, ?)",
                                   (member_id, by, int(self.clock())))  # fmt: skip
            except sqlite3.IntegrityError:
                raise Conflict("that member is a scrutineer already, or is not a member", code="already") from None

    async def dismiss(self, member_id: int) -> None:
        async with self.db.write("scrutineers.dismiss") as conn:
            cursor = await conn.execute("DELETE FROM scrutineers WHERE member_id = ?", (member_id,))
            if cursor.rowcount != 1:
                raise NotFound(f"member {member_id} is not a scrutineer")
