"""Logins: password hashes, sessions, API tokens, invites and login throttling.

Secrets (session cookies, API tokens, invite links) are 32 random bytes shown once to
their holder; only their SHA-256 is stored, so a copy of the database cannot be used to
log in. Passwords are hashed with scrypt (N=2^15, r=8, p=1: 32 MiB of memory per guess),
in a worker thread so the event loop keeps serving.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .db import Database
from .errors import BadInput, NotFound, Throttled
from .members import MEMBER_COLUMNS, Member, MemberStore, member_from_row

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD, MAX_PASSWORD = 10, 1024
SESSION_PREFIX, TOKEN_PREFIX, INVITE_PREFIX = "bns_", "bnt_", "bni_"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def check_password_policy(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise BadInput(f"a password has at least {MIN_PASSWORD} characters", field=field)
    if len(password) > MAX_PASSWORD:
        raise BadInput(f"a password has at most {MAX_PASSWORD} characters", field=field)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


def hash_password_sync(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password_sync(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        return hmac.compare_digest(_scrypt(password, _unb64(salt), int(n), int(r), int(p)), _unb64(digest))
    except (ValueError, TypeError):
        return False


async def hash_password(password: str, field: str = "password") -> str:
    check_password_policy(password, field)
    return await asyncio.to_thread(hash_password_sync, password)


@functools.cache
def _dummy_hash() -> str:
    """A real hash of a random password: checking an unknown email against it costs the
    same as checking a wrong password, so response times do not reveal who is a member."""
    return hash_password_sync(secrets.token_urlsafe(16))


async def verify_password(password: str, stored: str | None) -> bool:
    if stored is None:
        await asyncio.to_thread(lambda: verify_password_sync(password, _dummy_hash()))
        return False
    return await asyncio.to_thread(verify_password_sync, password, stored)


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


class AuthStore:
    """Sessions, API tokens and invites in the node database."""

    def __init__(self, db: Database, members: MemberStore, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.members = members
        self.clock = clock

    async def _member_for(self, table: str, token: str, prefix: str) -> Member | None:
        if not token.startswith(prefix) or len(token) > 100:
            return None
        expiry = " AND t.expires_at > ?" if table != "api_tokens" else ""
        params: tuple[object, ...] = (secret_hash(token),) + ((int(self.clock()),) if expiry else ())
        row = await self.db.fetchone(
            f"SELECT {MEMBER_COLUMNS} FROM {table} t JOIN members ON members.id = t.member_id"
            f" WHERE t.token_hash = ?{expiry}",
            params,
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

    async def end_all_sessions(self, member_id: int) -> None:
        async with self.db.write("auth.end_all_sessions") as conn:
            await conn.execute("DELETE FROM sessions WHERE member_id = ?", (member_id,))

    async def create_token(self, member_id: int, name: str) -> tuple[ApiToken, str]:
        token, digest = new_secret(TOKEN_PREFIX)
        now = int(self.clock())
        async with self.db.write("auth.create_token") as conn:
            cursor = await conn.execute(
                "INSERT INTO api_tokens (token_hash, member_id, name, created_at) VALUES (?, ?, ?, ?)",
                (digest, member_id, name, now),
            )
            token_id = int(cursor.lastrowid or 0)
        return ApiToken(token_id, name, now), token

    async def token_member(self, token: str) -> Member | None:
        return await self._member_for("api_tokens", token, TOKEN_PREFIX)

    async def list_tokens(self, member_id: int) -> list[ApiToken]:
        rows = await self.db.fetchall(
            "SELECT id, name, created_at FROM api_tokens WHERE member_id = ? ORDER BY id", (member_id,)
        )
        return [ApiToken(r["id"], r["name"], r["created_at"]) for r in rows]

    async def delete_token(self, member_id: int, token_id: int) -> None:
        async with self.db.write("auth.delete_token") as conn:
            cursor = await conn.execute("DELETE FROM api_tokens WHERE id = ? AND member_id = ?", (token_id, member_id))
            if cursor.rowcount == 0:
                raise NotFound(f"no token {token_id}")

    async def create_invite(self, member_id: int, ttl_s: int) -> str:
        token, digest = new_secret(INVITE_PREFIX)
        now = int(self.clock())
        async with self.db.write("auth.create_invite") as conn:
            await conn.execute("DELETE FROM invites WHERE member_id = ? OR expires_at <= ?", (member_id, now))
            await conn.execute(
                "INSERT INTO invites (token_hash, member_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (digest, member_id, now, now + ttl_s),
            )
        return token

    async def accept_invite(self, token: str, password_hash: str) -> int:
        """Use an invite once: set the member's password and forget the invite, together."""
        now = int(self.clock())
        async with self.db.write("auth.accept_invite") as conn:
            async with conn.execute(
                "SELECT member_id FROM invites WHERE token_hash = ? AND expires_at > ?", (secret_hash(token), now)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise BadInput("this invite link is not valid (used, expired or mistyped)", field="token")
            member_id = int(row[0])
            await conn.execute("DELETE FROM invites WHERE member_id = ?", (member_id,))
            await conn.execute("UPDATE members SET password_hash = ? WHERE id = ?", (password_hash, member_id))
            await conn.execute("DELETE FROM sessions WHERE member_id = ?", (member_id,))
        return member_id


@dataclass
class _Window:
    failures: list[float] = field(default_factory=list)


class LoginThrottle:
    """Failed logins per email and per client address in a sliding window.

    Past the limit, logins for that key answer 429 with Retry-After until the oldest
    failure leaves the window. Nothing here is logged."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, window_s: float = 900.0,
                 per_email: int = 5, per_address: int = 30, max_keys: int = 100_000) -> None:  # fmt: skip
        self.clock = clock
        self.window_s = window_s
        self.limits = {"email": per_email, "address": per_address}
        self.max_keys = max_keys
        self._windows: dict[tuple[str, str], _Window] = {}

    def _recent(self, key: tuple[str, str]) -> list[float]:
        window = self._windows.get(key)
        if window is None:
            return []
        cutoff = self.clock() - self.window_s
        window.failures = [t for t in window.failures if t > cutoff]
        if not window.failures:
            del self._windows[key]
        return window.failures

    def check(self, email: str, address: str) -> None:
        for kind, value in (("email", email.strip().lower()), ("address", address)):
            recent = self._recent((kind, value))
            if len(recent) >= self.limits[kind]:
                retry = int(recent[0] + self.window_s - self.clock()) + 1
                raise Throttled("too many failed logins; try again later", retry_after=max(retry, 1))

    def failed(self, email: str, address: str) -> None:
        if len(self._windows) >= self.max_keys:
            self._windows.clear()  # bounded memory under a flood; limits restart
        now = self.clock()
        for key in (("email", email.strip().lower()), ("address", address)):
            self._windows.setdefault(key, _Window()).failures.append(now)

    def succeeded(self, email: str) -> None:
        self._windows.pop(("email", email.strip().lower()), None)
