"""A branch's meeting cycle in a real browser, at desktop and phone widths: a member finds an
agenda question and a delegate election under "Waiting for you" and votes on each in at most
three clicks from home; the ballot page shows the text and the rules; signed out, a
decision's page shows the text decided and its counts; a member who forgot their password
gets back in by mail (a real SMTP server). axe-core on every page; screenshots."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from node.federation import ballots, motions
from node.federation import elections as el
from node.federation import items as on_item
from node.federation import upward as steps
from node.federation.upward import NewItem
from node.service import Node
from tests.node.conftest import PASSWORD, Live, Principal, serve_node
from tests.node.federation.test_upward import Federation
from tests.node.mail.conftest import Smtp, start_smtp, with_mail
from tests.node.web.browser.conftest import VIEWPORTS, Tab
from tests.node.web.browser.test_upward_in_chromium import urls  # noqa: F401  (the fixture)
from tests.node.web.test_upward_pages import fed  # noqa: F401  (the fixture)

Clicks = list[str]


async def test_a_member_votes_on_what_waits_in_three_clicks_from_home(
        fed: Federation, urls: dict[str, str], browser: Browser, viewport: str, password_hash: str  # noqa: F811
) -> None:  # fmt: skip
    leeds, north = fed["leeds"], fed["north"]
    hour = int(time.time() * 1000) + 3_600_000
    item = await steps.table_item(north.node, north.officer,
                                  NewItem(title="Rent caps", text="North backs rent caps.", closes=hour))  # fmt: skip
    await fed.sync()
    question = await on_item.ballot_on_item(leeds.node, leeds.officer, item.id)
    contest = el.DELEGATES + north.node.key.public.hex()
    for voter, name in zip(leeds.voters[:2], ("Val", "Wyn"), strict=True):
        await el.stand(leeds.node, voter, contest, name, f"{name} will report back.")
    election = await el.open_delegate_election(leeds.node, leeds.officer, north.node.key.public, 1, closes=hour)
    member = leeds.voters[3]
    await leeds.node.auth.change_password(member.id, password_hash)
    context = await browser.new_context(**VIEWPORTS[viewport])  # type: ignore[arg-type]
    tab = Tab(context, await context.new_page(), SimpleNamespace(url=urls["leeds"]), viewport)  # type: ignore[arg-type]
    try:
        await tab.sign_in(Principal(member, ""), PASSWORD)
        waiting = tab.page.get_by_role("region", name="Waiting for you")
        await expect(waiting.get_by_role("link", name="Rent caps")).to_be_visible()
        await expect(waiting.get_by_role("link", name=election.subject)).to_be_visible()
        await expect(waiting.get_by_text("agenda question")).to_be_visible()
        await expect(waiting.get_by_text("delegate election")).to_be_visible()
        await expect(waiting.get_by_text("Not voted yet.")).to_have_count(2)
        await tab.check_accessible()
        await tab.screenshot("home-waiting")

        # The agenda question: 1. its link, 2. "For", 3. "Cast my vote".
        await waiting.get_by_role("link", name="Rent caps").click()
        await expect(tab.page.get_by_role("heading", name="What you are deciding")).to_be_visible()
        await expect(tab.page.get_by_text("North backs rent caps.")).to_be_visible()
        await expect(tab.page.get_by_text(re.compile(r"^Quorum: "))).to_be_visible()
        await expect(tab.page.get_by_text(re.compile(r"^Voting (closes |is open until an officer)"))).to_be_visible()
        await expect(tab.page.get_by_text(re.compile(r"^Secret: nobody"))).to_be_visible()
        await tab.check_accessible()
        await tab.screenshot("ballot-question")
        await tab.page.get_by_label("For").check()
        await tab.page.get_by_role("button", name="Cast my vote").click()
        await expect(tab.page.get_by_text("Your vote is cast")).to_be_visible()
        receipt = await tab.page.get_by_label("Receipt").input_value()
        async with tab.page.expect_download() as saving:  # the receipt kept as a small text file
            await tab.page.get_by_role("button", name="Save it as a file").click()
        saved = await (await saving.value).path()
        assert receipt in Path(saved).read_text() and "Rent caps" in Path(saved).read_text()
        await tab.page.get_by_role("button", name="Copy the receipt").click()
        await expect(tab.page.get_by_text(re.compile(r"^(Copied\.|Selected: copy it now\.)$"))).to_be_visible()
        await tab.check_accessible()

        # The delegate election: 1. its link, 2. "Move Val up" (ranked first), 3. "Cast my vote".
        await tab.goto("/")
        await expect(waiting.get_by_text("You have voted.")).to_have_count(1)
        await waiting.get_by_role("link", name=election.subject).click()
        await expect(tab.page.get_by_role("heading", name="The candidates")).to_be_visible()
        await expect(tab.page.get_by_text("Val will report back.")).to_be_visible()
        await tab.page.get_by_role("button", name="Move Val up").click()
        await tab.page.get_by_role("button", name="Cast my vote").click()
        await expect(tab.page.get_by_text("Your vote is cast")).to_be_visible()
        assert await leeds.node.ballots.has_voted(question.id, member.id)
        assert await leeds.node.ballots.has_voted(election.id, member.id)
        await tab.goto("/")
        await expect(waiting.get_by_text("You have voted.")).to_have_count(2)

        # Closed and counted: signed out, the decision's page shows the text and the counts.
        for voter in leeds.voters[:3]:
            await ballots.vote(leeds.node, voter, question.id, "against")
        decision = await motions.close_ballot(leeds.node, leeds.officer, question.id)
        await tab.sign_out()
        await tab.goto("/decisions")
        await tab.page.get_by_role("link", name="Rent caps").first.click()
        assert tab.page.url.endswith(f"/decisions/{decision.id.hex()}")
        await expect(tab.page.get_by_text("North backs rent caps.")).to_be_visible()
        await expect(tab.page.get_by_role("heading", name="The count")).to_be_visible()
        facts = tab.page.locator("dl.facts")
        await expect(facts).to_contain_text("For1")
        await expect(facts).to_contain_text("Against3")
        await expect(tab.page.get_by_text(re.compile(r"^Quorum: "))).to_be_visible()
        await tab.check_accessible()
        await tab.screenshot("decision-public")
        # Signed in again, the member checks their receipt; a mistyped one is marked and kept.
        await tab.sign_in(Principal(member, ""), PASSWORD)
        await tab.goto(f"/ballots/{question.id}")
        mistyped = receipt[:-3] + ("aaa" if not receipt.endswith("aaa") else "bbb")
        await tab.page.get_by_label("Check a receipt").fill(mistyped)
        await tab.page.get_by_role("button", name="Check").click()
        await expect(tab.page.get_by_label("Check a receipt")).to_have_value(mistyped)
        await tab.page.get_by_label("Check a receipt").fill(receipt)
        await tab.page.get_by_role("button", name="Check").click()
        await expect(tab.page.get_by_role("status").filter(has_text="Counted, as: for")).to_be_visible()
        await tab.check_accessible()
        # The secretary's home: the mandate North waits for, the election still open with its turnout.
        await tab.sign_out()
        await tab.sign_in(Principal(leeds.officer, ""), PASSWORD)
        officers = tab.page.get_by_role("region", name="For officers")
        await expect(officers.get_by_role("heading", name="Mandates to send")).to_be_visible()
        await expect(officers.get_by_role("link", name="Rent caps")).to_be_visible()
        await expect(officers.get_by_text(f"1 of {election.electorate} voted")).to_be_visible()
        await tab.check_accessible()
        await tab.screenshot("home-officer-waiting")
    finally:
        await context.close()
    assert not tab.problems, tab.problems


@pytest.fixture
async def smtp() -> AsyncIterator[Smtp]:
    server = await start_smtp()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def live(node_dir: Path, password_hash: str, smtp: Smtp) -> AsyncIterator[Live]:
    """This module's node sends mail to ``smtp``."""
    with_mail(node_dir, smtp, retry_s=1)
    node = await Node.open(node_dir, serving=True)
    runner, url = await serve_node(node)
    try:
        async with aiohttp.ClientSession(url) as http:
            yield Live(node, url, http, password_hash, {"smtp": smtp})
    finally:
        await runner.cleanup()
        await node.close()


