"""Routes for decisions going up: submissions, composites and consents, agenda items, mandates,
and aggregates with their recount (node/federation/upward.py, submissions.py and items.py
hold every step and its rules; ids are envelope ids in hex). Delegates and campaigns:
node/web/routes/campaigns.py."""

from __future__ import annotations

import re
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from msgspec import Meta

from node.errors import BadInput, NotFound
from node.federation import items as on_item
from node.federation import rules_change, upward
from node.federation import submissions as subm
from node.federation.upward import NewItem
from node.storage.members import Member
from node.web.common import json_response, node_of, read_json
from node.web.routes.ballots import BallotView
from node.web.routes.federation import Appended
from node.web.routing import Route
from protocol import AgendaItem, Aggregate, BallotRules, Envelope, Mandate, node_id_text
from protocol import upward as up
from protocol.models import MAX_TIME_MS

HexId = Annotated[str, Meta(pattern=r"^[0-9a-f]{64}\Z")]
Title = Annotated[str, Meta(min_length=1, max_length=200)]
MotionText = Annotated[str, Meta(min_length=1, max_length=20_000)]
Time = Annotated[int, Meta(ge=0, le=MAX_TIME_MS)]


def id_param(request: web.Request, name: str) -> bytes:
    raw = request.match_info[name]
    if re.fullmatch(r"[0-9a-fA-F]{64}", raw) is None:  # (bytes.fromhex also takes spaces)
        raise NotFound(f"no such {name}: an id is 64 hex digits")
    return bytes.fromhex(raw)


def appended(envelope: Envelope) -> web.Response:
    return json_response(Appended(envelope.id.hex(), envelope.seq, envelope.kind), status=201)


# --- submissions and composites ---------------------------------------------------------------


class SubmitIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    motion: Annotated[int, Meta(ge=1, le=2**62)]


class SubmissionView(msgspec.Struct):
    id: str
    by: str
    by_name: str
    title: str
    text: str
    decision: str
    state: str
    note: str


class RulingIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Title


class CompositeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: Title
    text: MotionText
    sources: Annotated[list[HexId], Meta(min_length=2, max_length=64)]


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    answer: Literal["consent", "refuse", "withdraw"]


async def submit_upward(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, SubmitIn)
    return appended(await subm.submit(node_of(request), who, body.motion))


