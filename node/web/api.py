"""The HTTP API under /api/v1: one table of routes, each with its access rule and types.

The table (:data:`ROUTES`) is the single source for the router, the authorisation check
and the OpenAPI document, so they cannot drift apart. Access levels:

* ``public``: anyone;
* ``member``: any signed-in member (a handler may further limit to the member's own data);
* ``officer``: secretary, chair, treasurer, officer or admin;
* ``admin``: admins only.

Handlers receive the request and the signed-in member (or None) and trust their types:
bodies are parsed by :func:`read_json` into msgspec Structs at the boundary.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import msgspec
from aiohttp import web
from msgspec import UNSET, Meta, UnsetType

from node.errors import BadInput, NotFound, TooLarge, Unauthorized
from node.federation import acts
from node.federation.acts import issue_charter, revoke
from node.rules import members as member_rules
from node.rules.members_csv import parse_members_csv
from node.rules.passwords import check_password_policy, hash_password, verify_password
from node.service import Node
from node.storage.joins import LIST_LIMIT, JoinView
from node.storage.members import Member, MemberIn, MemberPatch, Name
from node.validation import describe
from node.web.connguard import address_in, parse_networks
from protocol import NodeProfile, ProtocolError, node_id_text, open_envelope, parse_node_id
from protocol.models import MAX_SEQ
from protocol.views import envelope_view

NODE = web.AppKey("node", Node)
PEER_COUNT: web.AppKey[Callable[[], list[str]]] = web.AppKey("peer_count")
SESSION_COOKIE = "bn_session"
Access = Literal["public", "member", "officer", "admin"]
LEVEL: dict[str, int] = {"public": -1, "member": 0, "officer": 1, "admin": 2}
T = TypeVar("T")
JOIN_STATUSES = ("pending", "approved", "refused", "expired")
Handler = Callable[[web.Request, Member | None], Awaitable[web.StreamResponse]]


# --- request and response types -----------------------------------------------------------
class Login(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, Meta(max_length=254)]
    password: Annotated[str, Meta(max_length=1024)]


class AcceptInvite(msgspec.Struct, forbid_unknown_fields=True):
    token: Annotated[str, Meta(max_length=100)]
    password: Annotated[str, Meta(max_length=1024)]


class MePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What members may change about themselves."""

    name: Name | UnsetType = UNSET
    consent_contact: bool | UnsetType = UNSET
    consent_publish_name: bool | UnsetType = UNSET


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


class Invite(msgspec.Struct):
    url: str
    expires_at: int


class ImportResult(msgspec.Struct):
    imported: int
    skipped: list[str]


class ProfileIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    endpoints: Annotated[list[str], Meta(min_length=1, max_length=8)]
    contact: Annotated[str, Meta(max_length=2000)] = ""


class Appended(msgspec.Struct):
    id: str
    seq: int
    kind: str


class NodeInfo(msgspec.Struct):
    node_id: str
    name: str
    level: str
    url: str
    federation: str | None
    objects: int
    heads: dict[str, int]
    peers: int
    quarantine: int
    forks: int


class Health(msgspec.Struct):
    status: str


# --- helpers ------------------------------------------------------------------------------
def json_response(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(value), status=status, content_type="application/json")


