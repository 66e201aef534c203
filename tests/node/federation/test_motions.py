"""A motion from proposal to decision on one node: amendments accepted by the mover, carried
and lost by ballots, the motion voted as amended; and the rules around it."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from node.errors import BadInput, Conflict, Forbidden, Throttled
from node.federation import ballots, motions
from node.rules.motions import apply
from node.service import Node
from node.storage.members import Member, MemberIn
from node.storage.motions import MAX_COMMENTS_PER_DAY, MAX_OPEN_AMENDMENTS, MAX_WAITING_MOTIONS, AmendmentRow
from protocol import Decision

TEXT = (
    "This branch supports the tenants' union.\n\n"
    "We give the union £200 from the campaign fund.\n\n"
    "The secretary writes to the council about repairs."
)


async def add(node: Node, name: str, role: str = "member") -> Member:
    email = name.lower().replace(" ", ".") + "@example.org"
    return await node.members.add(MemberIn(name=name, email=email, role=role))  # type: ignore[arg-type]


async def vote_all(node: Node, ballot_id: int, voters: list[Member], choices: list[str]) -> None:
    for voter, choice in zip(voters, choices, strict=True):
        await ballots.vote(node, voter, ballot_id, choice)


async def test_a_motion_amended_three_ways_then_carried(node: Node) -> None:
    sec = await add(node, "Sec Retary", "secretary")
    mover = await add(node, "Maya Mover")
    voters = [mover, *[await add(node, f"Member {i}") for i in range(19)]]  # 20 of the 21 on the roll vote

    motion = await motions.propose(node, mover, "Support the tenants", TEXT)
    assert motion.state == "submitted"
    await motions.admit(node, sec, motion.id)
    # Accepted by the mover: folded in without a vote.
    friendly = await motions.amend(node, voters[3], motion.id, 1, 8, 17, "the tenants' union")
    assert friendly.original == "the union"
    assert (await motions.accept_amendment(node, mover, friendly.id)).state == "accepted"
    # One carried, one lost, by ballot.
    raise_it = await motions.amend(node, voters[4], motion.id, 1, 0, 7, "Each year we give")
    cut_it = await motions.amend(node, voters[5], motion.id, 2, 0, 50, "")  # delete the last paragraph
    with pytest.raises(Conflict, match="voted on before the motion"):
        await motions.ballot_on_motion(node, sec, motion.id)
    first = await motions.ballot_on_amendment(node, sec, raise_it.id)
    await vote_all(node, first.id, voters[:12], ["for"] * 8 + ["against"] * 4)
    await motions.close_ballot(node, sec, first.id)
    second = await motions.ballot_on_amendment(node, sec, cut_it.id)
    await vote_all(node, second.id, voters[:12], ["for"] * 3 + ["against"] * 9)
    await motions.close_ballot(node, sec, second.id)
    states = {a.id: a.state for a in await node.motions.amendments(motion.id)}
    assert states == {friendly.id: "accepted", raise_it.id: "carried", cut_it.id: "lost"}
    amended = (await node.motions.require(motion.id)).current
    assert amended == (
        "This branch supports the tenants' union.\n\n"
        "Each year we give the tenants' union £200 from the campaign fund.\n\n"
        "The secretary writes to the council about repairs."
    )

    substantive = await motions.ballot_on_motion(node, sec, motion.id)
    await vote_all(node, substantive.id, voters, ["abstain"] + ["for"] * 14 + ["against"] * 5)
    envelope = await motions.close_ballot(node, sec, substantive.id)
    body = envelope.payload.body
    assert isinstance(body, Decision)
    assert body.counts == [14, 5, 1] and body.outcome == "carried" and body.motion == f"m{motion.id}"
    assert body.text_hash == hashlib.sha256(amended.encode()).digest()  # the decision names the text it decided on
    assert (await node.motions.require(motion.id)).state == "carried_as_amended"


async def test_who_may_move_a_motion_and_when(node: Node) -> None:
    sec = await add(node, "Sec Retary", "secretary")
    mover, other = await add(node, "Maya Mover"), await add(node, "Olu Other")
    motion = await motions.propose(node, mover, "A title", TEXT, draft=True)
    with pytest.raises(Forbidden):
        await motions.submit(node, other, motion.id)
    await motions.submit(node, mover, motion.id)
    with pytest.raises(Forbidden):
        await motions.admit(node, mover, motion.id)
    with pytest.raises(BadInput):
        await motions.rule_out(node, sec, motion.id, "  ")
    ruled = await motions.rule_out(node, sec, motion.id, "Not this body's business")
    assert ruled.state == "ruled_out" and ruled.reason == "Not this body's business"
    with pytest.raises(Conflict, match="ruled_out"):
        await motions.admit(node, sec, motion.id)
    with pytest.raises(Conflict, match="takes no amendments"):
        await motions.amend(node, other, motion.id, 0, 0, 4, "That")
    second = await motions.propose(node, mover, "Another", TEXT)
    await motions.admit(node, sec, second.id)
    with pytest.raises(BadInput, match="paragraphs 1 to 3"):  # numbered as people count them
        await motions.amend(node, other, second.id, 3, 0, 0, "x")
    with pytest.raises(BadInput):
        await motions.amend(node, other, second.id, 0, 5, 2, "x")
    amendment = await motions.amend(node, other, second.id, 0, 0, 4, "That")
    with pytest.raises(Forbidden, match="mover"):
        await motions.accept_amendment(node, other, amendment.id)
    assert (await motions.withdraw(node, mover, second.id)).state == "withdrawn"


async def test_an_amendment_whose_words_are_gone_falls() -> None:
    def amendment(start: int, end: int, original: str, replacement: str) -> AmendmentRow:
        return AmendmentRow(1, 1, 1, 0, start, end, original, replacement, "proposed", None, 0)

    text = "We give £200 to the union."
    assert apply(text, amendment(8, 12, "£200", "£300")) == "We give £300 to the union."
    moved = "Each year we give £200 to the union."  # an earlier amendment moved the words
    assert apply(moved, amendment(8, 12, "£200", "£300")) == "Each year we give £300 to the union."
    assert apply("We give £100 to the union.", amendment(8, 12, "£200", "£300")) is None  # gone: it falls
    assert apply("£200 and £200", amendment(20, 24, "£200", "£300")) is None  # twice: which one? it falls


async def test_amendments_folded_at_once_both_stay_in_the_text(node: Node) -> None:
    """The fold reads the text and writes it in one transaction: two accepted together (and a
    ballot opened beside them) lose neither change."""
    sec = await add(node, "Sec Retary", "secretary")
    mover, other = await add(node, "Maya Mover"), await add(node, "Olu Other")
    motion = await motions.propose(node, mover, "Support the tenants", TEXT)
    await motions.admit(node, sec, motion.id)
    first = await motions.amend(node, other, motion.id, 0, 0, 4, "That")
    second = await motions.amend(node, other, motion.id, 2, 4, 13, "chair")
    await asyncio.gather(
        motions.accept_amendment(node, mover, first.id), motions.accept_amendment(node, mover, second.id)
    )
    current = (await node.motions.require(motion.id)).current
    assert current.startswith("That branch") and "The chair writes" in current
    # Two officers open the motion's ballot at once: one ballot, one refusal.
    results = await asyncio.gather(motions.ballot_on_motion(node, sec, motion.id),
                                   motions.ballot_on_motion(node, sec, motion.id), return_exceptions=True)  # fmt: skip
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert len(await node.ballots.recent()) == 1


async def test_a_member_cannot_flood_motions_amendments_or_comments(node: Node) -> None:
    """Each bound is checked in the transaction that would add one more; nothing over it is stored."""
    sec = await add(node, "Sec Retary", "secretary")
    member = await add(node, "Flo Flood")
    made = [await motions.propose(node, member, f"Motion {i}", TEXT) for i in range(MAX_WAITING_MOTIONS)]
    with pytest.raises(Conflict) as too_many:
        await motions.propose(node, member, "One more", TEXT)
    assert too_many.value.code == "too_many" and len(await node.motions.recent(1000)) == MAX_WAITING_MOTIONS
    await motions.admit(node, sec, made[0].id)
    await motions.propose(node, member, "Room again", TEXT)  # an admitted motion no longer waits
    for i in range(MAX_OPEN_AMENDMENTS):
        await motions.amend(node, member, made[0].id, 0, 0, 4, f"That {i}")
    with pytest.raises(Conflict):
        await motions.amend(node, member, made[0].id, 0, 0, 4, "Yet another")
    assert len(await node.motions.amendments(made[0].id)) == MAX_OPEN_AMENDMENTS
    for i in range(MAX_COMMENTS_PER_DAY):
        await motions.comment(node, member, made[0].id, f"Comment {i}")
    with pytest.raises(Throttled):
        await motions.comment(node, member, made[0].id, "One too many")
    assert len(await node.motions.comments(made[0].id)) == MAX_COMMENTS_PER_DAY
