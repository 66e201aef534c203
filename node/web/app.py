"""The aiohttp application: routing from the table, authentication, limits, errors, logs."""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from aiohttp import ClientConnectionResetError, ClientPayloadError, web
from aiohttp.typedefs import Handler as AiohttpHandler

from node.errors import BadInput, DatabaseError, Forbidden, NodeError, NotFound, Throttled, TooLarge, Unauthorized
from node.federation.closer import Closer
from node.federation.elections import open_to_candidates
from node.federation.own_log import ACTING
from node.gossip.runner import Gossip
from node.mail.sender import Sender, smtp_password
from node.rules.members import access
from node.rules.retention import Keeper
from node.service import Node
from node.storage.members import Member
from node.web.api import LEVEL, ROUTES, Route
from node.web.common import (
    GOSSIP,
    MEMBER_ID,
    NODE,
    PEER_COUNT,
    RESPONSES,
    SESSION_COOKIE,
    Handler,
    json_response,
    same_origin,
)
from node.web.connguard import connection_middleware
from node.web.metrics import metrics_registry
from node.web.metrics import render as render_metrics
from node.web.openapi import openapi_document
from node.web.pages import add_pages
from node.web.pages.common import error_page, wants_html
from node.web.peer_endpoints import add_federation_routes
from node.web.statuses import status_of

log = logging.getLogger("branchnet.http")
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    return json_response({"error": {"code": code, "message": message, "field": field}}, status=status)


async def _authenticate(request: web.Request, node: Node) -> Member | None:
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization must be 'Bearer <token>'")
        member = await node.auth.token_member(token.strip())
        if member is None:
            raise Unauthorized("this API token is not valid")
        return member
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        if request.method in UNSAFE:
            origin = request.headers.get("Origin")
            if origin is not None and not same_origin(request, origin):
                raise Forbidden("cross-site request refused")
        return await node.auth.session_member(cookie)
    return None


def _guard(route: Route) -> AiohttpHandler:
    required = LEVEL[route.access]

    async def handler(request: web.Request) -> web.StreamResponse:
        node = request.app[NODE]
        who = await _authenticate(request, node) if required >= 0 or request.headers.get("Authorization") else None
        if required >= 0:
            if who is None:
                raise Unauthorized("sign in first")
            if who.status == "suspended":
                raise Forbidden("this membership is suspended")
            if access(who.role) < required:
                raise Forbidden(f"this needs the {route.access} role")
        if who is not None:
            request[MEMBER_ID] = who.id
        inner: Handler = route.handler
        acting = ACTING.set(who.id if who is not None else None)  # what it signs counts to this member
        try:
            return await inner(request, who)
        finally:
            ACTING.reset(acting)  # a kept-alive connection's next request is someone else's

    handler.__name__ = route.handler.__name__
    return handler


