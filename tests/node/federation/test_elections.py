"""Elections on real nodes (in one process, envelopes carried between them as gossip would): a
branch elects its delegates by STV and they replace the officers' record; a region selects
two candidates from nominations by four branches, each branch's members voting on their own
node; the result is the same on every node and equal to a recount of the cited bundles; and
each refusal, and a region that drops a bundle (node/federation/elections.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from node.errors import Conflict
from node.federation import ballots, decided, judging, motions
from node.federation import campaigns as camp
from node.federation import elections as el
from node.federation import upward as steps
from node.storage.members import MemberIn
from protocol import BallotPaper, Decision, Delegates, Envelope, SelectionResult, open_envelope
from protocol import selections as sel
from protocol.counting import RON
from tests.node.federation.test_upward import HOUR, Clock, Federation, audited

# The same ballots as the worked example in tests/protocol/test_selections.py (worked by
# hand there: Dev then Ann), now cast by members on four branch nodes.
VOTES = {
    "leeds": [["Ann", "Bob"]] * 5 + [["Cat"]],
    "york": [["Bob", "Dev"]] * 3 + [["Dev", "Cat"]] * 2,
    "hull": [["Cat", "Dev"]] * 3 + [["Ann"]],
    "selby": [["Dev", "Bob"]] * 3,
}
STANDING = {"leeds": ("Ann", "w"), "york": ("Bob", "m"), "hull": ("Cat", "w"), "selby": ("Dev", "m")}


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    f = Federation(Clock())
    await f.add(tmp_path, "national", "national", None)
    await f.add(tmp_path, "north", "region", "national")
    for name, votes in VOTES.items():
        await f.add(tmp_path, name, "branch", "north", len(votes))
    try:
        yield f
    finally:
        await f.close()


async def test_a_branch_elects_its_delegates_and_they_replace_the_officers_record(fed: Federation) -> None:
    leeds, north, clock = fed["leeds"], fed["north"], fed.clock
    await camp.record_delegates(leeds.node, leeds.officer, 5)  # the officers' record, before
    to = north.node.key.public
    contest = el.DELEGATES + to.hex()
    for voter, name in zip(leeds.voters[:3], ("Ann", "Bob", "Cat"), strict=True):
        await el.stand(leeds.node, voter, contest, name, f"{name} will report back.", clock=clock)
    with pytest.raises(Conflict, match="more candidates than seats"):
        await el.open_delegate_election(leeds.node, leeds.officer, to, 3, clock=clock)
    row = await el.open_delegate_election(leeds.node, leeds.officer, to, 2, clock=clock)
    assert row.options == ["Ann", "Bob", "Cat"] and row.method == "ranked"
    # 6 ballots, 2 seats, quota 6 / 3 = 2 + 1 = 3: Ann 3 elected at once; Bob 2, Cat 1:
    # Cat excluded, her ballot goes on to Bob: 3, elected.
    rankings = [["Ann", "Bob"], ["Ann"], ["Ann", "Cat"], ["Bob"], ["Bob", "Ann"], ["Cat", "Bob"]]
    receipts = [await ballots.vote(leeds.node, v, row.id, r, clock=clock) for v, r in zip(leeds.voters, rankings,
                                                                                          strict=True)]  # fmt: skip
    with pytest.raises(Exception, match="ranked twice"):
        await ballots.vote(leeds.node, leeds.officer, row.id, ["Ann", "Ann"], clock=clock)
    decision = await motions.close_ballot(leeds.node, leeds.officer, row.id, clock)
    body = decision.payload.body
    assert isinstance(body, Decision) and body.outcome == "elected" and body.chosen == [0, 1]
    check = await ballots.check_receipt(leeds.node, row.id, receipts[5])
    assert check.counted and check.choice == ["Cat", "Bob"]
    await fed.sync()
    await steps.refresh(leeds.node, clock)
    _, latest = await camp.own_delegates(leeds.node)
    assert latest == Delegates(to=to, count=2, names=["Ann", "Bob"], election=decision.id)
    # A close cut short after the record was signed, run again, signs no second record.
    await ballots._delegates_elected(leeds.node, to, decision)
    records = await leeds.node.envelopes.own_of_kind(leeds.node.key.public, "delegates")
    assert [open_envelope(r).payload.body.election for r in records].count(decision.id) == 1  # type: ignore[union-attr]
    # North holds the decision and the record citing it: the record is what its items weigh by.
    held = await north.node.envelopes.get(decision.id)
    assert held is not None and open_envelope(held).payload.body == body


@pytest.mark.parametrize("in_parts", [False, True], ids=["one_envelope", "in_parts"])
async def test_a_regional_selection_is_counted_from_every_branch_and_recounted_everywhere(
    fed: Federation, in_parts: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if in_parts:  # a result citing more bundles than one envelope lists (1,500; here one): in parts
        import protocol.parts

        monkeypatch.setattr(el, "MAX_BUNDLES", 1)
        monkeypatch.setattr(protocol.parts, "MAX_BUNDLES", 1)
    north, clock = fed["north"], fed.clock
    now = clock.ms()
    selection = await el.publish_selection(north.node, north.officer, "Regional committee", 2,
                                           nominations_close=now + HOUR, voting_close=now + 3 * HOUR,
                                           balancing="alternate", clock=clock)  # fmt: skip
    await fed.sync()
    contest = el.SELECTION + selection.id.hex()
    for name, (candidate, category) in STANDING.items():
        branch = fed[name]
        with pytest.raises(Conflict, match="only they can consent"):
            await el.nominate(branch.node, branch.officer, selection.id, branch.voters[0].id, clock)
        await el.stand(branch.node, branch.voters[0], contest, candidate, f"{candidate} for the committee.",
                       category, clock=clock)  # fmt: skip
        await el.nominate(branch.node, branch.officer, selection.id, branch.voters[0].id, clock)
    with pytest.raises(Conflict, match="not fixed the ballot paper"):
        await el.open_selection_ballot(fed["leeds"].node, fed["leeds"].officer, selection.id, clock)
    await fed.sync()
    with pytest.raises(Conflict, match="still open"):
        await el.publish_paper(north.node, north.officer, selection.id, clock)
    clock.now += 1.5 * HOUR / 1000
    with pytest.raises(Conflict, match="closed"):
        await el.stand(fed["york"].node, fed["york"].voters[1], contest, "Late", "", clock=clock)
    paper = await el.publish_paper(north.node, north.officer, selection.id, clock)
    assert isinstance(paper.payload.body, BallotPaper) and paper.payload.body.candidates == ["Ann", "Bob", "Cat", "Dev"]
    await fed.sync()
    for name, votes in VOTES.items():
        branch = fed[name]
        row = await el.open_selection_ballot(branch.node, branch.officer, selection.id, clock)
        for voter, ranking in zip(branch.voters, votes, strict=True):
            await ballots.vote(branch.node, voter, row.id, ranking, clock=clock)
    with pytest.raises(Conflict, match="still open"):
        await el.publish_result(north.node, north.officer, selection.id, clock)
    clock.now += 2 * HOUR / 1000
    for name in VOTES:
        branch = fed[name]
        (row,) = [r for r in await branch.node.ballots.recent() if r.election and r.election.selection]
        bundle = await motions.close_ballot(branch.node, branch.officer, row.id, clock)
        assert bundle.payload.body.outcome == "bundled"  # type: ignore[union-attr]
    await fed.sync()
    result = await el.publish_result(north.node, north.officer, selection.id, clock)
    await fed.sync()
    body = result.payload.body
    assert isinstance(body, SelectionResult)
    if in_parts:  # four parts of one bundle each, just before the result in North's log
        assert body.parts == 4 and body.bundles == []
        held = await north.node.envelopes.range(north.node.key.public, result.seq - 5, 4)
        assert [open_envelope(raw).kind for raw in held] == ["result_part"] * 4
        body = (await decided.signed(north.node, result)).body  # type: ignore[assignment]
        assert isinstance(body, SelectionResult) and body.parts == 0
    assert body.ballots == 18 and len(body.bundles) == 4
    assert body.winners == [3, 0] and body.order == [3, 0] and body.balanced == [3, 0]  # Dev, then Ann
    # Every node holds the same result and its own recount of the cited bundles agrees.
    for b in fed.bodies.values():
        view = await el.selection_view(b.node, selection.id)
        assert [(r.envelope.raw, r.findings) for r in view.results] == [(result.raw, [])], b.name
        assert [v.problem for v in view.bundles] == [None] * 4 and view.paper_findings == []
        assert view.results[0].body == body
        assert await audited(b.node, clock) == set()  # the audit of what it holds agrees
    # And a recount made here from the envelopes one branch holds, with the protocol alone.
    selby = fed["selby"].node
    bundles = [open_envelope(raw) for raw in await selby.upward.referring(selection.id, "decision")]
    again = sel.count_selection(selection.id, selection.payload.body, paper.id, paper.payload.body,  # type: ignore[arg-type]
                                [sel.Signed(e.id, e.author, e.payload.created, e.payload.body) for e in bundles],
                                ["w", "m", "w", "m"])  # fmt: skip
    assert again == body


async def treasurer_paper(fed: Federation) -> tuple[Envelope, Envelope]:
    """North selects a treasurer; Ann (Leeds) and Bob (York) are nominated; the paper is
    fixed once nominations close: (selection, paper)."""
    north, clock = fed["north"], fed.clock
    now = clock.ms()
    selection = await el.publish_selection(north.node, north.officer, "Treasurer", 1, nominations_close=now + HOUR,
                                           voting_close=now + 2 * HOUR, clock=clock)  # fmt: skip
    assert selection.payload.body.reopen == "on"  # type: ignore[union-attr]  # one office: RON by default
    await fed.sync()
    for name in ("leeds", "york"):
        branch = fed[name]
        await el.stand(branch.node, branch.voters[0], el.SELECTION + selection.id.hex(), STANDING[name][0], "",
                       clock=clock)  # fmt: skip
        await el.nominate(branch.node, branch.officer, selection.id, branch.voters[0].id, clock)
    await fed.sync()
    clock.now += 1.5 * HOUR / 1000
    paper = await el.publish_paper(north.node, north.officer, selection.id, clock)
    assert paper.payload.body.candidates == ["Ann", "Bob", RON]  # type: ignore[union-attr]
    await fed.sync()
    return selection, paper


async def test_a_region_that_drops_a_bundle_is_found_out_on_every_node(fed: Federation) -> None:
    north, clock = fed["north"], fed.clock
    selection, paper = await treasurer_paper(fed)
    for name, ranking in (("leeds", ["Ann"]), ("york", ["Bob"])):
        branch = fed[name]
        row = await el.open_selection_ballot(branch.node, branch.officer, selection.id, clock)
        for voter in branch.voters:
            await ballots.vote(branch.node, voter, row.id, ranking, clock=clock)
    clock.now += HOUR / 1000
    for name in ("leeds", "york"):
        branch = fed[name]
        (row,) = [r for r in await branch.node.ballots.recent() if r.election and r.election.selection]
        await motions.close_ballot(branch.node, branch.officer, row.id, clock)
    await fed.sync()
    # North counts York's bundle only (signed with North's real key): Bob would win.
    await steps.refresh(north.node, clock)
    raw = [open_envelope(r) for r in await north.node.upward.referring(selection.id, "decision")]
    york = [sel.Signed(e.id, e.author, e.payload.created, e.payload.body) for e in raw
            if e.author == fed["york"].node.key.public]  # fmt: skip
    forged = sel.count_selection(selection.id, selection.payload.body, paper.id, paper.payload.body, york, [""] * 3)  # type: ignore[arg-type]
    await north.node.own_log.append(forged)
    await fed.sync()
    for name in ("national", "leeds", "hull"):
        view = await el.selection_view(fed[name].node, selection.id)
        (only,) = view.results
        assert [f.split(":")[0] for f in only.findings] == ["omits_bundle"], name
        assert fed["leeds"].node.key.public.hex()[:16] in only.findings[0]
        found = [(f.object, f.kind, f.code) for f in await judging.findings(fed[name].node)]  # the one list too
        assert found == [(only.envelope.id, "selection_result", "omits_bundle")], name
        assert await audited(fed[name].node, clock) == {(only.envelope.id, "omits_bundle")}  # the audit agrees


async def test_a_second_ballot_paper_is_flagged_and_the_first_counts(fed: Federation) -> None:
    """Issue 21, item 4: a second paper signed by the selecting body (without the candidate
    nominated in time) was accepted and shown nowhere."""
    north = fed["north"]
    selection, first = await treasurer_paper(fed)
    body = first.payload.body
    assert isinstance(body, BallotPaper)
    # North's key holder signs another, leaving out Bob, nominated in time.
    second = await north.node.own_log.append(msgspec.structs.replace(
        body, candidates=["Ann", RON], nominations=body.nominations[:1]))  # fmt: skip
    await fed.sync()
    for name in ("national", "north", "leeds"):
        view = await el.selection_view(fed[name].node, selection.id)
        assert view.paper is not None and view.paper.id == first.id and view.paper_findings == []
        assert [p.id for p, why in view.later_papers if why.startswith("paper_twice")] == [second.id]
        found = [(f.object, f.kind, f.code) for f in await judging.findings(fed[name].node)]
        assert found == [(second.id, "ballot_paper", "paper_twice")], name
        assert await audited(fed[name].node, fed.clock) == {(second.id, "paper_twice")}  # the audit agrees


async def test_a_second_candidate_of_the_same_name_is_refused_before_signing(fed: Federation) -> None:
    north, clock = fed["north"], fed.clock
    now = clock.ms()
    selection = await el.publish_selection(north.node, north.officer, "Secretary", 1, nominations_close=now + HOUR,
                                           voting_close=now + 2 * HOUR, clock=clock)  # fmt: skip
    await fed.sync()
    contest = el.SELECTION + selection.id.hex()
    leeds, york = fed["leeds"], fed["york"]
    typed = el.SELECTION + selection.id.hex().upper()  # as someone might paste it: stored as one contest
    await el.stand(leeds.node, leeds.voters[0], typed, "Sam Patel", "", clock=clock)
    await el.nominate(leeds.node, leeds.officer, selection.id, leeds.voters[0].id, clock)
    await fed.sync()
    await el.stand(york.node, york.voters[0], contest, "Sam Patel", "", clock=clock)
    with pytest.raises(Conflict, match="already nominated: the member must stand under a name"):
        await el.nominate(york.node, york.officer, selection.id, york.voters[0].id, clock)
    await el.stand(york.node, york.voters[0], contest, "Sam Patel (York)", "", clock=clock)
    await el.nominate(york.node, york.officer, selection.id, york.voters[0].id, clock)
    with pytest.raises(Conflict, match="already nominated"):
        await el.nominate(york.node, york.officer, selection.id, york.voters[0].id, clock)


async def test_two_officers_at_once_sign_one_result_one_paper_and_one_pledge(fed: Federation) -> None:
    """The "already published" checks run inside the own log's write transaction, and a branch's
    ballot for a selection is unique in its database: two officers acting in the same instant
    (both past the first look) get one and one refusal."""
    north, leeds, clock = fed["north"], fed["leeds"], fed.clock
    now = clock.ms()
    selection = await el.publish_selection(north.node, north.officer, "Treasurer", 1, nominations_close=now + HOUR,
                                           voting_close=now + 2 * HOUR, clock=clock)  # fmt: skip
    await fed.sync()
    for name in ("leeds", "york"):
        b = fed[name]
        await el.stand(b.node, b.voters[0], el.SELECTION + selection.id.hex(), STANDING[name][0], "", clock=clock)
        await el.nominate(b.node, b.officer, selection.id, b.voters[0].id, clock)
    await fed.sync()
    clock.now += 1.5 * HOUR / 1000
    second = await north.node.members.add(MemberIn(name="Chair North", email="chair@north.org", role="chair"))
    papers = await asyncio.gather(el.publish_paper(north.node, north.officer, selection.id, clock),
                                  el.publish_paper(north.node, second, selection.id, clock),
                                  return_exceptions=True)  # fmt: skip
    assert sorted(type(p).__name__ for p in papers) == ["Conflict", "Envelope"], papers
    assert len(await north.node.envelopes.own_of_kind(north.node.key.public, "ballot_paper")) == 1
    await fed.sync()
    chair = await leeds.node.members.add(MemberIn(name="Chair Leeds", email="chair@leeds.org", role="chair"))
    opened = await asyncio.gather(el.open_selection_ballot(leeds.node, leeds.officer, selection.id, clock),
                                  el.open_selection_ballot(leeds.node, chair, selection.id, clock),
                                  return_exceptions=True)  # fmt: skip
    assert sorted(type(o).__name__ for o in opened) == ["BallotRow", "Conflict"], opened  # the database's refusal
    assert (await leeds.node.ballots.for_selection(selection.id)) is not None
    clock.now += HOUR / 1000
    results = await asyncio.gather(el.publish_result(north.node, north.officer, selection.id, clock),
                                   el.publish_result(north.node, second, selection.id, clock),
                                   return_exceptions=True)  # fmt: skip
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Envelope"], results
    assert len(await north.node.envelopes.own_of_kind(north.node.key.public, "selection_result")) == 1
    campaign = await camp.publish_campaign(north.node, north.officer, "Bin strike", "On strike.", "Visit.")
    await fed.sync()
    pledges = await asyncio.gather(camp.pledge(leeds.node, leeds.officer, campaign.id, "£50"),
                                   camp.pledge(leeds.node, chair, campaign.id, "£60"), return_exceptions=True)
    assert sorted(type(p).__name__ for p in pledges) == ["Conflict", "Envelope"], pledges
    assert len(await leeds.node.envelopes.own_of_kind(leeds.node.key.public, "pledge")) == 1
