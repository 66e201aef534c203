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
from dataclasses import dataclass

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
            await conn.execute("DELETE FROM api_tokens WHERE member_id = ?", (member_id,))
        return member_id


class LoginThrottle:
    """Password checks per account and per client address, in a sliding window.

    Every attempt is recorded **before** its password is checked (scrypt takes a while), so
    concurrent guesses cannot slip past the limit together; a good password then takes its
    own attempt back and clears the account's record.

    * **Per account** (an email): after ``per_account`` failures in the window, each further
      attempt must wait, doubling from 1 s (1, 2, 4 ... s, at most the window) after the last
      failure: back-off, not a lock, and attempts refused while waiting do not count.
    * **Per address** (the client's address, as seen through trusted proxies): at most
      ``per_address`` failures in the window, across accounts, against password spraying.
      One address's failures never hold back another address, nor an account's good login
      from elsewhere.

    Refusals answer 429 with Retry-After. Memory is bounded (``max_keys``)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, *, window_s: float = 900.0,
                 per_account: int = 5, per_address: int = 30, max_keys: int = 100_000) -> None:  # fmt: skip
        self.clock = clock
        self.window_s = window_s
        self.per_account = per_account
        self.per_address = per_address
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], list[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = self._failures.get(key)
        if times is None:
            return []
        cutoff = now - self.window_s
        if times and times[0] <= cutoff:
            times[:] = [t for t in times if t > cutoff]
        if not times:
            del self._failures[key]
        return times

    def _wait(self, account: str, address: str, now: float) -> float:
        """Seconds until an attempt for ``account`` from ``address`` may be checked (0: now)."""
        waits = [0.0]
        recent = self._recent(("account", account), now)
        if len(recent) >= self.per_account:
            delay = min(self.window_s, 2.0 ** (len(recent) - self.per_account))
            waits.append(recent[-1] + delay - now)
        by_address = self._recent(("address", address), now)
        if len(by_address) >= self.per_address:
            waits.append(by_address[len(by_address) - self.per_address] + self.window_s - now)
        return max(waits)

    def attempt(self, account: str, address: str) -> float:
        """Record an attempt before its password is checked; raises Throttled when one must
        wait. Returns the attempt's mark, for :meth:`succeeded`."""
        account = account.strip().lower()
        now = self.clock()
        wait = self._wait(account, address, now)
        if wait > 0:
            raise Throttled("too many failed attempts; try again later", retry_after=max(1, int(wait + 0.999)))
        if len(self._failures) >= self.max_keys:
            self._failures.clear()  # bounded memory under a flood; limits restart
        for key in (("account", account), ("address", address)):
            self._failures.setdefault(key, []).append(now)
        return now

    def succeeded(self, account: str, address: str, mark: float) -> None:
        """The password was right: forget the account's failures and this attempt."""
        self._failures.pop(("account", account.strip().lower()), None)
        times = self._failures.get(("address", address))
        if times is not None and mark in times:
            times.remove(mark)
