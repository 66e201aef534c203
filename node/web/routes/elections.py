"""Routes for elections: standing (a member's own consent), a branch's delegate election, and
a body's selection across its branches (node/federation/elections.py holds every step and
its rules; ids are envelope ids in hex)."""

from __future__ import annotations

import re
import time
from typing import Annotated, Literal

import msgspec
from aiohttp import web
from msgspec import Meta

from node.errors import BadInput
from node.federation import consents
from node.federation import elections as el
from node.federation.results import RoundRow, quota_for_people, rounds_for_people
from node.federation.upward import ancestors, name_of
from node.storage.elections import Candidacy
from node.storage.members import Member
from node.web.common import json_response, node_of, read_json
from node.web.routes.ballots import BallotView, ParticipationIn, SigningOptionsView, signed_of, signing_view, view
from node.web.routes.federation import Appended
from node.web.routes.upward import HexId, Time, appended, id_param
from node.web.routing import Query, Route
from protocol import BallotPaper, Nomination, Selection, node_id_text
from protocol.counting import RON

Contest = Annotated[str, Meta(min_length=1, max_length=100)]


class StandIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    contest: Contest
    name: Annotated[str, Meta(min_length=1, max_length=200)]
    statement: Annotated[str, Meta(max_length=2000)] = ""
    category: Annotated[str, Meta(max_length=64)] = ""
    # For a selection: your own key's signature of your consent (GET /api/v1/candidacies/
    # consent-options says what to sign); your nomination carries it to every node.
    consent: ParticipationIn | None = None


class ContestIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    contest: Contest


class CandidacyView(msgspec.Struct):
    contest: str
    member: int
    name: str
    statement: str
    category: str
    consented: int
    nomination: str | None
    signed: bool = False  # whether the member signed their consent with their own key


CONTEST_PATTERN = r"^(delegates|selection):[0-9a-fA-F]{64}$"


def candidacy_view(c: Candidacy) -> CandidacyView:
    return CandidacyView(c.contest, c.member_id, c.name, c.statement, c.category, c.consented,
                         c.nomination.hex() if c.nomination else None, c.consent_key is not None)  # fmt: skip


async def list_candidacies(request: web.Request, who: Member | None) -> web.StreamResponse:
    contest = request.query.get("contest", "")
    if re.fullmatch(CONTEST_PATTERN, contest) is None:
        raise BadInput("say which contest: ?contest=delegates:<body key, 64 hex digits> or selection:<id, 64 hex"
                       " digits>", field="contest")  # fmt: skip
    standing = await node_of(request).candidacies.of(el.normal_contest(contest))
    return json_response([candidacy_view(c) for c in standing])


async def stand(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, StandIn)
    found = await el.stand(node_of(request), who, body.contest, body.name, body.statement, body.category,
                           consent=signed_of(body.consent, "consent"))  # fmt: skip
    return json_response(candidacy_view(found), status=201)


async def consent_options(request: web.Request, who: Member | None) -> web.StreamResponse:
    """What to sign to stand in a selection under a name: the statement, a passkey's challenge
    and site, and the member's keys in force."""
    assert who is not None
    contest, name = request.query.get("contest", ""), request.query.get("name", "").strip()
    if re.fullmatch(CONTEST_PATTERN, contest) is None or not contest.startswith(el.SELECTION):
        raise BadInput("say which selection: ?contest=selection:<id, 64 hex digits>", field="contest")
    if not 0 < len(name) <= 200:
        raise BadInput("say the name you stand under: ?name=", field="name")
    node = node_of(request)
    contest = await el.contest_check(node, contest, time.time)  # a selection of the body above, nominations open
    return json_response(signing_view(await consents.options(node, who, contest, name)))


async def withdraw_candidacy(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, ContestIn)
    await el.withdraw(node_of(request), who, body.contest)
    return web.Response(status=204)


class DelegateElectionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    seats: Annotated[int, Meta(ge=1, le=15)]
    to: HexId | None = None  # default: the body directly above
    counting: Literal["stv", "meek", "irv", "schulze"] = "stv"
    reopen: bool | None = None  # default: on for one seat
    closes: Time | None = None


