"""A motion from proposal to decision: submit, admit or rule out, amend (the mover accepts,
or a ballot decides each amendment), then the ballot on the motion as amended; its decision
settles the motion (carried, carried as amended, lost).

Everything is checked by :mod:`node.rules.motions` and :mod:`node.rules.ballots`; the API,
the pages and the CLI call these functions. Only decisions (and the rolls they use) leave
the node; motions, amendments and comments stay on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from node.errors import BadInput, Conflict, Forbidden
from node.federation import ballots
from node.federation.ballots import BallotSpec, Deciding
from node.federation.participations import SignedIn, own_signature
from node.rules import motions as rules
from node.rules.member_keys import Keyed
from node.storage.ballots import BallotRow
from node.storage.members import Member
from node.storage.motions import AmendmentRow, CommentRow, MotionRow, MotionStore
from protocol import BallotRules, Decision, Envelope, member_keys

OPEN_FOR_AMENDMENT = ("admitted",)
UNDECIDED = ("proposed", "voting")


class Moving(Deciding, Keyed, Protocol):
    @property
    def motions(self) -> MotionStore: ...


def _federation(node: Moving) -> bytes:
    federation = node.federation_state.federation
    if federation is None:
        raise Conflict("this node holds no federation yet: a signature names the federation", code="not_federated")
    return federation


def motion_statement(node: Moving, for_body: bytes, title: str, text: str) -> bytes:
    """What the mover signs to move this motion here (:func:`protocol.member_keys.motion_statement`)."""
    return member_keys.motion_statement(_federation(node), node.key.public, for_body, title.strip(), text)


def amendment_statement(node: Moving, motion: MotionRow, paragraph: int, start: int, end: int,
                        replacement: str) -> bytes:  # fmt: skip
    """What the mover signs to move this amendment (``paragraph`` from 0, as stored) to the
    motion's text as it stands (:func:`protocol.member_keys.amendment_statement`)."""
    original = rules.span(motion.current, paragraph, start, end)
    return member_keys.amendment_statement(_federation(node), node.key.public, motion.current, paragraph + 1,
                                           original, replacement)  # fmt: skip


def _is_ancestor_or_self(node: Moving, body: bytes) -> bool:
    trust = node.federation_state.trust
    me = node.own_log.key.public
    if body == me:
        return True
    seen = 0
    current = trust.bodies.get(me) if trust else None
    while current is not None and current.parent is not None and seen < 64:
        if current.parent == body:
            return True
        current = trust.bodies.get(current.parent) if trust else None
        seen += 1
    return False


async def propose(node: Moving, who: Member, title: str, text: str, *, for_body: bytes | None = None,
                  deadline: int | None = None, draft: bool = False, signed: SignedIn | None = None
                  ) -> MotionRow:  # fmt: skip
    """A member moves a motion; with ``signed``, their own key's signature of moving it
    (checked first, kept with it: :func:`motion_statement`)."""
    rules.check_may_propose(who)
    if not title.strip() or not text.strip():
        raise BadInput("a motion has a title and a text", field="title" if not title.strip() else "text")
    body = for_body or node.own_log.key.public
    if not _is_ancestor_or_self(node, body):
        raise BadInput("a motion is for this body or one above it in the federation", field="for_body")
    kept = None
    if signed is not None:
        kept = await own_signature(node, who, motion_statement(node, body, title, text), signed, "signature")
    return await node.motions.add(title.strip(), text, who.id, body, deadline, "draft" if draft else "submitted",
                                  kept)  # fmt: skip


async def submit(node: Moving, who: Member, motion_id: int) -> MotionRow:
    rules.check_mover(who, await node.motions.require(motion_id), "submits it")
    return await node.motions.move(motion_id, ("draft",), "submitted")


async def admit(node: Moving, who: Member, motion_id: int) -> MotionRow:
    rules.check_officer(who, "admit motions")
    return await node.motions.move(motion_id, ("submitted",), "admitted")


