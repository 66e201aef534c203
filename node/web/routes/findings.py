"""The findings route: the one list of what this node found wrong, newest first, a page at a
time (node/federation/judging.py catches up before it lists)."""

from __future__ import annotations

import re

import msgspec
from aiohttp import web

from node.errors import BadInput
from node.federation import judging, upward
from node.storage.findings import Finding
from node.storage.members import Member
from node.web.common import int_query, json_response, node_of
from node.web.routing import LIMIT_200, Query, Route
from protocol import node_id_text


class FoundView(msgspec.Struct):
    object: str  # the envelope's id
    kind: str
    author: str  # node id
    author_name: str
    code: str
    message: str
    about: str | None  # what it concerns: an agenda item, a selection, a ballot
    found_at: int


class FindingsPage(msgspec.Struct):
    findings: list[FoundView]
    next: str | None  # pass as ?after= for the next page; null on the last


def cursor_of(f: Finding) -> str:
    """Where a page of findings ends: the ``after`` of the next page."""
    return f"{f.found_at}.{f.object.hex()}.{f.code}"


AFTER_PATTERN = r"^[0-9]{1,18}\.[0-9a-f]{64}\.[a-z_]{1,64}$"


def parse_after(text: str | None) -> tuple[int, bytes, str] | None:
    if not text:
        return None
    if re.fullmatch(AFTER_PATTERN, text) is None:
        raise BadInput("after is the next value of the previous page", field="after")
    at, obj, code = text.split(".", 2)
    return int(at), bytes.fromhex(obj), code


async def list_findings(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    limit = int_query(request, "limit", 50, 1, 200)
    rows = await judging.findings(node, limit + 1, parse_after(request.query.get("after")))
    shown = rows[:limit]
    return json_response(FindingsPage(
        [FoundView(f.object.hex(), f.kind, node_id_text(f.author), upward.name_of(node, f.author), f.code, f.message,
                   f.about.hex() if f.about is not None else None, f.found_at) for f in shown],
        cursor_of(shown[-1]) if len(rows) > limit else None))  # fmt: skip


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/findings",
        list_findings,
        "member",
        "Every finding this node holds (aggregates, results, papers, decisions twice, rolls), newest first;"
        " ?limit=1..200 (50), ?after=<next of the previous page>",
        response=FindingsPage,
        query=(Query("limit", LIMIT_200), Query("after", {"type": "string", "pattern": AFTER_PATTERN})),
    ),
)
