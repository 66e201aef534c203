"""A ballot with a closing time is closed, counted and published by the node at that time,
and the motion it decides is settled, with no officer's click."""

from __future__ import annotations

import asyncio
import time

from node.federation import ballots, motions
from node.federation.ballots import BallotSpec
from protocol import Decision
from tests.node.conftest import Live


async def test_a_ballot_closes_itself_at_its_closing_time(live: Live) -> None:
    node = live.node
    officer = await live.member("secretary")
    voters = [await live.member() for _ in range(3)]
    motion = await motions.propose(node, voters[0].member, "Fund the food bank", "Give £200 to the food bank.")
    await motions.admit(node, officer.member, motion.id)
    row = await motions.ballot_on_motion(node, officer.member, motion.id)
    # A second ballot, not on a motion, closing in a second and a half; and one with no time.
    closes = int((time.time() + 1.5) * 1000)
    timed = await ballots.open_ballot(node, officer.member, BallotSpec("m-x", "Elect a chair", "Who chairs?",
                                                                     closes=closes))  # fmt: skip
    for voter in voters:
        await ballots.vote(node, voter.member, timed.id, "for")
    for _ in range(300):  # bounded: 30 s on a loaded machine
        if (await node.ballots.require(timed.id)).state == "closed":
            break
        await asyncio.sleep(0.1)
    closed = await node.ballots.require(timed.id)
    assert closed.state == "closed" and closed.decision is not None
    raw = await node.envelopes.get(closed.decision)
    assert raw is not None
    from protocol import open_envelope

    decision = open_envelope(raw).payload.body
    assert isinstance(decision, Decision) and decision.counts == [3, 0, 0] and decision.closed <= closes
    assert (await node.ballots.require(row.id)).state == "open"  # no closing time: an officer closes it


async def test_a_motions_ballot_closing_itself_settles_the_motion(live: Live) -> None:
    node = live.node
    officer = await live.member("secretary")
    voter = await live.member()
    motion = await motions.propose(node, voter.member, "Hold a jumble sale", "In March.")
    await motions.admit(node, officer.member, motion.id)
    await motions.ballot_on_motion(node, officer.member, motion.id, closes=int((time.time() + 1) * 1000))
    row = (await node.motions.require(motion.id))
    assert row.ballot_id is not None
    await ballots.vote(node, voter.member, row.ballot_id, "against")
    for _ in range(300):
        if (await node.motions.require(motion.id)).state != "voting":
            break
        await asyncio.sleep(0.1)
    assert (await node.motions.require(motion.id)).state == "lost"
