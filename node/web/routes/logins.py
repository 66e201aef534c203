"""Routes for signing in and out, invites, passwords and API tokens."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from node.errors import BadInput, Unauthorized
from node.rules.passwords import check_password_policy, hash_password, verify_password
from node.storage.members import Member
from node.web.common import (
    SESSION_COOKIE,
    client_address,
    int_param,
    json_response,
    node_of,
    read_json,
    set_session_cookie,
)


class Login(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, Meta(max_length=254)]
    password: Annotated[str, Meta(max_length=1024)]


class AcceptInvite(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, Meta(max_length=100)]
    password: Annotated[str, Meta(max_length=1024)]


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current: Annotated[str, Meta(max_length=1024)]
    new: Annotated[str, Meta(max_length=1024)]


class TokenIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=100)]
    expires_days: Annotated[int, Meta(ge=1, le=3650)] | None = None


class TokenOut(msgspec.Struct):
    id: int
    name: str
    created_at: int
    expires_at: int | None = None


class TokenCreated(msgspec.Struct):
    id: int
    name: str
    token: str
    expires_at: int | None = None


async def login(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    body = await read_json(request, Login)
    address = client_address(request)
    mark = node.throttle.attempt(body.email, address)  # counted before the password is checked
    record = await node.members.login_record(body.email)
    ok = await verify_password(body.password, record[1] if record else None)
    if not ok or record is None or record[0].status == "suspended":
        raise Unauthorized("wrong email or password")
    node.throttle.succeeded(body.email, address, mark)
    member = record[0]
    token = await node.auth.create_session(member.id, node.config.auth.session_hours * 3600)
    response = json_response(member)
    set_session_cookie(response, node, token)
    return response


async def logout(request: web.Request, who: Member | None) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await node_of(request).auth.end_session(token)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def accept_invite(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    body = await read_json(request, AcceptInvite)
    password_hash = await hash_password(body.password)
    member_id = await node.auth.accept_invite(body.token, password_hash)
    token = await node.auth.create_session(member_id, node.config.auth.session_hours * 3600)
    response = json_response(await node.members.require(member_id))
    set_session_cookie(response, node, token)
    return response


async def change_password(request: web.Request, who: Member | None) -> web.StreamResponse:
    """Every session and API token of the member ends; a browser gets a fresh session."""
    assert who is not None
    node = node_of(request)
    body = await read_json(request, PasswordChange)
    check_password_policy(body.new, field="new")  # first: a too-short new password costs no guess
    address = client_address(request)
    mark = node.throttle.attempt(who.email, address)  # the same limits as signing in
    record = await node.members.login_record(who.email)
    if record is None or not await verify_password(body.current, record[1]):
        raise BadInput("the current password is wrong", field="current")
    node.throttle.succeeded(who.email, address, mark)
    await node.auth.change_password(who.id, await hash_password(body.new, field="new"))
    response = web.Response(status=204)
    if request.cookies.get(SESSION_COOKIE) and not request.headers.get("Authorization"):
        set_session_cookie(
            response, node, await node.auth.create_session(who.id, node.config.auth.session_hours * 3600)
        )
    return response


async def list_tokens(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    tokens = await node_of(request).auth.list_tokens(who.id)
    return json_response([TokenOut(t.id, t.name, t.created_at, t.expires_at) for t in tokens])


async def create_token(request: web.Request, who: Member | None) -> web.StreamResponse:
    """A token lasts ``expires_days`` if given; ``auth.token_max_days`` (when set) is the
    default and the most allowed."""
    assert who is not None
    node = node_of(request)
    body = await read_json(request, TokenIn)
    cap = node.config.auth.token_max_days or None
    days = body.expires_days or cap
    if cap is not None and days is not None and days > cap:
        raise BadInput(f"tokens on this node last at most {cap} days", field="expires_days")
    token, secret = await node.auth.create_token(who.id, body.name, days * 86400 if days else None)
    return json_response(TokenCreated(token.id, token.name, secret, token.expires_at), status=201)


async def delete_token(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    await node_of(request).auth.delete_token(who.id, int_param(request, "token_id"))
    return web.Response(status=204)
