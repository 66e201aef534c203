"""Acts of power put to the members, on real nodes (issue 24): in a federation whose genesis
says a charter and a revocation need their body's vote, an officer cannot sign one alone; an
officer proposes it, the members vote on its canonical text, and once carried the node signs
the act citing the decision by itself; other nodes take it in. A lost vote signs nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.cli.setup import found_federation, init_node
from node.errors import Conflict
from node.federation import acts, authority, ballots
from node.service import Node
from node.storage.members import Member, MemberIn
from protocol import SigningKey
from protocol.wire import JoinRequest
from tests.node.federation.test_upward import Clock


@dataclass
class Fed:
    national: Node
    north: Node
    officer: Member
    voters: list[Member]
    clock: Clock

    async def sync(self) -> None:
        everything = [*await self.national.envelopes.all_raw(), *await self.north.envelopes.all_raw()]
        for node in (self.national, self.north):
            await node.federation_state.ingest(everything)

    async def charter_north(self) -> None:
        """National's members charter North, and both nodes hold it."""
        row = await authority.propose_charter(self.national, self.officer, self.north.key.public, "North", "region",
                                              None, clock=self.clock)  # fmt: skip
        await self.vote(row.id, ["for"] * 3)
        await self.sync()

    async def vote(self, ballot_id: int, choices: list[str]) -> None:
        for voter, choice in zip(self.voters, choices, strict=True):
            await ballots.vote(self.national, voter, ballot_id, choice, clock=self.clock)
        await ballots.close_ballot(self.national, self.officer, ballot_id, self.clock)


async def north_home(fed: Fed, password_hash: str) -> str:
    """The home page of North's node as one of its members sees it."""
    from html import unescape

    import aiohttp

    from tests.node.conftest import Principal, serve_node
    from tests.node.web.test_pages import sign_in

    member = await fed.north.members.add(MemberIn(name="Nia North", email="nia@north.org"))
    await fed.north.auth.change_password(member.id, password_hash)
    runner, url = await serve_node(fed.north)
    try:
        async with aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await sign_in(http, Principal(member, ""))
            async with http.get("/") as r:
                return unescape(await r.text())
    finally:
        await runner.cleanup()


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Fed]:
    clock = Clock()
    await init_node(tmp_path / "national", "National", "national", "127.0.0.1:0", None)
    await found_federation(tmp_path / "national", "Test Federation", ["charter", "revocation"])
    await init_node(tmp_path / "north", "North", "region", "127.0.0.1:0", None)
    national = await Node.open(tmp_path / "national", clock)
    north = await Node.open(tmp_path / "north", clock)
    genesis = await national.envelopes.get(national.federation_state.federation or b"")
    assert genesis is not None
    await acts.join_federation(north, genesis, "http://127.0.0.1:9")
    officer = await national.members.add(MemberIn(name="Sec", email="sec@national.org", role="secretary"))
    voters = [await national.members.add(MemberIn(name=f"V{i}", email=f"v{i}@national.org")) for i in range(3)]
    f = Fed(national, north, officer, voters, clock)
    await f.sync()
    try:
        yield f
    finally:
        await national.close()
        await north.close()


async def test_a_charter_is_signed_once_the_members_carry_it(fed: Fed) -> None:
    north_key = fed.north.key.public
    with pytest.raises(Conflict) as alone:  # an officer alone: every other node would refuse it
        await acts.issue_charter(fed.national, north_key, "North", "region", None)
    assert alone.value.code == "needs_decision"
    row = await authority.propose_charter(fed.national, fed.officer, north_key, "North", "region", None,
                                          clock=fed.clock)  # fmt: skip
    assert row.text.startswith("Charter North as a region of this federation, its key bn1")
    assert (await fed.national.acts.for_ballot(row.id)).state == "voting"  # type: ignore[union-attr]
    await fed.vote(row.id, ["for", "for", "against"])
    act = await fed.national.acts.for_ballot(row.id)
    assert act is not None and act.state == "signed" and act.signed is not None
    await fed.sync()
    for node in (fed.national, fed.north):  # taken in everywhere, North chartered
        trust = node.federation_state.trust
        assert trust is not None and north_key in trust.bodies and trust.refused == {}
    # A revocation lost by the members signs nothing; carried, it cuts North where it says.
    row = await authority.propose_revocation(fed.national, fed.officer, north_key, 0, "Its key was lost.",
                                             clock=fed.clock)  # fmt: skip
    assert row.text.startswith("Revoke the charter of North, bn1") and "setting aside everything" in row.text
    await fed.vote(row.id, ["against", "against", "for"])
    lost = await fed.national.acts.for_ballot(row.id)
    assert lost is not None and lost.state == "lost" and lost.signed is None
    trust = fed.national.federation_state.trust
    assert trust is not None and trust.bodies[north_key].cut is None
    row = await authority.propose_revocation(fed.national, fed.officer, north_key, 0, "Its key was lost.",
                                             clock=fed.clock)  # fmt: skip
    await fed.vote(row.id, ["for", "for", "for"])
    await fed.sync()
    for node in (fed.national, fed.north):
        trust = node.federation_state.trust
        assert trust is not None and trust.bodies[north_key].cut == 0


