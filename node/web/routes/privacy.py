"""Routes for members' data: a member's own copy, who looked at members' records (the whole
record for admins, each member's own), and requests to be forgotten, following
:mod:`node.rules.members` and :mod:`node.rules.members_data`."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from node.rules import members as member_rules
from node.rules import members_data, retention
from node.rules.accounts import Accounts
from node.storage.access import ACTIONS, VIA, Access
from node.storage.members import Member
from node.storage.members_data import ErasureRequest
from node.web.common import int_param, int_query, json_response, node_of, read_json
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


class ErasureView(msgspec.Struct):
    id: int
    member_id: int | None  # null once carried out: nothing is left that names them
    name: str | None  # the member's name while the request waits (for the officer who answers)
    asked_at: int  # s
    state: str  # asked, done, refused
    decided_at: int | None
    answer: str  # why it was refused


class RefusalIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    answer: str  # why, in words the member will read (1 to 2000 characters)


class Erased(msgspec.Struct):
    changed: int  # rows deleted or changed


async def erasure_view(node: Accounts, r: ErasureRequest) -> ErasureView:
    member = await node.members.get(r.member_id) if r.member_id is not None else None
    return ErasureView(r.id, r.member_id, member.name if member else None, r.asked_at, r.state, r.decided_at,
                       r.answer)  # fmt: skip


async def ask_erasure(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    node = node_of(request)
    return json_response(await erasure_view(node, await members_data.ask_to_be_forgotten(node, who)), status=201)


async def list_erasures(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    rows = await members_data.erasure_requests(node, who, request.query.get("state") or None)
    return json_response([await erasure_view(node, r) for r in rows])


async def carry_out_erasure(request: web.Request, who: Member | None) -> web.StreamResponse:
    changed = await members_data.carry_out(node_of(request), who, int_param(request, "request_id"), "api")
    return json_response(Erased(changed))


async def refuse_erasure(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, RefusalIn)
    node = node_of(request)
    refused = await members_data.refuse(node, who, int_param(request, "request_id"), body.answer)
    return json_response(await erasure_view(node, refused))


class GoingView(msgspec.Struct):
    member_id: int
    name: str
    lapsed_since: int  # s
    forgotten_at: int  # s: when the retention rule forgets them (a member who renews first stays)


class RetentionView(msgspec.Struct):
    lapsed_months: int
    secrets_days: int
    mail_days: int
    access_months: int
    going: list[GoingView]  # every lapsed member, soonest first
    register_months: int = 6  # a counted ballot's register's signatures


async def retention_plan(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    rule = node.config.retention
    going = [GoingView(g.member.id, g.member.name, g.member.since, g.at) for g in await retention.plan(node, who)]
    return json_response(RetentionView(rule.lapsed_months, rule.secrets_days, rule.mail_days, rule.access_months,
                                       going, rule.register_months))  # fmt: skip


class PrivacyNotice(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    controller: str = ""  # who decides what is done with members' data (the branch, or the party)
    contact: str = ""  # how a member reaches them about it
    dpo: str = ""  # a data protection officer, if the branch or party has one


async def get_privacy(request: web.Request, who: Member | None) -> web.StreamResponse:
    return json_response(PrivacyNotice(**await members_data.privacy_notice(node_of(request))))


async def put_privacy(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, PrivacyNotice)
    written = await members_data.write_privacy_notice(node_of(request), who, msgspec.structs.asdict(body))
    return json_response(PrivacyNotice(**written))


_PAGING = (Query("before", {"type": "string", "pattern": r"^[0-9]{1,19}$"}), Query("limit", LIMIT_200))
ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/privacy",
        get_privacy,
        "public",
        "The privacy notice: who the controller is, how to reach them",
        response=PrivacyNotice,
    ),
    Route(
        "PUT",
        "/api/v1/privacy",
        put_privacy,
        "officer",
        "Write the privacy notice's controller and contact",
        PrivacyNotice,
        PrivacyNotice,
    ),
    Route(
        "GET",
        "/api/v1/retention",
        retention_plan,
        "officer",
        "The retention rule, and when it forgets each lapsed member",
        response=RetentionView,
    ),
    Route(
        "POST",
        "/api/v1/me/erasure",
        ask_erasure,
        "member",
        "Ask to be forgotten: an officer carries it out, or refuses with a reason you see",
        response=ErasureView,
        status=201,
    ),
    Route(
        "GET",
        "/api/v1/erasures",
        list_erasures,
        "officer",
        "Requests to be forgotten, newest first (?state=)",
        response=list[ErasureView],
        query=(Query("state", {"type": "string", "enum": ["asked", "done", "refused"]}),),
    ),
    Route(
        "POST",
        "/api/v1/erasures/{request_id}/carry-out",
        carry_out_erasure,
        "officer",
        "Forget the member now (cannot be undone)",
        response=Erased,
    ),
    Route(
        "POST",
        "/api/v1/erasures/{request_id}/refusal",
        refuse_erasure,
        "officer",
        "Refuse, saying why (the member sees it)",
        RefusalIn,
        ErasureView,
    ),
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
