"""Members: the branch's personal data. Local only: nothing here ever enters an envelope.

Types are parsed at the boundary (API bodies, CSV rows, CLI arguments) into
:class:`MemberIn` / :class:`MemberPatch`; :class:`MemberStore` trusts them. Every store
method is one named transaction.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from node.errors import Conflict, NotFound
from node.storage.db import Database

Role = Literal["member", "secretary", "chair", "treasurer", "officer", "admin"]
ROLES: tuple[str, ...] = ("member", "secretary", "chair", "treasurer", "officer", "admin")
OFFICER_ROLES = frozenset({"secretary", "chair", "treasurer", "officer"})
Status = Literal["active", "lapsed", "suspended"]
STATUSES: tuple[str, ...] = ("active", "lapsed", "suspended")

# Names are shown in terminals and pages: no control characters (C0, DEL, C1: ANSI escapes
# start with ESC or CSI) and no bidirectional overrides (they make text read backwards), and
# at least one character that is not a space.
_NOT_IN_NAMES = r"\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
Name = Annotated[
    str,
    Meta(min_length=1, max_length=200, pattern=rf"^[^{_NOT_IN_NAMES}]*[^\s{_NOT_IN_NAMES}][^{_NOT_IN_NAMES}]*\Z"),
]
Email = Annotated[str, Meta(max_length=254, pattern=r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+\Z")]


class MemberIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A new member, as given by an officer, a CSV row or the CLI."""

    name: Name
    email: Email
    role: Role = "member"
    youth: bool = False
    status: Status = "active"
    joined: dt.date | None = None  # today when not given
    consent_contact: bool = False
    consent_publish_name: bool = False

    def __post_init__(self) -> None:
        self.email = self.email.lower()
        self.name = self.name.strip()


class MemberPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A change to a member; fields left out stay as they are."""

    name: Name | UnsetType = UNSET
    email: Email | UnsetType = UNSET
    role: Role | UnsetType = UNSET
    youth: bool | UnsetType = UNSET
    status: Status | UnsetType = UNSET
    joined: dt.date | UnsetType = UNSET
    consent_contact: bool | UnsetType = UNSET
    consent_publish_name: bool | UnsetType = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.email, str):
            self.email = self.email.lower()
        if isinstance(self.name, str):
            self.name = self.name.strip()

    def changes(self) -> dict[str, Any]:
        return {f: v for f in self.__struct_fields__ if (v := getattr(self, f)) is not UNSET}


class Member(msgspec.Struct, kw_only=True):
    """A member as the API shows it (never the password hash)."""

    id: int
    name: str
    email: str
    role: Role
    youth: bool
    status: Status
    joined: dt.date
    consent_contact: bool
    consent_publish_name: bool
    has_login: bool


class MemberPage(msgspec.Struct):
    members: list[Member]
    total: int  # how many match, over all pages


MEMBER_COLUMNS = ", ".join(
    f"members.{c} AS {c}"
    for c in ("id", "name", "email", "role", "youth", "status", "joined", "consent_contact", "consent_publish_name",
              "password_hash")
)  # fmt: skip


def member_from_row(row: sqlite3.Row) -> Member:
    return Member(
        id=row["id"],
        name=row["name"],
        email=row["email"],
        role=row["role"],
        youth=bool(row["youth"]),
        status=row["status"],
        joined=dt.date.fromisoformat(row["joined"]),
        consent_contact=bool(row["consent_contact"]),
        consent_publish_name=bool(row["consent_publish_name"]),
        has_login=row["password_hash"] is not None,
    )


def _values(m: MemberIn, today: dt.date, now: int) -> tuple[Any, ...]:
    joined = (m.joined or today).isoformat()
    return (m.name, m.email, m.role, int(m.youth), m.status, joined, int(m.consent_contact),
            int(m.consent_publish_name), now, now)  # fmt: skip


_INSERT = (
    "INSERT INTO members (id, name, email, role, youth, status, joined, consent_contact, consent_publish_name,"
    " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_HIGH = "member_id_high"  # meta: the highest member id ever given or removed


async def _next_id(conn: Any) -> int:
    """A member id never used before, even by a member since removed: logs and exports name
    people by id, so an id must not come to mean someone else."""
    async with conn.execute("SELECT COALESCE(MAX(id), 0) FROM members") as cursor:
        row = await cursor.fetchone()
    async with conn.execute("SELECT value FROM meta WHERE key = ?", (_HIGH,)) as cursor:
        high = await cursor.fetchone()
    new = max(int(row[0]), int(high[0]) if high else 0) + 1
    await _remember(conn, new)
    return new


async def _remember(conn: Any, member_id: int) -> None:
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = MAX(value, excluded.value)",
        (_HIGH, member_id),
    )


LAST_ADMIN = "this is the last active admin; make another admin first"


async def _keeps_an_admin(conn: Any, member_id: int, role: str | None, status: str | None, removing: bool) -> None:
    """Inside a write transaction, before changing ``member_id``: refuse (Conflict) a change that
    would leave no active admin. Being in the transaction (BEGIN IMMEDIATE) is what makes two
    admins demoting themselves at once safe: the second one sees the first one's change."""
    async with conn.execute("SELECT role, status FROM members WHERE id = ?", (member_id,)) as cursor:
        row = await cursor.fetchone()
    if row is None or row[0] != "admin" or row[1] != "active":
        return
    if not removing and (role or row[0]) == "admin" and (status or row[1]) == "active":
        return
    async with conn.execute(
        "SELECT COUNT(*) FROM members WHERE role = 'admin' AND status = 'active' AND id != ?", (member_id,)
    ) as cursor:
        others = await cursor.fetchone()
    if others is None or int(others[0]) == 0:
        raise Conflict(LAST_ADMIN, field="role" if not removing else None)


