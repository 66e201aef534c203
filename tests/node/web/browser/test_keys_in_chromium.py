"""Members' own keys in Chromium (issue 25), with the DevTools protocol's virtual authenticator
standing in for a phone's or laptop's: a member makes a passkey on "My keys", votes and their
passkey signs their participation; on a second device they add another; without JavaScript
they still vote, counted as unsigned and told so; after the count the ballot page says what
the signed decision holds in their name."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect

from node.federation import ballots
from tests.node.conftest import Live
from tests.node.federation.test_ballots import SPEC
from tests.node.web.browser.conftest import VIEWPORTS, Tab

AUTHENTICATOR = {"protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
                 "isUserVerified": True, "automaticPresenceSimulation": True}  # fmt: skip


@pytest.fixture
def named(live: Live) -> Live:
    """The node reached at localhost (a passkey cannot be bound to 127.0.0.1)."""
    live.url = live.url.replace("127.0.0.1", "localhost")
    live.node.config.http.public_url = live.url
    return live


async def with_authenticator(tab: Tab) -> Any:
    session = await tab.context.new_cdp_session(tab.page)
    await session.send("WebAuthn.enable")
    await session.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return session


async def make_passkey(tab: Tab, label: str) -> None:
    await tab.goto("/account/keys")
    await tab.page.get_by_label("A name for it").first.fill(label)
    await tab.page.get_by_role("button", name="Make a passkey").click()
    await expect(tab.page.get_by_role("status").filter(has_text="Your key is kept")).to_be_visible()


async def vote_for(tab: Tab, ballot_id: int) -> str:
    await tab.goto(f"/ballots/{ballot_id}")
    await tab.page.get_by_label("For", exact=True).check()
    await tab.page.get_by_role("button", name="Cast my vote").click()
    said = tab.page.locator(".secret[role=status] strong")
    await said.wait_for()
    return await said.inner_text()


async def test_a_member_makes_passkeys_votes_signed_and_unsigned_and_checks_it(named: Live, new_tab: Any,
                                                                               viewport: str) -> None:  # fmt: skip
    ada, sec = await named.member(), await named.member("secretary")
    phone = await new_tab()
    await with_authenticator(phone)
    await phone.sign_in(ada)
    await make_passkey(phone, "my phone")
    await phone.check_accessible()
    first = await ballots.open_ballot(named.node, sec.member, SPEC)
    assert await vote_for(phone, first.id) == "Your vote is cast, signed with your passkey."
    # A second device: its own authenticator, a second passkey.
    laptop = await new_tab()
    await with_authenticator(laptop)
    await laptop.sign_in(ada)
    await make_passkey(laptop, "my laptop")
    kinds = await laptop.page.locator("table tbody tr").all_inner_texts()
    assert len(kinds) == 2 and all("passkey" in k and "in force" in k for k in kinds)
    # Without JavaScript the vote is taken all the same, unsigned, and the page says so.
    plain_context = await phone.context.browser.new_context(**VIEWPORTS[viewport], java_script_enabled=False)  # type: ignore[arg-type, union-attr]
    try:
        bare = Tab(plain_context, await plain_context.new_page(), named, viewport)
        await bare.sign_in(ada)
        second = await ballots.open_ballot(named.node, sec.member, SPEC)
        assert await vote_for(bare, second.id) == "Your vote is cast, unsigned."
    finally:
        await plain_context.close()
    # A key revoked while its page was open: its signature is refused, nothing is taken, and
    # the form (now without that key) casts the vote unsigned.
    third = await ballots.open_ballot(named.node, sec.member, SPEC)
    await phone.goto(f"/ballots/{third.id}")
    phone_key = next(k for k in await named.node.member_keys.of(ada.member.id) if k.label == "my phone")
    await named.node.member_keys.revoke(ada.member.id, phone_key.id)
    await phone.page.get_by_label("For", exact=True).check()
    await phone.page.get_by_role("button", name="Cast my vote").click()
    refused = phone.page.get_by_text("Your vote was not taken: that key was revoked")
    await expect(refused).to_be_visible()
    assert not await named.node.ballots.has_voted(third.id, ada.member.id)
    phone.problems.clear()  # (the browser logs the 403 answer to the console; it is the point here)
    await ballots.close_ballot(named.node, sec.member, first.id)
    await phone.goto(f"/ballots/{first.id}")
    await expect(phone.page.get_by_text("a vote, signed with your key")).to_be_visible()


async def test_a_member_moves_a_motion_signed_by_their_passkey(named: Live, new_tab: Any) -> None:
    """The motion form's script makes the statement from the title and the text typed (its
    paragraphs as the node keeps them), and the passkey signs it as the motion goes; then an
    amendment to it, signed the same way."""
    ada = await named.member()
    tab = await new_tab()
    await with_authenticator(tab)
    await tab.sign_in(ada)
    await make_passkey(tab, "my phone")
    await tab.goto("/motions/new")
    await tab.page.get_by_label("Title").fill("  Open the books ")
    await tab.page.get_by_label("Text").fill("Publish the accounts.\n\nEvery quarter, on the site.")
    await tab.page.get_by_role("button", name="Submit the motion").click()
    await expect(tab.page.get_by_text("moved with its mover's own key")).to_be_visible()
    (motion,) = await named.node.motions.recent()
    assert motion.signed_key is not None and motion.title == "Open the books"
    # An amendment: the node makes the statement from the form as it will read it (the words
    # found in the text as it stands), and the passkey signs it.
    from node.federation import motions

    sec = await named.member("secretary")
    await motions.admit(named.node, sec.member, motion.id)
    await tab.goto(f"/motions/{motion.id}")
    await tab.page.get_by_label("Paragraph", exact=True).fill("1")
    await tab.page.get_by_label("Words to replace").fill("accounts")
    await tab.page.get_by_label("New words").fill("full accounts")
    await tab.page.get_by_role("button", name="Propose the amendment").click()
    await expect(tab.page.get_by_text("moved with its mover's own key").nth(1)).to_be_visible()
    (amendment,) = await named.node.motions.amendments(motion.id)
    assert amendment.signed_key is not None and amendment.replacement == "full accounts"
