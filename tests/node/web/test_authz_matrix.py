"""Authorisation matrix: anonymous / member / officer / admin x own / another member's data x every route.

Each cell starts from fresh people (the caller and an ordinary member who is "the other"),
sends one request and checks the status. ``EXPECTED`` is written by hand from the rules in
docs/operating.md; a test checks it names every route in ``node.web.api.ROUTES``.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from node.federation import ballots, elections, motions
from node.federation import submissions as subm
from node.federation.acts import issue_charter
from node.federation.ballots import BallotSpec
from node.web.api import ROUTES
from protocol import (
    AgendaItem,
    BallotRules,
    Body,
    Campaign,
    Decision,
    Envelope,
    Nomination,
    Payload,
    Pledge,
    Ratio,
    Roll,
    Selection,
    SigningKey,
    Submission,
    seal,
)
from protocol.ballots import records
from protocol.wire import JoinRequest
from tests.node.conftest import PASSWORD, Live, Principal, new_node_dir

ROLES = ("anonymous", "member", "officer", "admin")
ROLE_OF = {"member": "member", "officer": "secretary", "admin": "admin"}


@dataclass
class Cell:
    """Everything one request needs: who asks, whose data, and what was created for it."""

    live: Live
    me: Principal | None
    other: Principal
    own: bool

    @property
    def target(self) -> Principal:
        """Whose data the request is about; anonymous callers have none of their own."""
        return self.me if self.own and self.me else self.other

    @property
    def headers(self) -> dict[str, str]:
        return self.me.headers if self.me else {}


Request = tuple[str, dict[str, Any]]  # path, aiohttp request keyword arguments
Builder = Callable[[Cell], Awaitable[Request]]


async def plain(path: str) -> Request:
    return path, {}


async def _envelope(c: Cell) -> Request:
    federation = c.live.node.federation_state.federation
    assert federation is not None
    return f"/api/v1/envelopes/{federation.hex()}", {}


async def _login(c: Cell) -> Request:
    # own: my email and my password; other: the other member's email with a guess.
    password = PASSWORD if c.own else "not their password at all"
    return "/api/v1/auth/login", {"json": {"email": c.target.member.email, "password": password}}


async def _accept_invite(c: Cell) -> Request:
    # own: a valid invite link; other: a link for someone else that was already used.
    token = await c.live.node.auth.create_invite(c.other.member.id, 3600)
    if not c.own:
        await c.live.node.auth.accept_invite(token, c.live.password_hash)
    return "/api/v1/auth/invite", {"json": {"token": token, "password": "a brand new passphrase"}}


async def _reset(c: Cell) -> Request:
    # own: a good reset link; other: one already used.
    token = await c.live.node.auth.create_reset(c.other.member.id, 3600, lambda t, e: {"url": t, "expires": ""})
    if not c.own:
        await c.live.node.auth.use_reset(token, c.live.password_hash)
    return "/api/v1/auth/reset", {"json": {"token": token, "password": "a brand new passphrase"}}


async def _token_delete(c: Cell) -> Request:
    owner = c.target.member.id
    token, _ = await c.live.node.auth.create_token(owner, "to delete")
    return f"/api/v1/tokens/{token.id}", {}


def _member_path(suffix: str = "") -> Builder:
    async def build(c: Cell) -> Request:
        return f"/api/v1/members/{c.target.member.id}{suffix}", {}

    return build


async def _member_patch(c: Cell) -> Request:
    return f"/api/v1/members/{c.target.member.id}", {"json": {"name": "New Name"}}


def _json(path: str, body: Any) -> Builder:
    async def build(c: Cell) -> Request:
        return path, {"json": body}

    return build


async def _add_member(c: Cell) -> Request:
    email = f"added-{c.other.member.id}@example.org"
    return "/api/v1/members", {"json": {"name": "Added", "email": email}}


async def _import(c: Cell) -> Request:
    csv = f"name,email\nImported,imported-{c.other.member.id}@example.org\n".encode()
    return "/api/v1/members/import", {"data": csv, "headers": {"Content-Type": "text/csv"}}


async def _ballot(c: Cell, closed: bool = False) -> int:
    """A ballot opened (and perhaps closed) by an officer of its own, with the caller and the
    other member on its roll."""
    officer = await c.live.member("secretary")
    row = await ballots.open_ballot(c.live.node, officer.member, BallotSpec(motion="m1", subject="s", text="t"))
    if closed:
        await ballots.close_ballot(c.live.node, officer.member, row.id)
    return row.id


def _ballot_path(suffix: str = "", closed: bool = False, body: Any = None) -> Builder:
    async def build(c: Cell) -> Request:
        return f"/api/v1/ballots/{await _ballot(c, closed)}{suffix}", ({"json": body} if body is not None else {})

    return build


async def _motion(c: Cell, state: str = "submitted") -> int:
    """A motion moved by the target member (the caller's own, or the other member's)."""
    node = c.live.node
    draft = state == "draft"
    row = await motions.propose(node, c.target.member, "A motion", "This is the text.", draft=draft)
    if state == "admitted":
        officer = await c.live.member("secretary")
        await motions.admit(node, officer.member, row.id)
    return row.id


def _motion_path(suffix: str = "", state: str = "submitted", body: Any = None) -> Builder:
    async def build(c: Cell) -> Request:
        return f"/api/v1/motions/{await _motion(c, state)}{suffix}", ({"json": body} if body is not None else {})

    return build


def _amendment_path(suffix: str, by_target: bool = False) -> Builder:
    """An amendment on the target's admitted motion, proposed by the other member (or, with
    ``by_target``, by the target: the caller's own amendment in the "own" column)."""

    async def build(c: Cell) -> Request:
        motion_id = await _motion(c, "admitted")
        proposer = c.target.member if by_target else c.other.member
        amendment = await motions.amend(c.live.node, proposer, motion_id, 0, 0, 4, "That")
        return f"/api/v1/amendments/{amendment.id}{suffix}", {}

    return build


