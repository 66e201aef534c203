"""The builders of the authorisation matrix (tests/node/web/test_authz_matrix.py): for each
route, what one request needs made first (a ballot, a motion, a child body's envelopes ...),
for a cell of the matrix: who asks (``Cell.me``) about whose data (``Cell.target``)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from node.federation import ballots, elections, motions
from node.federation import submissions as subm
from node.federation.acts import issue_charter
from node.federation.ballots import BallotSpec
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
    node_id_text,
    seal,
)
from protocol.ballots import records
from protocol.member_keys import MemberKey
from protocol.wire import JoinRequest
from tests.node.conftest import PASSWORD, Live, Principal

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


async def _log(c: Cell) -> Request:
    return f"/api/v1/log/{node_id_text(c.live.node.key.public)}?after=0&limit=10", {}


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


async def _key_file(c: Cell) -> Request:
    return "/api/v1/me/keys/files", {"json": {"public": SigningKey.generate().public.hex()}}


async def _key_revoke(c: Cell) -> Request:
    row = await c.live.node.member_keys.add(c.target.member.id, MemberKey(alg="ed25519",
                                            public=SigningKey.generate().public), "to revoke")  # fmt: skip
    return f"/api/v1/me/keys/{row.id}", {}


async def _scrutineer_appoint(c: Cell) -> Request:
    return "/api/v1/scrutineers", {"json": {"member_id": c.target.member.id}}


async def _scrutineer_dismiss(c: Cell) -> Request:
    await c.live.node.scrutineers.appoint(c.target.member.id, None)
    return f"/api/v1/scrutineers/{c.target.member.id}", {}


async def _register(c: Cell) -> Request:
    """A decided ballot's register: the caller is a scrutineer for their own column only."""
    if c.own and c.me is not None:
        await c.live.node.scrutineers.appoint(c.me.member.id, None)
    return f"/api/v1/ballots/{await _ballot(c, True)}/register", {}


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


async def _propose_join(c: Cell) -> Request:
    return await _join_path(c, "proposals")


async def _refuse(c: Cell) -> Request:
    return await _join_path(c, "refuse")


async def _charter(c: Cell) -> Request:
    return "/api/v1/charters", {"json": {"node_id": SigningKey.generate().node_id, "name": "R", "level": "region"}}


async def _revocation(c: Cell) -> Request:
    child = SigningKey.generate()
    await issue_charter(c.live.node, child.public, "Doomed Region", "region", None)
    return "/api/v1/revocations", {"json": {"node_id": child.node_id, "reason": "test"}}


async def _charter_proposal(c: Cell) -> Request:
    return "/api/v1/charters/proposals", {"json": {"node_id": SigningKey.generate().node_id, "name": "R",
                                                   "level": "region"}}  # fmt: skip


async def _revocation_proposal(c: Cell) -> Request:
    child = SigningKey.generate()
    await issue_charter(c.live.node, child.public, "Doomed Region", "region", None)
    return "/api/v1/revocations/proposals", {"json": {"node_id": child.node_id, "reason": "test"}}


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
        "member_keys": "SELECT id, member_id, revoked_at FROM member_keys ORDER BY id",
        "key_challenges": "SELECT member_id, challenge FROM key_challenges ORDER BY member_id",
        "scrutineers": "SELECT member_id FROM scrutineers ORDER BY member_id",
    }
    return {name: [tuple(r) for r in await live.node.db.fetchall(sql)] for name, sql in queries.items()}


async def _rules_proposal(c: Cell) -> Request:
    closes = int(time.time() * 1000) + 3_600_000
    return "/api/v1/rules/proposals", {"json": {"changes": {"quorum": {"num": 1, "den": 3}}, "closes": closes}}


async def _freeze(c: Cell) -> Request:
    child = SigningKey.generate()
    await issue_charter(c.live.node, child.public, "Suspect Region", "region", None)
    return "/api/v1/freezes", {"json": {"node_id": child.node_id, "days": 3, "reason": "its key was lost"}}
