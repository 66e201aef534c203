"""Decisions going up, in a real browser at desktop and phone widths, on five nodes served on
127.0.0.1 (envelopes carried between them as gossip would): the region's officer composites two
branch motions; a branch officer consents; the region tables the composite; the branch opens
its ballot on the question and sends its mandate; the region publishes an aggregate, whose
recount every node shows, and a dropped mandate shows up as a finding; a campaign gets a
pledge. Keyboard and touch as the browser gives them; axe-core on every page; screenshots."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp.web
import pytest
from playwright.async_api import Browser, expect

from node.federation import ballots, motions
from node.federation import items as on_item
from node.federation import submissions as subm
from node.federation import upward as steps
from node.federation.upward import NewItem
from protocol import upward as up
from tests.node.conftest import PASSWORD, Principal
from tests.node.federation.test_upward import Federation
from tests.node.web.browser.conftest import VIEWPORTS, Tab
from tests.node.web.test_upward_pages import carry, fed, serve_node  # noqa: F401  (fed: the fixture)

Open = Callable[[str], Awaitable[Tab]]


@pytest.fixture
async def urls(fed: Federation) -> AsyncIterator[dict[str, str]]:  # noqa: F811
    runners: list[aiohttp.web.AppRunner] = []
    out = {}
    for name, body in fed.bodies.items():
        runner, url = await serve_node(body.node)
        runners.append(runner)
        out[name] = url
    try:
        yield out
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def open_as(browser: Browser, viewport: str, fed: Federation, urls: dict[str, str]  # noqa: F811
                  ) -> AsyncIterator[Open]:  # fmt: skip
    """A signed-in tab of a node's officer; every tab must see no CSP report or script error."""
    opened: list[Tab] = []

    async def make(name: str) -> Tab:
        context = await browser.new_context(**VIEWPORTS[viewport])  # type: ignore[arg-type]
        tab = Tab(context, await context.new_page(), SimpleNamespace(url=urls[name]), viewport)  # type: ignore[arg-type]
        opened.append(tab)
        officer = await fed[name].node.members.require(fed[name].officer.id)
        await tab.sign_in(Principal(officer, ""), PASSWORD)
        return tab

    yield make
    for tab in opened:
        await tab.context.close()
    for tab in opened:
        assert not tab.problems, tab.problems


async def submitted(federation: Federation, name: str, title: str) -> Any:
    b, region = federation[name], federation["north"].node.key.public
    motion = await motions.propose(b.node, b.voters[0], title, f"{title} for all.", for_body=region)
    await carry(b, motion.id)
    return await subm.submit(b.node, b.officer, motion.id)