def _fixed(path: str) -> Builder:
    async def build(c: Cell) -> Request:
        return await plain(path)

    return build


async def _join_path(c: Cell, action: str) -> Request:
    asked = JoinRequest(name="New Region", level="region", url="http://127.0.0.1:9")
    request = await c.live.node.joins.request(SigningKey.generate().public, asked, f"192.0.2.{c.other.member.id % 250}")
    return f"/api/v1/joins/{request.id}/{action}", {}


async def _approve(c: Cell) -> Request:
    return await _join_path(c, "approve")


async def _refuse(c: Cell) -> Request:
    return await _join_path(c, "refuse")


async def _charter(c: Cell) -> Request:
    return "/api/v1/charters", {"json": {"node_id": SigningKey.generate().node_id, "name": "R", "level": "region"}}


async def _revocation(c: Cell) -> Request:
    child = SigningKey.generate()
    await issue_charter(c.live.node, child.public, "Doomed Region", "region", None)
    return "/api/v1/revocations", {"json": {"node_id": child.node_id, "reason": "test"}}


async def _child(c: Cell, *bodies: Callable[[list[Envelope]], Body], created: int | None = None) -> list[Envelope]:
    """A region chartered by the node, whose log (each body made from the envelopes before
    it, signed now or at ``created``) the node has taken in."""
    key = SigningKey.generate()
    await issue_charter(c.live.node, key.public, "Child Region", "region", None)
    federation = c.live.node.federation_state.federation
    out: list[Envelope] = []
    for make in bodies:
        when = created if created is not None else int(time.time() * 1000)
        payload = Payload(author=key.public, seq=len(out) + 1, created=when, body=make(out),
                          federation=federation, prev=out[-1].id if out else None)  # fmt: skip
        out.append(seal(key, payload))
    outcomes = await c.live.node.federation_state.ingest([e.raw for e in out])
    assert [o.status for o in outcomes] == ["accepted"] * len(out), outcomes
    return out


def _carried(text: str, ballot: bytes, roll: bytes) -> Decision:
    votes = [(bytes([i]) * 16, b"\x00") for i in range(3)]
    return Decision(ballot=ballot, motion="m1", subject="s", text_hash=hashlib.sha256(text.encode()).digest(),
                    method="for_against_abstain", rules=BallotRules(quorum=Ratio(num=1, den=4),
                    threshold=Ratio(num=1, den=2)), electorate=3, roll=roll, opened=0, closed=1,
                    counts=[3, 0, 0], receipts=records(ballot, votes), outcome="carried")  # fmt: skip