async def open_delegate_election(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, DelegateElectionIn)
    node = node_of(request)
    above = ancestors(node, node.own_log.key.public)
    if body.to is None and not above:
        raise BadInput("this body has no body above it to send delegates to", field="to")
    to = bytes.fromhex(body.to) if body.to is not None else above[0]
    row = await el.open_delegate_election(node, who, to, body.seats, counting=body.counting,
                                          reopen_nominations=body.reopen, closes=body.closes)  # fmt: skip
    return json_response(view(row), status=201)


class SelectionIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    office: Annotated[str, Meta(min_length=1, max_length=200)]
    seats: Annotated[int, Meta(ge=1, le=15)]
    nominations_close: Time
    voting_close: Time
    method: Literal["stv", "meek"] = "stv"
    reopen: bool | None = None
    balancing: Literal["", "alternate"] = ""
    text: Annotated[str, Meta(max_length=2000)] = ""


class SelectionSummary(msgspec.Struct):
    id: str
    by: str
    by_name: str
    office: str
    seats: int
    method: str
    nominations_close: int
    voting_close: int
    reopen: bool
    balancing: str
    text: str


class NominationView(msgspec.Struct):
    id: str
    by: str
    by_name: str
    candidate: str
    statement: str
    category: str
    consent_key: str | None = None  # hex: the key the candidate signed their consent with (None: not signed)


class BundleView(msgspec.Struct):
    id: str
    by: str
    by_name: str
    ballots: int
    counts: bool
    problem: str | None


class ResultView(msgspec.Struct):
    id: str
    ballots: int
    bundles: list[str]
    quota: str
    winners: list[str]
    order: list[str]
    balanced: list[str]
    reopen_nominations: bool
    rounds: list[RoundRow]
    findings: list[str]


class SelectionReport(msgspec.Struct):
    selection: SelectionSummary
    nominations: list[NominationView]
    paper: list[str] | None
    paper_id: str | None
    paper_findings: list[str]
    bundles: list[BundleView]
    results: list[ResultView]


def summary(node: el.Electing, envelope_id: bytes, author: bytes, s: Selection) -> SelectionSummary:
    return SelectionSummary(envelope_id.hex(), node_id_text(author), name_of(node, author), s.office, s.seats,
                            s.method, s.nominations_close, s.voting_close, s.reopen == "on", s.balancing,
                            s.text)  # fmt: skip


async def list_selections(request: web.Request, who: Member | None) -> web.StreamResponse:
    node = node_of(request)
    out = []
    for e in await el.selections(node):
        assert isinstance(e.payload.body, Selection)
        out.append(summary(node, e.id, e.author, e.payload.body))
    return json_response(out)


async def report(node: el.Electing, selection_id: bytes) -> SelectionReport:
    return report_of(node, await el.selection_view(node, selection_id))


def report_of(node: el.Electing, v: el.SelectionView) -> SelectionReport:
    """A selection as the API shows it, from what :func:`selection_view` gathered."""
    nominations = [NominationView(n.id.hex(), node_id_text(n.author), name_of(node, n.author), b.candidate,
                                  b.statement, b.category, consents.signer_of(b))
                   for n in v.nominations if isinstance(b := n.payload.body, Nomination)]  # fmt: skip
    paper = v.paper.payload.body if v.paper is not None else None
    assert paper is None or isinstance(paper, BallotPaper)
    results = []
    for r in v.results:
        body = r.body
        assert paper is not None
        rounds = rounds_for_people(body, paper, v.selection.method)
        winners = el.names_of(list(body.winners), paper)
        results.append(ResultView(r.envelope.id.hex(), body.ballots, [b.hex() for b in body.bundles],
                                  quota_for_people(body, v.selection.method), winners,
                                  el.names_of(list(body.order), paper), el.names_of(list(body.balanced), paper),
                                  RON in winners, rounds, r.findings))  # fmt: skip
    return SelectionReport(
        selection=summary(node, v.envelope.id, v.envelope.author, v.selection), nominations=nominations,
        paper=list(paper.candidates) if paper is not None else None,
        paper_id=v.paper.id.hex() if v.paper is not None else None,
        paper_findings=v.paper_findings + [why for _, why in v.later_papers],
        bundles=[BundleView(b.id.hex(), node_id_text(b.author), b.branch, b.ballots, b.problem is None, b.problem)
                 for b in v.bundles],
        results=results,
    )  # fmt: skip