async def test_an_act_changed_after_the_vote_is_not_signed(fed: Fed) -> None:
    """Whoever edits the stored act between the vote and the close (database access) gets
    nothing signed: the text voted on is not the act's, and every node would refuse it."""
    from protocol import Charter
    from protocol.encoding import encode

    north_key = fed.north.key.public
    row = await authority.propose_charter(fed.national, fed.officer, north_key, "North", "region", None,
                                          clock=fed.clock)  # fmt: skip
    swapped = encode(Charter(key=north_key, name="Northern Empire", level="region"))
    async with fed.national.db.write("test.tamper") as conn:
        await conn.execute("UPDATE acts SET body = ? WHERE ballot_id = ?", (swapped, row.id))
    await fed.vote(row.id, ["for", "for", "for"])
    act = await fed.national.acts.for_ballot(row.id)
    assert act is not None and act.state == "void" and act.signed is None
    assert await fed.national.envelopes.own_of_kind(fed.national.key.public, "charter") == []


async def test_the_revoked_body_shows_its_members_the_act_its_reason_and_its_vote(fed: Fed, password_hash: str
                                                                                ) -> None:  # fmt: skip
    """On the revoked body's own node, every member's home page says who revoked it, from
    where, why, and the vote of that body's members behind it."""



    north_key = fed.north.key.public
    await fed.charter_north()
    assert authority.acted_on(fed.north) is None  # chartered, in good standing
    row = await authority.propose_revocation(fed.national, fed.officer, north_key, 0, "It stopped meeting.",
                                             clock=fed.clock)  # fmt: skip
    await fed.vote(row.id, ["for", "for", "against"])
    await fed.sync()
    seen = authority.acted_on(fed.north)
    assert seen is not None and seen.by == "National" and seen.after_seq == 0 and seen.reason == "It stopped meeting."
    assert seen.outcome == "carried" and seen.counts == [2, 1, 0] and seen.decision is not None
    page = await north_home(fed, password_hash)
    assert "North's charter was revoked" in page and "National revoked it, setting aside everything" in page
    assert "It stopped meeting." in page and "carried, 2 for, 1 against, 0 abstaining" in page


async def test_an_act_whose_close_was_cut_short_is_signed_when_the_node_looks_again(fed: Fed) -> None:
    """The node stopped after the ballot closed and before it signed the act: the closer's
    next look signs it, once."""
    from unittest import mock

    north_key = fed.north.key.public
    row = await authority.propose_charter(fed.national, fed.officer, north_key, "North", "region", None,
                                          clock=fed.clock)  # fmt: skip
    with mock.patch.object(ballots, "act_decided", mock.AsyncMock()):  # the stop, just after the close
        await fed.vote(row.id, ["for"] * 3)
    assert (await fed.national.acts.for_ballot(row.id)).state == "voting"  # type: ignore[union-attr]
    assert await ballots.settle_acts(fed.national) == 1
    act = await fed.national.acts.for_ballot(row.id)
    assert act is not None and act.state == "signed" and act.signed is not None
    assert await ballots.settle_acts(fed.national) == 0  # once
    assert len(await fed.national.envelopes.own_of_kind(fed.national.key.public, "charter")) == 1


async def test_an_officer_freezes_at_once_and_the_frozen_body_is_told_who_why_and_until_when(
        fed: Fed, password_hash: str) -> None:  # fmt: skip
    """An ancestor's officer freezes a body without a vote, for at most the limit; the frozen
    body's members see who froze it, when, why and until when; its new envelopes are set aside."""


    from node.errors import BadInput, Forbidden
    from protocol import NodeProfile
    from protocol.authority import DAY_MS

    north_key = fed.north.key.public
    await fed.charter_north()
    with pytest.raises(BadInput, match="from 1 to 14 days"):
        await acts.freeze(fed.national, fed.officer, north_key, 15, "too long", clock=fed.clock)
    with pytest.raises(Forbidden):
        await acts.freeze(fed.national, fed.voters[0], north_key, 3, "not an officer", clock=fed.clock)
    with pytest.raises(Forbidden, match="ancestor"):
        await acts.freeze(fed.north, fed.officer, fed.national.key.public, 3, "upwards", clock=fed.clock)
    freeze = await acts.freeze(fed.national, fed.officer, north_key, 3, "Its key was seen on a stranger's laptop.",
                               clock=fed.clock)  # fmt: skip
    assert freeze.payload.body.until == int(fed.clock() * 1000) + 3 * DAY_MS  # type: ignore[union-attr]
    await fed.sync()
    seen = authority.frozen_by(fed.north)
    assert seen is not None and seen.by == "National" and seen.reason.startswith("Its key")
    assert authority.acted_on(fed.north) is None  # frozen, not revoked
    # North's own node signs nothing while frozen (what it signs would only be set aside)
    with pytest.raises(Conflict) as refused:
        await fed.north.own_log.append(NodeProfile(name="North", endpoints=["https://north.example"]))
    assert refused.value.code == "frozen"
    page = await north_home(fed, password_hash)
    assert "North is frozen until" in page and "National's officers froze it on" in page
    assert "Its key was seen on a stranger's laptop." in page and "the freeze lapses at that time" in page
    assert "this node signs nothing" in page


