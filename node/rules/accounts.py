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
from dataclasses import dataclass
from typing import Any, Protocol

from node.config import Config
from node.errors import BadInput, Conflict, Throttled, Unauthorized
from node.rules import notices
from node.rules.passwords import check_password_policy, hash_password, verify_password
from node.rules.throttle import LoginThrottle
from node.storage.access import AccessStore
from node.storage.logins import ApiToken, AuthStore, MailOf
from node.storage.members import Member, MemberStore
from node.storage.outbox import OutboxStore
from protocol import SigningKey


class Accounts(Protocol):
    config: Config
    members: MemberStore
    auth: AuthStore
    outbox: OutboxStore
    access: AccessStore
    reset_throttle: LoginThrottle
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


@dataclass(frozen=True)
class Invited:
    """An invite made: mailed to the member (no link shown), or a link to pass on by hand."""

    url: str | None
    expires_at: int
    mailed_to: str | None


def _invite_mail(config: Config) -> MailOf:
    return lambda token, expires: notices.link_params(invite_url(config, token), expires)


async def invite(node: Accounts, member_id: int, *, by_mail: bool = True) -> Invited:
    """A new invite for the member (earlier ones stop working). With mail set up (and
    ``by_mail``), it is mailed to the member's own address, queued with the invite itself;
    otherwise the link is returned for an officer to pass on."""
    ttl = node.config.auth.invite_hours * 3600
    expires = int(dt.datetime.now(dt.UTC).timestamp()) + ttl
    if by_mail and node.config.mail.enabled:
        member = await node.members.require(member_id)
        await node.auth.create_invite(member_id, ttl, _invite_mail(node.config))
        node.outbox.queued()
        return Invited(None, expires, member.email)
    token = await node.auth.create_invite(member_id, ttl)
    return Invited(invite_url(node.config, token), expires, None)


def require_mail(node: Accounts) -> None:
    if not node.config.mail.enabled:
        raise Conflict("mail is not set up on this node ([mail] in node.toml): invite members one at a time and "
                       "pass on their links", code="mail_off")  # fmt: skip


async def invite_everyone(node: Accounts) -> int:
    """Mail an invite to every member in good standing who has no password and was never
    invited (after an import); how many. Needs mail."""
    require_mail(node)
    count = await node.auth.invite_everyone(node.config.auth.invite_hours * 3600, _invite_mail(node.config))
    node.outbox.queued()
    return count


RESET_HOURS = 1


def reset_url(config: Config, token: str) -> str:
    return f"{config.http.public_url.rstrip('/')}/password/reset/{token}"


async def forgot_password(node: Accounts, email: str, address: str) -> None:
    """Mail a single-use link to set a new password, if ``email`` is a member's who may sign
    in; the caller answers the same whatever happens here (and does not wait for it: the
    time it takes must not tell either). Throttled per address and per account with the
    sign-in limits; no mail is set up, nothing is sent."""
    if not node.config.mail.enabled or len(email) > 320:
        return
    try:  # a throttle of its own: asking for links in someone's name must not stop them signing in
        node.reset_throttle.attempt(email, address)
    except Throttled:
        return
    record = await node.members.login_record(email)
    if record is None or record[0].status == "suspended":
        return
    config = node.config

    def mail(token: str, expires: int) -> dict[str, Any]:
        return notices.link_params(reset_url(config, token), expires)

    await node.auth.create_reset(record[0].id, RESET_HOURS * 3600, mail)
    node.outbox.queued()


async def reset_password(node: Accounts, token: str, password: str) -> tuple[Member, str]:
    """Use a reset link once: the new password; every other session and token ends; a new
    session for this browser."""
    member_id = await node.auth.use_reset(token, await hash_password(password))
    return await node.members.require(member_id), await new_session(node, member_id)