@web.middleware
async def errors_and_logs(request: web.Request, handler: AiohttpHandler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        limit = request.app[NODE].config.http.max_body_bytes
        federation_route = request.path.startswith("/fed/")  # those routes apply their own limits
        if not federation_route and request.content_length is not None and request.content_length > limit:
            raise TooLarge(f"the body is {request.content_length} bytes; the limit is {limit}")
        response = await handler(request)
        status = response.status
        return response
    except DatabaseError as exc:  # disk full, I/O error: the node's fault, and nothing was stored
        status = 503
        log.error("storage failure", extra={"fields": {"detail": str(exc)}})
        return error_response(503, "storage_unavailable", "the node cannot store anything right now; try again later")
    except NodeError as exc:
        status = status_of(exc)
        if wants_html(request):  # a page's form over the size limit, say
            return error_page(request, exc)
        response = error_response(status, exc.code, exc.message, exc.field)
        if isinstance(exc, Throttled):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except web.HTTPRequestEntityTooLarge:
        status = 413
        return error_response(413, "too_large", "the request body is over the limit")
    except web.HTTPException as exc:
        status = exc.status
        if exc.status in (404, 405) and wants_html(request):
            message = "There is no page at this address." if exc.status == 404 else "This page cannot do that."
            response = error_page(request, NotFound(message) if exc.status == 404 else BadInput(message), exc.status)
        elif exc.status >= 400:
            code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "bad_request")
            response = error_response(exc.status, code, exc.reason)
        else:
            raise
        if isinstance(exc, web.HTTPMethodNotAllowed):  # RFC 9110 section 15.5.6: say which methods are
            response.headers["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return response
    except (ConnectionResetError, ClientConnectionResetError, ClientPayloadError) as exc:
        # The client went away mid-request (a dropped connection, a body cut short): its abort,
        # not the node's fault. Nothing reached a store; there is no one left to answer.
        status = ABORTED
        log.info("client abort", extra={"fields": {"detail": str(exc)[:200]}})
        return error_response(400, "client_abort", "the request did not arrive whole")  # written to nobody
    except Exception:
        log.exception("internal error")
        return error_response(500, "internal", "internal error; the node's log has the details")
    finally:
        request.app[RESPONSES][_status_class(status)] += 1
        if log.isEnabledFor(logging.INFO):
            _log_request(request, status, started)


ABORTED = 499  # as nginx logs it: the client closed the connection before the answer


def _status_class(status: int) -> str:
    return "aborted" if status == ABORTED else f"{status // 100}xx"


def _log_request(request: web.Request, status: int, started: float) -> None:
    route = request.match_info.route.resource
    log.info(
        "request",
        extra={
            "fields": {
                "method": request.method,
                "route": route.canonical if route is not None else "(none)",
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "member_id": request.get(MEMBER_ID),
            }
        },
    )


OPENAPI = web.AppKey("openapi", dict[str, Any])
SENDER = web.AppKey("sender", Sender)  # the outbox's sender, when [mail] has a server


def make_app(node: Node, *, trust_local_log: bool = False) -> web.Application:
    app = web.Application(
        middlewares=[connection_middleware, errors_and_logs], client_max_size=node.config.http.max_body_bytes
    )
    app[NODE] = node
    app[RESPONSES] = collections.Counter()
    app[OPENAPI] = openapi_document()
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _guard(route))

    async def openapi(request: web.Request) -> web.StreamResponse:
        return web.Response(body=msgspec.json.encode(request.app[OPENAPI]), content_type="application/json")

    app.router.add_get("/api/v1/openapi.json", openapi)
    add_pages(app)

    add_federation_routes(app, node)
    gossip = Gossip(node, trust_local_log=trust_local_log)
    app[GOSSIP] = gossip
    app[PEER_COUNT] = lambda: list(gossip.peers.peers)
    registry = metrics_registry(node, gossip, app[RESPONSES])

    async def metrics(request: web.Request) -> web.StreamResponse:
        return web.Response(body=render_metrics(registry), content_type="text/plain", charset="utf-8")

    app.router.add_get("/metrics", metrics)

    sender = None
    if node.config.mail.enabled:  # the password is read now: a missing file stops start-up, named
        password = smtp_password(node.config.mail, node.directory)
        async def elections_open() -> list[tuple[bytes, str, str, int]]:
            return [(bytes.fromhex(o.id), o.office, o.by, o.closes)
                    for o in await open_to_candidates(node, int(time.time() * 1000))]  # fmt: skip

        sender = Sender(node.config, node.outbox, node.key.seed, node.key.public, password, elections=elections_open)
        app[SENDER] = sender

    closer = Closer(node)
    node.ballots.on_opened = closer.wake.set  # a ballot with a closing time: look again now
    keeper = Keeper(node)  # the retention rule, applied at start and every hour

    async def background(app: web.Application) -> AsyncIterator[None]:
        node.own_log.start()
        await gossip.start()
        closer.start()
        keeper.start()
        if sender is not None:
            sender.start()
        yield
        if sender is not None:
            await sender.stop()
        await keeper.stop()
        await closer.stop()
        await gossip.stop()
        await node.own_log.stop()

    app.cleanup_ctx.append(background)
    return app
