"""A body decides, in a real browser at desktop and phone widths: a member proposes a motion,
an officer admits it, another member amends it and the mover accepts, the officer opens the
ballot, members vote and keep their receipts, the officer closes it, a member checks their
receipt, and anyone sees the decision. axe-core on each page; screenshots."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from playwright.async_api import expect

from tests.node.conftest import Live
from tests.node.web.browser.conftest import Tab

NewTab = Callable[[], Awaitable[Tab]]
TEXT = "This branch gives £200 to the food bank.\n\nWe ask the region to match it."


async def test_a_motion_from_proposal_to_a_checked_receipt(live: Live, new_tab: NewTab) -> None:
    officer, mover, amender, voter = [await live.member(r) for r in ("secretary", "member", "member", "member")]

    def main(tab: Tab):  # type: ignore[no-untyped-def]
        return tab.page.get_by_role("navigation", name="Main")

    # The mover proposes.
    m = await new_tab()
    await m.sign_in(mover)
    await main(m).get_by_role("link", name="Motions").click()
    await m.page.get_by_role("link", name="Propose a motion").click()
    await m.page.get_by_label("Title").fill("Fund the food bank")
    await m.page.get_by_label("Text").fill(TEXT)
    await m.check_accessible()
    await m.page.get_by_role("button", name="Submit the motion").click()
    await expect(m.page.get_by_text("Your motion is submitted.")).to_be_visible()
    motion_url = m.page.url

    # The officer admits it.
    o = await new_tab()
    await o.sign_in(officer)
    await o.page.goto(motion_url)
    await o.page.get_by_role("button", name="Admit").click()
    await expect(o.page.get_by_text("Admitted: members may now amend it.")).to_be_visible()

    # Another member amends; a mistake is named beside its field first.
    a = await new_tab()
    await a.sign_in(amender)
    await a.page.goto(motion_url)
    await a.page.get_by_label("Words to replace").fill("£999")
    await a.page.get_by_label("New words").fill("£300")
    await a.page.get_by_role("button", name="Propose the amendment").click()
    await expect(a.page.get_by_text("copy words that appear exactly once")).to_be_visible()
    await a.page.get_by_label("Words to replace").fill("£200")
    await a.page.get_by_role("button", name="Propose the amendment").click()
    await expect(a.page.get_by_text("Your amendment is proposed.")).to_be_visible()
    await a.check_accessible()
    await a.screenshot("motion")

    # The mover accepts it: folded in without a vote.
    await m.page.goto(motion_url)
    await m.page.get_by_role("button", name=re.compile("^Accept amendment")).click()
    await expect(m.page.get_by_text("Amendment accepted.")).to_be_visible()
    await expect(m.page.get_by_text("This branch gives £300 to the food bank.")).to_be_visible()

    # The officer opens the ballot; three members vote and keep their receipts.
    await o.page.goto(motion_url)
    await o.page.get_by_role("button", name="Open the ballot on the motion").click()
    await expect(o.page.get_by_text("The ballot is open.")).to_be_visible()
    ballot_url = o.page.url.split("?")[0]
    receipts: dict[object, str] = {}
    for tab, choice in [(m, "For"), (a, "Against"), (o, "For")]:
        await tab.page.goto(ballot_url)
        await tab.page.get_by_label(choice, exact=True).check()
        if tab is a:
            await tab.check_accessible()
            await tab.screenshot("ballot")
        await tab.page.get_by_role("button", name="Cast my vote").click()
        receipt = tab.page.get_by_label("Receipt")
        await expect(receipt).to_have_value(re.compile("^r-[a-z2-7]{26}$"))
        receipts[tab.page] = await receipt.input_value()
        if tab is a:
            await tab.check_accessible()
            await tab.screenshot("ballot-receipt")
    await m.page.goto(ballot_url)
    await expect(m.page.get_by_text("You have voted on this ballot.")).to_be_visible()
    w = await new_tab()  # on the roll and not voted: the form is still there for them
    await w.sign_in(voter)
    await w.page.goto(ballot_url)
    await expect(w.page.get_by_role("button", name="Cast my vote")).to_be_visible()

    # The officer closes it; the mover checks their receipt.
    await o.page.goto(ballot_url)
    await o.page.get_by_role("button", name="Close and count").click()
    await expect(o.page.get_by_role("heading", name="Close and count now?")).to_be_visible()
    await expect(o.page.get_by_text("have voted. Nobody can vote once it is closed")).to_be_visible()
    await o.check_accessible()
    await o.page.get_by_role("button", name="Yes, close and count").click()  # the confirmation
    await expect(o.page.get_by_role("heading", name="Result: carried")).to_be_visible()
    await m.page.goto(ballot_url)
    await m.page.get_by_label("Check a receipt").fill(receipts[m.page])
    await m.page.get_by_role("button", name="Check").click()
    await expect(m.page.get_by_role("status").filter(has_text="Counted, as: for")).to_be_visible()
    await m.check_accessible()
    await m.screenshot("ballot-result")

    # Anyone sees the decision.
    v = await new_tab()
    await v.goto("/decisions")
    row = v.page.get_by_role("row", name=re.compile("Fund the food bank"))
    await expect(row).to_contain_text("carried")
    await expect(row).to_contain_text("2 for, 1 against, 0 abstain of 4")
    await v.check_accessible()
    await v.screenshot("decisions")
    await row.get_by_role("link").click()  # its page, and from there the motion, signed out
    await expect(v.page.get_by_role("heading", name="What was decided")).to_be_visible()
    await v.check_accessible()
    await v.page.get_by_role("link", name="The motion").click()
    await expect(v.page.get_by_role("heading", name="How it was decided")).to_be_visible()
    await v.check_accessible()
    assert voter.member.id not in (mover.member.id, amender.member.id, officer.member.id)  # the one who did not vote
