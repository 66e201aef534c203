"""Routes for members: one's own record, and officers managing members (node/rules/members.py)."""

from __future__ import annotations

import msgspec
from aiohttp import web
from msgspec import UNSET, UnsetType

from node.errors import BadInput
from node.rules import members as member_rules
from node.storage.members import Member, MemberIn, MemberPatch, Name
from node.web.common import (
    int_param,
    json_response,
    node_of,
    read_body,
    read_json,
)
from node.web.routing import Query, Route


class MePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What members may change about themselves."""

    name: Name | UnsetType = UNSET
    consent_contact: bool | UnsetType = UNSET
    consent_publish_name: bool | UnsetType = UNSET


class Invite(msgspec.Struct):
    url: str | None  # null when it was mailed to the member (mail set up): no officer sees it
    expires_at: int
    mailed_to: str | None = None


class Invited(msgspec.Struct):
    invited: int  # members sent an invite by mail


class ImportResult(msgspec.Struct):
    imported: int
    skipped: list[str]


async def me(request: web.Request, who: Member | None) -> web.StreamResponse:
    return json_response(who)


async def patch_me(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, MePatch)
    patch = MemberPatch(
        name=body.name, consent_contact=body.consent_contact, consent_publish_name=body.consent_publish_name
    )
    return json_response(await node_of(request).members.update(who.id, patch))


async def list_members(request: web.Request, who: Member | None) -> web.StreamResponse:
    status = request.query.get("status")
    if status is not None and status not in ("active", "lapsed", "suspended"):
        raise BadInput("status is one of active, lapsed, suspended", field="status")
    assert who is not None
    return json_response(await member_rules.listing(node_of(request), who, status, "api"))


async def get_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    member_id = int_param(request, "member_id")
    assert who is not None
    return json_response(await member_rules.look(node_of(request), who, member_id, "api"))


async def add_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, MemberIn)
    return json_response(await member_rules.add(node_of(request), who, body), status=201)


async def patch_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    member_id = int_param(request, "member_id")
    body = await read_json(request, MemberPatch)
    return json_response(await member_rules.change(node_of(request), who, member_id, body))


async def delete_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    await member_rules.remove(node_of(request), who, int_param(request, "member_id"))
    return web.Response(status=204)


async def import_members(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    skip_text = request.query.get("skip_bad", "0")
    if skip_text not in ("1", "true", "yes", "0", "false", "no"):
        raise BadInput("skip_bad is 1, true or yes (or 0, false, no)", field="skip_bad")
    skip_bad = skip_text in ("1", "true", "yes")
    done = await member_rules.import_csv(node_of(request), who, await read_body(request), skip_bad=skip_bad, via="api")
    return json_response(ImportResult(done.imported, done.skipped))


async def invite_member(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    made = await member_rules.invite(node_of(request), who, int_param(request, "member_id"))
    return json_response(Invite(made.url, made.expires_at, made.mailed_to), status=201)


async def invite_everyone(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return json_response(Invited(await member_rules.invite_everyone(node_of(request), who)), status=201)


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/me", me, "member", "The signed-in member", response=Member),
    Route("PATCH", "/api/v1/me", patch_me, "member", "Change own name or consents", MePatch, Member),
    Route(
        "GET",
        "/api/v1/members",
        list_members,
        "officer",
        "All members (?status=)",
        response=list[Member],
        query=(Query("status", {"type": "string", "enum": ["active", "lapsed", "suspended"]}),),
    ),
    Route("POST", "/api/v1/members", add_member, "officer", "Add a member", MemberIn, Member, 201),
    Route(
        "POST",
        "/api/v1/members/import",
        import_members,
        "officer",
        "Import members from CSV (?skip_bad=1)",
        response=ImportResult,
        request_type="text/csv",
        query=(Query("skip_bad", {"type": "string", "enum": ["1", "true", "yes", "0", "false", "no"]}),),
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
        "Invite a member: by mail when mail is set up, else a link to pass on",
        response=Invite,
        status=201,
    ),
    Route(
        "POST",
        "/api/v1/members/invite-everyone",
        invite_everyone,
        "officer",
        "Invite by mail every member never invited who has no password (after an import); needs mail",
        response=Invited,
        status=201,
    ),
)