async def _submission(c: Cell) -> bytes:
    """A submission to the node from a region it chartered, citing the region's decision."""
    text = "The region's motion."
    to = c.live.node.key.public
    ballot = os.urandom(16)
    envelopes = await _child(c, lambda _: Roll(count=3, root=bytes(32), as_of=0, ballot=ballot),
                             lambda log: _carried(text, ballot, log[0].id),
                             lambda log: Submission(to=to, decision=log[1].id, title="Motion", text=text))  # fmt: skip
    return envelopes[2].id


async def _submit_motion(c: Cell) -> Request:
    return "/api/v1/submissions", {"json": {"motion": await _motion(c)}}


async def _ruling(c: Cell) -> Request:
    return f"/api/v1/submissions/{(await _submission(c)).hex()}/ruling", {"json": {"reason": "Out of order"}}


async def _composite(c: Cell) -> Request:
    sources = [(await _submission(c)).hex(), (await _submission(c)).hex()]
    return "/api/v1/composites", {"json": {"title": "Merged", "text": "Both motions.", "sources": sources}}


async def _composite_answer(c: Cell) -> Request:
    officer = await c.live.member("secretary")
    composite = await subm.propose_composite(c.live.node, officer.member, "Merged", "Both.",
                                               [await _submission(c), await _submission(c)])  # fmt: skip
    return f"/api/v1/composites/{composite.id.hex()}/answer", {"json": {"answer": "consent"}}


async def _item(c: Cell, past: bool = False) -> bytes:
    now = int(time.time() * 1000)
    body = AgendaItem(title="Rent caps", text="We back rent caps.", opens=now - 2000 if past else now,
                      closes=now - 1000 if past else now + 3_600_000, weighting="card_vote",
                      rules=BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2)))  # fmt: skip
    return (await c.live.node.own_log.append(body)).id


def _item_path(suffix: str = "", past: bool = False, body: Any = None) -> Builder:
    async def build(c: Cell) -> Request:
        return f"/api/v1/agenda/{(await _item(c, past)).hex()}{suffix}", ({"json": body} if body is not None else {})

    return build


async def _pledge(c: Cell) -> Request:
    campaign = Campaign(title="Bin strike", text="On strike.", asks="Support us.", starts=0)
    envelopes = await _child(c, lambda _: campaign)
    return f"/api/v1/campaigns/{envelopes[0].id.hex()}/pledges", {"json": {"text": "We pledge £50."}}


async def _withdraw_campaign(c: Cell) -> Request:
    campaign = Campaign(title="Bin strike", text="On strike.", asks="Support us.", starts=0)
    own = await c.live.node.own_log.append(campaign)
    return f"/api/v1/campaigns/{own.id.hex()}/withdrawal", {"json": {"reason": "Won."}}


async def _withdraw_pledge(c: Cell) -> Request:
    campaign = Campaign(title="Bin strike", text="On strike.", asks="Support us.", starts=0)
    envelopes = await _child(c, lambda _: campaign)
    own = await c.live.node.own_log.append(Pledge(campaign=envelopes[0].id, text="We pledge £50."))
    return f"/api/v1/pledges/{own.id.hex()}/withdrawal", {"json": {"reason": "We cannot."}}


async def _erasure(c: Cell, suffix: str, body: Any = None) -> Request:
    """A request to be forgotten by the cell's target, waiting (an ordinary member: "other",
    as the caller is, for "own"): carrying it out or refusing it."""
    member = c.target.member
    request = await c.live.node.members_data.ask_erasure(member.id)
    return f"/api/v1/erasures/{request.id}/{suffix}", ({"json": body} if body is not None else {})


async def _carry_out(c: Cell) -> Request:
    return await _erasure(c, "carry-out")


async def _refusal(c: Cell) -> Request:
    return await _erasure(c, "refusal", {"answer": "A dispute is open."})


