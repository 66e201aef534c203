"""Logins in the database: sessions, API tokens, invites and password resets.

Their secrets are 32 random bytes shown once to their holder; only their SHA-256 is stored,
so a copy of the database cannot be used to log in."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.errors import BadInput, NotFound, Throttled
from node.storage import outbox
from node.storage.db import Database
from node.storage.members import MEMBER_COLUMNS, Member, MemberStore, member_from_row

SESSION_PREFIX, TOKEN_PREFIX, INVITE_PREFIX, RESET_PREFIX = "bns_", "bnt_", "bni_", "bnr_"
INVITES_PER_DAY = 5  # mailed to one member (by the one-member button; "everyone" invites each once)
DAY_S = 86_400

# The values of the mail that carries a link: given the link's secret and when it expires.
MailOf = Callable[[str, int], dict[str, Any]]


def new_secret(prefix: str) -> tuple[str, bytes]:
    """A fresh secret for its holder, and the hash to store."""
    token = prefix + secrets.token_urlsafe(32)
    return token, secret_hash(token)


def secret_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    created_at: int
    expires_at: int | None = None


class AuthStore:
    """Sessions, API tokens and invites in the node database."""

    def __init__(self, db: Database, members: MemberStore, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.members = members
        self.clock = clock

    async def _member_for(self, table: str, token: str, prefix: str) -> Member | None:
        if not token.startswith(prefix) or len(token) > 100:
            return None
        # API tokens may have no expiry (NULL): a NULL comparison is not true, hence the IS NULL.
        row = await self.db.fetchone(
            f"SELECT {MEMBER_COLUMNS} FROM {table} t JOIN members ON members.id = t.member_id"
            " WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)",
            (secret_hash(token), int(self.clock())),
        )
        return member_from_row(row) if row else None

    async def create_session(self, member_id: int, ttl_s: int) -> str:
        token, digest = new_secret(SESSION_PREFIX)
        now = int(self.clock())
        async with self.db.write("auth.create_session") as conn:
            await conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            await conn.execute(
                "INSERT INTO sessions (token_hash, member_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (digest, member_id, now, now + ttl_s),
            )
        return token

    async def session_member(self, token: str) -> Member | None:
        return await self._member_for("sessions", token, SESSION_PREFIX)

    async def end_session(self, token: str) -> None:
        async with self.db.write("auth.end_session") as conn:
            await conn.execute("DELETE FROM sessions WHERE token_hash = ?", (secret_hash(token),))

    async def change_password(self, member_id: int, password_hash: str) -> None:
        """Set a new password and end every session and API token of the member, together:
        whoever held the old password (or a token made with it) is out."""
        async with self.db.write("auth.change_password") as conn:
            cursor = await conn.execute(
                "UPDATE members SET password_hash = ?, updated_at = ? WHERE id = ?",
                (password_hash, int(self.clock()), member_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"no member {member_id}")
            await conn.execute("DELETE FROM sessions WHERE member_id = ?", (member_id,))
            await conn.execute("DELETE FROM api_tokens WHERE member_id = ?", (member_id,))

    async def create_token(self, member_id: int, name: str, ttl_s: int | None = None) -> tuple[ApiToken, str]:
        token, digest = new_secret(TOKEN_PREFIX)
        now = int(self.clock())
        expires = now + ttl_s if ttl_s is not None else None
        async with self.db.write("auth.create_token") as conn:
            cursor = await conn.execute(
                "INSERT INTO api_tokens (token_hash, member_id, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (digest, member_id, name, now, expires),
            )
            token_id = int(cursor.lastrowid or 0)
        return ApiToken(token_id, name, now, expires), token

    async def token_member(self, token: str) -> Member | None:
        return await self._member_for("api_tokens", token, TOKEN_PREFIX)

    async def list_tokens(self, member_id: int) -> list[ApiToken]:
        rows = await self.db.fetchall(
            "SELECT id, name, created_at, expires_at FROM api_tokens WHERE member_id = ? ORDER BY id", (member_id,)
        )
        return [ApiToken(r["id"], r["name"], r["created_at"], r["expires_at"]) for r in rows]

    async def delete_token(self, member_id: int, token_id: int) -> None:
        async with self.db.write("auth.delete_token") as conn:
            cursor = await conn.execute("DELETE FROM api_tokens WHERE id = ? AND member_id = ?", (token_id, member_id))
            if cursor.rowcount == 0:
                raise NotFound(f"no token {token_id}")

    async def create_invite(self, member_id: int, ttl_s: int, mail: MailOf | None = None) -> str:
        """A new invite (earlier ones stop working), the member marked invited, and with
        ``mail`` the mail that carries it queued, together. Refused (429 ``throttled``) once
        :data:`INVITES_PER_DAY` were mailed to the member in the last 24 hours, counted in that
        transaction: an officer's button must not become a way to flood a member's mailbox."""
        token, digest = new_secret(INVITE_PREFIX)
        now = int(self.clock())
        async with self.db.write("auth.create_invite") as conn:
            if mail is not None:
                async with conn.execute(
                    "SELECT created_at FROM outbox WHERE member_id = ? AND kind = 'invite' AND created_at > ?"
                    " ORDER BY created_at DESC LIMIT ?",
                    (member_id, now - DAY_S, INVITES_PER_DAY),
                ) as cursor:
                    recent = [int(r[0]) for r in await cursor.fetchall()]
                if len(recent) >= INVITES_PER_DAY:
                    raise Throttled(f"{INVITES_PER_DAY} invites were mailed to this member in the last 24 hours; the "
                                    "latest still works: ask them to look in their spam folder",
                                    retry_after=max(1, recent[-1] + DAY_S - now))  # fmt: skip
            await self._invite(conn, member_id, token, digest, now, ttl_s, mail)
        return token

    async def _invite(self, conn: Any, member_id: int, token: str, digest: bytes, now: int, ttl_s: int,
                      mail: MailOf | None) -> None:  # fmt: skip
        await conn.execute("DELETE FROM invites WHERE member_id = ? OR expires_at <= ?", (member_id, now))
        await conn.execute(
            "INSERT INTO invites (token_hash, member_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            (digest, member_id, now, now + ttl_s),
        )
        await conn.execute("UPDATE members SET invited_at = ? WHERE id = ?", (now, member_id))
        if mail is not None:
            await outbox.queue(conn, member_id, "invite", mail(token, now + ttl_s), now)

    async def invite_everyone(self, ttl_s: int, mail: MailOf) -> int:
        """An invite by mail to every member in good standing who has no password and was
        never invited (after an import), in one transaction; how many."""
        now = int(self.clock())
        async with self.db.write("auth.invite_everyone") as conn:
            async with conn.execute(
                "SELECT id FROM members WHERE status = 'active' AND password_hash IS NULL AND invited_at IS NULL"
                " ORDER BY id"
            ) as cursor:
                ids = [int(r[0]) for r in await cursor.fetchall()]
            for member_id in ids:
                token, digest = new_secret(INVITE_PREFIX)
                await self._invite(conn, member_id, token, digest, now, ttl_s, mail)
        return len(ids)

    async def not_invited(self) -> int:
        """How many members "invite everyone" would invite now."""
        row = await self.db.fetchone(
            "SELECT COUNT(*) FROM members WHERE status = 'active' AND password_hash IS NULL AND invited_at IS NULL"
        )
        return int(row[0]) if row else 0

    async def create_reset(self, member_id: int, ttl_s: int, mail: MailOf) -> str:
        """A link to set a new password (earlier ones stop working), mailed, together; its
        secret (for tests: callers pass it on only in the mail)."""
        token, digest = new_secret(RESET_PREFIX)
        now = int(self.clock())
        async with self.db.write("auth.create_reset") as conn:
            await conn.execute("DELETE FROM password_resets WHERE member_id = ? OR expires_at <= ?", (member_id, now))
            await conn.execute(
                "INSERT INTO password_resets (token_hash, member_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (digest, member_id, now, now + ttl_s),
            )
            await outbox.queue(conn, member_id, "reset", mail(token, now + ttl_s), now)
        return token

    async def invite_member(self, token: str) -> Member | None:
        """Whose password this invite would set, if it is still good."""
        return await self._member_for("invites", token, INVITE_PREFIX)

    async def reset_member(self, token: str) -> Member | None:
        """Whose password this reset link would set, if it is still good."""
        return await self._member_for("password_resets", token, RESET_PREFIX)

    async def use_reset(self, token: str, password_hash: str) -> int:
        """Use a reset link once: the new password, every session and token ended, together."""
        return await self._use_once("password_resets", token, password_hash,
                                    "this link is not valid (used, expired or mistyped): ask again")  # fmt: skip

    async def accept_invite(self, token: str, password_hash: str) -> int:
        """Use an invite once: set the member's password and forget the invite, together."""
        return await self._use_once("invites", token, password_hash,
                                    "this invite link is not valid (used, expired or mistyped)")  # fmt: skip

    async def _use_once(self, table: str, token: str, password_hash: str, invalid: str) -> int:
        now = int(self.clock())
        async with self.db.write(f"auth.use_{table}") as conn:
            async with conn.execute(
                f"SELECT member_id FROM {table} WHERE token_hash = ? AND expires_at > ?", (secret_hash(token), now)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise BadInput(invalid, field="token")
            member_id = int(row[0])
            await conn.execute("DELETE FROM invites WHERE member_id = ?", (member_id,))
            await conn.execute("DELETE FROM password_resets WHERE member_id = ?", (member_id,))
            await conn.execute("UPDATE members SET password_hash = ? WHERE id = ?", (password_hash, member_id))
            await conn.execute("DELETE FROM sessions WHERE member_id = ?", (member_id,))
            await conn.execute("DELETE FROM api_tokens WHERE member_id = ?", (member_id,))
        return member_id
