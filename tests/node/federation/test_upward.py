"""Decisions go up on real nodes (in one process, envelopes carried between them by ingest as
gossip would): a branch motion submitted to its region, composited with another branch's,
consented to, voted on in every branch, mandates, the region's aggregate recounted on every
node; and each refusal or finding the issue lists (node/federation/upward.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from node.cli.setup import found_federation, init_node
from node.errors import Conflict, Forbidden, NotFound
from node.federation import acts, ballots, judging, motions
from node.federation import campaigns as camp
from node.federation import items as on_item
from node.federation import submissions as subm
from node.federation import upward as steps
from node.federation.upward import NewItem
from node.service import Node
from node.storage.members import Member, MemberIn
from protocol import AgendaItem, Aggregate, BallotRules, Mandate, Ratio, Roll, Withdrawal, open_envelope, write_bundle
from protocol import upward as up
from protocol.audit import audit

HOUR = 3_600_000


class Clock:
    """One clock for every node of the test, moved on by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def ms(self) -> int:
        return int(self.now * 1000)


@dataclass
class Body:
    name: str
    node: Node
    officer: Member
    voters: list[Member]


class Federation:
    def __init__(self, clock: Clock, rules: dict[str, Any] | None = None) -> None:
        self.clock = clock
        self.rules = rules  # standing rules set apart from the defaults, in the genesis
        self.bodies: dict[str, Body] = {}

    async def add(self, tmp: Path, name: str, level: str, parent: str | None, voters: int = 0) -> Body:
        directory = tmp / name
        await init_node(directory, name, level, "127.0.0.1:0", None)
        if parent is None:
            await found_federation(directory, "Test Federation", rules=self.rules)
        node = await Node.open(directory, self.clock)
        if parent is not None:
            above = self.bodies[parent].node
            genesis = await above.envelopes.get(above.federation_state.federation or b"")
            assert genesis is not None
            await acts.join_federation(node, genesis, "http://127.0.0.1:9")
            await acts.issue_charter(above, node.key.public, name, level, None)
        officer = await node.members.add(MemberIn(name=f"Sec {name}", email=f"sec@{name}.org", role="secretary"))
        people = [await node.members.add(MemberIn(name=f"V{i}", email=f"v{i}@{name}.org")) for i in range(voters)]
        self.bodies[name] = Body(name, node, officer, people)
        await self.sync()
        return self.bodies[name]

    async def sync(self) -> None:
        """Every node takes every envelope any node holds (what gossip converges to)."""
        everything: list[bytes] = []
        for body in self.bodies.values():
            everything.extend(await body.node.envelopes.all_raw())
        for body in self.bodies.values():
            await body.node.federation_state.ingest(everything)

    async def close(self) -> None:
        for body in self.bodies.values():
            await body.node.close()

    def __getitem__(self, name: str) -> Body:
        return self.bodies[name]


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    f = Federation(Clock())
    await f.add(tmp_path, "national", "national", None)
    await f.add(tmp_path, "north", "region", "national")
    for name, voters in (("leeds", 6), ("york", 3), ("hull", 2)):
        await f.add(tmp_path, name, "branch", "north", voters)
    try:
        yield f
    finally:
        await f.close()


async def audited(node: Node, clock: Clock) -> set[tuple[bytes, str]]:
    """What `branchnet audit` finds in everything ``node`` holds: (object, code) of each problem."""
    report = audit([("node", write_bundle(await node.envelopes.all_raw()))], clock.ms())
    return {(p.object or b"", p.code) for p in report.problems}


async def carried_motion(b: Body, title: str, text: str, for_body: bytes, clock: Clock) -> int:
    """A motion for the region, carried in the branch by its members."""
    motion = await motions.propose(b.node, b.voters[0], title, text, for_body=for_body)
    await motions.admit(b.node, b.officer, motion.id)
    row = await motions.ballot_on_motion(b.node, b.officer, motion.id, clock=clock)
    for voter in b.voters:
        await ballots.vote(b.node, voter, row.id, "for", clock=clock)
    await motions.close_ballot(b.node, b.officer, row.id, clock)
    return motion.id


