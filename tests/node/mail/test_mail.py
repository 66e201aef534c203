"""Mail to members through a real SMTP server (aiosmtpd on 127.0.0.1): invites after an
import, a forgotten password, ballot notices with one-click unsubscribe and reminders, a
refusal, and a server that is down for a while."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from node.federation import ballots
from node.federation.ballots import BallotSpec
from node.storage.members import MemberIn
from tests.node.conftest import PASSWORD, Live, new_node_dir
from tests.node.mail.conftest import Received, Smtp, serve_with_mail
from tests.node.web.test_pages import sign_in

LINK = re.compile(r"https?://[^\s<>\"]+")


def links(received: Received, part: str = "text") -> list[str]:
    return LINK.findall(received.text if part == "text" else received.html)


def path_of(url: str) -> str:
    """The node's links carry its public_url; the test server listens on another port."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def call(live: Live, method: str, path: str, headers: dict[str, str] | None = None, **kw: Any
               ) -> tuple[int, Any]:  # fmt: skip
    async with live.http.request(method, path, headers=headers, **kw) as response:
        body = await response.read()
        kind = response.headers.get("Content-Type", "")
        return response.status, (await response.json() if "json" in kind and body else body.decode())


async def until_sent(live: Live, count: int, seconds: float = 60.0) -> None:
    """Bounded: until ``count`` mails are marked sent in the outbox."""
    await until(live.node.outbox.counts, lambda c: c["sent"] >= count, seconds)


async def until(look: Any, good: Any, seconds: float = 60.0) -> Any:
    """Bounded: look every 50 ms until what is seen is good (at most ``seconds``)."""
    for _ in range(int(seconds / 0.05)):
        seen = await look()
        if good(seen):
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {seen}")

async def settled(live: Live, seconds: float = 60.0) -> None:
    """Bounded: until nothing is left to send: every request's background work done and no mail
    queued or being sent. Then what the server received is all it will receive."""
    from node.web import common

    async def look() -> tuple[int, dict[str, int]]:
        return len(common._BACKGROUND), await live.node.outbox.counts()

    await until(look, lambda seen: seen[0] == 0 and seen[1]["queued"] == 0 and seen[1]["sending"] == 0, seconds)



async def test_fifty_imported_members_invited_by_mail_each_link_works(mail_live: Live) -> None:
    live, smtp = mail_live, mail_live.extra["smtp"]
    admin = await live.member("admin")
    rows = "\n".join(f"Member {i},member{i}@example.org" for i in range(50))
    status, result = await call(live, "POST", "/api/v1/members/import", admin.headers,
                                data=f"name,email\n{rows}\n".encode(), )  # fmt: skip
    assert status == 200 and result["imported"] == 50, result
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:  # offered
        await sign_in(browser, admin)
        async with browser.get("/members") as page:
            assert "Invite by mail the 50 members not yet invited" in await page.text()
    status, invited = await call(live, "POST", "/api/v1/members/invite-everyone", admin.headers)
    assert (status, invited) == (201, {"invited": 50})
    received = await smtp.recorder.until(50)
    assert sorted(r.to[0] for r in received) == sorted(f"member{i}@example.org" for i in range(50))
    for r in received:
        assert r.to == [r.message["To"].addresses[0].addr_spec]  # each to its own member, and only there
        assert r.message["From"] == "Test Branch <branch@example.org>"
        assert "List-Unsubscribe" not in r.message  # an invite is not a notice
        url, privacy = links(r)  # the invite, then how the branch uses their details
        assert privacy.endswith("/privacy")
        assert url in links(r, "html")
        assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/invite/bni_[A-Za-z0-9_-]+", url), url
    # Each link is a live invite for the member it was mailed to (without spending a scrypt
    # hash on each: 50 took 30 s), and a few are used through the API: once each.
    for r in received:
        token = path_of(links(r)[0]).rsplit("/", 1)[1]
        invited = await live.node.auth.invite_member(token)
        assert invited is not None and invited.email == r.to[0]
    for r in received[:3]:
        token = path_of(links(r)[0]).rsplit("/", 1)[1]
        async with aiohttp.ClientSession(live.url) as browser, browser.post(
                "/api/v1/auth/invite", json={"token": token, "password": PASSWORD}) as answer:  # fmt: skip
            assert answer.status == 200, await answer.text()
            assert (await answer.json())["email"] == r.to[0]
    used = path_of(links(received[0])[0]).rsplit("/", 1)[1]
    async with aiohttp.ClientSession(live.url) as browser, browser.post(
            "/api/v1/auth/invite", json={"token": used, "password": PASSWORD}) as answer:  # fmt: skip
        assert answer.status == 400  # once only
    await until_sent(live, 50)
    # Invited already: a second "everyone" invites nobody, and the page no longer offers it; the
    # outbox kept no link.
    assert (await call(live, "POST", "/api/v1/members/invite-everyone", admin.headers))[1] == {"invited": 0}
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_in(browser, admin)
        async with browser.get("/members") as page:
            assert "not yet invited" not in await page.text()
    status, box = await call(live, "GET", "/api/v1/outbox?state=sent&limit=200", admin.headers)
    assert status == 200 and len(box["mails"]) == 50 and box["counts"]["sent"] == 50
    raw = await live.node.db.fetchall("SELECT params FROM outbox")
    assert {r[0] for r in raw} == {"{}"}