async def rule_out(node: Moving, who: Member, motion_id: int, reason: str) -> MotionRow:
    rules.check_officer(who, "rule motions out")
    if not reason.strip():
        raise BadInput("say why the motion is ruled out", field="reason")
    return await node.motions.move(motion_id, ("submitted",), "ruled_out", reason=reason.strip())


async def refer(node: Moving, who: Member, motion_id: int, reason: str) -> MotionRow:
    rules.check_officer(who, "refer motions")
    return await node.motions.move(motion_id, ("submitted", "admitted"), "referred", reason=reason.strip())


async def withdraw(node: Moving, who: Member, motion_id: int) -> MotionRow:
    rules.check_mover(who, await node.motions.require(motion_id), "withdraws it")
    return await node.motions.move(motion_id, ("draft", "submitted", "admitted"), "withdrawn")


async def remit(node: Moving, who: Member, motion_id: int) -> MotionRow:
    """Remitted to the body's officers to act on, with the mover's agreement: the mover does it."""
    rules.check_mover(who, await node.motions.require(motion_id), "agrees to remit it")
    return await node.motions.move(motion_id, ("submitted", "admitted"), "remitted")


async def withdraw_amendment(node: Moving, who: Member, amendment_id: int) -> AmendmentRow:
    """Its proposer withdraws an amendment not yet decided."""
    amendment = await node.motions.require_amendment(amendment_id)
    if amendment.proposer_id != who.id:
        raise Forbidden("only whoever proposed an amendment withdraws it")
    return await node.motions.move_amendment(amendment_id, ("proposed",), "withdrawn")


async def amend(node: Moving, who: Member, motion_id: int, paragraph: int, start: int, end: int,
                replacement: str, *, signed: SignedIn | None = None) -> AmendmentRow:  # fmt: skip
    """A member moves an amendment; with ``signed``, their own key's signature of moving it
    (checked first, kept with it: :func:`amendment_statement`)."""
    rules.check_may_propose(who)
    motion = await node.motions.require(motion_id)
    if motion.deadline is not None and int(time.time() * 1000) > motion.deadline:
        raise Conflict("the deadline for amendments has passed", code="past_deadline")
    original = rules.span(motion.current, paragraph, start, end)
    if original == replacement:
        raise BadInput("the amendment changes nothing", field="text")
    kept = None
    if signed is not None:
        statement = amendment_statement(node, motion, paragraph, start, end, replacement)
        kept = await own_signature(node, who, statement, signed, "signature")
    return await node.motions.add_amendment(motion_id, who.id, paragraph, start, end, original, replacement,
                                            OPEN_FOR_AMENDMENT, kept)  # fmt: skip


async def comment(node: Moving, who: Member, motion_id: int, text: str) -> CommentRow:
    """Debate stays on the node: comments are never published."""
    rules.check_may_propose(who)
    motion = await node.motions.require(motion_id)
    return await node.motions.comment(motion.id, who.id, text)


async def accept_amendment(node: Moving, who: Member, amendment_id: int) -> AmendmentRow:
    """The mover folds the amendment in, without a vote (recorded as accepted; it falls if
    its words are no longer in the text)."""
    amendment = await node.motions.require_amendment(amendment_id)
    rules.check_mover(who, await node.motions.require(amendment.motion_id), "accepts an amendment")
    return await node.motions.fold(amendment_id, ("proposed",), "accepted", OPEN_FOR_AMENDMENT, rules.apply)