async def vote_on_item(b: Body, item: bytes, choices: list[str], clock: Clock) -> None:
    row = await on_item.ballot_on_item(b.node, b.officer, item, clock)
    for voter, choice in zip(b.voters, choices, strict=False):
        await ballots.vote(b.node, voter, row.id, choice, clock=clock)
    await motions.close_ballot(b.node, b.officer, row.id, clock)


async def test_a_motion_goes_up_and_the_aggregate_adds_up_everywhere(fed: Federation) -> None:
    north, leeds, york, hull = fed["north"], fed["leeds"], fed["york"], fed["hull"]
    region_key = north.node.key.public
    for b in (leeds, york, hull):
        await ballots.publish_roll(b.node, b.officer, fed.clock)  # card votes weigh by these rolls
    fed.clock.now += 1
    a = await carried_motion(leeds, "Four-day week", "North calls for a four-day week.", region_key, fed.clock)
    b = await carried_motion(york, "Shorter hours", "North calls for a 32-hour week.", region_key, fed.clock)
    sub_a = await subm.submit(leeds.node, leeds.officer, a)
    sub_b = await subm.submit(york.node, york.officer, b)
    with pytest.raises(Conflict, match="already"):
        await subm.submit(leeds.node, leeds.officer, a)
    await fed.sync()
    waiting = await subm.submissions(north.node)
    assert sorted(s.state for s in waiting) == ["waiting", "waiting"]

    composite = await subm.propose_composite(
        north.node, north.officer, "Working time", "North calls for a four-day, 32-hour week.", [sub_a.id, sub_b.id]
    )
    await fed.sync()
    new = NewItem(title="", text="", closes=fed.clock.ms() + HOUR, composite=composite.id)
    with pytest.raises(Conflict) as refused:  # a composite without every source's consent
        await steps.table_item(north.node, north.officer, new, fed.clock)
    assert refused.value.code == "no_consent"
    await subm.answer_composite(leeds.node, leeds.officer, composite.id, "consent")
    await fed.sync()
    with pytest.raises(Conflict, match="no answer"):  # York has not answered yet
        await steps.table_item(north.node, north.officer, new, fed.clock)
    await subm.answer_composite(york.node, york.officer, composite.id, "consent")
    await fed.sync()
    item = await steps.table_item(north.node, north.officer, new, fed.clock)
    body = item.payload.body
    assert isinstance(body, AgendaItem) and body.sources == [sub_a.id, sub_b.id] and body.weighting == "card_vote"
    await fed.sync()
    assert {s.state for s in await subm.submissions(north.node)} == {"on_agenda"}

    fed.clock.now += 1
    await vote_on_item(leeds, item.id, ["for"] * 4 + ["against"] * 2, fed.clock)
    await vote_on_item(york, item.id, ["against"] * 3, fed.clock)
    for b in (leeds, york):
        await steps.issue_mandate(b.node, b.officer, item.id, clock=fed.clock)
    with pytest.raises(Conflict) as no_decision:  # Hull has not voted on the text
        await steps.issue_mandate(hull.node, hull.officer, item.id, clock=fed.clock)
    assert no_decision.value.code == "no_decision"
    # Leeds thinks again: a split card vote, as its ballot came out, replacing its first mandate.
    second = await steps.issue_mandate(leeds.node, leeds.officer, item.id, split=True, clock=fed.clock)
    assert isinstance(second.payload.body, Mandate) and second.payload.body.replaces is not None
    await fed.sync()
    with pytest.raises(Conflict) as early:
        await steps.aggregate(north.node, north.officer, item.id, fed.clock)
    assert early.value.code == "still_open"

    fed.clock.now += 3601
    with pytest.raises(Conflict) as late:
        await steps.issue_mandate(hull.node, hull.officer, item.id, clock=fed.clock)
    assert late.value.code == "deadline_passed"
    aggregate = await steps.aggregate(north.node, north.officer, item.id, fed.clock)
    totals = aggregate.payload.body
    assert isinstance(totals, Aggregate)
    # Leeds's roll is 7 (six voters and its secretary), split 4/2/0: 5 for, 2 against by largest
    # remainder (4.67 and 2.33); York's 4 against; Hull (3) absent: 5 for, 6 against of 11 sent.
    assert (totals.votes, totals.weight_sent, totals.weight_all, totals.outcome) == ([5, 6, 0], 11, 14, "lost")
    await fed.sync()
    for b in fed.bodies.values():  # the same aggregate everywhere, and each node's recount finds nothing wrong
        assert await b.node.envelopes.get(aggregate.id) == aggregate.raw
        report = await on_item.report(b.node, item.id, fed.clock)
        assert [(a.id, f) for a, f in report.aggregates] == [(aggregate.id, [])]
        assert await judging.findings(b.node) == []


