"""Routes for ballots: officers open and close them; members vote, check their receipt and
their place on the roll (node/federation/ballots.py holds every step and its rules)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from aiohttp import web
from msgspec import Meta

from node.federation import ballots, motions, participations
from node.federation.ballots import BallotSpec
from node.storage.ballots import BallotRow, ElectionSpec
from node.storage.members import Member
from node.web.common import int_param, json_response, node_of, read_json
from node.web.routing import Route
from protocol import BallotRules, node_id_text
from protocol.member_keys import challenge_of
from protocol.models import MAX_OPTIONS, MAX_TIME_MS
from protocol.register import MarkedRegister

Option = Annotated[str, Meta(min_length=1, max_length=200)]


class BallotIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    motion: Annotated[str, Meta(min_length=1, max_length=64)]
    subject: Annotated[str, Meta(min_length=1, max_length=200)]
    text: Annotated[str, Meta(max_length=100_000)]
    method: Literal["for_against_abstain", "approval", "ranked"] = "for_against_abstain"
    options: Annotated[list[Option], Meta(max_length=MAX_OPTIONS)] = []
    rules: BallotRules | None = None
    secrecy: Literal["open", "secret"] = "secret"
    may_change: bool = False
    amendment: Annotated[str, Meta(max_length=64)] = ""
    opens: Annotated[int, Meta(ge=0, le=MAX_TIME_MS)] | None = None
    closes: Annotated[int, Meta(ge=0, le=MAX_TIME_MS)] | None = None
    seats: Annotated[int, Meta(ge=1, le=MAX_OPTIONS)] | None = None  # ranked
    counting: Literal["stv", "meek", "irv", "schulze"] | None = None  # ranked (default stv)


class BallotView(msgspec.Struct):
    id: int
    motion: str
    amendment: str
    subject: str
    text_hash: str
    method: str
    options: list[str]
    rules: BallotRules
    secrecy: str
    may_change: bool
    state: str
    opened: int
    opens: int
    closes: int | None
    closed: int | None
    electorate: int
    roll: str
    decision: str | None
    voted: bool | None = None  # whether the member asking has voted (None: not an open question)
    seats: int | None = None  # ranked ballots: seats, counting, and what it elects
    counting: str | None = None
    selection: str | None = None
    delegates_to: str | None = None


B64 = Annotated[str, Meta(max_length=1400, pattern=r"^[A-Za-z0-9_-]*={0,2}\Z")]


class ParticipationIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The voter's own signature of their participation (GET .../participation-options says
    what to sign): a key file's by its ``key_id`` (hex), or a passkey's assertion, with its
    ``credential`` id, authenticator data and client data JSON; binary fields base64url."""

    key_id: Annotated[str, Meta(pattern=r"^[0-9a-f]{64}\Z")] | None = None
    credential: B64 | None = None
    signature: B64
    authenticator_data: B64 = ""
    client_data: B64 = ""


def signed_of(given: ParticipationIn | None, field: str) -> participations.SignedIn | None:
    """A member's own signature as a body carries it (a vote's participation, a consent, a
    motion's or amendment's signature), parsed; BadInput naming ``field`` when it is bent."""
    if given is None:
        return None
    return participations.signed_in(given.signature, given.authenticator_data, given.client_data,
                                    key_id=given.key_id, credential=given.credential, field=field)  # fmt: skip


class VoteIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    choice: Annotated[str, Meta(max_length=200)] | Annotated[list[Option], Meta(max_length=MAX_OPTIONS)]
    replaces: Annotated[str, Meta(max_length=100)] | None = None
    participation: ParticipationIn | None = None


class Receipt(msgspec.Struct):
    receipt: str
    signed: bool = False  # whether the vote came with the voter's own signature of their participation


class SigningOptionsView(msgspec.Struct):
    statement: str  # hex: what a key file signs
    challenge: str  # base64url of SHA-256(statement): a passkey's challenge
    rp_id: str | None  # the site a passkey signs for (None: this node has none: passkeys cannot sign here)
    key_ids: list[str]  # hex: the member's keys that may sign it (for a vote: on the ballot's roll), in force
    credentials: list[str]  # base64url: those that are passkeys, for allowCredentials