async def test_an_invite_by_mail_shows_no_link_to_the_officer(mail_live: Live) -> None:
    live, smtp = mail_live, mail_live.extra["smtp"]
    officer = await live.member("secretary")
    member = await live.member(with_password=False)
    status, invite = await call(live, "POST", f"/api/v1/members/{member.member.id}/invite", officer.headers)
    assert status == 201 and invite["url"] is None and invite["mailed_to"] == member.member.email
    (got,) = await smtp.recorder.until(1)
    assert got.to == [member.member.email]
    status, _ = await call(live, "POST", f"/api/v1/members/{member.member.id}/invite", officer.headers)
    assert status == 201  # a resend: the first link stops working
    _, second = await smtp.recorder.until(2)
    first_token, second_token = (path_of(links(m)[0]).rsplit("/", 1)[1] for m in (got, second))
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post("/api/v1/auth/invite", json={"token": first_token, "password": PASSWORD}) as r:
            assert r.status == 400
        async with browser.post("/api/v1/auth/invite", json={"token": second_token, "password": PASSWORD}) as r:
            assert r.status == 200


async def test_an_officer_cannot_flood_a_member_with_invites(mail_live: Live) -> None:
    """Five invites a day by mail to one member; the sixth is refused (429, with when to try
    again), queues nothing, and the fifth link still works."""
    live, smtp = mail_live, mail_live.extra["smtp"]
    officer = await live.member("secretary")
    member = await live.member(with_password=False)
    path = f"/api/v1/members/{member.member.id}/invite"
    for _ in range(5):
        assert (await call(live, "POST", path, officer.headers))[0] == 201
    async with live.http.post(path, headers=officer.headers) as refused:
        assert refused.status == 429 and (await refused.json())["error"]["code"] == "throttled"
        assert 86_000 <= int(refused.headers["Retry-After"]) <= 86_400
    assert sum((await live.node.outbox.counts()).values()) == 5  # the refusal queued nothing
    received = await smtp.recorder.until(5)
    tokens = [path_of(links(r)[0]).rsplit("/", 1)[1] for r in received]
    assert [await live.node.auth.invite_member(t) is not None for t in tokens].count(True) == 1  # the latest


async def test_forgot_password_same_answer_and_a_single_use_link(mail_live: Live) -> None:
    live, smtp = mail_live, mail_live.extra["smtp"]
    member = await live.member()
    answers = []
    for address in (member.member.email, "nobody@example.org"):
        async with aiohttp.ClientSession(live.url) as browser, browser.post(
                "/api/v1/auth/forgot", json={"email": address}) as r:  # fmt: skip
            answers.append((r.status, await r.json()))
    assert answers[0] == answers[1] and answers[0][0] == 202
    (got,) = await smtp.recorder.until(1)
    assert got.to == [member.member.email]
    await settled(live)
    assert len(smtp.recorder.received) == 1  # nothing to the unknown address
    token = path_of(links(got)[0]).rsplit("/", 1)[1]
    assert token.startswith("bnr_")
    new = "a brand new passphrase here"
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.post("/api/v1/auth/reset", json={"token": token, "password": new}) as r:
            assert r.status == 200
        async with browser.post("/api/v1/auth/reset", json={"token": token, "password": new}) as r:
            assert r.status == 400  # once only
        async with browser.post("/api/v1/auth/login", json={"email": member.member.email, "password": new}) as r:
            assert r.status == 200
    # The old API token ended with the old password.
    assert (await call(live, "GET", "/api/v1/me", member.headers))[0] == 401


async def test_forgot_password_is_throttled_per_account_without_locking_sign_in(mail_live: Live) -> None:
    live, smtp = mail_live, mail_live.extra["smtp"]
    member = await live.member()
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        for _ in range(8):
            async with browser.post("/api/v1/auth/forgot", json={"email": member.member.email}) as r:
                assert r.status == 202
        await smtp.recorder.until(3)
        await settled(live)
        assert len(smtp.recorder.received) == 3  # three links an hour for one account
        async with browser.post("/api/v1/auth/login", json={"email": member.member.email, "password": PASSWORD}) as r:
            assert r.status == 200  # asking for links in their name did not lock them out


