"""The web pages over real HTTP: who may open what, CSRF, no change on GET, escaping, headers,
the forms' errors, paging, import and export. (The same flows in a real browser:
tests/browser/.)"""

from __future__ import annotations

import io
import re
import time
from html import unescape

import aiohttp
import pytest

from node.federation import motions as motion_steps
from node.federation import upward as upward_steps
from node.federation.upward import NewItem
from node.rules import accounts
from node.rules.members_csv import parse_members_csv
from node.service import Node
from node.storage.members import MemberIn
from node.web.pages import account, decisions, federation, keys, members, upward
from tests.node.conftest import PASSWORD, Live, Principal

ALL_PAGES = (*account.PAGES, *members.PAGES, *federation.PAGES, *decisions.PAGES, *upward.PAGES, *keys.PAGES)
GET_PAGES = [p.path for p in ALL_PAGES if p.method == "GET"]
POST_PAGES = [p.path for p in ALL_PAGES if p.method == "POST"]
OFFICER_PAGES = [p.path for p in ALL_PAGES if p.method == "GET" and p.access == "officer"]
IDS = {"motion_id": "1", "ballot_id": "1", "action": "admit", "item_id": "0" * 64}  # made by the tests that need them


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no form token on the page"
    return found.group(1)


async def fresh(live: Live) -> aiohttp.ClientSession:
    """A browser of its own (its own cookies)."""
    return aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def sign_in(http: aiohttp.ClientSession, who: Principal) -> None:
    async with http.get("/") as r:
        token = csrf_of(await r.text())
    form = {"csrf": token, "email": who.member.email, "password": PASSWORD, "next": "/"}
    async with http.post("/signin", data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()


async def form_token(http: aiohttp.ClientSession, path: str) -> str:
    async with http.get(path) as r:
        assert r.status == 200, (path, r.status)
        return csrf_of(await r.text())


def concrete(path: str, member_id: int) -> str:
    fixed = [("{member_id}", str(member_id)), ("{token}", "bni_x"), ("{id}", "0" * 64), ("{token_id}", "1"),
             ("{join_id}", "1")]  # fmt: skip
    for name, value in [*fixed, *((f"{{{k}}}", v) for k, v in IDS.items())]:
        path = path.replace(name, value)
    return path


async def a_motion_and_a_ballot(live: Live, officer: Principal) -> None:
    """Motion 1 and ballot 1, for the pages that show them."""
    motion = await motion_steps.propose(live.node, officer.member, "A motion", "Its text.")
    await motion_steps.admit(live.node, officer.member, motion.id)
    await motion_steps.ballot_on_motion(live.node, officer.member, motion.id)
    assert (motion.id, (await live.node.ballots.recent())[0].id) == (1, 1)
    closes = int(time.time() * 1000) + 3_600_000
    item = await upward_steps.table_item(live.node, officer.member, NewItem(title="A question", text="Its text.",
                                                                            closes=closes))  # fmt: skip
    IDS["item_id"] = item.id.hex()


async def test_every_page_opens_for_an_officer_with_the_security_headers(live: Live) -> None:
    officer = await live.member("secretary")
    await a_motion_and_a_ballot(live, officer)
    async with await fresh(live) as http:
        await sign_in(http, officer)
        for path in GET_PAGES:
            async with http.get(concrete(path, officer.member.id)) as r:
                body = await r.text()
                expected = {"/envelopes/{id}": 404, "/invite/open": 400,  # no such envelope; no link
                            "/ballots/{ballot_id}/register.json": 403}.get(path, 200)  # for scrutineers alone
                assert r.status == expected, (path, r.status, body[:300])
                if r.content_type != "text/html":
                    continue
                policy = r.headers["Content-Security-Policy"]
                assert "script-src 'self'" in policy and "style-src 'self'" in policy and "unsafe-inline" not in policy
                assert "frame-ancestors 'none'" in policy and r.headers["Referrer-Policy"] == "no-referrer"
                assert r.headers["Cache-Control"] == "no-store"
                # No inline script or style: every <script> has a src, no style attribute or element.
                assert not re.search(r"<script(?![^>]*\bsrc=)", body), path
                assert not re.search(r"\sstyle=|<style", body), path


async def test_who_may_open_what(live: Live) -> None:
    member = await live.member("member")
    async with await fresh(live) as http:
        for path in ["/account", "/members", "/federation/health"]:  # signed out: sent to sign in, and back
            async with http.get(path, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/?next=" + path.replace("/", "%2F")
        await sign_in(http, member)
        for path in OFFICER_PAGES:
            async with http.get(concrete(path, member.member.id)) as r:
                assert r.status == 403, path
                assert "needs the officer role" in await r.text()
        for path in ["/account", "/about", "/federation"]:
            async with http.get(path) as r:
                assert r.status == 200


async def test_sign_in_goes_on_to_the_page_asked_for_and_never_off_site(live: Live) -> None:
    officer = await live.member("officer")
    async with await fresh(live) as http:
        async with http.get("/?next=/members") as r:
            page = await r.text()
        assert 'name="next" value="/members"' in page
        for asked, goes in [("/members?q=a", "/members?q=a"), ("//evil.example/", "/"), ("https://evil.example", "/"),
                            ("/\\evil.example", "/")]:  # fmt: skip
            form = {"csrf": csrf_of(page), "email": officer.member.email, "password": PASSWORD, "next": asked}
            async with http.post("/signin", data=form, allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == goes
            async with http.get("/") as r:
                page = await r.text()


async def test_sign_in_starts_a_new_session_and_ends_the_old(live: Live) -> None:
    person = await live.member("member")
    async with await fresh(live) as http:
        await sign_in(http, person)
        first = http.cookie_jar.filter_cookies(http._base_url)["bn_session"].value  # type: ignore[arg-type]
        await sign_in(http, person)
        second = http.cookie_jar.filter_cookies(http._base_url)["bn_session"].value  # type: ignore[arg-type]
    assert first != second
    assert await live.node.auth.session_member(first) is None
    assert (await live.node.auth.session_member(second)).id == person.member.id  # type: ignore[union-attr]


async def test_wrong_password_shows_the_form_again_without_saying_which_part(live: Live) -> None:
    person = await live.member("member")
    async with await fresh(live) as http:
        token = await form_token(http, "/")
        for email in [person.member.email, "nobody@example.org"]:
            async with http.post("/signin", data={"csrf": token, "email": email, "password": "not it at all"}) as r:
                assert r.status == 401
                page = await r.text()
                assert "wrong email or password" in page and f'value="{email}"' in page
                assert "not it at all" not in page  # a password is never sent back


@pytest.mark.parametrize("attack", ["no token", "another session's token", "cross-site origin"])
async def test_a_form_without_its_token_changes_nothing(live: Live, attack: str) -> None:
    officer, other = await live.member("officer"), await live.member("officer")
    async with await fresh(live) as http, await fresh(live) as other_http:
        await sign_in(http, officer)
        await sign_in(other_http, other)
        token = await form_token(http, "/members/new")
        form = {"csrf": token, "name": "Mallory Added", "email": "mallory@example.org", "role": "member"}
        headers = {}
        if attack == "no token":
            del form["csrf"]
        elif attack == "another session's token":
            form["csrf"] = await form_token(other_http, "/members/new")
        elif attack == "cross-site origin":
            headers["Origin"] = "https://evil.example"
        async with http.post("/members/new", data=form, headers=headers, allow_redirects=False) as r:
            assert r.status == 403
            assert "another site" in await r.text()
        assert (await live.node.members.page("mallory")).total == 0
        async with http.post("/members/new", data=dict(form, csrf=token), allow_redirects=False) as r:
            assert r.status == 303  # the real form still works
    assert (await live.node.members.page("mallory")).total == 1


async def test_signing_in_needs_the_form_of_this_browser(live: Live) -> None:
    """Login CSRF: a site cannot sign a visitor in as someone else (the token is bound to a
    cookie the visitor's browser got from this node)."""
    officer = await live.member("officer")
    async with await fresh(live) as attacker:
        stolen = await form_token(attacker, "/")
    form = {"csrf": stolen, "email": officer.member.email, "password": PASSWORD}
    async with await fresh(live) as victim:
        async with victim.post("/signin", data=form, allow_redirects=False) as r:  # no cookie at all
            assert r.status == 403 and "bn_session" not in r.cookies
        await form_token(victim, "/")  # the victim's own cookie, but the attacker's token
        async with victim.post("/signin", data=form, allow_redirects=False) as r:
            assert r.status == 403 and "bn_session" not in r.cookies


async def test_get_never_changes_anything(live: Live) -> None:
    officer = await live.member("admin")
    await a_motion_and_a_ballot(live, officer)
    await live.node.members.add(MemberIn(name="Still Here", email="still@example.org"))

    async def state() -> tuple[object, ...]:
        rows = await live.node.members.list()
        return tuple(rows), tuple(await live.node.auth.list_tokens(officer.member.id)), live.node.own_log

    async with await fresh(live) as http:
        await sign_in(http, officer)
        before = await state()
        for path in GET_PAGES + POST_PAGES:  # every page, and every address a form posts to, as GET
            async with http.get(concrete(path, officer.member.id)) as r:
                await r.read()
        assert await state() == before
        async with http.get("/") as r:
            assert f"Welcome, {officer.member.name}" in await r.text()  # not even signed out


async def test_text_is_escaped_everywhere(live: Live) -> None:
    admin = await live.member("admin")
    nasty = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    target = await live.node.members.add(MemberIn(name=nasty, email="nasty@example.org"))
    async with await fresh(live) as http:
        await sign_in(http, admin)
        for path in ["/members", f"/members/{target.id}", f"/members/{target.id}/remove", "/members?q=%3Cscript"]:
            async with http.get(path) as r:
                page = await r.text()
            assert "<script>alert" not in page and "<img src=x" not in page, path
            assert "&lt;script&gt;alert(" in page, path


async def test_member_form_errors_name_the_field_and_keep_the_values(live: Live) -> None:
    officer = await live.member("secretary")
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/members/new")
        form = {"csrf": token, "name": "Ada Lovelace", "email": "not an email", "role": "member", "status": "active"}
        async with http.post("/members/new", data=form) as r:
            assert r.status == 400
            page = await r.text()
        assert 'aria-invalid="true"' in page and 'id="e-email"' in page and 'value="Ada Lovelace"' in page
        # The rule layer, as in the API: a secretary cannot make an admin.
        async with http.post("/members/new", data=dict(form, email="ada@example.org", role="admin")) as r:
            assert r.status == 403
            assert "only an admin gives officer or admin roles" in await r.text()
    assert (await live.node.members.page("Ada")).total == 0


async def test_the_last_admin_cannot_suspend_themselves(live: Live) -> None:
    admin = await live.member("admin")
    async with await fresh(live) as http:
        await sign_in(http, admin)
        token = await form_token(http, f"/members/{admin.member.id}")
        async with http.post(f"/members/{admin.member.id}/suspend", data={"csrf": token}) as r:
            assert r.status == 409
            assert "last active admin" in await r.text()
    assert (await live.node.members.require(admin.member.id)).status == "active"


async def test_members_are_paged_and_searched(live: Live) -> None:
    officer = await live.member("officer")
    rows = [(i, MemberIn(name=f"Paged {i:03}", email=f"paged{i}@example.org")) for i in range(120)]
    await live.node.members.import_all(rows)
    async with await fresh(live) as http:
        await sign_in(http, officer)
        async with http.get("/members?q=paged&page=3") as r:
            page = await r.text()
        assert len(re.findall(r'href="/members/\d+"', page)) == 20 and "page 3 of 3" in page and "Paged 119" in page
        assert 'rel="prev"' in page and 'rel="next"' not in page
        async with http.get("/members?q=PAGED%2005") as r:  # case-insensitive, any part of the name
            page = await r.text()
        assert len(re.findall(r'href="/members/\d+"', page)) == 10 and "10 members match" in page
        async with http.get("/members?q=100%25") as r:  # % is a character, not a wildcard
            assert "0 members match" in await r.text()
        async with http.get("/members?page=0") as r:
            assert r.status == 400


async def test_import_reports_every_bad_line_and_stores_nothing(live: Live) -> None:
    officer = await live.member("officer")
    bad = b"name,email\nGood One,good1@example.org\nNo Email,\nBad Mail,bad@\nGood Two,good2@example.org\n"
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/members/import")
        data = aiohttp.FormData({"csrf": token})
        data.add_field("file", bad, filename="members.csv", content_type="text/csv")
        async with http.post("/members/import", data=data) as r:
            assert r.status == 400
            page = unescape(await r.text())
        assert "Nothing was imported: the file has 2 problems" in page
        assert "line 3:" in page and "line 4:" in page and "(column email)" in page
        assert (await live.node.members.page("good")).total == 0
        data = aiohttp.FormData({"csrf": token, "skip_bad": "yes"})
        data.add_field("file", bad, filename="members.csv", content_type="text/csv")
        async with http.post("/members/import", data=data) as r:
            assert r.status == 200
            page = unescape(await r.text())
        assert "Imported 2 members; 2 lines skipped" in page and "line 3:" in page
    assert (await live.node.members.page("good")).total == 2


async def test_export_reads_back_and_defuses_formulas(live: Live) -> None:
    officer = await live.member("officer")
    await live.node.members.add(MemberIn(name='=HYPERLINK("http://evil")', email="formula@example.org", youth=True))
    async with await fresh(live) as http:
        await sign_in(http, officer)
        async with http.get("/members/export.csv") as r:
            assert r.status == 200 and r.content_type == "text/csv"
            assert r.headers["Content-Disposition"].startswith('attachment; filename="members-')
            data = await r.read()
    assert b"'=HYPERLINK" in data
    parsed = parse_members_csv(data)
    assert not parsed.problems
    by_email = {m.email: m for _, m in parsed.rows}
    assert by_email["formula@example.org"].youth and by_email[officer.member.email].role == "officer"


async def test_invite_sets_a_password_once_and_signs_in(live: Live) -> None:
    officer = await live.member("secretary")
    newcomer = await live.member("member", with_password=False)
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, f"/members/{newcomer.member.id}")
        async with http.post(f"/members/{newcomer.member.id}/invite", data={"csrf": token}) as r:
            assert r.status == 201
            link = re.search(r'value="(http[^"]+/invite/bni_[^"]+)"', await r.text())
    assert link
    path = "/invite/" + link.group(1).rsplit("/invite/", 1)[1]
    async with await fresh(live) as http:
        async with http.get("/invite/open", params={"link": link.group(1)}, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == path  # a pasted link
        token = await form_token(http, path)
        form = {"csrf": token, "password": "a long new passphrase", "again": "a long new passphrase but not"}
        async with http.post(path, data=form) as r:
            assert r.status == 400 and "the two passwords differ" in await r.text()
        async with http.post(path, data=dict(form, again=form["password"]), allow_redirects=False) as r:
            assert r.status == 303 and "bn_session" in r.cookies
        async with http.get("/") as r:
            assert f"Welcome, {newcomer.member.name}" in await r.text()
        token = await form_token(http, path)
        async with http.post(path, data=dict(form, csrf=token, again=form["password"])) as r:
            assert r.status == 400 and "not valid (used, expired or mistyped)" in await r.text()


async def test_a_browser_gets_an_html_404(live: Live) -> None:
    async with live.http.get("/no/such/page", headers={"Accept": "text/html"}) as r:
        assert r.status == 404 and r.content_type == "text/html"
        assert "There is no page at this address." in await r.text()
    async with live.http.get("/api/v1/nothing", headers={"Accept": "text/html"}) as r:
        assert r.status == 404 and r.content_type == "application/json"


async def test_a_kept_table_never_outlives_a_change_from_anywhere(live: Live) -> None:
    """The members page keeps rendered tables by the members version: a change from the
    pages, the API or the command line (another connection to the database) moves it."""
    officer = await live.member("officer")
    async with await fresh(live) as http:
        await sign_in(http, officer)

        async def listed() -> str:
            async with http.get("/members") as r:
                return await r.text()

        assert "Zed Outside" not in await listed()
        async with Node.opened(live.node.directory) as beside:  # as `branchnet member add` would
            added = await beside.members.add(MemberIn(name="Zed Outside", email="zed@example.org"))
        assert "Zed Outside" in await listed()
        async with live.http.patch(f"/api/v1/members/{added.id}", json={"name": "Zed Renamed"},
                                   headers=officer.headers) as r:  # fmt: skip
            assert r.status == 200
        page = await listed()
        assert "Zed Renamed" in page and "Zed Outside" not in page
        async with Node.opened(live.node.directory) as beside:
            await beside.members.remove(added.id)
        assert "Zed Renamed" not in await listed()


async def test_accepting_an_invite_ends_the_session_the_browser_had(live: Live) -> None:
    first, newcomer = await live.member("member"), await live.member("member", with_password=False)
    link = (await accounts.invite(live.node, newcomer.member.id)).url
    assert link is not None
    path = "/invite/" + link.rsplit("/invite/", 1)[1]
    async with await fresh(live) as http:
        await sign_in(http, first)
        before = http.cookie_jar.filter_cookies(http._base_url)["bn_session"].value  # type: ignore[arg-type]
        form = {
            "csrf": await form_token(http, path),
            "password": "a long new passphrase",
            "again": "a long new passphrase",
        }
        async with http.post(path, data=form, allow_redirects=False) as r:
            assert r.status == 303
    assert await live.node.auth.session_member(before) is None
    for bad in ["bni_short", "bni_" + "a" * 30 + "/../x", "nope"]:
        async with live.http.get("/invite/open", params={"link": bad}, allow_redirects=False) as r:
            assert r.status == 400, bad


async def test_a_form_over_the_size_limit_gets_a_page_not_json(live: Live) -> None:
    officer = await live.member("officer")
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/members/new")
        big = io.BytesIO(f"csrf={token}&name=".encode() + b"x" * live.node.config.http.max_body_bytes)
        headers = {"Accept": "text/html", "Content-Type": "application/x-www-form-urlencoded"}
        async with http.post("/members/new", data=big, headers=headers) as r:
            assert r.status == 413 and r.content_type == "text/html"
            assert "limit" in await r.text()


async def test_officers_write_how_to_contact_or_join_and_the_public_reads_it(live: Live) -> None:
    officer, member = await live.member("secretary"), await live.member("member")
    words = "Meetings: first Tuesday, 7pm, at the Miners' Hall.\n\nJoin: write to join@riverside.example.org"
    async with await fresh(live) as http:
        await sign_in(http, member)  # a member may not
        async with http.post("/about", data={"csrf": await form_token(http, "/about"), "contact": "mine"},
                             allow_redirects=False) as r:  # fmt: skip
            assert r.status == 403
    async with await fresh(live) as http:
        await sign_in(http, officer)
        async with http.post("/about", data={"csrf": await form_token(http, "/about"), "contact": words},
                             allow_redirects=False) as r:  # fmt: skip
            assert r.status == 303
    async with await fresh(live) as http, http.get("/about") as r:  # signed out
        page = await r.text()
        assert "first Tuesday, 7pm, at the Miners&#39; Hall." in page and "join@riverside.example.org" in page
        assert 'name="contact"' not in page  # the form is for officers


async def test_an_officer_opens_a_ballot_with_its_rules_and_closing_time(live: Live) -> None:
    from node.federation import motions
    from protocol.models import Ratio

    officer, member = await live.member("secretary"), await live.member("member")
    motion = await motions.propose(live.node, member.member, "Change the standing orders", "Meet monthly.")
    await motions.admit(live.node, officer.member, motion.id)
    async with await fresh(live) as http:
        await sign_in(http, officer)
        page = f"/motions/{motion.id}"
        async with http.get(page) as r:
            text = await r.text()
            assert 'name="quorum"' in text and 'name="closes_in"' in text  # the federation's defaults shown
        bad = {"csrf": await form_token(http, page), "quorum": "150", "majority": "two_thirds", "base": "cast",
               "secrecy": "open", "closes_in": "24"}  # fmt: skip
        async with http.post(f"{page}/ballot", data=bad, allow_redirects=False) as r:
            assert r.status == 400 and "whole number of per cent" in await r.text()
        assert (await live.node.motions.require(motion.id)).state == "admitted"  # nothing opened
        good = {**bad, "csrf": await form_token(http, page), "quorum": "50", "may_change": "yes"}
        async with http.post(f"{page}/ballot", data=good, allow_redirects=False) as r:
            assert r.status == 303
    (row,) = await live.node.ballots.of_motion(f"m{motion.id}")
    assert row.rules.quorum == Ratio(num=50, den=100) and row.rules.threshold == Ratio(num=2, den=3)
    assert (row.rules.base, row.rules.reach, row.secrecy, row.may_change) == ("cast", "at_least", "open", True)
    assert row.closes is not None and abs(row.closes - (row.opened + 24 * 3_600_000)) < 60_000


async def test_anyone_reads_a_decided_motion_and_nothing_before(live: Live) -> None:
    from node.federation import motions

    officer, member = await live.member("secretary"), await live.member("member")
    motion = await motions.propose(live.node, member.member, "Fund the food bank", "Give £200.\n\nAsk the region.")
    path = f"/motions/{motion.id}"
    async with await fresh(live) as http, http.get(path, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"].startswith("/?next=")  # not decided: members only
    await motions.admit(live.node, officer.member, motion.id)
    row = await motions.ballot_on_motion(live.node, officer.member, motion.id)
    from node.federation import ballots

    await ballots.vote(live.node, member.member, row.id, "for")
    decision = await motions.close_ballot(live.node, officer.member, row.id)
    async with await fresh(live) as http:
        async with http.get(path) as r:
            page = await r.text()
            assert r.status == 200 and "Give £200." in page and "Ask the region." in page and "carried" in page
            assert f'href="/decisions/{decision.id.hex()}"' in page and "csrf" not in page
        async with http.get(f"/decisions/{decision.id.hex()}") as r:
            assert f'href="{path}"' in await r.text()
