"""Passwords: the policy, and scrypt hashes (N=2^15, r=8, p=1: 32 MiB of memory per guess),
computed in a worker thread so the event loop keeps serving."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets

from node.errors import BadInput

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSWORD, MAX_PASSWORD = 10, 1024


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