class ProofStepView(msgspec.Struct):
    index: int
    roll_leaf: str
    signed: str | None  # hex digest of the signed statement; None: an unsigned vote
    path: list[str]


class ParticipationView(msgspec.Struct):
    found: str  # signed, unsigned or absent: what the decision holds in my name
    roll_leaf: str
    root: str  # the decision's `participations`
    size: int
    steps: list[ProofStepView]


class ReceiptIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    receipt: Annotated[str, Meta(max_length=100)]


class ReceiptCheck(msgspec.Struct):
    counted: bool
    choice: str | list[str] | None


class RollProofView(msgspec.Struct):
    roll: str
    count: int
    index: int
    salt: str
    member: int
    path: list[str]
    keys: list[str] | None = None  # hex ids of the keys the roll says I held (None: a roll from before keys)


class Closed(msgspec.Struct):
    decision: str
    seq: int
    author: str


def view(row: BallotRow, voted: bool | None = None) -> BallotView:
    return BallotView(
        id=row.id, motion=row.motion, amendment=row.amendment, subject=row.subject, text_hash=row.text_hash.hex(),
        method=row.method, options=row.options, rules=row.rules, secrecy=row.secrecy, may_change=row.may_change,
        state=row.state, opened=row.opened, opens=row.opens, closes=row.closes, closed=row.closed,
        electorate=row.electorate, roll=row.roll.hex(), decision=row.decision.hex() if row.decision else None,
        voted=voted, seats=e.seats if (e := row.election) else None, counting=e.counting if e else None,
        selection=e.selection.hex() if e and e.selection else None,
        delegates_to=e.delegates_to.hex() if e and e.delegates_to else None,
    )  # fmt: skip


async def open_ballot(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, BallotIn)
    spec = BallotSpec(motion=body.motion, subject=body.subject, text=body.text, method=body.method,
                      options=tuple(body.options), rules=body.rules, secrecy=body.secrecy,
                      may_change=body.may_change, amendment=body.amendment, opens=body.opens,
                      closes=body.closes, election=ElectionSpec(body.seats or 1, body.counting or "stv")
                      if body.method == "ranked" else None)  # fmt: skip
    return json_response(view(await ballots.open_ballot(node_of(request), who, spec)), status=201)


async def list_ballots(request: web.Request, who: Member | None) -> web.StreamResponse:
    return json_response([view(r) for r in await node_of(request).ballots.recent()])