async def ballot_on_amendment(
    node: Moving,
    who: Member,
    amendment_id: int,
    *,
    rules_: BallotRules | None = None,
    secrecy: str = "secret",
    may_change: bool = False,
    closes: int | None = None,
    clock: Callable[[], float] = time.time,
) -> BallotRow:
    rules.check_officer(who, "open ballots")
    # Claimed first (compare-and-set), so two officers cannot open two ballots on it, nor the
    # mover accept it while it is being voted on; given back if the ballot does not open.
    amendment = await node.motions.move_amendment(amendment_id, ("proposed",), "voting")
    motion = await node.motions.require(amendment.motion_id)
    amended = rules.apply(motion.current, amendment) if motion.state in OPEN_FOR_AMENDMENT else None
    if amended is None:
        await node.motions.move_amendment(amendment_id, ("voting",), "proposed")
        if motion.state not in OPEN_FOR_AMENDMENT:
            raise Conflict(f"the motion is {motion.state}: its amendments are settled", code="wrong_state")
        await node.motions.fold(amendment_id, ("proposed",), "fell", OPEN_FOR_AMENDMENT, rules.apply)
        raise Conflict("the amendment fell: the words it changes are no longer in the motion", code="fell")
    number = sum(1 for a in await node.motions.amendments(motion.id) if a.id <= amendment.id)  # as its page numbers it
    spec = BallotSpec(motion=f"m{motion.id}", amendment=f"a{amendment.id}", subject=f"Amendment {number} to: "
                      f"{motion.title}"[:200], text=amended, rules=rules_, secrecy=secrecy, may_change=may_change,
                      closes=closes)  # fmt: skip
    try:
        row = await ballots.open_ballot(node, who, spec, clock)
    except BaseException:
        await node.motions.move_amendment(amendment_id, ("voting",), "proposed")
        raise
    await node.motions.move_amendment(amendment_id, ("voting",), "voting", ballot_id=row.id)
    return row


async def ballot_on_motion(node: Moving, who: Member, motion_id: int, *, rules_: BallotRules | None = None,
                           secrecy: str = "secret", may_change: bool = False, closes: int | None = None,
                           clock: Callable[[], float] = time.time) -> BallotRow:  # fmt: skip
    """The substantive motion, as amended: only once every amendment is decided."""
    rules.check_officer(who, "open ballots")
    await node.motions.start_vote(motion_id, OPEN_FOR_AMENDMENT, UNDECIDED)  # given back if the ballot does not open
    motion = await node.motions.require(motion_id)  # read once voting: its text cannot change now
    spec = BallotSpec(motion=f"m{motion.id}", subject=motion.title, text=motion.current, rules=rules_,
                      secrecy=secrecy, may_change=may_change, closes=closes)  # fmt: skip
    try:
        row = await ballots.open_ballot(node, who, spec, clock)
    except BaseException:
        await node.motions.move(motion_id, ("voting",), "admitted")
        raise
    await node.motions.move(motion_id, ("voting",), "voting", ballot_id=row.id)
    return row


async def close_ballot(node: Moving, who: Member, ballot_id: int, clock: Callable[[], float] = time.time
                       ) -> Envelope:  # fmt: skip
    """Close any ballot (:func:`node.federation.ballots.close_ballot`) and settle the motion
    or amendment it was on."""
    envelope = await ballots.close_ballot(node, who, ballot_id, clock)
    await _settle(node, ballot_id, envelope)
    return envelope


async def close_due(node: Moving, clock: Callable[[], float] = time.time) -> list[Envelope]:
    """Every open ballot whose closing time has passed: closed, counted and published by the
    node, and its motion or amendment settled (``serve`` calls this as each time comes)."""
    closed = []
    for row in await node.ballots.due(int(clock() * 1000)):
        try:
            envelope = await ballots.count_and_publish(node, row.id, clock)
        except Conflict as exc:
            if exc.code != "ballot_closed":  # an officer closed it a moment ago: that close settles it
                raise
            continue
        await _settle(node, row.id, envelope)
        closed.append(envelope)
    return closed


async def _settle(node: Moving, ballot_id: int, envelope: Envelope) -> None:
    body = envelope.payload.body
    assert isinstance(body, Decision)
    motion, amendment = await node.motions.by_ballot(ballot_id)
    carried = body.outcome == "carried"
    if amendment is not None and amendment.state == "voting":
        if carried:
            await node.motions.fold(amendment.id, ("voting",), "carried", OPEN_FOR_AMENDMENT, rules.apply)
        else:
            await node.motions.move_amendment(amendment.id, ("voting",), "lost")
    if motion is not None and motion.state == "voting":
        amended = any(a.state in ("accepted", "carried") for a in await node.motions.amendments(motion.id))
        outcome = ("carried_as_amended" if amended else "carried") if carried else "lost"
        await node.motions.move(motion.id, ("voting",), outcome)