async def test_an_officer_cannot_freeze_a_body_again_at_once(fed: Fed) -> None:
    north_key = fed.north.key.public
    await fed.charter_north()
    await acts.freeze(fed.national, fed.officer, north_key, 2, "A stolen laptop.", clock=fed.clock)
    with pytest.raises(Conflict) as again:
        await acts.freeze(fed.national, fed.officer, north_key, 2, "Still worried.", clock=fed.clock)
    assert again.value.code == "freeze_again"


async def test_a_delegates_record_put_to_the_members_is_signed_citing_their_decision(fed: Fed) -> None:
    from protocol import Delegates, open_envelope

    await fed.charter_north()
    secretary = await fed.north.members.add(MemberIn(name="Nor Sec", email="sec@north.org", role="secretary"))
    voters = [await fed.north.members.add(MemberIn(name=f"N{i}", email=f"n{i}@north.org")) for i in range(3)]
    put = await authority.propose_delegates(fed.north, secretary, 2, ["Sam Porter"], clock=fed.clock)
    assert put.text.startswith("Send 2 delegates to National, bn1") and put.text.endswith(": Sam Porter.")
    for voter in voters:
        await ballots.vote(fed.north, voter, put.id, "for", clock=fed.clock)
    await ballots.close_ballot(fed.north, secretary, put.id, fed.clock)
    act = await fed.north.acts.for_ballot(put.id)
    assert act is not None and act.state == "signed" and act.signed is not None
    signed = open_envelope(await fed.north.envelopes.get(act.signed) or b"")
    assert isinstance(signed.payload.body, Delegates) and signed.payload.body.decision is not None
    await fed.sync()
    assert await fed.national.envelopes.get(act.signed) is not None  # taken in above


async def test_a_join_request_is_put_to_the_members_and_answered_by_their_ballot(fed: Fed) -> None:
    """Where a charter needs the members' decision, an officer's approval cannot sign it: the
    request goes to the members, the asking node is told 'voting', and the ballot answers it,
    approved with the charter the node signs once carried, or refused once lost."""
    north = fed.north.key.public
    other = SigningKey.generate().public
    for key, name in ((north, "North"), (other, "Other")):
        await fed.national.joins.request(key, JoinRequest(name=name, level="region", url="https://x.example.org"),
                                         "192.0.2.9")  # fmt: skip
    ids = {j.name: j.id for j in await fed.national.joins.list("pending")}
    with pytest.raises(Conflict) as alone:
        await acts.approve_join(fed.national, ids["North"], fed.officer.id)
    assert alone.value.code == "needs_decision" and f"joins propose {ids['North']}" in alone.value.message
    row = await authority.propose_join(fed.national, fed.officer, ids["North"], clock=fed.clock)
    assert row.text.startswith("Charter North as a region of this federation, its key bn1")
    for again in (authority.propose_join(fed.national, fed.officer, ids["North"], clock=fed.clock),
                  acts.refuse_join(fed.national, ids["North"], fed.officer.id)):  # fmt: skip
        with pytest.raises(Conflict):  # one decision on a request: it is with the members now
            await again
    asked = await fed.national.joins.state_of(north)
    assert asked is not None and (asked.status, asked.ballot) == ("voting", row.id)
    again = await fed.national.joins.request(north, JoinRequest(name="North", level="region", url="https://x.example.org"),
                                             "192.0.2.9")  # fmt: skip
    assert again.status == "voting"  # asking again while the members vote changes nothing
    await fed.vote(row.id, ["for", "for", "against"])
    asked = await fed.national.joins.state_of(north)
    act = await fed.national.acts.for_ballot(row.id)
    assert act is not None and act.signed is not None
    assert asked is not None and (asked.status, asked.charter) == ("approved", act.signed.hex())
    await fed.sync()
    trust = fed.north.federation_state.trust
    assert trust is not None and north in trust.bodies  # North holds its charter
    lost = await authority.propose_join(fed.national, fed.officer, ids["Other"], clock=fed.clock)
    await fed.vote(lost.id, ["against", "against", "for"])
    refused = await fed.national.joins.state_of(other)
    assert refused is not None and refused.status == "refused" and refused.charter is None
    assert other not in (fed.national.federation_state.trust or trust).bodies