async def test_ballot_notices_unsubscribe_and_reminders(mail_live: Live) -> None:
    live, smtp = mail_live, mail_live.extra["smtp"]
    node = live.node
    officer = await live.member("secretary")
    people = [await node.members.add(MemberIn(name=f"Voter {i}", email=f"voter{i}@example.org")) for i in range(5)]
    await node.outbox.choose(people[4].id, {"ballots": False})  # turned off on their account page
    lapsed = await node.members.add(MemberIn(name="Lapsed", email="lapsed@example.org", status="lapsed"))
    # A first ballot: everyone with notices on hears of it; voter 3 unsubscribes in one click.
    first = await ballots.open_ballot(node, officer.member, BallotSpec("m1", "Fund the food bank", "Give £200."))
    got = await smtp.recorder.until(5)  # the officer and voters 0-3
    to = sorted(r.to[0] for r in got)
    assert to == sorted([officer.member.email] + [p.email for p in people[:4]])
    assert lapsed.email not in to
    notice = next(r for r in got if r.to == [people[3].email])
    assert notice.message["Subject"] == "Vote: Fund the food bank"
    assert notice.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = notice.message["List-Unsubscribe"].strip("<>")
    assert f"/ballots/{first.id}" in notice.text and "receipt" not in notice.text.lower()
    async with aiohttp.ClientSession(live.url) as mail_client, mail_client.post(  # what a mail client posts (RFC 8058)
            path_of(unsubscribe), data={"List-Unsubscribe": "One-Click"}) as r:  # fmt: skip
        assert r.status == 200
    assert (await node.outbox.choices(people[3].id))["ballots"] is False
    # A second ballot, closing soon: voter 3 (unsubscribed) and voter 4 (off) hear nothing.
    closes = int((node.outbox.clock() + 600) * 1000)
    second = await ballots.open_ballot(node, officer.member, BallotSpec("m2", "Elect a chair", "Who chairs?",
                                                                       closes=closes))  # fmt: skip
    got = await smtp.recorder.until(5 + 4)
    assert sorted(r.to[0] for r in got[5:]) == sorted([officer.member.email] + [p.email for p in people[:3]])
    # Voter 0 votes; the reminder (due halfway through a ballot shorter than reminder_hours)
    # goes to the rest, once.
    await ballots.vote(node, people[0], second.id, "for")
    assert await node.outbox.due_reminders(24) == []  # not yet: 10 minutes to go, 5 before halfway
    now = node.outbox.clock()
    node.outbox.clock = lambda: now + 301
    due = await node.outbox.due_reminders(24)
    assert [d[0] for d in due] == [second.id]
    assert await node.outbox.remind(second.id, {"subject": "Elect a chair", "closes": "soon", "url": "u"}) == 3
    assert await node.outbox.remind(second.id, {"subject": "x", "closes": "x", "url": "u"}) == 0  # once
    node.outbox.queued()
    got = await smtp.recorder.until(9 + 3)
    reminders = got[9:]
    assert sorted(r.to[0] for r in reminders) == sorted([officer.member.email, people[1].email, people[2].email])
    assert all(r.message["Subject"] == "Not voted yet: Elect a chair" for r in reminders)
    await settled(live)
    assert len(smtp.recorder.received) == 12  # and nothing more
    # Voter 2 turned decision notices on: the first ballot's decision reaches them alone.
    await node.outbox.choose(people[2].id, {"decisions": True})
    decision = await ballots.close_ballot(node, officer.member, first.id)
    (told,) = (await smtp.recorder.until(13))[12:]
    assert told.to == [people[2].email] and told.message["Subject"] == "Decided: Fund the food bank"
    assert f"/decisions/{decision.id.hex()}" in told.text and "List-Unsubscribe" in told.message


async def test_a_refused_address_fails_with_the_servers_words(mail_live: Live) -> None:
    live, smtp = mail_live, mail_live.extra["smtp"]
    officer = await live.member("secretary")
    member = await live.member(with_password=False)
    smtp.recorder.refuse.add(member.member.email)
    await call(live, "POST", f"/api/v1/members/{member.member.id}/invite", officer.headers)
    await until(live.node.outbox.counts, lambda c: c["failed"] >= 1, 30)
    _status, box = await call(live, "GET", "/api/v1/outbox?state=failed", officer.headers)
    (failed,) = box["mails"]
    assert failed["email"] == member.member.email and "550" in failed["error"] and "no such mailbox" in failed["error"]
    assert smtp.recorder.received == []