async def test_mandates_that_may_not_count_are_refused_or_flagged(fed: Federation) -> None:
    national, north, leeds, york = fed["national"], fed["north"], fed["leeds"], fed["york"]
    item = await steps.table_item(
        north.node,
        north.officer,
        NewItem(title="Rent caps", text="North backs rent caps.", closes=fed.clock.ms() + HOUR),
        fed.clock,
    )
    other = await steps.table_item(
        north.node,
        north.officer,
        NewItem(title="Else", text="Something else.", closes=fed.clock.ms() + HOUR),
        fed.clock,
    )
    national_item = await steps.table_item(national.node, national.officer,
                                           NewItem(title="Rent caps", text="North backs rent caps.",
                                                   closes=fed.clock.ms() + HOUR), fed.clock)  # fmt: skip
    await fed.sync()
    fed.clock.now += 1
    await vote_on_item(leeds, item.id, ["for"] * 6, fed.clock)
    # Leeds is not a direct child of the national body: refused before anything is signed.
    with pytest.raises(Conflict) as not_child:
        await steps.issue_mandate(leeds.node, leeds.officer, national_item.id, clock=fed.clock)
    assert not_child.value.code == "not_a_child"
    # A mandate citing a decision on another motion: signed by hand (as a faulty node could),
    # it reaches the region, which does not count it and says why.
    with pytest.raises(Conflict):
        await steps.issue_mandate(leeds.node, leeds.officer, other.id, clock=fed.clock)
    decision = (await leeds.node.envelopes.own_of_kind(leeds.node.key.public, "decision"))[0]
    wrong = await leeds.node.own_log.append(Mandate(item=other.id, position="for", basis=open_envelope(decision).id))
    missing = await york.node.own_log.append(Mandate(item=item.id, position="for", basis=b"\x07" * 32))
    foreign = await national.node.own_log.append(Mandate(item=item.id, position="for", basis=wrong.id))
    await fed.sync()
    judged = await steps.judge(north.node, await steps.item(north.node, other.id))
    assert judged.mandates[wrong.id][1] == up.OTHER_MOTION
    judged = await steps.judge(north.node, await steps.item(north.node, item.id))
    assert judged.mandates[missing.id][1] == up.NO_BASIS
    assert judged.mandates[foreign.id][1] == up.NOT_A_CHILD
    # A mandate signed after the deadline (by hand: the node itself refuses it) is not counted.
    fed.clock.now += 3601
    late = await leeds.node.own_log.append(Mandate(item=item.id, position="for", basis=open_envelope(decision).id))
    await fed.sync()
    judged = await steps.judge(north.node, await steps.item(north.node, item.id))
    assert judged.mandates[late.id][1] == up.LATE and leeds.node.key.public not in judged.latest


