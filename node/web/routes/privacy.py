"""Routes for members' data: who looked at members' records (the whole record for admins,
each member's own), following :mod:`node.rules.members`."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from node.rules import members as member_rules
from node.rules import members_data
from node.rules.accounts import Accounts
from node.storage.access import ACTIONS, VIA, Access
from node.storage.members import Member
from node.web.common import int_query, json_response, node_of
from node.web.routing import LIMIT_200, Query, Route


class AccessView(msgspec.Struct):
    id: int
    at: int  # s
    actor_id: int | None  # null: the command line on the server
    actor: str  # the officer's name as it is now ("the command line", "a former member")
    action: str  # view, search, export, import, ...
    member_id: int | None  # whose record, when the access was to one
    rows: int  # how many members' rows it showed or wrote
    via: str  # page, api, cli


class AccessPage(msgspec.Struct):
    accesses: list[AccessView]
    next: int | None  # pass as ?before= for the next page; null on the last


async def views(node: Accounts, rows: list[Access]) -> list[AccessView]:
    """Each access with its actor's name as it is now."""
    names = await member_rules.actors(node, rows)
    return [AccessView(r.id, r.at, r.actor_id, name, r.action, r.member_id, r.rows, r.via)
            for r, name in zip(rows, names, strict=True)]  # fmt: skip


async def _page(request: web.Request, who: Member, member_id: int | None) -> web.StreamResponse:
    node = node_of(request)
    before = int_query(request, "before", 1 << 62, 1, 1 << 62)
    limit = int_query(request, "limit", 50, 1, 200)
    rows = await member_rules.who_looked(node, who, member_id=member_id, before=before, limit=limit + 1)
    shown = rows[:limit]
    return json_response(AccessPage(await views(node, shown), shown[-1].id if len(rows) > limit else None))


async def access_record(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    member = request.query.get("member")
    return await _page(request, who, int_query(request, "member", 0, 1, 1 << 62) if member else None)


async def my_access_record(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return await _page(request, who, who.id)


async def my_data(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return json_response(await members_data.my_data(node_of(request), who, "api"))


_PAGING = (Query("before", {"type": "string", "pattern": r"^[0-9]{1,19}$"}), Query("limit", LIMIT_200))
ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/access",
        access_record,
        "admin",
        f"Who looked at members' data, newest first ({', '.join(ACTIONS)}; via {', '.join(VIA)}); "
        "?member=ID: accesses to one record",
        response=AccessPage,
        query=(Query("member", {"type": "string", "pattern": r"^[0-9]{1,19}$"}), *_PAGING),
    ),
    Route(
        "GET",
        "/api/v1/me/data",
        my_data,
        "member",
        "Everything this node holds about me: details, consents and their history, sessions and tokens (never "
        "their secrets), mail sent to me, ballots I was on the roll of and whether I voted (never how), motions, "
        "amendments, comments, candidacies, and who looked at my record",
        response=dict[str, Any],
    ),
    Route(
        "GET",
        "/api/v1/me/access",
        my_access_record,
        "member",
        "Who looked at my record: each officer's view, newest first",
        response=AccessPage,
        query=_PAGING,
    ),
)
