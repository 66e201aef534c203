"""Members' data: who looked. Every officer's view of a member's record, listing or search,
export and import is recorded (who, when, what, how many rows), through the API, the pages
and the command line alike; admins read the whole record, each member who looked at theirs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import aiohttp

from node.service import Node
from tests.node.conftest import Live
from tests.node.web.test_pages import sign_in


async def get(live: Live, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    async with live.http.get(path, headers=headers) as r:
        return r.status, await r.json()


async def test_every_officer_access_is_recorded_and_each_member_sees_who_looked(live: Live) -> None:
    admin, officer = await live.member("admin"), await live.member("secretary")
    ann, bob = await live.member(), await live.member()
    members = len(await live.node.members.list())
    assert (await get(live, f"/api/v1/members/{ann.member.id}", officer.headers))[0] == 200  # a view
    assert (await get(live, f"/api/v1/members/{ann.member.id}", ann.headers))[0] == 200  # her own: not recorded
    assert (await get(live, "/api/v1/members", officer.headers))[0] == 200  # a listing of everyone
    csv = b"name,email\nCat Example,cat@example.org\nDan Example,dan@example.org\n"
    async with live.http.post("/api/v1/members/import", data=csv, headers=admin.headers) as r:
        assert r.status == 200, await r.text()
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_in(browser, officer)
        async with browser.get("/members/export.csv") as r:  # the roll leaves the node
            assert r.status == 200
            exported = (await r.text()).count("\n") - 1
        async with browser.get(f"/members/{bob.member.id}") as r:
            assert r.status == 200
    status, record = await get(live, "/api/v1/access", admin.headers)
    assert status == 200
    seen = [(a["actor"], a["action"], a["member_id"], a["rows"], a["via"]) for a in reversed(record["accesses"])]
    assert seen == [
        (officer.member.name, "view", ann.member.id, 1, "api"),
        (officer.member.name, "search", None, members, "api"),
        (admin.member.name, "import", None, 2, "api"),
        (officer.member.name, "export", None, members + 2, "page"),
        (officer.member.name, "view", bob.member.id, 1, "page"),
    ]
    assert exported == members + 2
    # Ann sees the officer's look at her record, and nothing about anyone else's.
    status, mine = await get(live, "/api/v1/me/access", ann.headers)
    assert status == 200 and [(a["actor"], a["action"]) for a in mine["accesses"]] == [(officer.member.name, "view")]
    assert (await get(live, "/api/v1/access", officer.headers))[0] == 403  # the whole record: admins only
    assert (await get(live, f"/api/v1/access?member={ann.member.id}", ann.headers))[0] == 403
    status, one = await get(live, f"/api/v1/access?member={bob.member.id}", admin.headers)
    assert [a["via"] for a in one["accesses"]] == ["page"]


async def test_the_pages_show_the_record_to_admins_and_each_member_their_own(live: Live) -> None:
    admin, officer, ann = await live.member("admin"), await live.member("secretary"), await live.member()
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_in(browser, officer)
        async with browser.get(f"/members/{ann.member.id}") as r:
            assert r.status == 200
        async with browser.get("/members/export.csv") as r:
            assert r.status == 200
        async with browser.get("/members/access") as r:
            assert r.status == 403  # officers act; admins read who acted
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_in(browser, admin)
        async with browser.get("/members/access") as r:
            page = await r.text()
        assert r.status == 200 and f"{officer.member.name}</td>" in page
        assert "exported the members on the pages" in page and "opened the record on the pages" in page
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_in(browser, ann)
        async with browser.get("/account/data") as r:
            page = await r.text()
        assert r.status == 200 and "opened the record on the pages" in page and officer.member.name in page
        assert "exported" not in page  # lists of everyone are not "her record"


def test_the_command_line_records_its_own_reads_and_prints_the_record(node_dir: Path) -> None:
    def branchnet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip

    d = str(node_dir)
    assert branchnet("member", "add", "--dir", d, "--name", "Ann Example", "--email", "ann@example.org").returncode == 0
    assert branchnet("member", "list", "--dir", d).returncode == 0
    shown = branchnet("member", "access-log", "--dir", d, "--json")
    assert shown.returncode == 0, shown.stderr
    [listed] = json.loads(shown.stdout)
    assert (listed["actor"], listed["action"], listed["rows"]) == ("the command line", "search", 1)
    assert listed["via"] == "cli" and listed["actor_id"] is None
    lines = branchnet("member", "access-log", "--dir", d).stdout
    assert "the command line: search, 1 row (cli)" in lines


async def test_the_record_is_kept_in_the_database_not_only_shown(node_dir: Path) -> None:
    async with Node.opened(node_dir) as node:
        await node.access.record(None, "export", "cli", rows=3)
        assert [(a.action, a.rows) for a in await node.access.page()] == [("export", 3)]


async def test_a_page_of_the_list_is_recorded_without_waiting_and_still_written(node_dir: Path) -> None:
    """A page of the members list does not wait for its record's commit (an officer paging
    through) but the record is written all the same: with the next batch, or at close."""
    async with Node.opened(node_dir) as node:
        await node.access.record(7, "search", "page", rows=50, wait=False)  # gathering (for up to 0.25 s)
        await node.access.record(7, "view", "page", member_id=3, rows=1)  # one that waits takes it along
        assert [(a.action, a.rows) for a in await node.access.page()] == [("view", 1), ("search", 50)]
        await node.access.record(7, "search", "page", rows=20, wait=False)
    async with Node.opened(node_dir) as node:  # closed with one gathering: it was written
        assert [(a.action, a.rows) for a in await node.access.page()][0] == ("search", 20)
