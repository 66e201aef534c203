"""Routes for members: one's own record, and officers managing members (node/rules/members.py)."""

from __future__ import annotations

import datetime as dt

import msgspec
from aiohttp import web
from msgspec import UNSET, UnsetType

from node.errors import BadInput
from node.rules import members as member_rules
from node.rules.members_csv import parse_members_csv
from node.storage.members import Member, MemberIn, MemberPatch, Name
from node.web.common import (
    int_param,
    json_response,
    node_of,
    read_body,
    read_json,
)


class MePatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """What members may change about themselves."""

    name: Name | UnsetType = UNSET
    consent_contact: bool | UnsetType = UNSET
    consent_publish_name: bool | UnsetType = UNSET


class Invite(msgspec.Struct):
    url: str
    expires_at: int


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
