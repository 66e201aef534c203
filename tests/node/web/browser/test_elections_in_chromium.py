"""Elections in a real browser at desktop and phone widths, on nodes served on 127.0.0.1
(envelopes carried between them as gossip would): an officer stands and opens the branch's
delegate election; a voter ranks the candidates with the move buttons by keyboard (and, at
desktop width, by dragging), and the numbers sent follow; a region's selection result shows
its rounds as a table and a chart on every node, one of its candidates having stood and been
nominated through the page. axe-core on every page; screenshots."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time

import pytest
from playwright.async_api import expect

from node.errors import Conflict
from node.federation import ballots, motions
from node.federation import elections as el
from tests.node.federation.test_upward import Federation
from tests.node.web.browser.test_upward_in_chromium import Open, open_as, urls  # noqa: F401  (fixtures)
from tests.node.web.test_upward_pages import fed  # noqa: F401  (the fixture)


async def test_a_member_ranks_candidates_by_keyboard_and_by_dragging(fed: Federation, open_as: Open,  # noqa: F811
                                                                    viewport: str) -> None:  # fmt: skip
    leeds = fed["leeds"]
    contest = el.DELEGATES + fed["north"].node.key.public.hex()
    for voter, name in zip(leeds.voters[:2], ("Val", "Wyn"), strict=True):
        await el.stand(leeds.node, voter, contest, name, f"{name} will report back.")
    tab = await open_as("leeds")
    await tab.page.get_by_role("navigation", name="Main").get_by_role("link", name="Elections").click()
    await expect(tab.page.get_by_role("heading", name="Delegates to north")).to_be_visible()
    await tab.page.get_by_label("Your name on the ballot").fill("Sam Secretary")
    await tab.page.get_by_label("Your statement").fill("I will report back every month.")
    await tab.check_accessible()
    await tab.page.get_by_role("button", name="I stand").click()
    await expect(tab.page.get_by_text("You stand: your statement")).to_be_visible()
    await tab.page.get_by_label("Delegates to elect").fill("2")
    await tab.page.get_by_label("Counted by").select_option("stv")
    await tab.page.get_by_role("button", name="Open the election").click()
    await expect(tab.page.get_by_text("The ballot is open.")).to_be_visible()
    ballot_id = int(re.search(r"/ballots/(\d+)", tab.page.url).group(1))  # type: ignore[union-attr]

    # By keyboard: Wyn up (ranked 1st), Val up (2nd), then Val up again (1st, Wyn 2nd).
    for name in ("Wyn", "Val", "Val"):
        button = tab.page.get_by_role("button", name=f"Move {name} up")
        await button.focus()
        await tab.page.keyboard.press("Enter")
    await expect(tab.page.get_by_label("Val", exact=True)).to_have_value("1")
    await expect(tab.page.get_by_label("Wyn", exact=True)).to_have_value("2")
    await expect(tab.page.get_by_label("Sam Secretary", exact=True)).to_have_value("")
    items = tab.page.locator(".rank-item label")
    await expect(items).to_have_text(["Val", "Wyn", "Sam Secretary"])  # the list follows the preference order
    if viewport == "desktop":  # dragging: Sam onto Val's place, ahead of both
        # (held by its name: the number's menu and the buttons take the pointer for themselves)
        await tab.page.locator(".rank-item").filter(has_text="Sam Secretary").drag_to(
            tab.page.locator(".rank-item").filter(has_text="Val"), source_position={"x": 12, "y": 12},
            target_position={"x": 12, "y": 12})
        await expect(tab.page.get_by_label("Sam Secretary", exact=True)).to_have_value("1")
        await expect(tab.page.get_by_label("Val", exact=True)).to_have_value("2")
        expected = ["Sam Secretary", "Val", "Wyn"]
    else:  # on a phone: the move buttons, by touch
        await tab.page.get_by_role("button", name="Move Sam Secretary up").tap()
        expected = ["Val", "Wyn", "Sam Secretary"]
    await tab.check_accessible()
    await tab.screenshot("ballot-ranked")
    await tab.page.get_by_role("button", name="Cast my vote").click()
    await expect(tab.page.get_by_text("Your vote is cast")).to_be_visible()
    receipt = await tab.page.get_by_label("Receipt").input_value()
    for voter in leeds.voters:
        await ballots.vote(leeds.node, voter, ballot_id, ["Val"])
    await tab.page.get_by_role("button", name="Close and count").click()
    await tab.page.get_by_role("button", name="Yes, close and count").click()  # the confirmation
    await expect(tab.page.get_by_role("heading", name="Result: elected")).to_be_visible()
    # The branch's own count, as a selection's: the quota and every round, a table and a chart.
    await expect(tab.page.get_by_text(re.compile(r"the quota was \d"))).to_be_visible()
    await expect(tab.page.get_by_role("table", name="The count, round by round")).to_be_visible()
    await expect(tab.page.get_by_role("img", name=re.compile("Votes at the last round"))).to_be_visible()
    await tab.check_accessible()
    await tab.screenshot("delegate-election-result")
    elected = await tab.page.locator("text=Elected, in order:").locator("strong").inner_text()
    winners = [w.strip() for w in elected.split(",")]
    await tab.goto("/elections")  # who holds the post now
    await expect(tab.page.get_by_text(re.compile(r"^Now: " + re.escape(", ".join(winners))))).to_be_visible()
    await tab.check_accessible()
    check = await ballots.check_receipt(leeds.node, ballot_id, receipt)
    assert check.counted and check.choice == expected


@pytest.mark.slow  # ~25 s a width, waiting out real windows: `make test-slow` (CI)
async def test_a_selection_result_shows_its_rounds_as_a_table_and_a_chart(fed: Federation, open_as: Open  # noqa: F811
                                                                          ) -> None:  # fmt: skip
    north = fed["north"]
    now = int(time.time() * 1000)
    selection = await el.publish_selection(north.node, north.officer, "Regional committee", 2,
                                           nominations_close=now + 15_000, voting_close=now + 23_000)  # fmt: skip
    await fed.sync()
    for name, candidate in (("leeds", "Ann"), ("york", "Bob")):
        b = fed[name]
        await el.stand(b.node, b.voters[0], el.SELECTION + selection.id.hex(), candidate, f"{candidate} stands.")
        await el.nominate(b.node, b.officer, selection.id, b.voters[0].id)
    # In Hull, through the page: the officer stands (their own consent) and the branch nominates.
    hull = await open_as("hull")
    await hull.goto(f"/selections/{selection.id.hex()}")
    await hull.page.get_by_label("Your name on the ballot").fill("Cat")
    await hull.page.get_by_label("Your statement").fill("Cat for the committee: housing first.")
    await hull.check_accessible()
    await hull.page.get_by_role("button", name="I stand").click()
    await expect(hull.page.get_by_text("You stand: your statement")).to_be_visible()
    await hull.page.get_by_role("button", name="Nominate Cat").click()
    await expect(hull.page.get_by_text("The nomination is signed.")).to_be_visible()
    await hull.screenshot("selection-nominate")
    await fed.sync()
    await asyncio.sleep(max(0.0, (now + 15_100) / 1000 - time.time()))
    await el.publish_paper(north.node, north.officer, selection.id)
    await fed.sync()
    rankings = {"leeds": [["Ann", "Bob"]] * 3 + [["Cat"]], "york": [["Bob", "Ann"]] * 2 + [["Cat", "Bob"]] * 2,
                "hull": [["Cat", "Ann"]] * 3 + [["Bob"]]}  # fmt: skip
    rows = {}
    for name, votes in rankings.items():
        b = fed[name]
        rows[name] = await el.open_selection_ballot(b.node, b.officer, selection.id)
        for voter, ranking in zip(b.voters, votes, strict=True):
            await ballots.vote(b.node, voter, rows[name].id, ranking)
    await asyncio.sleep(max(0.0, (now + 23_100) / 1000 - time.time()))
    for name, row in rows.items():  # the node closes each at its time; an officer's close may come first
        with contextlib.suppress(Conflict):
            await motions.close_ballot(fed[name].node, fed[name].officer, row.id)
        for _ in range(300):  # bounded: until closed, by whichever came first
            if (await fed[name].node.ballots.require(row.id)).state == "closed":
                break
            await asyncio.sleep(0.1)
    await fed.sync()
    await el.publish_result(north.node, north.officer, selection.id)
    await fed.sync()
    for name in ("north", "hull"):
        tab = hull if name == "hull" else await open_as(name)
        await tab.goto(f"/selections/{selection.id.hex()}")
        await expect(tab.page.get_by_text("got exactly this result")).to_be_visible()
        await expect(tab.page.get_by_role("table", name="The count, round by round")).to_be_visible()
        await expect(tab.page.get_by_role("img", name=re.compile("Votes at the last round"))).to_be_visible()
        await tab.check_accessible()
        await tab.screenshot(f"selection-result-{name}")
