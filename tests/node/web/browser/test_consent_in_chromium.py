"""A candidate's signed consent in Chromium (issue 25), with the DevTools protocol's virtual
authenticator: where the federation's rules ask for it, a member makes a passkey, stands for a
selection (the page's script makes the statement from the name typed, and the passkey signs
it), her branch nominates her, and every node takes the nomination in, its consent checked
against the branch's roll; her page says the consent is signed with her own key."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from playwright.async_api import Browser, expect

from node.federation import elections as el
from protocol import Nomination, open_envelope
from tests.node.conftest import PASSWORD, Principal
from tests.node.federation.test_upward import Federation
from tests.node.web.browser.conftest import VIEWPORTS, Tab
from tests.node.web.browser.test_keys_in_chromium import make_passkey, with_authenticator
from tests.node.web.browser.test_upward_in_chromium import urls  # noqa: F401  (the fixture)
from tests.node.web.test_upward_pages import regional


@pytest.fixture
async def fed(tmp_path: Path, password_hash: str) -> AsyncIterator[Federation]:
    async with regional(tmp_path, password_hash, {"hull": 1}, {"signed_consent": True}) as f:
        yield f


async def test_a_member_stands_with_her_consent_signed_by_her_passkey(
        fed: Federation, browser: Browser, viewport: str, urls: dict[str, str]) -> None:  # noqa: F811  # fmt: skip
    north, hull = fed["north"], fed["hull"]
    url = urls["hull"].replace("127.0.0.1", "localhost")  # a passkey is bound to a name, never to an address
    hull.node.config.http.public_url = url
    now = int(time.time() * 1000)
    selection = await el.publish_selection(north.node, north.officer, "Treasurer", 1,
                                           nominations_close=now + 600_000, voting_close=now + 1_200_000)  # fmt: skip
    await fed.sync()
    context = await browser.new_context(**VIEWPORTS[viewport])  # type: ignore[arg-type]
    tab = Tab(context, await context.new_page(), SimpleNamespace(url=url), viewport)  # type: ignore[arg-type]
    try:
        await with_authenticator(tab)
        await tab.sign_in(Principal(await hull.node.members.require(hull.officer.id), ""), PASSWORD)
        await make_passkey(tab, "my phone")
        await tab.goto(f"/selections/{selection.id.hex()}")
        await expect(tab.page.get_by_text("Your passkey signs your consent")).to_be_visible()
        await tab.page.get_by_label("Your name on the ballot").fill("  Cat Jones ")  # trimmed, as the node does
        await tab.page.get_by_label("Your statement").fill("Cat keeps the books.")
        await tab.check_accessible()
        await tab.page.get_by_role("button", name="I stand").click()
        await expect(tab.page.get_by_text("You stand, your consent signed with your key.")).to_be_visible()
        await tab.page.get_by_role("button", name="Nominate Cat Jones").click()
        await expect(tab.page.get_by_text("The nomination is signed.")).to_be_visible()
        mine = tab.page.get_by_text("consent signed with the candidate's own key: yours (my phone)")
        await expect(mine).to_be_visible()
        await tab.check_accessible()
        await tab.screenshot("selection-signed-consent")
        assert not tab.problems, tab.problems
    finally:
        await context.close()
    (raw,) = await hull.node.envelopes.own_of_kind(hull.node.key.public, "nomination")
    nominated = open_envelope(raw)
    await fed.sync()
    for b in fed.bodies.values():  # every node took it in, its consent checked against Hull's roll
        held = await b.node.envelopes.get(nominated.id)
        assert held == nominated.raw, b.name
    body = nominated.payload.body
    assert isinstance(body, Nomination) and body.consent is not None and body.consent.keys[0].passkey
