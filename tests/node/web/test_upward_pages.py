"""Decisions going up through the pages, over real HTTP, on nodes that carry envelopes between
them (as gossip would): a branch proposes a motion for its region and submits it once carried;
the region composites two submissions and rules a third out; the branches answer; the region
tables the composite; a branch opens its ballot and sends its mandate; the region publishes the
aggregate, and every node's page shows its recount, or what is wrong with a bad one; a campaign
gets a pledge. Each action is a form post with its token, as a browser sends it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web
import pytest

from node.federation import ballots, motions
from node.federation import submissions as subm
from node.federation import upward as steps
from node.service import Node
from node.web.app import make_app
from node.web.server import start_site
from protocol import upward as up
from tests.node.conftest import PASSWORD, Principal
from tests.node.federation.test_upward import Body, Clock, Federation
from tests.node.web.test_pages import csrf_of, sign_in


async def serve_node(node: Node) -> tuple[aiohttp.web.AppRunner, str]:
    """As `branchnet serve --trust-local-log` (these nodes' peers are the test: none to ask), on 127.0.0.1:0."""
    runner = await start_site(make_app(node, trust_local_log=True), node.config.http, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


class RealClock(Clock):
    def __call__(self) -> float:
        return time.time()


class Browser:
    """One signed-in officer's browser on one node."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def page(self, path: str) -> str:
        async with self.http.get(path) as r:
            assert r.status == 200, (path, r.status, (await r.text())[:300])
            return unescape(await r.text())

    async def post(self, page: str, action: str, form: dict[str, str], expect: int = 303) -> str:
        token = csrf_of(await self.page(page))
        async with self.http.post(action, data={"csrf": token, **form}, allow_redirects=False) as r:
            body = await r.text()
            assert r.status == expect, (action, r.status, body[:500])
            return r.headers.get("Location", "") if expect == 303 else unescape(body)


@contextlib.asynccontextmanager
async def regional(tmp_path: Path, password_hash: str, branches: dict[str, int],
                   rules: dict[str, Any] | None = None) -> AsyncIterator[Federation]:  # fmt: skip
    """National, North, and North's ``branches`` (name: voters) on the real clock, each
    body's officer with the test password, ``rules`` set apart in the genesis."""
    f = Federation(RealClock(), rules)
    await f.add(tmp_path, "national", "national", None)
    await f.add(tmp_path, "north", "region", "national")
    for name, voters in branches.items():
        await f.add(tmp_path, name, "branch", "north", voters)
    for body in f.bodies.values():
        await body.node.auth.change_password(body.officer.id, password_hash)
    try:
        yield f
    finally:
        await f.close()


@pytest.fixture
async def fed(tmp_path: Path, password_hash: str) -> AsyncIterator[Federation]:
    async with regional(tmp_path, password_hash, {"leeds": 4, "york": 4, "hull": 4}) as f:
        yield f


@pytest.fixture
async def browsers(fed: Federation) -> AsyncIterator[dict[str, Browser]]:
    runners, sessions, out = [], [], {}
    for name, body in fed.bodies.items():
        runner, url = await serve_node(body.node)
        http = aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        runners.append(runner)
        sessions.append(http)
        officer = await body.node.members.require(body.officer.id)
        await sign_in(http, Principal(officer, ""))
        out[name] = Browser(http)
    try:
        yield out
    finally:
        for http in sessions:
            await http.close()
        for runner in runners:
            await runner.cleanup()


async def carry(b: Body, motion_id: int) -> None:
    await motions.admit(b.node, b.officer, motion_id)
    row = await motions.ballot_on_motion(b.node, b.officer, motion_id)
    for voter in b.voters:
        await ballots.vote(b.node, voter, row.id, "for")
    await motions.close_ballot(b.node, b.officer, row.id)


def plain(page: str) -> str:
    """The page's text, tags removed and spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).replace(" :", ":")


def utc(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000))


async def test_a_motion_goes_up_through_the_pages(fed: Federation, browsers: dict[str, Browser]) -> None:
    north = fed["north"]
    north_id = north.node.key.node_id
    sources = {}
    for name, title in (("leeds", "Four-day week"), ("york", "Shorter hours"), ("hull", "Something else")):
        page = await browsers[name].page("/motions/new")
        assert f'value="{north_id}"' in page  # the region is offered as what the motion is for
        proposed = {"title": title, "text": f"{title} for all.", "for": north_id}
        location = await browsers[name].post("/motions/new", "/motions/new", proposed)
        motion_id = int(re.search(r"/motions/(\d+)", location).group(1))  # type: ignore[union-attr]
        await carry(fed[name], motion_id)
        page = await browsers[name].page(f"/motions/{motion_id}")
        assert "for north" in page and "Submit it to north" in page
        await browsers[name].post(f"/motions/{motion_id}", f"/motions/{motion_id}/submit-up", {})
        page = await browsers[name].page(f"/motions/{motion_id}")  # done: the step gives way to what it did
        assert "Submit it to north" not in page and "Submitted to north: " in page
        sources[name] = motion_id
    await fed.sync()

    region = browsers["north"]
    page = await region.page("/agenda")
    assert page.count("waiting") >= 3 and "Four-day week" in page and "Shorter hours" in page
    subs = {s.body.title: s.envelope.id.hex() for s in await subm.submissions(north.node)}
    await region.post("/agenda", "/agenda/do/rule-out", {"submission": subs["Something else"], "reason": "Not ours"})
    body = await region.post("/agenda", "/agenda/do/composite", {"title": "Working time", "text": "A 32-hour, "
                             "four-day week.", "sources": subs["Four-day week"]}, expect=400)  # fmt: skip
    assert "two or more" in body  # one source is not a composite: the form again, nothing signed
    form = aiohttp.FormData()
    for key, value in (("csrf", csrf_of(await region.page("/agenda"))), ("title", "Working time"),
                       ("text", "A 32-hour, four-day week."), ("sources", subs["Four-day week"]),
                       ("sources", subs["Shorter hours"])):  # fmt: skip
        form.add_field(key, value)
    async with region.http.post("/agenda/do/composite", data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
    await fed.sync()
    composite = next(c for c in await subm.composites(north.node))
    closes_ms = int(time.time() * 1000) + 4000
    closes = utc(closes_ms)
    body = await region.post("/agenda", "/agenda/do/table", {"composite": composite.envelope.id.hex(),
                                                             "closes": closes}, expect=409)  # fmt: skip
    assert "every source must consent" in body  # refused before anything is signed
    for name in ("leeds", "york"):
        page = await browsers[name].page("/agenda")
        assert "Working time" in page and "Our answer" in page
        await browsers[name].post("/agenda", "/agenda/do/answer", {"composite": composite.envelope.id.hex(),
                                                                   "answer": "consent"})  # fmt: skip
    await fed.sync()
    page = await region.page("/agenda")
    assert "ruled out: Not ours" in plain(page) and page.count("consent") >= 2
    location = await region.post("/agenda", "/agenda/do/table", {"composite": composite.envelope.id.hex(),
                                                                 "closes": closes})  # fmt: skip
    item = location.split("/agenda/")[1].split("?")[0]
    page = await region.page("/agenda")  # tabled: the step gives way to a link to the question
    assert "Put the composite on the agenda" not in page and f'On the agenda: <a href="/agenda/{item}">' in page
    await fed.sync()
    assert "Send our answer" not in await browsers["leeds"].page("/agenda")  # answers no longer change anything

    leeds = browsers["leeds"]
    page = await leeds.page(f"/agenda/{item}")
    assert "A 32-hour, four-day week." in page and "Send our mandate" in page
    location = await leeds.post(f"/agenda/{item}", f"/agenda/{item}/ballot", {})
    ballot_id = int(re.search(r"/ballots/(\d+)", location).group(1))  # type: ignore[union-attr]
    assert "the question" in await leeds.page(f"/ballots/{ballot_id}")
    for voter in fed["leeds"].voters:
        await ballots.vote(fed["leeds"].node, voter, ballot_id, "for")
    await motions.close_ballot(fed["leeds"].node, fed["leeds"].officer, ballot_id)
    await leeds.post(f"/agenda/{item}", f"/agenda/{item}/mandate", {"position": "follow"})
    await fed.sync()
    page = await region.page(f"/agenda/{item}")
    # Leeds's weight, beside it how many of its members voted (4 of its roll of 5: not the secretary), its mandate.
    assert re.search(r"leeds \d+ 4 of 5 voted for", plain(page)), plain(page)
    await asyncio.sleep(max(0.0, closes_ms / 1000 - time.time()) + 0.3)  # until the deadline has passed
    await region.post(f"/agenda/{item}", f"/agenda/{item}/aggregate", {})
    await fed.sync()
    for name in ("national", "north", "hull"):
        page = await browsers[name].page(f"/agenda/{item}")
        assert "Aggregate by north" in page and "it adds up" in page, name
    # A region that drops Leeds's mandate (signed with its real key) is shown up on every page.
    judged = await steps.judge(north.node, await steps.item(north.node, bytes.fromhex(item)))
    dropped = up.build(judged.item, judged.weights, {})
    await north.node.own_log.append(dropped)
    await fed.sync()
    page = await browsers["york"].page(f"/agenda/{item}")
    assert "does not agree" in page and "omits_mandate" in page


async def test_a_campaign_gets_a_pledge_through_the_pages(fed: Federation, browsers: dict[str, Browser]) -> None:
    await browsers["leeds"].post("/campaigns", "/campaigns/do/publish", {
        "title": "Support the bin strike", "text": "Refuse workers strike from Monday.", "asks": "Visit the picket.",
        "contact": "Leeds Branch secretary"})  # fmt: skip
    body = await browsers["leeds"].post("/campaigns", "/campaigns/do/publish", {"title": "", "text": "x"}, expect=400)
    assert "title" in body
    await fed.sync()
    page = await browsers["york"].page("/campaigns")
    assert "Support the bin strike" in page and "Pledge support" in page
    campaign = re.search(r'name="campaign" value="([0-9a-f]{64})"', page).group(1)  # type: ignore[union-attr]
    pledged = {"campaign": campaign, "pledge": "York sends twenty members to the picket line."}
    await browsers["york"].post("/campaigns", "/campaigns/do/pledge", pledged)
    await fed.sync()
    for name in ("leeds", "hull", "national"):
        page = await browsers[name].page("/campaigns")
        assert "York sends twenty members to the picket line." in page, name
    assert "Pledge support" not in await browsers["york"].page("/campaigns")  # pledged once
    # York withdraws its pledge, then Leeds its campaign: both stay listed, marked withdrawn.
    page = await browsers["york"].page("/campaigns")
    assert "Withdraw this campaign notice" not in page  # not York's
    pledge_id = re.search(r'name="notice" value="([0-9a-f]{64})"', page).group(1)  # type: ignore[union-attr]
    await browsers["york"].post("/campaigns", "/campaigns/do/withdraw", {"notice": pledge_id, "reason": "Rained off."})
    assert "Withdraw this pledge" not in await browsers["york"].page("/campaigns")  # done: the button is gone
    await browsers["leeds"].post("/campaigns", "/campaigns/do/withdraw", {"notice": campaign, "reason": "We won."})
    await fed.sync()
    for name in ("leeds", "york", "hull", "national"):
        page = await browsers[name].page("/campaigns")
        assert "leeds withdrew this notice: We won." in page, name
        assert "<del><strong>york</strong>: York sends twenty" in page and "withdrawn: Rained off." in page
        assert "Pledge support" not in page and "Withdraw this" not in page, name


async def test_members_read_the_agenda_and_officers_alone_act(fed: Federation, password_hash: str) -> None:
    leeds = fed["leeds"]
    member = leeds.voters[0]
    await leeds.node.auth.change_password(member.id, password_hash)
    runner, url = await serve_node(leeds.node)
    try:
        async with aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            await sign_in(http, Principal(await leeds.node.members.require(member.id), PASSWORD))
            async with http.get("/agenda") as r:
                page = await r.text()
                assert r.status == 200 and "Put a question" not in page
            token = csrf_of(page)
            async with http.post("/campaigns/do/publish", data={"csrf": token, "title": "t", "text": "x"},
                                 allow_redirects=False) as r:  # fmt: skip
                assert r.status == 403
    finally:
        await runner.cleanup()
    assert await leeds.node.envelopes.own_of_kind(leeds.node.key.public, "campaign") == []


async def test_a_branch_records_its_delegates_on_the_agenda_page(fed: Federation, browsers: dict[str, Browser]) -> None:
    leeds = browsers["leeds"]
    page = plain(await leeds.page("/agenda"))
    assert "Our delegates to north" in page and "None recorded yet." in page
    body = await leeds.post("/agenda", "/agenda/do/delegates", {"count": "two", "names": ""}, expect=400)
    assert "whole number" in body
    await leeds.post("/agenda", "/agenda/do/delegates", {"count": "3", "names": "Sam Porter\r\n\r\n"})
    assert "3 delegates: Sam Porter, delegate 2, delegate 3." in plain(await leeds.page("/agenda"))
    records = await fed["leeds"].node.envelopes.own_of_kind(fed["leeds"].node.key.public, "delegates")
    assert len(records) == 1
    body = await leeds.post("/agenda", "/agenda/do/delegates", {"count": "1", "names": "A\nB"}, expect=400)
    assert "one name per delegate" in body
    assert "Our delegates to" not in await browsers["national"].page("/agenda")  # the root has no body above
    # Put to the members (the only way where the rules list officers_delegates): nothing is
    # signed before their vote, which is on exactly this number and these names.
    where = await leeds.post("/agenda", "/agenda/do/delegates", {"count": "2", "names": "Ann Lee", "via": "members"})
    assert where.startswith("/ballots/")
    assert "Send 2 delegates to north" in await leeds.page(where) and "Ann Lee" in await leeds.page(where)
    assert len(await fed["leeds"].node.envelopes.own_of_kind(fed["leeds"].node.key.public, "delegates")) == 1


async def test_over_long_fields_are_named_and_nothing_is_signed(fed: Federation, browsers: dict[str, Browser]) -> None:
    """The rules check what the signed object holds before signing, so a form cannot make the
    node fail when it seals (or publish what others would refuse)."""
    national = browsers["national"]
    closes = utc(int(time.time() * 1000) + 3_600_000)
    body = await national.post("/agenda", "/agenda/do/table", {"title": "Long", "text": "x" * 20_001,
                                                               "closes": closes}, expect=400)  # fmt: skip
    assert "at most 20,000 characters" in body
    body = await national.post("/campaigns", "/campaigns/do/publish", {"title": "t" * 201, "text": "x"}, expect=400)
    assert "at most 200 characters" in body
    node = fed["national"].node
    assert [k for k in ("agenda_item", "campaign") if await node.envelopes.own_of_kind(node.key.public, k)] == []


async def test_a_branch_ballot_on_a_question_closes_before_its_deadline(fed: Federation, browsers: dict[str, Browser]
                                                                         ) -> None:  # fmt: skip
    north, leeds = fed["north"], browsers["leeds"]
    closes_ms = int(time.time() * 1000) + 2 * 3_600_000  # mandates within two hours
    item = await steps.table_item(north.node, north.officer, steps.NewItem(title="Rent caps", text="Cap rents.",
                                                                            closes=closes_ms))  # fmt: skip
    await fed.sync()
    here = f"/agenda/{item.id.hex()}"
    refused = await leeds.post(here, f"{here}/ballot", {"closes_in": "24"}, expect=400)  # after the deadline
    assert "must close before the item's deadline" in refused and 'id="e-closes"' in refused  # marked by the field
    assert await fed["leeds"].node.ballots.recent() == []  # nothing opened
    location = await leeds.post(here, f"{here}/ballot", {"closes_in": "1"})
    ballot_id = int(re.search(r"/ballots/(\d+)", location).group(1))  # type: ignore[union-attr]
    row = await fed["leeds"].node.ballots.require(ballot_id)
    assert row.closes is not None and row.closes < closes_ms and abs(row.closes - (row.opened + 3_600_000)) < 60_000
    # Once per item: the page now links the ballot instead of offering another, and a second is refused.
    page = await leeds.page(here)
    assert f'href="/ballots/{ballot_id}"' in page and "Open our members' ballot" not in page
    again = await leeds.post(here, f"{here}/ballot", {"closes_in": "1"}, expect=409)
    assert "opened its ballot on this item already" in again
    assert [b.id for b in await fed["leeds"].node.ballots.recent()] == [ballot_id]


async def test_the_api_takes_a_closing_time_for_a_branch_ballot_on_a_question(fed: Federation,
                                                                             browsers: dict[str, Browser]
                                                                             ) -> None:  # fmt: skip
    """POST /api/v1/agenda/{id}/ballot takes {"closes": ms} as the page takes "closes in": before
    the item's deadline, or refused naming the field with nothing opened; no body at all opens
    one an officer closes."""
    north, leeds = fed["north"], fed["leeds"]
    deadline = int(time.time() * 1000) + 2 * 3_600_000
    items = [await steps.table_item(north.node, north.officer, steps.NewItem(title=t, text=f"{t}.", closes=deadline))
             for t in ("Rent caps", "Bus fares")]  # fmt: skip
    await fed.sync()
    http = browsers["leeds"].http
    path = f"/api/v1/agenda/{items[0].id.hex()}/ballot"
    async with http.post(path, json={"closes": deadline + 1}) as r:
        refused = await r.json()
        assert r.status == 400 and refused["error"]["field"] == "closes", refused
    assert await leeds.node.ballots.recent() == []
    async with http.post(path, json={"closes": deadline - 3_600_000}) as r:
        assert r.status == 201, await r.text()
        opened = await r.json()
    assert (await leeds.node.ballots.require(opened["id"])).closes == deadline - 3_600_000
    async with http.post(f"/api/v1/agenda/{items[1].id.hex()}/ballot") as r:  # no body: closed by an officer
        assert r.status == 201, await r.text()
        assert (await leeds.node.ballots.require((await r.json())["id"])).closes is None
    async with http.post(f"/api/v1/agenda/{items[1].id.hex()}/ballot", json={"closes": "soon"}) as r:
        assert r.status == 400 and (await r.json())["error"]["field"] == "closes"