async def _selection(c: Cell, *, nominations_closed: bool = False, voting_closed: bool = False,
                     paper: bool = False) -> bytes:  # fmt: skip
    """A selection of the node's, with two nominations from regions it chartered (signed
    before nominations closed) and, when asked, its ballot paper."""
    now = int(time.time() * 1000)
    close = now - 2000 if nominations_closed else now + 3_600_000
    selection = await c.live.node.own_log.append(
        Selection(office="Treasurer", seats=1, method="stv", nominations_close=close,
                  voting_close=now - 1000 if voting_closed else now + 7_200_000, reopen="on"))  # fmt: skip
    signed = min(close, now) - 4000
    for name in ("Ann", "Bob"):
        nomination = Nomination(selection=selection.id, candidate=name, statement="", consented=signed - 1000)
        await _child(c, lambda _, n=nomination: n, created=signed)  # type: ignore[misc]
    if paper:
        officer = await c.live.member("secretary")
        await elections.publish_paper(c.live.node, officer.member, selection.id)
    return selection.id


def _selection_path(suffix: str = "", body: Any = None, **state: bool) -> Builder:
    async def build(c: Cell) -> Request:
        path = f"/api/v1/selections/{(await _selection(c, **state)).hex()}{suffix}"
        return path, ({"json": body} if body is not None else {})

    return build


async def _new_selection(c: Cell) -> Request:
    await _child(c)  # a body below to select across
    now = int(time.time() * 1000)
    return "/api/v1/selections", {"json": {"office": "Regional committee", "seats": 2,
                                           "nominations_close": now + 3_600_000, "voting_close": now + 7_200_000}}


ITEM = {"title": "Rent caps", "text": "We back rent caps.", "closes": 4_102_444_800_000}
CAMPAIGN = {"title": "Bin strike", "text": "On strike from Monday.", "asks": "Visit the picket."}
PROFILE = {"name": "Test Branch", "endpoints": ["http://127.0.0.1:9/"]}
PASSWORD_CHANGE = {"current": PASSWORD, "new": "another long passphrase"}

