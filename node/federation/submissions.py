"""Motions going up: a body submits a motion it carried to the body above; that body rules
submissions out, proposes composites of several, and each source answers (consent or not).
The items tabled from them, and the mandates on them, are in :mod:`node.federation.upward`."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from node.errors import BadInput, Conflict
from node.federation.own_log import none_signed
from node.federation.upward import (
    Upward,
    _me,
    _open,
    _referring,
    _sign,
    _submission_problem,
    _submission_to_us,
    answers,
    held,
    refresh,
)
from node.rules.upward import check_may_act_for_body, check_title_text
from node.storage.members import Member
from node.storage.motions import MotionRow
from protocol import (
    Composite,
    Consent,
    Envelope,
    Ruling,
    Submission,
)


async def submit(node: Upward, who: Member, motion_id: int) -> Envelope:
    """Submit a motion this body carried, meant for a body above it, to that body."""
    check_may_act_for_body(who)
    await refresh(node)
    motion = await node.motions.require(motion_id)
    if motion.for_body == _me(node):
        raise Conflict("this motion is for this body: a submission goes to a body above it", code="not_for_above")
    if motion.state not in ("carried", "carried_as_amended"):
        raise Conflict(f"the motion is {motion.state}: only a motion this body carried goes up", code="wrong_state")
    if motion.ballot_id is None:
        raise Conflict("the motion has no ballot", code="wrong_state")
    ballot = await node.ballots.require(motion.ballot_id)
    if ballot.decision is None:
        raise Conflict("the motion's ballot has no decision yet", code="wrong_state")
    if hashlib.sha256(motion.current.encode()).digest() != ballot.text_hash:
        raise Conflict("the motion's text is not the text its decision carried", code="text_changed")
    submitted = Conflict("this motion has been submitted already", code="already_submitted")
    decision = ballot.decision
    for earlier in map(_open, await node.upward.referring_by(motion.for_body, "submission", _me(node))):
        if earlier.payload.body.decision == decision:  # type: ignore[union-attr]
            raise submitted
    once = none_signed(_me(node), "submission", lambda b: isinstance(b, Submission) and b.decision == decision,
                       submitted)  # fmt: skip
    return await node.own_log.append(Submission(to=motion.for_body, decision=decision, title=motion.title,
                                                text=motion.current), check=once)  # fmt: skip


async def submission_of(node: Upward, motion: MotionRow) -> Envelope | None:
    """This body's submission of the motion's decision to the body above, if signed."""
    if motion.for_body == _me(node) or motion.ballot_id is None:
        return None
    ballot = await node.ballots.get(motion.ballot_id)
    if ballot is None or ballot.decision is None:
        return None
    for raw in await node.envelopes.own_of_kind(_me(node), "submission", limit=10_000):  # (not the index: now)
        earlier = _open(raw)
        if isinstance(earlier.payload.body, Submission) and earlier.payload.body.decision == ballot.decision:
            return earlier
    return None


@dataclass(frozen=True)
class SubmissionView:
    envelope: Envelope
    body: Submission
    state: str  # waiting, ruled_out, composited, on_agenda, invalid
    note: str = ""


async def submissions(node: Upward) -> list[SubmissionView]:
    """Submissions to this body, with where each stands."""
    await refresh(node)
    me = _me(node)
    out = []
    for envelope in await _referring(node, me, "submission"):
        body = envelope.payload.body
        assert isinstance(body, Submission)
        problem = await _submission_problem(node, envelope)
        if problem is not None:
            out.append(SubmissionView(envelope, body, "invalid", problem))
            continue
        rulings = [_open(r) for r in await node.upward.referring_by(envelope.id, "ruling", me)]
        items = [_open(r) for r in await node.upward.referring_by(envelope.id, "agenda_item", me)]
        composites = [_open(r) for r in await node.upward.referring_by(envelope.id, "composite", me)]
        if items:
            out.append(SubmissionView(envelope, body, "on_agenda", items[-1].id.hex()))
        elif rulings:
            out.append(SubmissionView(envelope, body, "ruled_out", rulings[-1].payload.body.reason))  # type: ignore[union-attr]
        elif composites:
            out.append(SubmissionView(envelope, body, "composited", composites[-1].id.hex()))
        else:
            out.append(SubmissionView(envelope, body, "waiting"))
    return out


async def rule_out(node: Upward, who: Member, submission_id: bytes, reason: str) -> Envelope:
    check_may_act_for_body(who)
    if not reason.strip() or len(reason.strip()) > 200:
        raise BadInput("say why the submission is ruled out, in at most 200 characters", field="reason")
    await refresh(node)
    await _submission_to_us(node, submission_id)
    return await _sign(node, Ruling(submission=submission_id, reason=reason.strip()))


async def propose_composite(node: Upward, who: Member, title: str, text: str, sources: Sequence[bytes]) -> Envelope:
    check_may_act_for_body(who)
    check_title_text(title, text)
    if len(set(sources)) < 2:
        raise BadInput("a composite merges two or more different submissions", field="sources")
    await refresh(node)
    for source in sources:
        await _submission_to_us(node, source)
    return await _sign(node, Composite(title=title.strip(), text=text, sources=list(dict.fromkeys(sources))))


@dataclass(frozen=True)
class CompositeView:
    envelope: Envelope
    body: Composite
    answers: dict[bytes, str]  # source submission -> its author's latest answer
    ours: bytes | None  # this body's own source among them, if any


async def composites(node: Upward) -> list[CompositeView]:
    """Composites this body proposed, and those of its own submissions, with every answer."""
    await refresh(node)
    me = _me(node)
    found: dict[bytes, tuple[Envelope, bytes | None]] = {}
    for composite in await _referring(node, me, "composite"):
        found[composite.id] = (composite, None)
    for raw in await node.envelopes.own_of_kind(me, "submission", 200):
        mine = _open(raw)
        for composite in await _referring(node, mine.id, "composite"):
            found[composite.id] = (composite, mine.id)
    out = []
    for composite, ours in found.values():
        body = composite.payload.body
        assert isinstance(body, Composite)
        out.append(CompositeView(composite, body, await answers(node, composite), ours))
    return sorted(out, key=lambda c: c.envelope.payload.created, reverse=True)


async def answer_composite(node: Upward, who: Member, composite_id: bytes, answer: str) -> Envelope:
    """Consent to a composite of this body's submission, refuse it, or withdraw the motion."""
    check_may_act_for_body(who)
    if answer not in ("consent", "refuse", "withdraw"):
        raise BadInput("the answer is consent, refuse or withdraw", field="answer")
    await refresh(node)
    composite = await held(node, composite_id, Composite, "composite")
    ours = [s for s, raw in (await node.upward.many(composite.payload.body.sources)).items()  # type: ignore[union-attr]
            if _open(raw).author == _me(node)]  # fmt: skip
    if not ours:
        raise Conflict("none of this composite's sources is this body's submission", code="not_a_source")
    return await _sign(node, Consent(composite=composite_id, submission=ours[0], answer=answer))  # type: ignore[arg-type]
