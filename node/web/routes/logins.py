"""Routes for signing in and out, invites, passwords and API tokens."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from node.rules import accounts
from node.rules.passwords import MAX_PASSWORD, MIN_PASSWORD
from node.storage.members import Member
from node.web.common import (
    DEVICE_COOKIE,
    SESSION_COOKIE,
    client_address,
    in_background,
    int_param,
    json_response,
    node_of,
    read_json,
    set_device_cookie,
    set_session_cookie,
)
from node.web.routing import Route


class Login(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, Meta(max_length=254)]
    password: Annotated[str, Meta(max_length=1024)]


# A new password as the policy has it (node.rules.passwords): the document says it, the type checks it.
NewPassword = Annotated[str, Meta(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]


class AcceptInvite(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, Meta(max_length=100)]
    password: NewPassword


class Forgot(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, Meta(min_length=1, max_length=320)]


class Told(msgspec.Struct):
    message: str


class ResetIn(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, Meta(max_length=100)]
    password: NewPassword


FORGOT_ANSWER = ("If that address belongs to a member, a link to choose a new password is on its way; it works "
                 "once, within an hour. Nothing came? Ask your branch secretary for a new invite.")  # fmt: skip


class PasswordChange(msgspec.Struct, forbid_unknown_fields=True):
    current: Annotated[str, Meta(max_length=1024)]
    new: NewPassword


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
    body = await read_json(request, Login)
    node = node_of(request)
    member, token, device = await accounts.sign_in(node, body.email, body.password, client_address(request),
                                                   request.cookies.get(DEVICE_COOKIE))  # fmt: skip
    response = json_response(member)
    set_session_cookie(response, node, token)
    set_device_cookie(response, node, device)
    return response


async def logout(request: web.Request, who: Member | None) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await node_of(request).auth.end_session(token)
    response = web.Response(status=204)
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


async def accept_invite(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, AcceptInvite)
    node = node_of(request)
    member, token = await accounts.accept_invite(node, body.token, body.password)
    response = json_response(member)
    set_session_cookie(response, node, token)
    return response


async def forgot(request: web.Request, who: Member | None) -> web.StreamResponse:
    """The same answer, at once, whether the address is a member's or not: the link is made
    and mailed in the background."""
    body = await read_json(request, Forgot)
    in_background(accounts.forgot_password(node_of(request), body.email, client_address(request)))
    return json_response(Told(FORGOT_ANSWER), status=202)


async def reset(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, ResetIn)
    node = node_of(request)
    member, token = await accounts.reset_password(node, body.token, body.password)
    response = json_response(member)
    set_session_cookie(response, node, token)
    return response


async def change_password(request: web.Request, who: Member | None) -> web.StreamResponse:
    """Every session and API token of the member ends; a browser gets a fresh session."""
    assert who is not None
    node = node_of(request)
    body = await read_json(request, PasswordChange)
    await accounts.change_password(node, who, body.current, body.new, client_address(request))
    response = web.Response(status=204)
    if request.cookies.get(SESSION_COOKIE) and not request.headers.get("Authorization"):
        set_session_cookie(response, node, await accounts.new_session(node, who.id))
    return response


async def list_tokens(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    tokens = await node_of(request).auth.list_tokens(who.id)
    return json_response([TokenOut(t.id, t.name, t.created_at, t.expires_at) for t in tokens])


async def create_token(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, TokenIn)
    token, secret = await accounts.create_token(node_of(request), who, body.name, body.expires_days)
    return json_response(TokenCreated(token.id, token.name, secret, token.expires_at), status=201)


async def delete_token(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    await node_of(request).auth.delete_token(who.id, int_param(request, "token_id"))
    return web.Response(status=204)


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/v1/auth/login", login, "public", "Sign in; sets the session cookie", Login, Member),
    Route(
        "POST", "/api/v1/auth/invite", accept_invite, "public", "Set a password from an invite", AcceptInvite, Member
    ),
    Route("POST", "/api/v1/auth/forgot", forgot, "public", "Forgot password: a link by mail (one answer for all)",
          Forgot, Told, 202),
    Route("POST", "/api/v1/auth/reset", reset, "public", "Set a new password from a mailed link", ResetIn, Member),
    Route("POST", "/api/v1/auth/logout", logout, "member", "End this session", status=204),
    Route("POST", "/api/v1/me/password", change_password, "member", "Change own password", PasswordChange, status=204),
    Route("GET", "/api/v1/tokens", list_tokens, "member", "Own API tokens", response=list[TokenOut]),
    Route("POST", "/api/v1/tokens", create_token, "member", "New API token (shown once)", TokenIn, TokenCreated, 201),
    Route("DELETE", "/api/v1/tokens/{token_id}", delete_token, "member", "Revoke an own API token", status=204),
)
