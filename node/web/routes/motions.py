"""Routes for motions and amendments (node/federation/motions.py holds every step and its rules)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web
from msgspec import Meta

from node.errors import BadInput
from node.federation import motions
from node.storage.members import Member
from node.storage.motions import AmendmentRow, CommentRow, MotionRow
from node.web.common import int_param, json_response, node_of, read_json
from node.web.routes.ballots import BallotView, ParticipationIn, signed_of, view
from node.web.routing import Route
from protocol import BallotRules, ProtocolError, node_id_text, parse_node_id
from protocol.models import MAX_TIME_MS


class MotionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    text: Annotated[str, Meta(min_length=1, max_length=20_000)]
    for_body: Annotated[str, Meta(max_length=100)] | None = None
    deadline: Annotated[int, Meta(ge=0, le=MAX_TIME_MS)] | None = None
    draft: bool = False
    # Your own key's signature of moving it (docs/protocol.md, "Members' own keys": the motion
    # statement over this title and text, for this body): kept with it, shown as signed.
    signature: ParticipationIn | None = None


class Reason(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[str, Meta(max_length=2000)] = ""


class AmendmentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    paragraph: Annotated[int, Meta(ge=1, le=10_000)]  # numbered as the pages number them: 1 is the first
    start: Annotated[int, Meta(ge=0, le=20_000)]
    end: Annotated[int, Meta(ge=0, le=20_000)]
    text: Annotated[str, Meta(max_length=20_000)]
    signature: ParticipationIn | None = None  # your own key's, of the amendment statement


class CommentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    text: Annotated[str, Meta(min_length=1, max_length=5_000)]


class BallotRulesIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    rules: BallotRules | None = None  # null: the federation's defaults
    secrecy: Literal["open", "secret"] = "secret"
    may_change: bool = False  # a voter may change their vote until it closes
    closes: Annotated[int, Meta(ge=0, le=MAX_TIME_MS)] | None = None  # ms; the node closes it then


class AmendmentView(msgspec.Struct):
    id: int
    motion_id: int
    proposer_id: int | None
    paragraph: int  # 1 is the first, as on the motion's page
    start: int
    end: int
    original: str
    replacement: str
    state: str
    ballot_id: int | None
    signed: bool = False  # its mover signed moving it with their own key


class CommentView(msgspec.Struct):
    id: int
    member_id: int | None
    text: str
    created_at: int


class MotionView(msgspec.Struct):
    id: int
    title: str
    text: str
    current: str
    proposer_id: int | None
    for_body: str
    deadline: int | None
    state: str
    reason: str
    ballot_id: int | None
    amendments: list[AmendmentView] | None = None
    comments: list[CommentView] | None = None
    signed: bool = False  # its mover signed moving it with their own key


def motion_view(m: MotionRow, amendments: list[AmendmentRow] | None = None,
                comments: list[CommentRow] | None = None) -> MotionView:  # fmt: skip
    return MotionView(
        m.id, m.title, m.text, m.current, m.proposer_id, node_id_text(m.for_body), m.deadline, m.state, m.reason,
        m.ballot_id, [amendment_view(a) for a in amendments] if amendments is not None else None,
        [CommentView(c.id, c.member_id, c.text, c.created_at) for c in comments] if comments is not None else None,
        m.signed_key is not None,
    )  # fmt: skip


def amendment_view(a: AmendmentRow) -> AmendmentView:
    return AmendmentView(a.id, a.motion_id, a.proposer_id, a.paragraph + 1, a.start, a.end, a.original, a.replacement,
                         a.state, a.ballot_id, a.signed_key is not None)  # fmt: skip


async def propose(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, MotionIn)
    for_body = None
    if body.for_body:
        try:
            for_body = parse_node_id(body.for_body)
        except ProtocolError as exc:
            raise BadInput(exc.message, field="for_body") from None
    row = await motions.propose(node_of(request), who, body.title, body.text, for_body=for_body,
                                deadline=body.deadline, draft=body.draft,
                                signed=signed_of(body.signature, "signature"))  # fmt: skip
    return json_response(motion_view(row), status=201)


async def list_motions(request: web.Request, who: Member | None) -> web.StreamResponse:
    return json_response([motion_view(m) for m in await node_of(request).motions.recent()])


async def get_motion(request: web.Request, who: Member | None) -> web.StreamResponse:
    store = node_of(request).motions
    motion = await store.require(int_param(request, "motion_id"))
    return json_response(motion_view(motion, await store.amendments(motion.id), await store.comments(motion.id)))


def _step(action: str):  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, who: Member | None) -> web.StreamResponse:
        assert who is not None
        node, motion_id = node_of(request), int_param(request, "motion_id")
        if action in ("rule_out", "refer"):
            reason = (await read_json(request, Reason)).reason
            row = await getattr(motions, action)(node, who, motion_id, reason)
        else:
            row = await getattr(motions, action)(node, who, motion_id)
        return json_response(motion_view(row))

    handler.__name__ = action
    return handler


submit, admit, rule_out, refer, withdraw, remit = (
    _step(a) for a in ("submit", "admit", "rule_out", "refer", "withdraw", "remit")
)


async def amend(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, AmendmentIn)
    row = await motions.amend(node_of(request), who, int_param(request, "motion_id"), body.paragraph - 1, body.start,
                              body.end, body.text, signed=signed_of(body.signature, "signature"))  # fmt: skip
    return json_response(amendment_view(row), status=201)


async def accept_amendment(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    row = await motions.accept_amendment(node_of(request), who, int_param(request, "amendment_id"))
    return json_response(amendment_view(row))


async def withdraw_amendment(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    row = await motions.withdraw_amendment(node_of(request), who, int_param(request, "amendment_id"))
    return json_response(amendment_view(row))


async def amendment_ballot(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, BallotRulesIn) if request.can_read_body else BallotRulesIn()
    row = await motions.ballot_on_amendment(node_of(request), who, int_param(request, "amendment_id"),
                                            rules_=body.rules, secrecy=body.secrecy, may_change=body.may_change,
                                            closes=body.closes)  # fmt: skip
    return json_response(view(row), status=201)


async def motion_ballot(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, BallotRulesIn) if request.can_read_body else BallotRulesIn()
    row = await motions.ballot_on_motion(node_of(request), who, int_param(request, "motion_id"),
                                         rules_=body.rules, secrecy=body.secrecy, may_change=body.may_change,
                                         closes=body.closes)  # fmt: skip
    return json_response(view(row), status=201)


async def comment(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, CommentIn)
    row = await motions.comment(node_of(request), who, int_param(request, "motion_id"), body.text)
    return json_response(CommentView(row.id, row.member_id, row.text, row.created_at), status=201)


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES: tuple[Route, ...] = (
    Route("POST", "/api/v1/motions", propose, "member", "Propose a motion", MotionIn, MotionView, 201),
    Route("GET", "/api/v1/motions", list_motions, "member", "Recent motions", response=list[MotionView]),
    Route(
        "GET",
        "/api/v1/motions/{motion_id}",
        get_motion,
        "member",
        "A motion, its amendments and debate",
        response=MotionView,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/submit",
        submit,
        "member",
        "Submit a draft (the mover)",
        response=MotionView,
    ),
    Route("POST", "/api/v1/motions/{motion_id}/admit", admit, "officer", "Admit a motion", response=MotionView),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/rule-out",
        rule_out,
        "officer",
        "Rule a motion out, saying why",
        Reason,
        MotionView,
    ),
    Route("POST", "/api/v1/motions/{motion_id}/refer", refer, "officer", "Refer a motion", Reason, MotionView),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/withdraw",
        withdraw,
        "member",
        "Withdraw a motion (the mover)",
        response=MotionView,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/amendments",
        amend,
        "member",
        "Propose an amendment",
        AmendmentIn,
        AmendmentView,
        201,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/comments",
        comment,
        "member",
        "Comment (stays on this node)",
        CommentIn,
        CommentView,
        201,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/ballot",
        motion_ballot,
        "officer",
        "Open the ballot on the motion as amended",
        BallotRulesIn,
        BallotView,
        201,
    ),
    Route(
        "POST",
        "/api/v1/amendments/{amendment_id}/accept",
        accept_amendment,
        "member",
        "Accept an amendment (the mover): folded in without a vote",
        response=AmendmentView,
    ),
    Route(
        "POST",
        "/api/v1/motions/{motion_id}/remit",
        remit,
        "member",
        "Remit a motion (the mover agrees)",
        response=MotionView,
    ),
    Route(
        "POST",
        "/api/v1/amendments/{amendment_id}/withdraw",
        withdraw_amendment,
        "member",
        "Withdraw an amendment (whoever proposed it)",
        response=AmendmentView,
    ),
    Route(
        "POST",
        "/api/v1/amendments/{amendment_id}/ballot",
        amendment_ballot,
        "officer",
        "Open the ballot on an amendment",
        BallotRulesIn,
        BallotView,
        201,
    ),
)