async def read_body(request: web.Request, cap: int | None = None, timeout_s: float | None = None) -> bytes:
    """The whole body: refused over ``cap`` (413, before reading when the size is declared) and
    when it does not arrive within ``timeout_s`` (400 ``timeout``). The defaults are the
    server's (``http.max_body_bytes``, ``http.body_timeout_s``): one deadline for every route."""
    http = request.app[NODE].config.http
    cap = http.max_body_bytes if cap is None else cap
    timeout_s = http.body_timeout_s if timeout_s is None else timeout_s
    if request.content_length is not None and request.content_length > cap:
        raise TooLarge(f"the body is {request.content_length} bytes; the limit here is {cap}")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.content.iter_chunked(65_536):
                size += len(chunk)
                if size > cap:
                    raise TooLarge(f"the body is over the limit of {cap} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise BadInput(f"the body did not arrive within {timeout_s:g} s", code="timeout") from None
    return b"".join(chunks)


async def read_json(request: web.Request, kind: type[T]) -> T:
    body = await read_body(request)
    if not body:
        raise BadInput("the request needs a JSON body", code="bad_request")
    try:
        return msgspec.json.decode(body, type=kind)
    except UnicodeDecodeError as exc:  # msgspec checks UTF-8 inside strings only as it meets them
        raise BadInput(f"the body is not UTF-8 (byte {exc.start + 1} of a string)", code="bad_request") from None
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError too
        message, field = describe(exc)
        code = "invalid_field" if isinstance(exc, msgspec.ValidationError) else "bad_request"
        raise BadInput(message, field=field, code=code) from None


def int_param(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(f"no such {name}")
    return int(raw)


def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """An integer query parameter from ``low`` to ``high`` (400 naming it otherwise)."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19 or not low <= int(raw) <= high:
        raise BadInput(f"{name} is a whole number from {low} to {high}", field=name)
    return int(raw)


def node_of(request: web.Request) -> Node:
    return request.app[NODE]


@functools.lru_cache(maxsize=8)
def _networks(texts: tuple[str, ...]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return parse_networks(texts)


def client_address(request: web.Request) -> str:
    """The client's address: the peer's, or, when the peer is a trusted reverse proxy
    (``http.trusted_proxies``), the last address in ``X-Forwarded-For`` that is not one of
    those proxies. Anyone else's ``X-Forwarded-For`` is ignored: it could say anything."""
    remote = request.remote or "unknown"
    trusted = _networks(tuple(node_of(request).config.http.trusted_proxies))
    if not trusted or not address_in(remote, trusted):
        return remote
    hops = [h.strip() for v in request.headers.getall("X-Forwarded-For", []) for h in v.split(",")]
    for hop in reversed(hops):
        if hop and not address_in(hop, trusted):
            return hop[:64]
    return remote


def _origin(url: str) -> str:
    """``scheme://host[:port]`` as a browser writes it in ``Origin`` (default ports left out)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def same_origin(request: web.Request, origin: str) -> bool:
    """Whether a browser's ``Origin`` is this node: its configured public URL (which is what
    browsers see behind a TLS reverse proxy) or the address the request came to."""
    public = _origin(node_of(request).config.http.public_url)
    return _origin(origin) in (public, _origin(f"{request.scheme}://{request.host}"))


def set_session_cookie(response: web.StreamResponse, node: Node, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=node.config.auth.session_hours * 3600,
        httponly=True,
        samesite="Strict",
        secure=node.config.auth.secure_cookies,
        path="/",
    )


# --- handlers -----------------------------------------------------------------------------
async def health(request: web.Request, who: Member | None) -> web.StreamResponse:
    await node_of(request).federation_state.store.ping()
    return json_response(Health("ok"))


async def node_info(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    state = node.federation_state
    forks, _ = await state.store.counts()
    return json_response(
        NodeInfo(
            node_id=node.key.node_id,
            name=node.config.node.name,
            level=node.config.node.level,
            url=node.config.http.public_url,
            federation=state.federation.hex() if state.federation else None,
            objects=sum(h.seq for h in state.heads.values()),
            heads={node_id_text(a): h.seq for a, h in sorted(state.heads.items())},
            peers=len(request.app[PEER_COUNT]()),
            quarantine=state.quarantined,
            forks=forks,
        )
    )


async def get_envelope(request: web.Request, who: Member | None) -> web.StreamResponse:
    try:
        envelope_id = bytes.fromhex(request.match_info["id"])
    except ValueError:
        raise NotFound("an envelope id is 64 hex digits") from None
    raw = await node_of(request).envelopes.get(envelope_id)
    if raw is None:
        raise NotFound("no such envelope")
    if request.query.get("format") == "json":
        return json_response(envelope_view(open_envelope(raw)))
    return web.Response(body=raw, content_type="application/vnd.branchnet.envelope")


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


async def me(request: web.Request, who: Member | None) -> web.StreamResponse:
    return json_response(who)


async def patch_me(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, MePatch)
    patch = MemberPatch(
        name=body.name, consent_contact=body.consent_contact, consent_publish_name=body.consent_publish_name
    )
    return json_response(await node_of(request).members.update(who.id, patch))


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


async def list_members(request: web.Request, who: Member | None) -> web.StreamResponse:
    status = request.query.get("status")
    if status is not None and status not in ("active", "lapsed", "suspended"):
        raise BadInput("status is one of active, lapsed, suspended", field="status")
    return json_response(await node_of(request).members.list(status))


async def get_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    member_id = int_param(request, "member_id")
    assert who is not None
    member_rules.check_may_see(who, member_id)
    return json_response(await node_of(request).members.require(member_id))


async def add_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, MemberIn)
    member_rules.check_may_manage(who, None, body.role)
    return json_response(await node_of(request).members.add(body), status=201)


async def patch_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    node = node_of(request)
    member_id = int_param(request, "member_id")
    body = await read_json(request, MemberPatch)
    target = await node.members.require(member_id)
    member_rules.check_may_change(who, target, body)
    return json_response(await node.members.update(member_id, body))


async def delete_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    node = node_of(request)
    target = await node.members.require(int_param(request, "member_id"))
    member_rules.check_may_manage(who, target, None)
    await node.members.remove(target.id)  # refuses the last active admin (Conflict)
    return web.Response(status=204)


async def import_members(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    node = node_of(request)
    skip_bad = request.query.get("skip_bad") in ("1", "true", "yes")
    parsed = parse_members_csv(await read_body(request))
    if parsed.problems and not skip_bad:
        raise BadInput("; ".join(str(p) for p in parsed.problems[:50]), code="bad_csv")
    rows = parsed.rows
    member_rules.check_may_import(who, rows)
    existing = await node.members.import_all(rows, skip_existing=skip_bad)
    return json_response(ImportResult(len(rows) - len(existing), [str(p) for p in parsed.problems] + existing))


async def invite_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    node = node_of(request)
    target = await node.members.require(int_param(request, "member_id"))
    member_rules.check_may_manage(who, target, None)
    ttl = node.config.auth.invite_hours * 3600
    token = await node.auth.create_invite(target.id, ttl)
    url = f"{node.config.http.public_url.rstrip('/')}/invite#{token}"
    expires = int(dt.datetime.now(dt.UTC).timestamp()) + ttl
    return json_response(Invite(url, expires), status=201)


async def publish_profile(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, ProfileIn)
    try:
        profile = msgspec.convert(msgspec.to_builtins(body), NodeProfile)
        envelope = await node_of(request).own_log.append(profile)
    except msgspec.ValidationError as exc:
        message, field = describe(exc)
        raise BadInput(message, field=field) from None
    except ProtocolError as exc:
        raise BadInput(exc.message, field=exc.field, code=str(exc.code)) from None
    return json_response(Appended(envelope.id.hex(), envelope.seq, envelope.kind), status=201)


class CharterIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    node_id: Annotated[str, Meta(max_length=100)]
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    level: Annotated[str, Meta(min_length=1, max_length=32)]
    url: Annotated[str, Meta(max_length=2048)] | None = None


class RevocationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    node_id: Annotated[str, Meta(max_length=100)]
    after_seq: Annotated[int, Meta(ge=0, le=MAX_SEQ)] = 0
    reason: Annotated[str, Meta(max_length=2000)] = ""


def _node_id_field(text: str) -> bytes:
    try:
        return parse_node_id(text)
    except ProtocolError as exc:
        raise BadInput(exc.message, field="node_id", code=str(exc.code)) from None


async def list_joins(request: web.Request, who: Member | None) -> web.StreamResponse:
    status = request.query.get("status")
    if status is not None and status not in JOIN_STATUSES:
        raise BadInput(f"status is one of {', '.join(JOIN_STATUSES)}", field="status")
    after = int_query(request, "after", 0, 0, 2**62)
    limit = int_query(request, "limit", LIST_LIMIT, 1, LIST_LIMIT)
    joins = node_of(request).joins
    await joins.expire()
    return json_response(await joins.list(status, after, limit))


async def approve_join(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    envelope = await acts.approve_join(node_of(request), int_param(request, "join_id"), who.id)
    return json_response(Appended(envelope.id.hex(), envelope.seq, envelope.kind), status=201)


async def refuse_join(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    await acts.refuse_join(node_of(request), int_param(request, "join_id"), who.id)
    return web.Response(status=204)


async def create_charter(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, CharterIn)
    envelope = await issue_charter(node_of(request), _node_id_field(body.node_id), body.name, body.level, body.url)
    return json_response(Appended(envelope.id.hex(), envelope.seq, envelope.kind), status=201)


async def create_revocation(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, RevocationIn)
    envelope = await revoke(node_of(request), _node_id_field(body.node_id), body.after_seq, body.reason)
    return json_response(Appended(envelope.id.hex(), envelope.seq, envelope.kind), status=201)


# --- the table ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    access: Access
    summary: str
    request: type | None = None
    response: Any = None
    status: int = 200
    request_type: str = "application/json"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health, "public", "Liveness and database check", response=Health),
    Route("GET", "/api/v1/node", node_info, "public", "This node: id, name, level, heads", response=NodeInfo),
    Route("GET", "/api/v1/envelopes/{id}", get_envelope, "public", "One stored envelope (bytes, or ?format=json)"),
    Route("POST", "/api/v1/auth/login", login, "public", "Sign in; sets the session cookie", Login, Member),
    Route(
        "POST", "/api/v1/auth/invite", accept_invite, "public", "Set a password from an invite", AcceptInvite, Member
    ),
    Route("POST", "/api/v1/auth/logout", logout, "member", "End this session", status=204),
    Route("GET", "/api/v1/me", me, "member", "The signed-in member", response=Member),
    Route("PATCH", "/api/v1/me", patch_me, "member", "Change own name or consents", MePatch, Member),
    Route("POST", "/api/v1/me/password", change_password, "member", "Change own password", PasswordChange, status=204),
    Route("GET", "/api/v1/tokens", list_tokens, "member", "Own API tokens", response=list[TokenOut]),
    Route("POST", "/api/v1/tokens", create_token, "member", "New API token (shown once)", TokenIn, TokenCreated, 201),
    Route("DELETE", "/api/v1/tokens/{token_id}", delete_token, "member", "Revoke an own API token", status=204),
    Route("GET", "/api/v1/members", list_members, "officer", "All members (?status=)", response=list[Member]),
    Route("POST", "/api/v1/members", add_member, "officer", "Add a member", MemberIn, Member, 201),
    Route(
        "POST",
        "/api/v1/members/import",
        import_members,
        "officer",
        "Import members from CSV (?skip_bad=1)",
        response=ImportResult,
        request_type="text/csv",
    ),
    Route(
        "GET",
        "/api/v1/members/{member_id}",
        get_member,
        "member",
        "One member (own record, or officers)",
        response=Member,
    ),
    Route("PATCH", "/api/v1/members/{member_id}", patch_member, "officer", "Change a member", MemberPatch, Member),
    Route("DELETE", "/api/v1/members/{member_id}", delete_member, "officer", "Remove a member", status=204),
    Route(
        "POST",
        "/api/v1/members/{member_id}/invite",
        invite_member,
        "officer",
        "Invite link for a member",
        response=Invite,
        status=201,
    ),
    Route(
        "GET",
        "/api/v1/joins",
        list_joins,
        "officer",
        "Join requests from other nodes, a page at a time (?status=&after=ID&limit=N)",
        response=list[JoinView],
    ),
    Route(
        "POST",
        "/api/v1/joins/{join_id}/approve",
        approve_join,
        "officer",
        "Approve: sign a charter",
        response=Appended,
        status=201,
    ),
    Route("POST", "/api/v1/joins/{join_id}/refuse", refuse_join, "officer", "Refuse a join request", status=204),
    Route(
        "POST", "/api/v1/charters", create_charter, "officer", "Charter a child node (signed)", CharterIn, Appended, 201
    ),
    Route(
        "POST",
        "/api/v1/revocations",
        create_revocation,
        "officer",
        "Revoke a descendant's key (signed)",
        RevocationIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/log/profile",
        publish_profile,
        "officer",
        "Publish this node's profile (signed)",
        ProfileIn,
        Appended,
        201,
    ),
)
