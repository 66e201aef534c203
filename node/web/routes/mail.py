"""Routes for mail: a member's choice of notices, and the outbox as officers see it."""

from __future__ import annotations

import dataclasses

import msgspec
from aiohttp import web
from msgspec import UNSET, UnsetType

from node.errors import BadInput
from node.storage.members import Member
from node.storage.outbox import STATES
from node.web.common import int_query, json_response, node_of, read_json
from node.web.routing import LIMIT_200, Query, Route


class Notices(msgspec.Struct):
    ballots: bool  # a ballot I may vote on opened; a reminder before it closes if I have not voted
    decisions: bool  # a decision of this body published
    elections: bool  # an election of this body or one above it open for candidates
    digest: bool  # once a day: what is open to vote on, what was decided


class NoticesPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    ballots: bool | UnsetType = UNSET
    decisions: bool | UnsetType = UNSET
    elections: bool | UnsetType = UNSET
    digest: bool | UnsetType = UNSET


class MailView(msgspec.Struct):
    id: int
    member_id: int
    name: str
    email: str
    kind: str
    state: str  # queued, sending, sent, failed
    attempts: int
    created_at: int
    next_at: int
    sent_at: int | None
    error: str  # the server's last refusal or what went wrong


class Outbox(msgspec.Struct):
    mail_on: bool  # false: [mail] has no server, nothing is sent
    counts: dict[str, int]
    mails: list[MailView]
    next: int | None  # pass as ?before= for the next page; null on the last


async def my_notices(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return json_response(Notices(**await node_of(request).outbox.choices(who.id)))


async def patch_my_notices(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, NoticesPatch)
    changes = {k: v for k, v in msgspec.structs.asdict(body).items() if isinstance(v, bool)}
    return json_response(Notices(**await node_of(request).outbox.choose(who.id, changes)))


async def outbox(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    state = request.query.get("state") or None
    if state is not None and state not in STATES:
        raise BadInput(f"state is one of {', '.join(STATES)}", field="state")
    before = int_query(request, "before", 1 << 62, 1, 1 << 62)
    limit = int_query(request, "limit", 50, 1, 200)
    rows = await node.outbox.page(state, before, limit + 1)
    shown = rows[:limit]
    return json_response(Outbox(node.config.mail.enabled, await node.outbox.counts(),
                                [MailView(**dataclasses.asdict(m)) for m in shown],
                                shown[-1].id if len(rows) > limit else None))  # fmt: skip


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/me/notices", my_notices, "member", "What mail I am sent", response=Notices),
    Route("PATCH", "/api/v1/me/notices", patch_my_notices, "member", "Turn notices on or off", NoticesPatch, Notices),
    Route(
        "GET",
        "/api/v1/outbox",
        outbox,
        "officer",
        "Mail to members, newest first: queued, sending, sent, failed (?state=&before=ID&limit=N)",
        response=Outbox,
        query=(
            Query("state", {"type": "string", "enum": list(STATES)}),
            Query("before", {"type": "string", "pattern": r"^[0-9]{1,19}$"}),
            Query("limit", LIMIT_200),
        ),
    ),
)