# (method, path) -> (builder, {role: (status for own data, status for another member's data)})
A = 401  # not signed in
F = 403  # signed in, not allowed
EXPECTED: dict[tuple[str, str], tuple[Builder, dict[str, tuple[int, int]]]] = {
    ("GET", "/healthz"): (_fixed("/healthz"), dict.fromkeys(ROLES, (200, 200))),
    ("GET", "/api/v1/node"): (_fixed("/api/v1/node"), dict.fromkeys(ROLES, (200, 200))),
    ("GET", "/api/v1/envelopes/{id}"): (_envelope, dict.fromkeys(ROLES, (200, 200))),
    ("POST", "/api/v1/auth/login"): (_login, dict.fromkeys(ROLES, (200, 401))),
    ("POST", "/api/v1/auth/invite"): (_accept_invite, dict.fromkeys(ROLES, (200, 400))),
    ("POST", "/api/v1/auth/forgot"): (_json("/api/v1/auth/forgot", {"email": "a@example.org"}),
                                      dict.fromkeys(ROLES, (202, 202))),
    ("POST", "/api/v1/auth/reset"): (_reset, dict.fromkeys(ROLES, (200, 400))),
    ("GET", "/api/v1/me/notices"): (_fixed("/api/v1/me/notices"),
                                    {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200))),
    ("PATCH", "/api/v1/me/notices"): (_json("/api/v1/me/notices", {"decisions": True}),
                                      {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200))),
    # This node has no mail set up: officers are told so (409 mail_off).
    ("POST", "/api/v1/members/invite-everyone"): (
        _fixed("/api/v1/members/invite-everyone"),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("GET", "/api/v1/outbox"): (
        _fixed("/api/v1/outbox"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/auth/logout"): (
        _fixed("/api/v1/auth/logout"),
        {"anonymous": (A, A), "member": (204, 204), "officer": (204, 204), "admin": (204, 204)},
    ),
    ("GET", "/api/v1/me"): (_fixed("/api/v1/me"), {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200))),
    ("PATCH", "/api/v1/me"): (
        _json("/api/v1/me", {"consent_contact": True}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/me/password"): (
        _json("/api/v1/me/password", PASSWORD_CHANGE),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (204, 204)),
    ),
    ("GET", "/api/v1/tokens"): (
        _fixed("/api/v1/tokens"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/tokens"): (
        _json("/api/v1/tokens", {"name": "script"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    # Another member's token is invisible, even to an admin: 404, not 403.
    ("DELETE", "/api/v1/tokens/{token_id}"): (
        _token_delete,
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (204, 404)),
    ),
    ("GET", "/api/v1/members"): (
        _fixed("/api/v1/members"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/members"): (
        _add_member,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/members/import"): (
        _import,
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("GET", "/api/v1/members/{member_id}"): (
        _member_path(),
        {"anonymous": (A, A), "member": (200, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("PATCH", "/api/v1/members/{member_id}"): (
        _member_patch,
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("DELETE", "/api/v1/members/{member_id}"): (
        _member_path(),
        {"anonymous": (A, A), "member": (F, F), "officer": (204, 204), "admin": (204, 204)},
    ),
    ("POST", "/api/v1/members/{member_id}/invite"): (
        _member_path("/invite"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/joins"): (
        _fixed("/api/v1/joins"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/joins/{join_id}/approve"): (
        _approve,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/joins/{join_id}/refuse"): (
        _refuse,
        {"anonymous": (A, A), "member": (F, F), "officer": (204, 204), "admin": (204, 204)},
    ),
    ("POST", "/api/v1/joins/codes"): (
        _fixed("/api/v1/joins/codes"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/charters"): (
        _charter,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/revocations"): (
        _revocation,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/motions"): (
        _json("/api/v1/motions", {"title": "Fund it", "text": "We fund it."}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("GET", "/api/v1/motions"): (
        _fixed("/api/v1/motions"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/motions/{motion_id}"): (
        _motion_path(),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    # The mover's own steps: nobody else's, whatever their role.
    ("POST", "/api/v1/motions/{motion_id}/submit"): (
        _motion_path("/submit", "draft"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/motions/{motion_id}/withdraw"): (
        _motion_path("/withdraw"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/motions/{motion_id}/admit"): (
        _motion_path("/admit"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/motions/{motion_id}/rule-out"): (
        _motion_path("/rule-out", body={"reason": "Not our business"}),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/motions/{motion_id}/refer"): (
        _motion_path("/refer", body={"reason": "To the region"}),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/motions/{motion_id}/amendments"): (
        _motion_path("/amendments", "admitted", {"paragraph": 1, "start": 0, "end": 4, "text": "That"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("POST", "/api/v1/motions/{motion_id}/comments"): (
        _motion_path("/comments", body={"text": "I agree."}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("POST", "/api/v1/motions/{motion_id}/ballot"): (
        _motion_path("/ballot", "admitted"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/motions/{motion_id}/remit"): (
        _motion_path("/remit"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/amendments/{amendment_id}/withdraw"): (
        _amendment_path("/withdraw", by_target=True),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/amendments/{amendment_id}/accept"): (
        _amendment_path("/accept"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, F)),
    ),
    ("POST", "/api/v1/amendments/{amendment_id}/ballot"): (
        _amendment_path("/ballot"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/rolls"): (
        _fixed("/api/v1/rolls"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/ballots"): (
        _json("/api/v1/ballots", {"motion": "m1", "subject": "Fund it", "text": "We fund it."}),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/ballots"): (
        _fixed("/api/v1/ballots"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/ballots/{ballot_id}"): (
        _ballot_path(),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/ballots/{ballot_id}/votes"): (
        _ballot_path("/votes", body={"choice": "for"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("POST", "/api/v1/ballots/{ballot_id}/close"): (
        _ballot_path("/close"),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/ballots/{ballot_id}/receipt-check"): (
        _ballot_path("/receipt-check", closed=True, body={"receipt": "r-aaaaaaaaaaaaaaaaaaaaaaaaaa"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/ballots/{ballot_id}/roll-proof"): (
        _ballot_path("/roll-proof"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    # Decisions going up. The node is the federation's root: it has no parent, so its officers'
    # mandates, ballots on a parent's item, delegates and submissions are refused for what
    # they are (409), after the access check; the rest succeed.
    ("POST", "/api/v1/submissions"): (
        _submit_motion,
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("GET", "/api/v1/submissions"): (
        _fixed("/api/v1/submissions"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/submissions/{submission_id}/ruling"): (
        _ruling,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/composites"): (
        _composite,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/composites/{composite_id}/answer"): (
        _composite_answer,
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/agenda"): (
        _json("/api/v1/agenda", ITEM),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/agenda"): (_fixed("/api/v1/agenda"), {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200))),
    ("GET", "/api/v1/agenda/{item_id}"): (_item_path(), {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200))),
    ("POST", "/api/v1/agenda/{item_id}/ballot"): (
        _item_path("/ballot"),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/agenda/{item_id}/mandate"): (
        _item_path("/mandate", body={}),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/agenda/{item_id}/aggregate"): (
        _item_path("/aggregate", past=True),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/findings"): (
        _fixed("/api/v1/findings"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/delegates"): (
        _json("/api/v1/delegates", {"count": 2}),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("GET", "/api/v1/access"): (
        _fixed("/api/v1/access"),
        {"anonymous": (A, A), "member": (F, F), "officer": (F, F), "admin": (200, 200)},
    ),
    ("POST", "/api/v1/me/erasure"): (
        _fixed("/api/v1/me/erasure"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (201, 201)),
    ),
    ("GET", "/api/v1/privacy"): (
        _fixed("/api/v1/privacy"),
        dict.fromkeys(ROLES, (200, 200)),
    ),
    ("PUT", "/api/v1/privacy"): (
        _json("/api/v1/privacy", {"controller": "Riverside Branch", "contact": "secretary@riverside.example"}),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("GET", "/api/v1/retention"): (
        _fixed("/api/v1/retention"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("GET", "/api/v1/erasures"): (
        _fixed("/api/v1/erasures"),
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    # Carrying out: an officer forgets an ordinary member, never themselves (409); an admin's
    # own request too is another's to carry out.
    ("POST", "/api/v1/erasures/{request_id}/carry-out"): (
        _carry_out,
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 200), "admin": (409, 200)},
    ),
    ("POST", "/api/v1/erasures/{request_id}/refusal"): (
        _refusal,
        {"anonymous": (A, A), "member": (F, F), "officer": (200, 200), "admin": (200, 200)},
    ),
    ("GET", "/api/v1/me/data"): (
        _fixed("/api/v1/me/data"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/me/access"): (
        _fixed("/api/v1/me/access"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("GET", "/api/v1/campaigns"): (
        _fixed("/api/v1/campaigns"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/campaigns"): (
        _json("/api/v1/campaigns", CAMPAIGN),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/campaigns/{campaign_id}/pledges"): (
        _pledge,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/campaigns/{campaign_id}/withdrawal"): (
        _withdraw_campaign,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/pledges/{pledge_id}/withdrawal"): (
        _withdraw_pledge,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    # Elections. The node has no body above it, so standing for delegates to one, or opening
    # a delegate election, is refused for what it is (400: no such body above), after the
    # access check; a selection of its own runs across the regions it chartered.
    ("GET", "/api/v1/candidacies"): (
        _fixed("/api/v1/candidacies?contest=selection:" + "00" * 32),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/candidacies"): (
        _json("/api/v1/candidacies", {"contest": "delegates:00", "name": "Ann"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (400, 400)),
    ),
    ("POST", "/api/v1/candidacies/withdraw"): (
        _json("/api/v1/candidacies/withdraw", {"contest": "delegates:00"}),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (409, 409)),
    ),
    ("POST", "/api/v1/elections/delegates"): (
        _json("/api/v1/elections/delegates", {"seats": 2}),
        {"anonymous": (A, A), "member": (F, F), "officer": (400, 400), "admin": (400, 400)},
    ),
    ("GET", "/api/v1/selections"): (
        _fixed("/api/v1/selections"),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/selections"): (
        _new_selection,
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("GET", "/api/v1/selections/{selection_id}"): (
        _selection_path(),
        {"anonymous": (A, A)} | dict.fromkeys(ROLES[1:], (200, 200)),
    ),
    ("POST", "/api/v1/selections/{selection_id}/nominations"): (
        _selection_path("/nominations", body={"member": 1}),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/selections/{selection_id}/paper"): (
        _selection_path("/paper", nominations_closed=True),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/selections/{selection_id}/ballot"): (
        _selection_path("/ballot", nominations_closed=True, paper=True),
        {"anonymous": (A, A), "member": (F, F), "officer": (409, 409), "admin": (409, 409)},
    ),
    ("POST", "/api/v1/selections/{selection_id}/result"): (
        _selection_path("/result", nominations_closed=True, voting_closed=True, paper=True),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
    ("POST", "/api/v1/log/profile"): (
        _json("/api/v1/log/profile", PROFILE),
        {"anonymous": (A, A), "member": (F, F), "officer": (201, 201), "admin": (201, 201)},
    ),
}


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    """A national node, so that charters and revocations are within the federation's rules."""
    return await new_node_dir(tmp_path, "National Committee", level="national")


# Allowed, yet nothing to change: signing out with an API token (it ends a browser session;
# test_api checks that with a cookie), and checking a receipt (posted only to keep it out of
# addresses and logs).
WITHOUT_STATE = {("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/ballots/{ballot_id}/receipt-check"),
                 ("POST", "/api/v1/auth/forgot")}  # (no mail set up here: the same answer, nothing sent)


async def snapshot(live: Live) -> dict[str, list[tuple[object, ...]]]:
    """Everything a request could change: members, logins, tokens, invites, join requests, the
    node's log and the federation's bodies."""
    queries = {
        "members": "SELECT id, name, email, role, youth, status, joined, consent_contact, consent_publish_name,"
        " password_hash FROM members ORDER BY id",
        "sessions": "SELECT token_hash, member_id FROM sessions ORDER BY token_hash",
        "tokens": "SELECT id, member_id, name FROM api_tokens ORDER BY id",
        "erasures": "SELECT id, member_id, state, answer FROM erasure_requests ORDER BY id",
        "privacy": "SELECT value FROM meta WHERE key = 'privacy_notice'",
        "invites": "SELECT token_hash, member_id FROM invites ORDER BY token_hash",
        "resets": "SELECT token_hash, member_id FROM password_resets ORDER BY token_hash",
        "notices": "SELECT member_id, ballots, decisions, elections, digest FROM notice_choices ORDER BY member_id",
        "outbox": "SELECT id, state FROM outbox ORDER BY id",
        "joins": "SELECT id, status, charter_id FROM joins ORDER BY id",
        "join_codes": "SELECT hash, used_by FROM join_codes ORDER BY hash",
        "envelopes": "SELECT id FROM envelopes ORDER BY rowid",
        "bodies": "SELECT key, cut FROM bodies ORDER BY key",
        "ballots": "SELECT id, state, decision FROM ballots ORDER BY id",
        "votes": "SELECT ballot_id, digest FROM ballot_votes ORDER BY ballot_id, digest",
        "motions": "SELECT id, state, current, ballot_id FROM motions ORDER BY id",
        "amendments": "SELECT id, state, ballot_id FROM amendments ORDER BY id",
        "comments": "SELECT id FROM motion_comments ORDER BY id",
        "candidacies": "SELECT contest, member_id, nomination FROM candidacies ORDER BY contest, member_id",
    }
    return {name: [tuple(r) for r in await live.node.db.fetchall(sql)] for name, sql in queries.items()}


def test_matrix_names_every_route() -> None:
    assert set(EXPECTED) == {(r.method, r.path) for r in ROUTES}
    for builder, by_role in EXPECTED.values():
        assert set(by_role) == set(ROLES), builder


CASES = [
    pytest.param(method, path, role, own, id=f"{role}-{'own' if own else 'other'}-{method} {path}")
    for (method, path) in EXPECTED
    for role in ROLES
    for own in (True, False)
]


@pytest.mark.parametrize(("method", "path", "role", "own"), CASES)
async def test_matrix(live: Live, method: str, path: str, role: str, own: bool) -> None:
    await live.member("admin")  # someone else is always an admin, so no cell removes the last one
    me = None if role == "anonymous" else await live.member(ROLE_OF[role])
    other = await live.member("member")
    cell = Cell(live, me, other, own)
    builder, by_role = EXPECTED[(method, path)]
    url_path, kwargs = await builder(cell)
    snapshots = [await snapshot(live)]  # after the builder made what the request needs
    headers = {**cell.headers, **kwargs.pop("headers", {})}
    async with live.http.request(method, url_path, headers=headers, **kwargs) as response:
        body = await response.read()
    expected = by_role[role][0 if own else 1]
    assert response.status == expected, body
    if expected >= 400:
        assert b'"error"' in body  # every refusal is the documented error shape
    if method != "GET":
        # The state says what happened, not only the status: a refused write changed nothing
        # at all, and an allowed one changed something.
        before_builder = snapshots.pop()
        after = await snapshot(live)
        if expected >= 400:
            assert after == before_builder, (method, path)
        elif (method, path) not in WITHOUT_STATE:
            assert after != before_builder, (method, path)
