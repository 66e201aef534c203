"""Browser tests: Debian's chromium, headless, driven by Playwright for Python.

Playwright's own browser download is never used: the browser is the system's
(``/usr/bin/chromium``, or ``$BRANCHNET_CHROMIUM``), which `.ci/run` installs when missing.
A missing browser fails these tests; they never skip. The browser reaches 127.0.0.1 only:
every other host fails to resolve, and background networking is off.

Each test gets a node served on 127.0.0.1 (the ``live`` fixture) and a browser; ``viewport``
runs a test at a desktop and a phone width. Screenshots go to ``build/screenshots/`` (not
committed); axe-core checks each page for serious and critical accessibility violations.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.node.conftest import PASSWORD, Live, Principal, new_node_dir

CHROMIUM = os.environ.get("BRANCHNET_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[4] / "build" / "screenshots"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "is_mobile": True,
        "has_touch": True,
        "device_scale_factor": 2,
    },
}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",  # nothing but this machine
]
_axe = Axe()


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    """A national node: it charters regions, so join requests can be approved."""
    return await new_node_dir(tmp_path, "National Committee", level="national")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no browser at {CHROMIUM}: install Debian's chromium (`apt-get install chromium`; .ci/run does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture(params=list(VIEWPORTS))
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Tab:
    """One browser context (its own cookies) with one page, at a width; it records what the
    Content-Security-Policy refused and any script error, which a test asserts are none.
    (Answers of 4xx are not problems here: a form with a mistake is answered 400.)"""

    def __init__(self, context: BrowserContext, page: Page, live: Live, width: str) -> None:
        self.context, self.page, self.live, self.width = context, page, live, width
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message: object) -> None:
        text = getattr(message, "text", "")
        if "Content Security Policy" in text or text.startswith("Refused to") or "Uncaught" in text:
            self.problems.append(f"console: {text}")

    async def goto(self, path: str) -> None:
        response = await self.page.goto(self.live.url + path)
        assert response is not None and response.ok, (path, response and response.status)

    async def sign_in(self, who: Principal, password: str = PASSWORD) -> None:
        await self.goto("/")
        await self.page.get_by_label("Email", exact=True).fill(who.member.email)
        await self.page.get_by_label("Password").fill(password)
        await self.page.get_by_role("button", name="Sign in").click()
        await self.page.get_by_role("heading", name=re.compile("^Welcome")).wait_for()

    async def sign_out(self) -> None:
        await self.page.get_by_role("button", name="Sign out").click()
        await self.page.get_by_role("heading", name=re.compile("^Sign in to")).wait_for()

    async def check_accessible(self) -> None:
        """axe-core on the page as it stands: no violation of any impact (minor ones too)."""
        results = await _axe.run(self.page)
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"]
            if v["impact"] in ("minor", "moderate", "serious", "critical")
        ]
        assert not bad, f"{self.page.url}: {bad}"

    async def screenshot(self, name: str) -> Path:
        SHOTS.mkdir(parents=True, exist_ok=True)
        path = SHOTS / f"{name}-{self.width}.png"
        await self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
async def tabs(browser: Browser, live: Live, viewport: str) -> AsyncIterator[list[Tab]]:
    """Open tabs with ``await new_tab()``; all are closed afterwards, and each must have
    seen no CSP report or script error."""
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        await tab.context.close()
    for tab in opened:
        assert not tab.problems, tab.problems


@pytest.fixture
def new_tab(browser: Browser, live: Live, viewport: str, tabs: list[Tab]):  # type: ignore[no-untyped-def]
    async def make() -> Tab:
        context = await browser.new_context(**VIEWPORTS[viewport])  # type: ignore[arg-type]
        tab = Tab(context, await context.new_page(), live, viewport)
        tabs.append(tab)
        return tab

    return make


# The longest flows at a phone's width run with the slow suites (`make test-slow`, which CI runs
# after `make test`): at the desktop width they run in every `make test`, and `make test` stays
# within its six minutes on two cores.
SLOW_AT_PHONE_WIDTH = {
    "test_every_page_is_accessible_and_photographed",
    "test_a_motion_from_proposal_to_a_checked_receipt",
    "test_a_question_goes_down_and_the_answers_come_up",
    "test_a_member_makes_passkeys_votes_signed_and_unsigned_and_checks_it",
    "test_a_member_votes_on_what_waits_in_three_clicks_from_home",
    "test_a_member_sees_their_data_and_asks_to_be_forgotten",
    "test_a_member_moves_a_motion_signed_by_their_passkey",
    "test_a_member_stands_with_her_consent_signed_by_her_passkey",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if getattr(item, "originalname", None) in SLOW_AT_PHONE_WIDTH and item.nodeid.endswith("[phone]"):
            item.add_marker(pytest.mark.slow)
