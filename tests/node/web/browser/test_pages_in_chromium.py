"""The pages in a real browser (headless Debian chromium), at a desktop and a phone width:
a member's invite-to-sign-out path, an officer's day, a cross-site post, and every page
checked by axe-core and photographed (build/screenshots/)."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from playwright.async_api import expect

from node.federation import acts
from node.rules import accounts
from node.rules.notices import unsubscribe_token
from node.storage.members import MemberIn
from protocol import SigningKey
from protocol.wire import JoinRequest
from tests.node.conftest import Live
from tests.node.web.browser.conftest import Tab

NewTab = Callable[[], Awaitable[Tab]]
NEW_PASSWORD = "plums in the icebox"


async def test_a_member_follows_an_invite_signs_in_changes_consents_and_signs_out(live: Live, new_tab: NewTab) -> None:
    member = await live.member("member", with_password=False)
    link = (await accounts.invite(live.node, member.member.id)).url
    assert link is not None  # no mail set up: a link to pass on
    tab = await new_tab()
    page = tab.page

    await tab.goto("/invite/" + link.rsplit("/invite/", 1)[1])
    await expect(page.get_by_role("heading", name="Choose your password")).to_be_visible()
    await tab.check_accessible()
    await tab.screenshot("invite")
    await page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("The same again").fill(NEW_PASSWORD + "!")
    await page.get_by_role("button", name="Set password and sign in").click()
    await expect(page.get_by_text("the two passwords differ")).to_be_visible()  # named beside its field
    await page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    await page.get_by_label("The same again").fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Set password and sign in").click()
    await expect(page.get_by_role("heading", name=f"Welcome, {member.member.name}")).to_be_visible()
    await tab.check_accessible()
    await tab.screenshot("home-member")

    await page.get_by_role("navigation", name="Main").get_by_role("link", name="My account").click()
    await page.get_by_label("Officers may contact me about branch business").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()
    await expect(page.get_by_label("Officers may contact me about branch business")).to_be_checked()
    await tab.check_accessible()
    await tab.screenshot("account")
    assert (await live.node.members.require(member.member.id)).consent_contact

    await tab.sign_out()
    await tab.check_accessible()
    await tab.screenshot("signin")
    # Signing in with the keyboard alone: the skip link first, then the form, Enter to send.
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.get_by_label("Email", exact=True).focus()
    await page.keyboard.type(member.member.email)
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name=f"Welcome, {member.member.name}")).to_be_visible()
    await tab.sign_out()
    assert await live.node.auth.session_member("bns_none") is None


async def test_an_officer_adds_edits_imports_and_approves_a_join(live: Live, new_tab: NewTab) -> None:
    officer = await live.member("secretary")
    await live.node.joins.request(
        SigningKey.generate().public,
        JoinRequest(name="East Region", level="region", url="https://east.example.org"),
        "192.0.2.1",
    )
    tab = await new_tab()
    page = tab.page
    await tab.sign_in(officer)

    # Add, then edit.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    await page.get_by_role("link", name="Add a member").first.click()
    await page.get_by_label("Name", exact=True).fill("Ada Lovelace")
    await page.get_by_label("Email", exact=True).fill("ada@example.org")
    await page.get_by_role("button", name="Add member").click()
    await expect(page.get_by_text("Member added.")).to_be_visible()
    await page.get_by_label("Name", exact=True).fill("Ada King")
    await page.get_by_label("Youth section").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    ada = (await live.node.members.page("ada@example.org")).members[0]
    assert ada.name == "Ada King" and ada.youth

    # Import: a bad file is refused whole, with its report; a good one goes in.
    await page.goto(live.url + "/members/import")
    bad = b"name,email\nGrace Hopper,grace@example.org\nNo Address,\nAlan Turing,alan@\n"
    await page.get_by_label("CSV file").set_input_files({"name": "members.csv", "mimeType": "text/csv", "buffer": bad})
    await page.get_by_role("button", name="Import").click()
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text("Nothing was imported: the file has 2 problems")
    await expect(alert.get_by_role("listitem").nth(0)).to_contain_text("line 3:")
    await expect(alert.get_by_role("listitem").nth(1)).to_contain_text("line 4:")
    await tab.check_accessible()
    await tab.screenshot("import-report")
    assert (await live.node.members.page("grace")).total == 0
    good = b"name,email,role\nGrace Hopper,grace@example.org,member\nAlan Turing,alan@example.org,\n"
    await page.get_by_label("CSV file").set_input_files({"name": "members.csv", "mimeType": "text/csv", "buffer": good})
    await page.get_by_role("button", name="Import").click()
    await expect(page.get_by_role("status").filter(has_text="Imported 2 members")).to_be_visible()

    # Search the list.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Members").click()
    await page.get_by_label("Name or email contains").fill("turing")
    await page.get_by_role("button", name="Search").click()
    await expect(page.get_by_role("link", name="Alan Turing")).to_be_visible()
    await expect(page.get_by_role("link", name="Grace Hopper")).to_have_count(0)

    # A join request: approve it.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Federation").click()
    await expect(page.get_by_role("heading", name="East Region")).to_be_visible()
    await tab.check_accessible()
    await tab.screenshot("joins")
    await page.get_by_role("button", name="Approve East Region").click()
    await expect(page.get_by_text("Approved: the charter is signed and spreading.")).to_be_visible()
    joins = await live.node.joins.list("approved", 0, 10)
    assert [j.name for j in joins] == ["East Region"] and joins[0].charter
    trust = live.node.federation_state.trust
    assert trust is not None and any(b.name == "East Region" for b in trust.bodies.values())


async def test_a_cross_site_form_post_is_refused(live: Live, new_tab: NewTab) -> None:
    """A page on another origin posts a form to the node while an officer is signed in."""
    officer = await live.member("officer")
    evil = web.Application()

    async def attack(request: web.Request) -> web.Response:
        html = (
            f'<!doctype html><form id="f" method="post" action="{live.url}/members/new">'
            '<input name="name" value="Mallory"><input name="email" value="mallory@example.org"></form>'
            "<script>document.getElementById('f').submit()</script>"
        )
        return web.Response(text=html, content_type="text/html")

    evil.router.add_get("/", attack)
    runner = web.AppRunner(evil)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        tab = await new_tab()
        await tab.sign_in(officer)
        response = await tab.page.goto(f"http://127.0.0.1:{runner.addresses[0][1]}/")
        await tab.page.wait_for_url(re.compile(r"/members/new$"))
        await expect(tab.page.get_by_text("this form was sent from another site")).to_be_visible()
        assert response is not None
    finally:
        await runner.cleanup()
    assert (await live.node.members.page("mallory")).total == 0


async def test_every_page_is_accessible_and_photographed(live: Live, new_tab: NewTab) -> None:
    admin = await live.member("admin")
    for i, name in enumerate(["Amira Haddad", "Bartholomew Featherstonehaugh-Smythe", "<script>alert(1)</script>"]):
        await live.node.members.add(MemberIn(name=name, email=f"m{i}@example.org", youth=i == 0))
    await live.node.joins.request(
        SigningKey.generate().public,
        JoinRequest(name="West Region", level="region", url="https://west.example.org"),
        "192.0.2.2",
    )
    for name in ("North Region", "South Region"):  # a federation tree with more than its root
        await acts.issue_charter(live.node, SigningKey.generate().public, name, "region", None)
    trust = live.node.federation_state.trust
    assert trust is not None
    genesis = trust.bodies[trust.founder].admitted_by.hex()
    _, token = await live.node.auth.create_token(admin.member.id, "spreadsheet")
    invited = await live.member("member", with_password=False)
    link = (await accounts.invite(live.node, invited.member.id)).url
    assert link is not None

    await live.node.findings.replace(bytes.fromhex(genesis), "aggregate", trust.founder, None,
                                     [("omits_mandate", "mandate 1f2e… from York Branch was left out")],
                                     int(time.time() * 1000))  # fmt: skip
    from node.federation import authority  # an act put to the members: the children page lists it

    await authority.propose_charter(live.node, admin.member, SigningKey.generate().public, "East Region", "region",
                                    None)  # fmt: skip

    visitor = await new_tab()
    signed_out = [
        ("signin", "/"),
        ("invite", "/invite/" + link.rsplit("/invite/", 1)[1]),
        ("invite-paste", "/invite"),
        ("about", "/about"),
        ("federation", "/federation"),
        ("envelope", f"/envelopes/{genesis}"),
        ("forgot", "/password/forgot"),
        ("reset-used", "/password/reset/bnr_" + "x" * 43),
        ("unsubscribe", "/notices/unsubscribe/" + unsubscribe_token(live.node.key.seed, invited.member.id, "ballots")),
        ("decisions", "/decisions"),
    ]
    for name, path in signed_out:
        await visitor.goto(path)
        await visitor.check_accessible()
        await visitor.screenshot(name)
    response = await visitor.page.goto(live.url + "/no/such/page")
    assert response is not None and response.status == 404
    await visitor.check_accessible()

    tab = await new_tab()
    await tab.sign_in(admin)
    signed_in = [
        ("home-admin", "/"),
        ("account", "/account"),
        ("password", "/account/password"),
        ("tokens", "/account/tokens"),
        ("keys", "/account/keys"),
        ("scrutineers", "/scrutineers"),
        ("members", "/members"),
        ("member-new", "/members/new"),
        ("member-edit", f"/members/{admin.member.id}"),
        ("member-remove", f"/members/{admin.member.id}/remove"),
        ("import", "/members/import"),
        ("joins", "/federation/joins"),
        ("children", "/federation/children"),
        ("health", "/federation/health"),
        ("rules", "/federation/rules"),
        ("findings", "/findings"),
        ("federation-signed-in", "/federation"),
        ("outbox", "/outbox"),
        ("campaigns", "/campaigns"),
        ("access", "/members/access"),
        ("my-data", "/account/data"),
        ("erasures", "/members/erasures"),
        ("retention", "/members/retention"),
        ("privacy", "/privacy"),
    ]
    await live.node.members_data.ask_erasure(invited.member.id)  # one request waits: its forms are shown
    for name, path in signed_in:
        await tab.goto(path)
        await tab.check_accessible()
        await tab.screenshot(name)
    assert token  # a token exists, so the tokens page showed its table
    # Pages that answer a form: an invite link shown once, an import's result.
    await tab.goto(f"/members/{invited.member.id}")
    await tab.page.get_by_role("button", name="Invite link").click()
    await expect(tab.page.get_by_label("Invite link")).to_have_value(re.compile("/invite/bni_"))
    await tab.check_accessible()
    await tab.screenshot("member-invite")
    await tab.goto("/members/import")
    good = b"name,email\nGrace Hopper,grace@example.org\nNo Address,\n"
    await tab.page.get_by_label("CSV file").set_input_files({"name": "m.csv", "mimeType": "text/csv", "buffer": good})
    await tab.page.get_by_label("Import the good lines and list the bad ones").check()
    await tab.page.get_by_role("button", name="Import").click()
    await expect(tab.page.get_by_role("status").filter(has_text="Imported 1 member; 1 line skipped")).to_be_visible()
    await tab.check_accessible()
    await tab.screenshot("import-result")
    # A token shown once, and a form with errors, are pages too.
    await tab.goto("/account/tokens")
    await tab.page.get_by_label("What it is for").fill("my script")
    await tab.page.get_by_role("button", name="Create token").click()
    await expect(tab.page.get_by_label("Token", exact=True)).to_have_value(re.compile("^bnt_"))
    await tab.check_accessible()
    await tab.goto("/members/new")
    await tab.page.get_by_label("Name", exact=True).fill("No Email")
    await tab.page.get_by_label("Email", exact=True).fill("nobody")
    await tab.page.locator("form.narrow").evaluate("f => f.noValidate = true")  # past the browser's own check
    await tab.page.get_by_role("button", name="Add member").click()
    await expect(tab.page.locator("#e-email")).to_be_visible()
    await tab.check_accessible()
    await tab.screenshot("member-form-error")


async def test_the_accessibility_check_can_fail(new_tab: NewTab) -> None:
    """The axe check is real: a field without a label and grey-on-grey text are found."""
    tab = await new_tab()
    await tab.page.set_content(
        '<html lang="en"><title>t</title><main><input type="text">'
        '<p style="color:#ccc;background:#ddd">faint</p></main></html>'
    )
    try:
        await tab.check_accessible()
    except AssertionError as exc:
        assert "label" in str(exc) and "color-contrast" in str(exc)
    else:
        raise AssertionError("axe found nothing on a page made to fail")


async def test_an_old_invite_link_moves_on_and_a_pasted_one_works(live: Live, new_tab: NewTab) -> None:
    member = await live.member("member", with_password=False)
    link = (await accounts.invite(live.node, member.member.id)).url
    assert link is not None  # no mail set up: a link to pass on
    token = link.rsplit("/invite/", 1)[1]
    tab = await new_tab()
    await tab.page.goto(f"{live.url}/invite#{token}")  # as links were written before /invite/{token}
    await tab.page.wait_for_url(f"{live.url}/invite/{token}")
    await expect(tab.page.get_by_label("The same again")).to_be_visible()
    await tab.goto("/invite")
    await tab.page.get_by_label("Invite link").fill(f"https://branch.example.org/invite#{token}")
    await tab.page.get_by_role("button", name="Continue").click()
    await tab.page.wait_for_url(f"{live.url}/invite/{token}")