async def list_submissions(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    return json_response([
        SubmissionView(s.envelope.id.hex(), node_id_text(s.envelope.author), upward.name_of(node, s.envelope.author),
                       s.body.title, s.body.text, s.body.decision.hex(), s.state, s.note)
        for s in await subm.submissions(node)
    ])  # fmt: skip


async def rule_out_submission(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, RulingIn)
    return appended(await subm.rule_out(node_of(request), who, id_param(request, "submission_id"), body.reason))


async def propose_composite(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, CompositeIn)
    sources = [bytes.fromhex(s) for s in body.sources]
    return appended(await subm.propose_composite(node_of(request), who, body.title, body.text, sources))


async def answer_composite(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, AnswerIn)
    return appended(await subm.answer_composite(node_of(request), who, id_param(request, "composite_id"),
                                                  body.answer))  # fmt: skip


# --- agenda items, mandates, aggregates ------------------------------------------------------------


class ItemIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    title: Annotated[str, Meta(max_length=200)] = ""
    text: Annotated[str, Meta(max_length=20_000)] = ""
    opens: Time | None = None
    closes: Time
    weighting: Literal["card_vote", "one_branch_one_vote", "delegates"] | None = None
    rules: BallotRules | None = None
    sources: Annotated[list[HexId], Meta(max_length=64)] = []
    composite: HexId | None = None


class ItemView(msgspec.Struct):
    id: str
    by: str
    by_name: str
    title: str
    text: str
    opens: int
    closes: int
    weighting: str
    rules: BallotRules
    sources: list[str]
    composite: str | None


class MandateView(msgspec.Struct):
    id: str
    by: str
    by_name: str
    position: str
    split: list[int]
    basis: str
    replaces: str | None
    created: int
    problem: str | None  # why it is not counted (None: valid)
    counted: bool  # the child's mandate to count (valid, its latest)


class ChildView(msgspec.Struct):
    key: str
    name: str
    weight: int
    mandate: str | None


class FindingView(msgspec.Struct):
    code: str
    message: str


class AggregateView(msgspec.Struct):
    id: str
    by: str
    weighting: str
    votes: list[int]
    weight_sent: int
    weight_all: int
    children_sent: int
    children_all: int
    outcome: str
    created: int
    findings: list[FindingView]


class ItemReportView(msgspec.Struct):
    item: ItemView
    findings: list[FindingView]  # what is wrong with the item itself (a composite without consent)
    children: list[ChildView]
    mandates: list[MandateView]
    aggregates: list[AggregateView]


class MandateIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    position: Literal["for", "against", "abstain", "free"] | None = None
    split: bool = False


def item_view(node: upward.Upward, envelope: Envelope) -> ItemView:
    b = envelope.payload.body
    assert isinstance(b, AgendaItem)
    return ItemView(envelope.id.hex(), node_id_text(envelope.author), upward.name_of(node, envelope.author), b.title,
                    b.text, b.opens, b.closes, b.weighting, b.rules, [s.hex() for s in b.sources],
                    b.composite.hex() if b.composite else None)  # fmt: skip


def aggregate_view(envelope: Envelope, findings: list[up.Finding]) -> AggregateView:
    a = envelope.payload.body
    assert isinstance(a, Aggregate)
    sent, absent = len(a.counted) // up.RECORD, len(a.absent) // up.RECORD
    return AggregateView(envelope.id.hex(), node_id_text(envelope.author), a.weighting, list(a.votes), a.weight_sent,
                         a.weight_all, sent, sent + absent, a.outcome, envelope.payload.created,
                         [FindingView(f.code, f.message) for f in findings])  # fmt: skip


async def report_view(node: upward.Upward, item_id: bytes) -> ItemReportView:
    report = await on_item.report(node, item_id)
    judged = report.judged
    assert judged is not None
    mandates = []
    for envelope, problem in judged.mandates.values():
        m = envelope.payload.body
        assert isinstance(m, Mandate)
        who = envelope.author
        mandates.append(MandateView(envelope.id.hex(), node_id_text(who), upward.name_of(node, who), m.position,
                                    list(m.split), m.basis.hex(), m.replaces.hex() if m.replaces else None,
                                    envelope.payload.created, problem, judged.latest.get(who) is envelope))  # fmt: skip
    children = [ChildView(node_id_text(k), judged.names.get(k, ""), w,
                          judged.latest[k].id.hex() if k in judged.latest else None)
                for k, w in judged.weights.items()]  # fmt: skip
    return ItemReportView(item_view(node, report.item), [FindingView(f.code, f.message) for f in report.findings],
                          children, mandates,
                          [aggregate_view(a, f) for a, f in report.aggregates])  # fmt: skip


async def table_item(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, ItemIn)
    new = NewItem(title=body.title, text=body.text, opens=body.opens, closes=body.closes, weighting=body.weighting,
                  rules=body.rules, sources=tuple(bytes.fromhex(s) for s in body.sources),
                  composite=bytes.fromhex(body.composite) if body.composite else None)  # fmt: skip
    return appended(await upward.table_item(node_of(request), who, new))


async def list_agenda(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    return json_response([item_view(node, e) for e in await upward.agenda(node)])


async def get_item(request: web.Request, who: Member | None) -> web.StreamResponse:
    return json_response(await report_view(node_of(request), id_param(request, "item_id")))


class ItemBallotIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """When the node closes this body's ballot on the item (before the item's deadline for
    mandates); absent, an officer closes it."""

    closes: Time | None = None


async def ballot_on_item(request: web.Request, who: Member | None) -> web.StreamResponse:
    from node.web.routes.ballots import view

    assert who is not None
    body = await read_json(request, ItemBallotIn, empty=ItemBallotIn())
    row = await on_item.ballot_on_item(node_of(request), who, id_param(request, "item_id"), closes=body.closes)
    return json_response(view(row), status=201)


async def issue_mandate(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, MandateIn)
    if body.split and body.position is not None:
        raise BadInput("a split mandate follows the decision's counts: give split or a position, not both",
                       field="position")  # fmt: skip
    return appended(await upward.issue_mandate(node_of(request), who, id_param(request, "item_id"),
                                               position=body.position, split=body.split))  # fmt: skip


async def aggregate_item(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return appended(await rules_change.aggregate(node_of(request), who, id_param(request, "item_id")))


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/api/v1/submissions",
        submit_upward,
        "officer",
        "Submit a motion this body carried to the body above it was meant for (signed)",
        SubmitIn,
        Appended,
        201,
    ),
    Route(
        "GET",
        "/api/v1/submissions",
        list_submissions,
        "member",
        "Submissions to this body, with where each stands",
        response=list[SubmissionView],
    ),
    Route(
        "POST",
        "/api/v1/submissions/{submission_id}/ruling",
        rule_out_submission,
        "officer",
        "Rule a submission out, saying why (signed)",
        RulingIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/composites",
        propose_composite,
        "officer",
        "Propose a composite of two or more submissions (signed)",
        CompositeIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/composites/{composite_id}/answer",
        answer_composite,
        "officer",
        "Consent to, refuse or withdraw from a composite of this body's submission (signed)",
        AnswerIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/agenda",
        table_item,
        "officer",
        "Table an agenda item for this body's children (signed)",
        ItemIn,
        Appended,
        201,
    ),
    Route(
        "GET",
        "/api/v1/agenda",
        list_agenda,
        "member",
        "Agenda items of this body and the bodies above it",
        response=list[ItemView],
    ),
    Route(
        "GET",
        "/api/v1/agenda/{item_id}",
        get_item,
        "member",
        "An agenda item: children and weights, every mandate judged, each aggregate recounted here",
        response=ItemReportView,
    ),
    Route(
        "POST",
        "/api/v1/agenda/{item_id}/ballot",
        ballot_on_item,
        "officer",
        "Open this body's ballot on the exact text of its parent's item (closed by the node at `closes`)",
        ItemBallotIn,
        BallotView,
        201,
        body_optional=True,
    ),
    Route(
        "POST",
        "/api/v1/agenda/{item_id}/mandate",
        issue_mandate,
        "officer",
        "Send this body's mandate, following its decision (signed)",
        MandateIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/agenda/{item_id}/aggregate",
        aggregate_item,
        "officer",
        "After the deadline: count the children's mandates and sign the aggregate",
        response=Appended,
        status=201,
    ),
)