async def test_server_down_then_back_nothing_lost(mail_live: Live, smtp: Smtp) -> None:
    live = mail_live
    officer = await live.member("secretary")
    await smtp.stop()
    members = [await live.member(with_password=False) for _ in range(5)]
    for m in members:
        await call(live, "POST", f"/api/v1/members/{m.member.id}/invite", officer.headers)
    # The sender tries, fails, and waits (it does not spin through every queued mail).
    queued = await until(lambda: live.node.outbox.page("queued", limit=10),
                         lambda rows: len(rows) == 5 and any(m.attempts for m in rows), 30)  # fmt: skip
    assert len(queued) == 5 and all(m.error for m in queued if m.attempts)
    await smtp.restart()
    got = await smtp.recorder.until(5, seconds=90)
    assert sorted(r.to[0] for r in got) == sorted(m.member.email for m in members)
    await until_sent(live, 5)
    await settled(live)
    assert len(smtp.recorder.received) == 5  # each once


@pytest.fixture
async def region_live(tmp_path: Path, password_hash: str, smtp: Smtp) -> AsyncIterator[Live]:
    """A region's node (it charters branches and holds selections), its mail to ``smtp``."""
    async for live in serve_with_mail(await new_node_dir(tmp_path, "North Region", level="region"), password_hash,
                                      smtp):  # fmt: skip
        yield live


async def test_an_election_open_for_candidates_is_told_to_those_who_asked_once(region_live: Live) -> None:
    from node.federation import acts
    from node.federation import elections as el
    from node.web.app import SENDER
    from protocol import SigningKey

    live, smtp = region_live, region_live.extra["smtp"]
    node = live.node
    officer = await live.member("secretary")
    keen, quiet = await live.member(), await live.member()
    await node.outbox.choose(keen.member.id, {"elections": True})
    await acts.issue_charter(node, SigningKey.generate().public, "Leeds Branch", "branch", None)  # a body to choose in
    now = int(time.time() * 1000)
    selection = await el.publish_selection(node, officer.member, "Regional committee", 1,
                                           nominations_close=now + 3_600_000, voting_close=now + 7_200_000)  # fmt: skip
    sender = live.extra["app"][SENDER]
    sender.look_now()
    (told,) = await smtp.recorder.until(1)
    assert told.to == [keen.member.email] and told.message["Subject"] == "Candidates wanted: Regional committee"
    assert f"/selections/{selection.id.hex()}" in told.text and "List-Unsubscribe" in told.message
    sender._next_scan = 0.0
    await sender._scan_reminders()  # a second look (run here, to the end) tells nobody again
    await settled(live)
    assert len(smtp.recorder.received) == 1 and quiet.member.email not in [r.to[0] for r in smtp.recorder.received]


async def test_a_daily_digest_once_a_day_to_those_who_asked(mail_live: Live) -> None:
    import datetime as dt

    from node.web.app import SENDER

    live, smtp = mail_live, mail_live.extra["smtp"]
    node = live.node
    officer = await live.member("secretary")
    keen, quiet = await live.member(), await live.member()
    for who in (officer, keen, quiet):  # only the digest here: no ballot notices
        await node.outbox.choose(who.member.id, {"ballots": False})
    await node.outbox.choose(keen.member.id, {"digest": True})
    sender = live.extra["app"][SENDER]
    sender._next_scan = float("inf")  # no scan of its own meanwhile: this test says when it looks
    today = dt.datetime.now(dt.UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    sender.clock = lambda: today.timestamp()  # before the digest hour (7): nothing yet
    await ballots.open_ballot(node, officer.member, BallotSpec("m1", "Fund the food bank", "Give £200."))
    decided = await ballots.open_ballot(node, officer.member, BallotSpec("m2", "Hold a jumble sale", "In March."))
    await ballots.close_ballot(node, officer.member, decided.id)
    await sender._digest()
    node.outbox.queued()
    await settled(live)
    assert smtp.recorder.received == []
    sender.clock = lambda: today.timestamp() + 2 * 3600  # 08:00 UTC
    await sender._digest()
    await sender._digest()  # a second look the same day sends nothing more
    node.outbox.queued()
    (digest,) = await smtp.recorder.until(1)
    assert digest.to == [keen.member.email]
    assert digest.message["Subject"] == "Test Branch today: what is open, what was decided"
    assert "Fund the food bank" in digest.text and "Hold a jumble sale" in digest.text
    assert "List-Unsubscribe" in digest.message
    await settled(live)
    assert len(smtp.recorder.received) == 1