async def get_ballot(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    store = node_of(request).ballots
    row = await store.require(int_param(request, "ballot_id"))
    voted = await store.has_voted(row.id, who.id) if row.state == "open" else None
    return json_response(view(row, voted))


async def cast_vote(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, VoteIn)
    signed = signed_of(body.participation, "participation")
    receipt = await ballots.vote(node_of(request), who, int_param(request, "ballot_id"), body.choice,
                                 replaces=body.replaces, signed=signed)  # fmt: skip
    return json_response(Receipt(receipt, signed is not None), status=201)


async def signing_options(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    node = node_of(request)
    row = await node.ballots.require(int_param(request, "ballot_id"))
    return json_response(signing_view(await participations.options_for(node, who, row)))


def signing_view(got: participations.SigningOptions) -> SigningOptionsView:
    """What a member's browser or terminal needs to sign a statement, as the API gives it."""
    b64url = participations.b64url
    return SigningOptionsView(got.statement.hex(), b64url(challenge_of(got.statement)), got.rp_id,
                              [k.hex() for k, _ in got.keys], [b64url(c) for _, c in got.keys if c])


async def my_participation(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    node = node_of(request)
    row = await node.ballots.require(int_param(request, "ballot_id"))
    check = await participations.proof_for(node, who, row)
    steps = [ProofStepView(s.index, s.entry.roll_leaf.hex(), s.entry.signed.hex() if s.entry.signed else None,
                           [p.hex() for p in s.path]) for s in check.proof.steps]  # fmt: skip
    return json_response(ParticipationView(check.found, check.roll_leaf.hex(), check.root.hex(), check.proof.size,
                                           steps))  # fmt: skip


async def close_ballot(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    envelope = await motions.close_ballot(node_of(request), who, int_param(request, "ballot_id"))
    return json_response(Closed(envelope.id.hex(), envelope.seq, node_id_text(envelope.author)), status=201)


async def publish_roll(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    envelope = await ballots.publish_roll(node_of(request), who)
    return json_response(Closed(envelope.id.hex(), envelope.seq, node_id_text(envelope.author)), status=201)


async def check_receipt(request: web.Request, who: Member | None) -> web.StreamResponse:
    """A receipt in a path or query would reach access logs (the node's names the route only,
    a proxy's may not): with the voter's address it would tell who chose what. So it is posted."""
    body = await read_json(request, ReceiptIn)
    result = await ballots.check_receipt(node_of(request), int_param(request, "ballot_id"), body.receipt)
    return json_response(ReceiptCheck(result.counted, result.choice))


async def roll_proof(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    proof = await ballots.roll_proof(node_of(request), who, int_param(request, "ballot_id"))
    return json_response(RollProofView(proof.roll.hex(), proof.count, proof.index, proof.salt.hex(), proof.member,
                                       [p.hex() for p in proof.path],
                                       None if proof.keys is None else [k.hex() for k in proof.keys]))  # fmt: skip


async def marked_register(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    node = node_of(request)
    row = await node.ballots.require(int_param(request, "ballot_id"))
    return json_response(await participations.register_for(node, who, row, "api"))


# --- the routes (node/web/api.py joins the tables of every module) ---
ROUTES: tuple[Route, ...] = (
    Route(
        "POST", "/api/v1/ballots", open_ballot, "officer", "Open a ballot (signs its roll)", BallotIn, BallotView, 201
    ),
    Route(
        "POST",
        "/api/v1/rolls",
        publish_roll,
        "officer",
        "Sign a roll of the members now (count only)",
        response=Closed,
        status=201,
    ),
    Route("GET", "/api/v1/ballots", list_ballots, "member", "Recent ballots", response=list[BallotView]),
    Route("GET", "/api/v1/ballots/{ballot_id}", get_ballot, "member", "One ballot", response=BallotView),
    Route(
        "POST",
        "/api/v1/ballots/{ballot_id}/votes",
        cast_vote,
        "member",
        "Vote; the receipt is shown once",
        VoteIn,
        Receipt,
        201,
    ),
    Route(
        "POST",
        "/api/v1/ballots/{ballot_id}/close",
        close_ballot,
        "officer",
        "Close: count, sign and publish the decision",
        response=Closed,
        status=201,
    ),
    Route(
        "POST",
        "/api/v1/ballots/{ballot_id}/receipt-check",
        check_receipt,
        "member",
        "Whether the decision counted this receipt, and as what (in the body: no log or proxy sees it)",
        ReceiptIn,
        ReceiptCheck,
    ),
    Route(
        "GET",
        "/api/v1/ballots/{ballot_id}/roll-proof",
        roll_proof,
        "member",
        "My place on the ballot's roll (salt, index, audit path, the keys it says I held)",
        response=RollProofView,
    ),
    Route(
        "GET",
        "/api/v1/ballots/{ballot_id}/participation-options",
        signing_options,
        "member",
        "What to sign to take part with my own key: the statement, a passkey's challenge, my keys on its roll",
        response=SigningOptionsView,
    ),
    Route(
        "GET",
        "/api/v1/ballots/{ballot_id}/participation",
        my_participation,
        "member",
        "Whether the decision holds a participation in my name (signed, unsigned or absent), with its proof",
        response=ParticipationView,
    ),
    Route(
        "GET",
        "/api/v1/ballots/{ballot_id}/register",
        marked_register,
        "member",
        "A decided ballot's marked register, for a scrutineer: roll, decision, electors, participations and every "
        "signature (never a choice), to check with `branchnet audit --register`",
        response=MarkedRegister,
    ),
)