async def test_a_member_who_forgot_their_password_gets_back_in_by_mail(live: Live, new_tab, smtp: Smtp  # type: ignore[no-untyped-def]
                                                                       ) -> None:  # fmt: skip
    member = await live.member()
    tab: Tab = await new_tab()
    await tab.goto("/")
    await tab.page.get_by_role("link", name="Forgot your password?").click()
    await expect(tab.page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    await tab.check_accessible()
    await tab.page.get_by_label("Email").fill(member.member.email)
    await tab.page.get_by_role("button", name="Send me a link").click()
    await expect(tab.page.get_by_text("If that address belongs to a member")).to_be_visible()
    (mail,) = await smtp.recorder.until(1)
    link = re.search(r"https?://\S+/password/reset/bnr_[A-Za-z0-9_-]+", mail.text)
    assert link is not None and mail.to == [member.member.email]
    await tab.goto("/password/reset/" + link.group(0).rsplit("/", 1)[1])
    await expect(tab.page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    await tab.check_accessible()
    await tab.screenshot("password-reset")
    await tab.page.get_by_label("New password").fill("a new and long passphrase")
    await tab.page.get_by_label("The same again").fill("a new and long passphrase")
    await tab.page.get_by_role("button", name="Set password and sign in").click()
    await expect(tab.page.get_by_text("Your password is changed.")).to_be_visible()
    await tab.sign_out()
    await tab.sign_in(member, "a new and long passphrase")
    # The link worked once: opened again, it says so.
    await tab.goto("/password/reset/" + link.group(0).rsplit("/", 1)[1])
    await expect(tab.page.get_by_text("This link no longer works")).to_be_visible()


async def test_an_invite_by_mail_opens_in_chromium_and_signs_the_member_in(live: Live, new_tab, smtp: Smtp  # type: ignore[no-untyped-def]
                                                                           ) -> None:  # fmt: skip
    officer = await live.member("secretary")
    newcomer = await live.member(with_password=False)
    tab: Tab = await new_tab()
    await tab.sign_in(officer)
    await tab.goto(f"/members/{newcomer.member.id}")
    await tab.page.get_by_role("button", name="Invite by mail").click()
    await expect(tab.page.get_by_role("heading", name=f"Invite sent to {newcomer.member.name}")).to_be_visible()
    await tab.check_accessible()
    await tab.sign_out()
    (mail,) = await smtp.recorder.until(1)
    link = re.search(r"https?://\S+/invite/bni_[A-Za-z0-9_-]+", mail.text)
    assert link is not None and mail.to == [newcomer.member.email]
    await tab.goto("/invite/" + link.group(0).rsplit("/", 1)[1])
    await tab.page.get_by_label("Password", exact=True).fill("a long and new passphrase")
    await tab.page.get_by_label("The same again").fill("a long and new passphrase")
    await tab.page.get_by_role("button", name="Set password and sign in").click()
    await expect(tab.page.get_by_role("heading", name=re.compile("^Welcome"))).to_be_visible()