async def test_a_dropped_mandate_an_inflated_weight_and_a_wrong_total_are_flagged_on_every_node(
    fed: Federation,
) -> None:
    north, leeds, york = fed["north"], fed["leeds"], fed["york"]
    item = await steps.table_item(
        north.node,
        north.officer,
        NewItem(
            title="Rent caps",
            text="North backs rent caps.",
            closes=fed.clock.ms() + HOUR,
            weighting="one_branch_one_vote",
        ),
        fed.clock,
    )
    await fed.sync()
    fed.clock.now += 1
    await vote_on_item(leeds, item.id, ["for"] * 6, fed.clock)
    await vote_on_item(york, item.id, ["against"] * 3, fed.clock)
    for b in (leeds, york):
        await steps.issue_mandate(b.node, b.officer, item.id, clock=fed.clock)
    await fed.sync()
    fed.clock.now += 3601
    judged = await steps.judge(north.node, item)
    leeds_key = leeds.node.key.public
    # Signed with the region's real key, each adds up by itself (so every node stores it) ...
    dropped = up.build(item, judged.weights, {k: v for k, v in judged.latest.items() if k != leeds_key})
    inflated = up.build(item, {**judged.weights, leeds_key: 5}, judged.latest)
    honest = up.build(item, judged.weights, judged.latest)
    wrong_total = Aggregate(**{**{f: getattr(honest, f) for f in honest.__struct_fields__}, "votes": [2, 0, 0],
                               "outcome": "carried"})  # fmt: skip
    signed = {}
    for name, body in (("dropped", dropped), ("inflated", inflated), ("wrong_total", wrong_total)):
        signed[name] = await north.node.own_log.append(body)
    await fed.sync()
    # ... and every node's recount flags it, with the reason, visible in the findings list.
    for b in (fed["national"], leeds, fed["hull"]):
        flagged: dict[str, list[str]] = {}
        for f in await judging.findings(b.node):
            assert f.kind == "aggregate" and f.author == north.node.key.public and f.message
            flagged.setdefault(f.object.hex(), []).append(f.code)
        assert flagged[signed["dropped"].id.hex()] == [up.OMITS_MANDATE]
        assert flagged[signed["inflated"].id.hex()] == [up.WRONG_WEIGHT]
        assert flagged[signed["wrong_total"].id.hex()] == [up.WRONG_TOTALS]
        # The audit of what this node holds names the same objects with the same codes.
        assert await audited(b.node, fed.clock) == {(f.object, f.code) for f in await judging.findings(b.node)}


async def test_campaigns_get_pledges_from_other_bodies(fed: Federation) -> None:
    leeds, york, hull = fed["leeds"], fed["york"], fed["hull"]
    campaign = await camp.publish_campaign(
        leeds.node,
        leeds.officer,
        "Support the bin strike",
        "Leeds refuse workers are on strike from 1 December.",
        "Visit the picket line; donate to the strike fund.",
        clock=fed.clock,
    )
    await fed.sync()
    for b, text in ((york, "York will send a delegation to the picket line."), (hull, "Hull pledges £100.")):
        await camp.pledge(b.node, b.officer, campaign.id, text)
    with pytest.raises(Conflict):
        await camp.pledge(york.node, york.officer, campaign.id, "again")
    with pytest.raises(Conflict):
        await camp.pledge(leeds.node, leeds.officer, campaign.id, "our own")
    await fed.sync()
    for b in fed.bodies.values():
        listed = await camp.campaigns(b.node)
        assert [(e.campaign.id, sorted(p.author for p in e.pledges)) for e in listed] == [
            (campaign.id, sorted([york.node.key.public, hull.node.key.public]))
        ]
        assert listed[0].withdrawn == {}


