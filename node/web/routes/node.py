"""Routes about the node itself: health, what it is and holds, one envelope by id."""

from __future__ import annotations

import re

import msgspec
from aiohttp import web

from node.errors import BadInput, NotFound
from node.storage.members import Member
from node.web.common import (
    PEER_COUNT,
    int_query,
    json_response,
    node_of,
)
from node.web.routing import Query, Route
from protocol import ProtocolError, node_id_text, open_envelope, parse_node_id, write_bundle
from protocol.models import MAX_SEQ
from protocol.views import envelope_view


class Health(msgspec.Struct):
    status: str


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
    text = request.match_info["id"]
    if re.fullmatch(r"[0-9a-fA-F]{64}", text) is None:
        raise NotFound("an envelope id is 64 hex digits")
    envelope_id = bytes.fromhex(text)
    shown = request.query.get("format")
    if shown not in (None, "json"):
        raise BadInput("format is json (or left out, for the envelope's bytes)", field="format")
    raw = await node_of(request).envelopes.get(envelope_id)
    if raw is None:
        raise NotFound("no such envelope")
    if shown == "json":
        return json_response(envelope_view(open_envelope(raw)))
    return web.Response(body=raw, content_type="application/vnd.branchnet.envelope")


LOG_PAGE = 1000  # envelopes in one page of an author's log


async def get_log(request: web.Request, who: Member | None) -> web.StreamResponse:
    """One author's log as a bundle, from ``after`` (exclusive), at most ``limit`` envelopes:
    what anyone auditing the federation pulls, a page at a time (docs/auditing.md)."""
    try:
        author = parse_node_id(request.match_info["author"])
    except ProtocolError:
        raise NotFound("an author is a node id (bn1...)") from None
    after = int_query(request, "after", 0, 0, MAX_SEQ)
    limit = int_query(request, "limit", LOG_PAGE, 1, LOG_PAGE)
    raws = await node_of(request).envelopes.range(author, after, limit)
    return web.Response(body=write_bundle(raws), content_type="application/vnd.branchnet.bundle")


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES: tuple[Route, ...] = (
    Route("GET", "/healthz", health, "public", "Liveness and database check", response=Health),
    Route("GET", "/api/v1/node", node_info, "public", "This node: id, name, level, heads", response=NodeInfo),
    Route(
        "GET",
        "/api/v1/envelopes/{id}",
        get_envelope,
        "public",
        "One stored envelope (bytes, or ?format=json)",
        query=(Query("format", {"type": "string", "enum": ["json"]}),),
    ),
    Route(
        "GET",
        "/api/v1/log/{author}",
        get_log,
        "public",
        "One author's log as a bundle, a page at a time (?after=SEQ&limit=N, at most 1000): for audits",
        query=(
            Query("after", {"type": "string", "pattern": r"^[0-9]{1,16}$"}),
            Query("limit", {"type": "string", "pattern": r"^[0-9]{1,4}$"}),
        ),
    ),
)