async def get_selection(request: web.Request, who: Member | None) -> web.StreamResponse:
    return json_response(await report(node_of(request), id_param(request, "selection_id")))


async def publish_selection(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    b = await read_json(request, SelectionIn)
    envelope = await el.publish_selection(node_of(request), who, b.office, b.seats, method=b.method,
                                          nominations_close=b.nominations_close, voting_close=b.voting_close,
                                          reopen_nominations=b.reopen, balancing=b.balancing, text=b.text)  # fmt: skip
    return appended(envelope)


class NominateIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    member: Annotated[int, Meta(ge=1, le=2**62)]


async def nominate(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, NominateIn)
    return appended(await el.nominate(node_of(request), who, id_param(request, "selection_id"), body.member))


async def publish_paper(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return appended(await el.publish_paper(node_of(request), who, id_param(request, "selection_id")))


async def open_selection_ballot(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    row = await el.open_selection_ballot(node_of(request), who, id_param(request, "selection_id"))
    return json_response(view(row), status=201)


async def publish_result(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return appended(await el.publish_result(node_of(request), who, id_param(request, "selection_id")))


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/v1/candidacies",
        list_candidacies,
        "member",
        "Who stands in a contest (?contest=)",
        response=list[CandidacyView],
        query=(Query("contest", {"type": "string", "pattern": CONTEST_PATTERN}, required=True),),
    ),
    Route(
        "POST",
        "/api/v1/candidacies",
        stand,
        "member",
        "Stand in a contest: your own consent, with a statement",
        StandIn,
        CandidacyView,
        201,
    ),
    Route(
        "GET",
        "/api/v1/candidacies/consent-options",
        consent_options,
        "member",
        "What to sign, with your own key, to stand in a selection under a name",
        response=SigningOptionsView,
        query=(Query("contest", {"type": "string", "pattern": CONTEST_PATTERN}, required=True),
               Query("name", {"type": "string", "minLength": 1, "maxLength": 200}, required=True)),
    ),
    Route(
        "POST",
        "/api/v1/candidacies/withdraw",
        withdraw_candidacy,
        "member",
        "Stop standing (before nomination)",
        ContestIn,
        status=204,
    ),
    Route(
        "POST",
        "/api/v1/elections/delegates",
        open_delegate_election,
        "officer",
        "Open a ranked ballot electing this branch's delegates from the members standing",
        DelegateElectionIn,
        BallotView,
        201,
    ),
    Route(
        "GET",
        "/api/v1/selections",
        list_selections,
        "member",
        "Selections held (this body's and others')",
        response=list[SelectionSummary],
    ),
    Route(
        "POST",
        "/api/v1/selections",
        publish_selection,
        "officer",
        "Publish a selection across this body's branches (signed)",
        SelectionIn,
        Appended,
        201,
    ),
    Route(
        "GET",
        "/api/v1/selections/{selection_id}",
        get_selection,
        "member",
        "A selection: nominations, ballot paper, bundles, each result with its rounds and this node's recount",
        response=SelectionReport,
    ),
    Route(
        "POST",
        "/api/v1/selections/{selection_id}/nominations",
        nominate,
        "officer",
        "Nominate a member who stands (signed)",
        NominateIn,
        Appended,
        201,
    ),
    Route(
        "POST",
        "/api/v1/selections/{selection_id}/paper",
        publish_paper,
        "officer",
        "After nominations close: fix the ballot paper (signed)",
        response=Appended,
        status=201,
    ),
    Route(
        "POST",
        "/api/v1/selections/{selection_id}/ballot",
        open_selection_ballot,
        "officer",
        "Open this branch's ranked ballot on the selection's paper",
        response=BallotView,
        status=201,
    ),
    Route(
        "POST",
        "/api/v1/selections/{selection_id}/result",
        publish_result,
        "officer",
        "After voting closes: count every bundle and sign the result",
        response=Appended,
        status=201,
    ),
)
