"""Routes for what the node signs in its federation: its profile, charters, revocations,
and the join requests it answers (node/federation/acts.py)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from aiohttp import web
from msgspec import Meta

from node.errors import BadInput
from node.federation import acts, authority
from node.federation.acts import issue_charter, revoke
from node.storage.acts import ActRow
from node.storage.joins import LIST_LIMIT, JoinView
from node.storage.members import Member
from node.validation import describe
from node.web.common import (
    int_param,
    int_query,
    json_response,
    node_of,
    read_json,
)
from node.web.routing import LIMIT_200, Query, Route
from protocol import NodeProfile, ProtocolError, parse_node_id
from protocol.models import MAX_SEQ

JOIN_STATUSES = ("pending", "voting", "approved", "refused", "expired")


class ProfileIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    endpoints: Annotated[list[str], Meta(min_length=1, max_length=8)]
    contact: Annotated[str, Meta(max_length=2000)] = ""


class Appended(msgspec.Struct):
    id: str
    seq: int
    kind: str


class CharterIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    node_id: Annotated[str, Meta(max_length=100)]
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    level: Annotated[str, Meta(min_length=1, max_length=32)]
    url: Annotated[str, Meta(max_length=2048)] | None = None


class RevocationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    node_id: Annotated[str, Meta(max_length=100)]
    # the last envelope that stays valid (None: the latest held here, so it takes effect from its next)
    after_seq: Annotated[int, Meta(ge=0, le=MAX_SEQ)] | None = None
    reason: Annotated[str, Meta(max_length=2000)] = ""


def node_id_field(text: str) -> bytes:
    try:
        return parse_node_id(text)
    except ProtocolError as exc:
        raise BadInput(exc.message, field="node_id", code=str(exc.code)) from None


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


class JoinCode(msgspec.Struct):
    code: str  # shown once: give it to the expected node's officers (`branchnet join --request --code`)


async def create_join_code(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return json_response(JoinCode(await acts.join_code(node_of(request), who.id)), status=201)


async def refuse_join(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    await acts.refuse_join(node_of(request), int_param(request, "join_id"), who.id)
    return web.Response(status=204)


async def create_charter(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, CharterIn)
    envelope = await issue_charter(node_of(request), node_id_field(body.node_id), body.name, body.level, body.url)
    return json_response(Appended(envelope.id.hex(), envelope.seq, envelope.kind), status=201)


class ActView(msgspec.Struct):
    """An act of power put to this body's members: the ballot on its text, and what became of
    it (voting; signed, with the act's envelope id; lost; or void: the act held is not the
    text voted on, so nothing was signed)."""

    ballot: int
    kind: str
    text: str
    state: str
    signed: str | None = None


def _act_view(act: ActRow) -> ActView:
    return ActView(act.ballot_id, act.kind, act.text, act.state, act.signed.hex() if act.signed else None)


async def proposed_act(request: web.Request, ballot_id: int) -> web.StreamResponse:
    """The act just put to the members, as the proposal routes answer it (201)."""
    act = await node_of(request).acts.for_ballot(ballot_id)
    assert act is not None  # written with its ballot
    return json_response(_act_view(act), status=201)


async def propose_charter(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, CharterIn)
    row = await authority.propose_charter(node_of(request), who, node_id_field(body.node_id), body.name, body.level,
                                          body.url)  # fmt: skip
    return await proposed_act(request, row.id)


async def propose_join(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    row = await authority.propose_join(node_of(request), who, int_param(request, "join_id"))
    return await proposed_act(request, row.id)


async def propose_revocation(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, RevocationIn)
    row = await authority.propose_revocation(node_of(request), who, node_id_field(body.node_id), body.after_seq,
                                             body.reason)  # fmt: skip
    return await proposed_act(request, row.id)


async def list_acts(request: web.Request, who: Member | None) -> web.StreamResponse:
    return json_response([_act_view(act) for act in await node_of(request).acts.recent()])


async def create_revocation(request: web.Request, who: Member | None) -> web.StreamResponse:
    body = await read_json(request, RevocationIn)
    envelope = await revoke(node_of(request), node_id_field(body.node_id), body.after_seq, body.reason)
    return json_response(Appended(envelope.id.hex(), envelope.seq, envelope.kind), status=201)


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/joins",
        list_joins,
        "officer",
        "Join requests from other nodes, a page at a time (?status=&after=ID&limit=N)",
        response=list[JoinView],
        query=(
            Query("status", {"type": "string", "enum": list(JOIN_STATUSES)}),
            Query("after", {"type": "string", "pattern": r"^[0-9]{1,19}$"}),
            Query("limit", LIMIT_200),
        ),
    ),
    Route(
        "POST",
        "/api/v1/joins/{join_id}/approve",
        approve_join,
        "officer",
        "Approve: sign a charter (where a charter needs the members' decision: 409 needs_decision, propose it)",
        response=Appended,
        status=201,
    ),
    Route(
        "POST",
        "/api/v1/joins/{join_id}/proposals",
        propose_join,
        "officer",
        "Put the charter a join request asks for to this body's members (the node signs it once carried)",
        response=ActView,
        status=201,
    ),
    Route("POST", "/api/v1/joins/{join_id}/refuse", refuse_join, "officer", "Refuse a join request", status=204),
    Route(
        "POST",
        "/api/v1/joins/codes",
        create_join_code,
        "officer",
        "A one-time join code for a node this body expects: its request passes the queue",
        response=JoinCode,
        status=201,
    ),
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
        "/api/v1/charters/proposals",
        propose_charter,
        "officer",
        "Put a charter to this body's members: a ballot on its text; the node signs it once carried",
        CharterIn,
        ActView,
        201,
    ),
    Route(
        "POST",
        "/api/v1/revocations/proposals",
        propose_revocation,
        "officer",
        "Put a revocation to this body's members: a ballot on its text; the node signs it once carried",
        RevocationIn,
        ActView,
        201,
    ),
    Route(
        "GET",
        "/api/v1/acts",
        list_acts,
        "member",
        "Acts of power put to this body's members (newest first, 50), and what became of each",
        response=list[ActView],
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
