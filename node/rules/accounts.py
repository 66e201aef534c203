"""Signing in, invites, passwords and API tokens: the steps the API and the pages both take.

Each function takes the few stores it needs (:class:`Accounts`, which the node is), checks
every rule (the sign-in throttle, the password policy, a token's longest life) and returns
what the caller shows: a member and a new session, or a new token. Nothing here knows HTTP.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
from typing import Protocol

from node.config import Config
from node.errors import BadInput, Unauthorized
from node.rules.passwords import check_password_policy, hash_password, verify_password
from node.rules.throttle import LoginThrottle
from node.storage.logins import ApiToken, AuthStore
from node.storage.members import Member, MemberStore
from protocol import SigningKey


class Accounts(Protocol):
    config: Config
    members: MemberStore
    auth: AuthStore
    throttle: LoginThrottle
    key: SigningKey


DEVICE_DAYS = 180


def _device_mac(node: Accounts, email: str, issued: int) -> str:
    secret = hashlib.sha256(b"branchnet device cookie v1\x00" + node.key.seed).digest()
    return hmac.new(secret, f"{email.strip().lower()}|{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def device_cookie(node: Accounts, email: str, now: float | None = None) -> str:
    """A device cookie for a browser that has just signed in to ``email`` (OWASP): the time
    it was issued and a MAC over it and the account, under a key derived from the node's."""
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_device_mac(node, email, issued)}"


def known_device(node: Accounts, email: str, cookie: str | None, now: float | None = None) -> bool:
    """Whether ``cookie`` is one this node gave a browser that signed in to ``email``, within
    :data:`DEVICE_DAYS`."""
    if not cookie or len(cookie) > 64 or "." not in cookie:
        return False
    issued_text, mac = cookie.split(".", 1)
    if not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    current = time.time() if now is None else now
    if not current - DEVICE_DAYS * 86_400 <= issued <= current + 300:
        return False
    return hmac.compare_digest(mac, _device_mac(node, email, issued))


async def new_session(node: Accounts, member_id: int) -> str:
    return await node.auth.create_session(member_id, node.config.auth.session_hours * 3600)


async def authenticate(node: Accounts, email: str, password: str, address: str, device: str | None = None
                       ) -> Member:  # fmt: skip
    """The member whose email and password these are, or Unauthorized (the same for every
    reason); each try counts against the account and the address before the password is
    checked, but for a browser with this account's device cookie (:func:`known_device`), which
    the address's limit does not hold back. (The command line's members act by this: their own
    password, never an officer's.)"""
    mark = node.throttle.attempt(email, address, known_device(node, email, device))
    record = await node.members.login_record(email)
    ok = await verify_password(password, record[1] if record else None)
    if not ok or record is None or record[0].status == "suspended":
        raise Unauthorized("wrong email or password")
    node.throttle.succeeded(email, address, mark)
    return record[0]


async def sign_in(node: Accounts, email: str, password: str, address: str, device: str | None = None
                  ) -> tuple[Member, str, str]:  # fmt: skip
    """The member, a new session and a device cookie for this browser, or Unauthorized (as
    :func:`authenticate`)."""
    member = await authenticate(node, email, password, address, device)
    return member, await new_session(node, member.id), device_cookie(node, email)


async def accept_invite(node: Accounts, token: str, password: str) -> tuple[Member, str]:
    """Set the password an invite asks for (once); the member and a new session."""
    member_id = await node.auth.accept_invite(token, await hash_password(password))
    return await node.members.require(member_id), await new_session(node, member_id)


async def change_password(node: Accounts, who: Member, current: str, new: str, address: str) -> None:
    """Every session and API token of the member ends (the caller may start a new session)."""
    check_password_policy(new, field="new")  # first: a too-short new password costs no guess
    mark = node.throttle.attempt(who.email, address)  # the same limits as signing in
    record = await node.members.login_record(who.email)
    if record is None or not await verify_password(current, record[1]):
        raise BadInput("the current password is wrong", field="current")
    node.throttle.succeeded(who.email, address, mark)
    await node.auth.change_password(who.id, await hash_password(new, field="new"))


async def create_token(node: Accounts, who: Member, name: str, expires_days: int | None) -> tuple[ApiToken, str]:
    """A token lasts ``expires_days`` if given; ``auth.token_max_days`` (when set) is the
    default and the most allowed. The secret is returned once and never stored."""
    cap = node.config.auth.token_max_days or None
    days = expires_days or cap
    if cap is not None and days is not None and days > cap:
        raise BadInput(f"tokens on this node last at most {cap} days", field="expires_days")
    return await node.auth.create_token(who.id, name, days * 86400 if days else None)


def invite_url(config: Config, token: str) -> str:
    """The link a member opens to set their password."""
    return f"{config.http.public_url.rstrip('/')}/invite/{token}"


async def invite(node: Accounts, member_id: int) -> tuple[str, int]:
    """A new invite link for the member (earlier ones stop working) and when it expires."""
    ttl = node.config.auth.invite_hours * 3600
    token = await node.auth.create_invite(member_id, ttl)
    return invite_url(node.config, token), int(dt.datetime.now(dt.UTC).timestamp()) + ttl