async def test_a_question_goes_down_and_the_answers_come_up(fed: Federation, open_as: Open) -> None:  # noqa: F811
    north = fed["north"]
    for name, title in (("leeds", "Four-day week"), ("york", "Shorter hours")):
        await submitted(fed, name, title)
    await fed.sync()

    # The region's officer composites the two motions, by keyboard where a form allows.
    r = await open_as("north")
    await r.page.get_by_role("navigation", name="Main").get_by_role("link", name="Agenda").click()
    await expect(r.page.get_by_role("heading", name="Motions submitted to this body")).to_be_visible()
    await r.page.get_by_label("Four-day week (leeds)").check()
    await r.page.get_by_label("Shorter hours (york)").check()
    await r.page.get_by_label("Title of the composite").fill("Working time")
    await r.page.get_by_label("Text of the composite").fill("North calls for a four-day, 32-hour week.")
    await r.check_accessible()
    await r.screenshot("agenda-submissions")
    await r.page.get_by_role("button", name="Propose the composite").click()
    await expect(r.page.get_by_text("Composite proposed")).to_be_visible()
    await fed.sync()

    # Leeds consents on its page; York by its own steps.
    leeds = await open_as("leeds")
    await leeds.goto("/agenda")
    await leeds.page.get_by_label("Consent", exact=True).check()
    await leeds.check_accessible()
    await leeds.page.get_by_role("button", name="Send our answer").click()
    await expect(leeds.page.get_by_text("Your answer is signed and sent.")).to_be_visible()
    composite = (await subm.composites(north.node))[0]
    await subm.answer_composite(fed["york"].node, fed["york"].officer, composite.envelope.id, "consent")
    await fed.sync()

    # The region puts the composite on the agenda, with a deadline an hour away.
    await r.goto("/agenda")
    closes = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() + 3600))
    card = r.page.get_by_role("listitem").filter(has_text="Working time")
    await card.get_by_label("Mandates until (UTC)").fill(closes)
    await card.get_by_role("button", name="Put the composite on the agenda").click()
    await expect(r.page.get_by_text("The question is on the agenda.")).to_be_visible()
    item_path = r.page.url.split("?")[0].removeprefix(r.live.url)
    await fed.sync()

    # Leeds opens its members' ballot on the text, its members vote, and it sends its mandate.
    await leeds.goto(item_path)
    await expect(leeds.page.get_by_text("North calls for a four-day, 32-hour week.")).to_be_visible()
    await leeds.page.get_by_role("button", name="Open our members' ballot on this text").click()
    await expect(leeds.page.get_by_text("The ballot is open.")).to_be_visible()
    ballot_id = int(re.search(r"/ballots/(\d+)", leeds.page.url).group(1))  # type: ignore[union-attr]
    for voter in fed["leeds"].voters:
        await ballots.vote(fed["leeds"].node, voter, ballot_id, "for")
    await leeds.page.get_by_role("button", name="Close and count").click()
    await leeds.page.get_by_role("button", name="Yes, close and count").click()  # the confirmation
    await expect(leeds.page.get_by_role("heading", name="Result: carried")).to_be_visible()
    await leeds.page.get_by_role("link", name="the question").click()
    await leeds.page.get_by_label("Follow our decision (for, against or abstain)").check()
    await leeds.check_accessible()
    await leeds.screenshot("item-mandate")
    await leeds.page.get_by_role("button", name="Sign and send the mandate").click()
    await expect(leeds.page.get_by_text("The mandate is signed and sent.")).to_be_visible()
    await fed.sync()

    # A question that has closed: the region publishes its aggregate from the page; every node
    # shows its recount; an aggregate that drops a mandate is shown up on every node.
    question = NewItem(title="Rent caps", text="North backs rent caps.", closes=int(time.time() * 1000) + 1500)
    short = await steps.table_item(north.node, north.officer, question)
    await fed.sync()
    for name in ("leeds", "york"):
        row = await on_item.ballot_on_item(fed[name].node, fed[name].officer, short.id)
        for voter in fed[name].voters:
            await ballots.vote(fed[name].node, voter, row.id, "for" if name == "leeds" else "against")
        await motions.close_ballot(fed[name].node, fed[name].officer, row.id)
        await steps.issue_mandate(fed[name].node, fed[name].officer, short.id)
    await fed.sync()
    await asyncio.sleep(max(0.0, short.payload.body.closes / 1000 - time.time()) + 0.2)  # type: ignore[union-attr]
    await r.goto(f"/agenda/{short.id.hex()}")
    await r.page.get_by_role("button", name="Count the mandates and publish the aggregate").click()
    await expect(r.page.get_by_text("The aggregate is signed and published.")).to_be_visible()
    await expect(r.page.get_by_text("it adds up")).to_be_visible()
    await r.check_accessible()
    await r.screenshot("aggregate")
    judged = await steps.judge(north.node, short)
    await north.node.own_log.append(up.build(short, judged.weights, {}))  # drops both mandates
    await fed.sync()
    hull = await open_as("hull")
    await hull.goto(f"/agenda/{short.id.hex()}")
    await expect(hull.page.get_by_role("alert").filter(has_text="does not agree")).to_contain_text("omits_mandate")
    await hull.check_accessible()
    await hull.screenshot("aggregate-flagged")


async def test_a_campaign_and_a_pledge(fed: Federation, open_as: Open) -> None:  # noqa: F811
    leeds = await open_as("leeds")
    await leeds.goto("/campaigns")
    await leeds.page.get_by_label("Title").fill("Support the bin strike")
    await leeds.page.get_by_label("What is happening").fill("Refuse workers strike from Monday for a fair wage.")
    await leeds.page.get_by_label("What it asks of others").fill("Visit the picket line; give to the hardship fund.")
    await leeds.page.get_by_role("button", name="Publish").click()
    await expect(leeds.page.get_by_text("The campaign notice is published.")).to_be_visible()
    await fed.sync()
    york = await open_as("york")
    await york.goto("/campaigns")
    await york.page.get_by_label("What this body pledges").fill("York sends twenty members to the picket line.")
    await york.check_accessible()
    await york.page.get_by_role("button", name="Pledge support").click()
    await expect(york.page.get_by_text("Your pledge is published.")).to_be_visible()
    await fed.sync()
    await leeds.goto("/campaigns")
    await expect(leeds.page.get_by_text("York sends twenty members to the picket line.")).to_be_visible()
    await leeds.check_accessible()
    await leeds.screenshot("campaigns")
    # Leeds withdraws its notice: the step is folded away until opened, then asks why.
    await leeds.page.get_by_text("Withdraw this campaign notice…").click()
    await leeds.page.get_by_label("Why (shown to everyone)").fill("The council settled: the strike is won.")
    await leeds.check_accessible()
    await leeds.page.get_by_role("button", name="Withdraw this campaign notice").click()
    await expect(leeds.page.get_by_text("Withdrawn: every node will show it so.")).to_be_visible()
    await expect(leeds.page.get_by_role("button", name="Withdraw this campaign notice")).to_have_count(0)
    await fed.sync()
    await york.goto("/campaigns")
    await expect(york.page.get_by_text("withdrew this notice: The council settled: the strike is won.")).to_be_visible()
    await york.check_accessible()
    await york.screenshot("campaign-withdrawn")