class MemberStore:
    """Member records in the node database. The last-admin rule lives here, inside the
    transactions that change roles, statuses and memberships, so every caller (API, CLI,
    CSV import) obeys it."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, member: MemberIn) -> Member:
        today, now = dt.date.today(), int(time.time())
        async with self.db.write("members.add") as conn:
            try:
                member_id = await _next_id(conn)
                await conn.execute(_INSERT, (member_id, *_values(member, today, now)))
            except sqlite3.IntegrityError:
                raise Conflict(f"{member.email} is already a member", field="email") from None
        found = await self.get(int(member_id or 0))
        assert found is not None
        return found

    async def import_all(self, members: list[tuple[int, MemberIn]], *, skip_existing: bool = False) -> list[str]:
        """Add every member in one transaction, or none.

        A clash with an existing email aborts the whole import naming the CSV line, unless
        ``skip_existing``: then those rows are skipped and listed in the returned notes."""
        today, now = dt.date.today(), int(time.time())
        skipped: list[str] = []
        async with self.db.write("members.import_all") as conn:
            for line, member in members:
                try:
                    await conn.execute(_INSERT, (await _next_id(conn), *_values(member, today, now)))
                except sqlite3.IntegrityError:
                    if not skip_existing:
                        raise Conflict(f"line {line}: {member.email} is already a member", field="email") from None
                    skipped.append(f"line {line}: {member.email} is already a member (column email)")
        return skipped

    async def get(self, member_id: int) -> Member | None:
        row = await self.db.fetchone(f"SELECT {MEMBER_COLUMNS} FROM members WHERE id = ?", (member_id,))
        return member_from_row(row) if row else None

    async def require(self, member_id: int) -> Member:
        member = await self.get(member_id)
        if member is None:
            raise NotFound(f"no member {member_id}")
        return member

    async def login_record(self, email: str) -> tuple[Member, str | None] | None:
        """The member with this email and their password hash, for signing in."""
        row = await self.db.fetchone(f"SELECT {MEMBER_COLUMNS} FROM members WHERE email = ?", (email.strip().lower(),))
        return (member_from_row(row), row["password_hash"]) if row else None

    async def list(self, status: str | None = None) -> list[Member]:
        if status is None:
            rows = await self.db.fetchall(f"SELECT {MEMBER_COLUMNS} FROM members ORDER BY name, id")
        else:
            rows = await self.db.fetchall(
                f"SELECT {MEMBER_COLUMNS} FROM members WHERE status = ? ORDER BY name, id", (status,)
            )
        return [member_from_row(r) for r in rows]

    async def page(self, search: str = "", status: str | None = None, offset: int = 0, limit: int = 50) -> MemberPage:
        """Members whose name or email contains ``search`` (case-insensitive for ASCII), by
        name, ``limit`` from ``offset``; with the number that match in all."""
        where, args = ["1"], []
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\')")
            args += [pattern, pattern]
        if status is not None:
            where.append("status = ?")
            args.append(status)
        condition = " AND ".join(where)
        total = int((await self.db.fetchpage(f"SELECT COUNT(*) FROM members WHERE {condition}", args))[0][0])
        # The page's ids from the index (name, id) alone, then only those rows.
        rows = await self.db.fetchpage(
            f"SELECT {MEMBER_COLUMNS} FROM members WHERE id IN"
            f" (SELECT id FROM members WHERE {condition} ORDER BY name, id LIMIT ? OFFSET ?) ORDER BY name, id",
            (*args, limit, offset),
        )
        return MemberPage([member_from_row(r) for r in rows], total)

    async def version(self) -> int:
        """A number that moves whenever any member row changes (a trigger keeps it), also when
        the command line writes beside a running server."""
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = 'members_version'")
        return int(row[0]) if row else 0

    async def count(self) -> int:
        rows = await self.db.fetchall("SELECT COUNT(*) FROM members")  # a scan: not inline
        return int(rows[0][0])

    async def update(self, member_id: int, patch: MemberPatch) -> Member:
        changes = patch.changes()
        if changes:
            for key in ("youth", "consent_contact", "consent_publish_name"):
                if key in changes:
                    changes[key] = int(changes[key])
            if "joined" in changes:
                changes["joined"] = changes["joined"].isoformat()
            assignments = ", ".join(f"{k} = ?" for k in changes)
            async with self.db.write("members.update") as conn:
                await _keeps_an_admin(conn, member_id, changes.get("role"), changes.get("status"), removing=False)
                try:
                    cursor = await conn.execute(
                        f"UPDATE members SET {assignments}, updated_at = ? WHERE id = ?",
                        (*changes.values(), int(time.time()), member_id),
                    )
                except sqlite3.IntegrityError:
                    raise Conflict(f"{changes.get('email')} is already a member", field="email") from None
                if cursor.rowcount == 0:
                    raise NotFound(f"no member {member_id}")
        return await self.require(member_id)

    async def remove(self, member_id: int) -> None:
        async with self.db.write("members.remove") as conn:
            await _keeps_an_admin(conn, member_id, None, None, removing=True)
            await _remember(conn, member_id)
            cursor = await conn.execute("DELETE FROM members WHERE id = ?", (member_id,))
            if cursor.rowcount == 0:
                raise NotFound(f"no member {member_id}")
