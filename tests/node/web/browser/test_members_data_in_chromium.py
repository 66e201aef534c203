"""Members' data in a real browser at phone width: a member reads what the node holds about
them and who looked, and asks to be forgotten; an officer carries it out; an admin reads who
looked. axe-core on every page; screenshots."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import expect

from node.rules import members as member_rules
from tests.node.conftest import Live
from tests.node.web.browser.conftest import Tab


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
async def test_a_member_sees_their_data_and_asks_to_be_forgotten(live: Live, new_tab: Callable[[], Awaitable[Tab]]
                                                                 ) -> None:  # fmt: skip
    admin, officer, member = await live.member("admin"), await live.member("secretary"), await live.member()
    await member_rules.look(live.node, officer.member, member.member.id, "page")  # an officer opened her record

    tab = await new_tab()
    await tab.sign_in(member)
    await tab.goto("/account")
    await tab.page.get_by_role("link", name="My data, and who looked at it").click()
    looked = tab.page.get_by_role("table", name="Who opened your record, and your own downloads, newest first")
    await expect(looked.get_by_text(officer.member.name)).to_be_visible()
    await tab.page.get_by_text("Your details (1)").click()
    await expect(tab.page.get_by_text(member.member.email)).to_be_visible()
    await tab.check_accessible()
    await tab.page.get_by_role("button", name="Ask to be forgotten").click()
    await expect(tab.page.get_by_text("Your request is recorded.")).to_be_visible()
    await expect(tab.page.get_by_role("button", name="Ask to be forgotten")).to_have_count(0)  # asked: gone
    await tab.check_accessible()
    await tab.screenshot("my-data-asked")

    desk = await new_tab()
    await desk.sign_in(officer)
    await desk.goto("/members")
    await desk.page.get_by_role("link", name="Requests to be forgotten").click()
    await desk.page.get_by_text("Forget them now…").click()
    await desk.check_accessible()
    await desk.page.get_by_role("button", name=f"Forget {member.member.name}").click()
    await expect(desk.page.get_by_text("Done: the member is forgotten.")).to_be_visible()
    await expect(desk.page.get_by_text("No request is waiting.")).to_be_visible()
    assert await live.node.members.get(member.member.id) is None

    audit = await new_tab()
    await audit.sign_in(admin)
    await audit.goto("/members/access")
    record = audit.page.get_by_role("table", name="Accesses to members' data")
    await expect(record.get_by_text("erased a member on the pages")).to_be_visible()
    await audit.check_accessible()
    await audit.screenshot("access-after-erasure")