async def test_a_body_withdraws_its_own_notice_and_only_its_own(fed: Federation) -> None:
    """A withdrawal by the notice's author marks it withdrawn on every node (a campaign then
    takes no more pledges); one by anyone else, even signed and carried by gossip, means
    nothing; and a notice is withdrawn once."""
    leeds, york, hull, north = fed["leeds"], fed["york"], fed["hull"], fed["north"]
    campaign = await camp.publish_campaign(leeds.node, leeds.officer, "Save the library", "It closes in March.",
                                           "Write to the council.", clock=fed.clock)  # fmt: skip
    await fed.sync()
    york_pledge = await camp.pledge(york.node, york.officer, campaign.id, "York writes to the council.")
    await camp.pledge(hull.node, hull.officer, campaign.id, "Hull writes too.")
    await fed.sync()
    with pytest.raises(Conflict) as refused:
        await camp.withdraw(hull.node, hull.officer, campaign.id, "not ours to withdraw")
    assert refused.value.code == "not_ours"
    with pytest.raises(Forbidden):
        await camp.withdraw(leeds.node, leeds.voters[0], campaign.id, "a member is not the body")
    # Hull signs a withdrawal of Leeds's campaign all the same (bypassing its own node's rule).
    await hull.node.own_log.append(Withdrawal(notice=campaign.id, reason="forged"))
    await camp.withdraw(york.node, york.officer, york_pledge.id, "We cannot make it after all.")
    with pytest.raises(Conflict) as twice:
        await camp.withdraw(york.node, york.officer, york_pledge.id, "again")
    assert twice.value.code == "already_withdrawn"
    await fed.sync()
    for b in fed.bodies.values():
        [listed] = await camp.campaigns(b.node)
        assert list(listed.withdrawn) == [york_pledge.id], b  # Hull's forgery withdrew nothing
        assert listed.withdrawn[york_pledge.id].reason == "We cannot make it after all."
    await camp.withdraw(leeds.node, leeds.officer, campaign.id, "The council kept it open.")
    await fed.sync()
    for b in fed.bodies.values():
        [listed] = await camp.campaigns(b.node)
        assert listed.withdrawn[campaign.id].reason == "The council kept it open."
    with pytest.raises(Conflict) as closed:
        await camp.pledge(north.node, north.officer, campaign.id, "North joins.")
    assert closed.value.code == "withdrawn"
    with pytest.raises(NotFound):  # a withdrawal is of a campaign or a pledge, nothing else
        await camp.withdraw(leeds.node, leeds.officer, leeds.node.key.public, "")


async def test_an_item_from_a_composite_without_every_consent_is_flagged(fed: Federation) -> None:
    north, leeds, york = fed["north"], fed["leeds"], fed["york"]
    subs = []
    for b, text in ((leeds, "North calls for a four-day week."), (york, "North calls for a 32-hour week.")):
        motion = await carried_motion(b, text[12:], text, north.node.key.public, fed.clock)
        subs.append((await subm.submit(b.node, b.officer, motion)).id)
    await fed.sync()
    composite = await subm.propose_composite(north.node, north.officer, "Working time", "A 32-hour, four-day week.",
                                              subs)  # fmt: skip
    await fed.sync()
    await subm.answer_composite(leeds.node, leeds.officer, composite.id, "consent")
    await subm.answer_composite(york.node, york.officer, composite.id, "refuse")
    await fed.sync()
    # The region's node refuses to table it; a region that signs it anyway is shown up everywhere.
    with pytest.raises(Conflict) as refused:
        await steps.table_item(north.node, north.officer, NewItem(title="", text="", composite=composite.id,
                                                                  closes=fed.clock.ms() + HOUR), fed.clock)
    assert refused.value.code == "no_consent" and "refuse" in refused.value.message
    forced = await north.node.own_log.append(AgendaItem(
        title="Working time", text="A 32-hour, four-day week.", opens=fed.clock.ms(), closes=fed.clock.ms() + HOUR,
        weighting="card_vote", rules=BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2)),
        sources=subs, composite=composite.id))  # fmt: skip
    await fed.sync()
    for b in (fed["hull"], leeds):
        report = await on_item.report(b.node, forced.id, fed.clock)
        assert [(f.code, "refuse" in f.message) for f in report.findings] == [(up.WITHOUT_CONSENT, True)]
    # A consent signed after the item does not mend it.
    fed.clock.now += 1
    await subm.answer_composite(york.node, york.officer, composite.id, "consent")
    await fed.sync()
    assert [f.code for f in (await on_item.report(fed["hull"].node, forced.id, fed.clock)).findings] == [
        up.WITHOUT_CONSENT]


