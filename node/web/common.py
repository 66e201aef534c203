"""What every route of the API uses: the app keys, reading bodies under the server's limits,
parameters, the client's address through trusted proxies, the browser origin, the session
cookie."""

from __future__ import annotations

import asyncio
import collections
import functools
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec
from aiohttp import web

from node.errors import BadInput, NotFound, TooLarge
from node.gossip.runner import Gossip
from node.rules.accounts import DEVICE_DAYS
from node.service import Node
from node.storage.members import Member
from node.validation import describe
from node.web.connguard import address_in, parse_networks

NODE = web.AppKey("node", Node)
GOSSIP = web.AppKey("gossip", Gossip)
PEER_COUNT: web.AppKey[Callable[[], list[str]]] = web.AppKey("peer_count")
RESPONSES: web.AppKey[collections.Counter[str]] = web.AppKey("responses")  # answers by status class, for /metrics
SESSION_COOKIE = "bn_session"
DEVICE_COOKIE = "bn_device"  # a browser that signed in here before (rules.accounts.known_device)
MEMBER_ID = web.RequestKey("member_id", int)  # for the request log line: an id, never a name or email
T = TypeVar("T")
Handler = Callable[[web.Request, Member | None], Awaitable[web.StreamResponse]]


_BACKGROUND: set[asyncio.Task[Any]] = set()


def in_background(work: Coroutine[Any, Any, Any]) -> None:
    """Run ``work`` without the answer waiting for it (its failure is logged, not answered):
    for what must take the same time whatever it finds, such as a forgotten password."""
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _BACKGROUND.discard(t)
        if not t.cancelled() and t.exception() is not None:
            logging.getLogger("branchnet.web").error("background work failed", exc_info=t.exception())

    task.add_done_callback(done)


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


async def read_json(request: web.Request, kind: type[T], empty: T | None = None) -> T:
    """The JSON body as ``kind`` (400 naming what is wrong); an empty body is ``empty`` when
    one is given (a route whose every field has a default), else refused."""
    body = await read_body(request)
    if not body and empty is not None:
        return empty
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


def set_device_cookie(response: web.StreamResponse, node: Node, value: str) -> None:
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_DAYS * 86_400, httponly=True, samesite="Lax",
                        secure=node.config.auth.secure_cookies, path="/")  # fmt: skip


def set_session_cookie(response: web.StreamResponse, node: Node, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=node.config.auth.session_hours * 3600,
        httponly=True,
        samesite="Lax",  # sent when a member follows a link here; never on a cross-site post
        secure=node.config.auth.secure_cookies,
        path="/",
    )