async def test_a_self_declared_roll_of_ten_million_is_flagged_wherever_it_gives_weight(fed: Federation) -> None:
    """Issue 21, item 5: a chartered body signed a roll of 10,000,000, a one-vote decision and
    a mandate "for"; the card vote came out 10,000,000 to a few, carried, with no finding.
    An honest branch's growth (10 % since its last roll) is not flagged."""
    north, leeds, york, hull = fed["north"], fed["leeds"], fed["york"], fed["hull"]
    for b in (leeds, york):
        await ballots.publish_roll(b.node, b.officer, fed.clock)
    grown = await york.node.members.add(MemberIn(name="New member", email="new@york.org"))  # 4 -> 5: growth
    assert grown.id
    # Hull's key holder: an honest first roll of 3, then 10,000,000 (a test peer signing around the rules).
    await ballots.publish_roll(hull.node, hull.officer, fed.clock)
    huge = await hull.node.own_log.append(Roll(count=10_000_000, root=bytes(32), as_of=fed.clock.ms()))
    for b in (leeds, york):
        await ballots.publish_roll(b.node, b.officer, fed.clock)
    await fed.sync()
    fed.clock.now += 1
    item = await steps.table_item(north.node, north.officer,
                                  NewItem(title="Rent caps", text="North backs rent caps.",
                                          closes=fed.clock.ms() + HOUR), fed.clock)  # fmt: skip
    await fed.sync()
    fed.clock.now += 1
    await vote_on_item(leeds, item.id, ["against"] * 6, fed.clock)
    await vote_on_item(york, item.id, ["against"] * 3, fed.clock)
    await vote_on_item(hull, item.id, ["for"], fed.clock)  # one vote
    for b in (leeds, york, hull):
        await steps.issue_mandate(b.node, b.officer, item.id, clock=fed.clock)
    await fed.sync()
    fed.clock.now += 3601
    aggregate = await steps.aggregate(north.node, north.officer, item.id, fed.clock)
    totals = aggregate.payload.body
    assert isinstance(totals, Aggregate) and totals.outcome == "carried"  # what its author says stands ...
    await fed.sync()
    for b in fed.bodies.values():  # ... and every node flags the roll that carried it
        report = await on_item.report(b.node, item.id, fed.clock)
        [(_, found)] = report.aggregates
        assert [f.code for f in found] == ["implausible_roll"], found
        assert "hull weighs by a roll of 10000000 members after one of 3" in found[0].message
        listed = {(f.object, f.code) for f in await judging.findings(b.node)}
        assert listed == {(aggregate.id, "implausible_roll"), (huge.id, "implausible_roll")}, listed
        assert await audited(b.node, fed.clock) == listed  # the audit: the same objects, the same codes
        page_doubts = [f for f in await b.node.findings.about(item.id) if f.kind == "roll"]
        assert [f.author for f in page_doubts] == [hull.node.key.public]


async def test_a_body_votes_once_on_an_item_even_when_two_officers_open_it_at_once(fed: Federation) -> None:
    """An officer must not run the vote on a question again until it gives the answer they want:
    one ballot per item, checked where the ballot is written, so two opens at once give one."""
    north, leeds = fed["north"], fed["leeds"]
    item = await steps.table_item(north.node, north.officer, NewItem(title="Rent caps", text="Cap rents.",
                                                                     closes=fed.clock.ms() + HOUR))  # fmt: skip
    await fed.sync()
    results = await asyncio.gather(*(on_item.ballot_on_item(leeds.node, leeds.officer, item.id, fed.clock)
                                     for _ in range(2)), return_exceptions=True)  # fmt: skip
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict) and refused[0].code == "already_balloted", results
    assert len(await leeds.node.ballots.of_motion(item.id.hex())) == 1
    [opened] = [r for r in results if not isinstance(r, BaseException)]
    await motions.close_ballot(leeds.node, leeds.officer, opened.id, fed.clock)
    with pytest.raises(Conflict):  # nor after it closed, whatever it decided
        await on_item.ballot_on_item(leeds.node, leeds.officer, item.id, fed.clock)
