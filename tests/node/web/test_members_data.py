"""Members' data: who looked. Every officer's view of a member's record, listing or search,
export and import is recorded (who, when, what, how many rows), through the API, the pages
and the command line alike; admins read the whole record, each member who looked at theirs."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from node.service import Node
from tests.node.conftest import PASSWORD, Live
from tests.node.web.test_pages import csrf_of, sign_in
from tests.passkeys import KeyFile


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
        assert next((a.action, a.rows) for a in await node.access.page()) == ("search", 20)


# Every column that names a member, by table, and the section of "my data" that shows its
# rows. A column naming a member that is not here fails the test below: a table added later
# must say where its rows go in a member's copy.
NAMING: dict[tuple[str, str], str | None] = {
    ("members", "id"): "details",
    ("consent_history", "member_id"): "consent_history",
    ("notice_choices", "member_id"): "notice_choices",
    ("sessions", "member_id"): "sessions",
    ("api_tokens", "member_id"): "api_tokens",
    ("invites", "member_id"): "invites",
    ("member_keys", "member_id"): "keys",
    ("key_challenges", "member_id"): None,  # a passkey being made, for five minutes: nothing of theirs to keep
    ("password_resets", "member_id"): "password_resets",
    ("outbox", "member_id"): "mail",
    ("ballot_electors", "member_id"): "ballots_on_roll",
    ("ballot_voters", "member_id"): None,  # shown as "voted" on ballots_on_roll
    ("participations", "member_id"): "participations",  # the marked register: that they took part, never how
    ("scrutineers", "member_id"): "scrutineer",  # appointed to check the registers
    ("ballot_votes", "member_id"): None,  # how they voted: never in the copy (an open ballot's decision shows it)
    ("ballots", "created_by"): "ballots_opened",
    ("motions", "proposer_id"): "motions",
    ("amendments", "proposer_id"): "amendments",
    ("motion_comments", "member_id"): "comments",
    ("candidacies", "member_id"): "candidacies",
    ("join_codes", "created_by"): "join_codes_made",
    ("joins", "decided_by"): "joins_decided",
    ("access_log", "member_id"): "who_looked",
    ("access_log", "actor_id"): "what_they_looked_at",
    ("erasure_requests", "member_id"): "erasure_requests",
    ("erasure_requests", "decided_by"): "erasures_decided",
}
MEMBER_COLUMNS = {"member_id", "proposer_id", "created_by", "decided_by", "actor_id"}


async def test_a_members_copy_holds_every_row_that_names_them_and_nobody_elses(live: Live) -> None:
    from node.federation import ballots, motions
    from node.rules import members as member_rules
    from node.rules import members_data
    from node.storage.elections import Candidacy
    from node.storage.members import MemberPatch
    from protocol.wire import JoinRequest

    node = live.node
    officer, other = await live.member("secretary"), await live.member()
    ann = (await live.member("treasurer")).member  # an officer too: she opens a ballot, makes a join code
    # Ann's history across every feature, and some of the other member's beside it.
    await node.members.update(ann.id, MemberPatch(consent_contact=True, consent_publish_name=True))
    await node.outbox.choose(ann.id, {"digest": True})
    await node.auth.create_session(ann.id, 3600)
    await node.auth.create_invite(ann.id, 3600)
    await node.member_keys.add(ann.id, KeyFile().key, "laptop")
    await node.scrutineers.appoint(ann.id, None)
    await node.auth.create_reset(ann.id, 3600, lambda token, expires: {"url": "x"})
    motion = await motions.propose(node, ann, "Fund the food bank", "We fund it.\n\nFrom the reserve.")
    await motions.propose(node, other.member, "Another", "Another motion.")
    await motions.admit(node, officer.member, motion.id)
    amendment = await motions.amend(node, ann, motion.id, 0, 0, 2, "They")
    await motions.accept_amendment(node, ann, amendment.id)  # the mover takes it in
    await motions.comment(node, ann, motion.id, "I move it.")
    await motions.comment(node, other.member, motion.id, "I second it.")
    row = await motions.ballot_on_motion(node, ann, motion.id)
    await ballots.vote(node, ann, row.id, "for")
    await ballots.vote(node, other.member, row.id, "against")
    await node.candidacies.stand(Candidacy("delegates:00", ann.id, "Ann", "Ann stands.", "", 1, None))
    await node.joins.new_code(ann.id)
    state = await node.joins.request(b"\x01" * 32, JoinRequest(name="Leeds", level="branch",
                                                               url="http://127.0.0.1:9/"), "127.0.0.2")  # fmt: skip
    await node.joins.decided_by((await node.joins.list())[0].id, ann.id)
    assert state is not None
    await member_rules.look(node, officer.member, ann.id, "api")
    await member_rules.look(node, ann, other.member.id, "page")
    await node.outbox.queue_one(ann.id, "invite", {})
    mine = await members_data.ask_to_be_forgotten(node, ann)
    await members_data.refuse(node, officer.member, mine.id, "You hold the treasurer's books until March.")
    theirs = await members_data.ask_to_be_forgotten(node, other.member)
    await members_data.refuse(node, ann, theirs.id, "A dispute about your dues is open.")

    copy = await members_data.my_data(node, ann, "api")
    tables = [r[0] for r in await node.db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        columns = [c[1] for c in await node.db.fetchall(f"PRAGMA table_info({table})")]
        for column in columns:
            if column in MEMBER_COLUMNS or (table, column) == ("members", "id"):
                assert (table, column) in NAMING, f"{table}.{column} names a member: add it to my data"
    for (table, column), section in NAMING.items():
        held = await node.db.fetchone(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (ann.id,))
        assert held is not None
        if section is not None:
            assert len(copy[section]) == held[0] and held[0] > 0, (table, column, held[0], copy[section])
    assert copy["ballots_on_roll"] == [{"id": row.id, "subject": "Fund the food bank", "opened": row.opened,
                                        "state": "open", "voted": 1}]  # fmt: skip
    assert [c["consent_contact"] for c in copy["consent_history"]] == [0, 1]
    dumped = json.dumps(copy)
    for someone_elses in (other.member.name, other.member.email, officer.member.name, officer.member.email,
                          "I second it.", "Another motion.", "A dispute about your dues"):  # fmt: skip
        assert someone_elses not in dumped, someone_elses
    assert copy["erasure_requests"][0]["answer"] == "You hold the treasurer's books until March."
    assert '"choice"' not in dumped and "against" not in dumped  # never how anyone voted
    assert [k["label"] for k in copy["keys"]] == ["laptop"]
    for secret in ("token_hash", "password_hash", "salt"):
        assert secret not in dumped


CANARY_NAME, CANARY_EMAIL = "Zebedee Canarywing", "zebedee.canarywing@example.org"


async def test_an_erased_member_is_nowhere_in_the_database_its_log_or_a_backup(live: Live, tmp_path: Path,
                                                                              caplog: pytest.LogCaptureFixture
                                                                              ) -> None:  # fmt: skip
    """The member asks, an officer carries it out: afterwards neither the database file, its
    write-ahead log nor a fresh backup holds their name or email; the node's log never did;
    every signed decision still opens and recounts; and they cannot sign in."""
    import logging

    from node.federation import ballots, motions
    from node.rules import members as member_rules
    from node.rules import members_data
    from node.storage.members import MemberIn
    from protocol import check_logs, open_envelope

    caplog.set_level(logging.INFO)  # what a node logs (aiosqlite's own debug lines, with every parameter, are off)
    caplog.set_level(logging.DEBUG, logger="branchnet")
    node = live.node
    officer, other = await live.member("secretary"), await live.member()
    zeb = await node.members.add(MemberIn(name=CANARY_NAME, email=CANARY_EMAIL))
    await node.auth.change_password(zeb.id, live.password_hash)
    _, token = await node.auth.create_token(zeb.id, "phone")
    motion = await motions.propose(node, zeb, "Food bank", "Fund the food bank.")
    await motions.comment(node, zeb, motion.id, f"Signed, {CANARY_NAME} <{CANARY_EMAIL}>")
    await motions.admit(node, officer.member, motion.id)
    row = await motions.ballot_on_motion(node, officer.member, motion.id)
    for voter in (zeb, other.member):
        await ballots.vote(node, voter, row.id, "for")
    await motions.close_ballot(node, officer.member, row.id)
    await node.outbox.queue_one(zeb.id, "invite", {"name": CANARY_NAME})
    await member_rules.look(node, officer.member, zeb.id, "page")

    request = await members_data.ask_to_be_forgotten(node, zeb)
    async with live.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200  # still here until an officer carries it out
    await members_data.carry_out(node, officer.member, request.id, "page")

    backup = tmp_path / "after.db"
    await node.db.backup(backup)
    db_file = node.directory / "node.db"
    for path in (db_file, db_file.with_name("node.db-wal"), backup):
        data = path.read_bytes() if path.exists() else b""
        for canary in (CANARY_NAME, CANARY_EMAIL, "Canarywing", "canarywing"):
            assert canary.encode() not in data, (path.name, canary)
    assert CANARY_NAME not in caplog.text and CANARY_EMAIL not in caplog.text
    # What the federation holds stays whole: every envelope opens (decisions check their own
    # counts against their receipts) and every log holds.
    raws = [raw async for batch in node.envelopes.batches() for raw in batch]
    assert all(open_envelope(raw) for raw in raws)
    report = check_logs(raws, now_ms=int(time.time() * 1000))
    assert report.failures == [] and len(report.accepted) == len(raws)
    assert (await node.ballots.require(row.id)).decision is not None
    async with live.http.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 401  # the token went with them
    async with live.http.post("/api/v1/auth/login", json={"email": CANARY_EMAIL, "password": PASSWORD}) as r:
        assert r.status == 401
    assert (await node.members_data.require_request(request.id)).state == "done"
    assert await node.members.get(zeb.id) is None
    # What an officer did and what was done stays, naming nobody.
    assert (await node.motions.require(motion.id)).proposer_id is None


async def test_asking_to_be_forgotten_through_the_api_and_the_pages(live: Live) -> None:
    officer, admin = await live.member("secretary"), await live.member("admin")
    ann, bob = await live.member(), await live.member()
    async with live.http.post("/api/v1/me/erasure", headers=ann.headers) as r:
        assert r.status == 201
        asked = await r.json()
    async with live.http.post("/api/v1/me/erasure", headers=ann.headers) as r:
        assert r.status == 409 and (await r.json())["error"]["code"] == "already_asked"
    assert (await get(live, "/api/v1/erasures", ann.headers))[0] == 403
    async with live.http.get("/api/v1/erasures?state=asked", headers=officer.headers) as r:
        assert [(e["name"], e["state"]) for e in await r.json()] == [(ann.member.name, "asked")]
    path = f"/api/v1/erasures/{asked['id']}"
    async with live.http.post(f"{path}/refusal", json={"answer": " "}, headers=officer.headers) as r:
        assert r.status == 400 and (await r.json())["error"]["field"] == "answer"
    async with live.http.post(f"{path}/refusal", json={"answer": "Your dues dispute is open."},
                              headers=officer.headers) as r:  # fmt: skip
        assert r.status == 200 and (await r.json())["state"] == "refused"
    status, mine = await get(live, "/api/v1/me/data", ann.headers)
    assert status == 200 and mine["erasure_requests"][0]["answer"] == "Your dues dispute is open."
    async with live.http.post(f"{path}/carry-out", headers=officer.headers) as r:
        assert r.status == 409  # answered already
    # Asked again, and carried out through the pages; an officer cannot forget an admin.
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_in(browser, ann)
        async with browser.get("/account/data") as r:
            page = await r.text()
            assert "was refused:</strong> Your dues dispute is open." in page and "Ask to be forgotten" in page
        token = csrf_of(page)
        async with browser.post("/account/erasure", data={"csrf": token}, allow_redirects=False) as r:
            assert r.status == 303
        async with browser.get("/account/data?done=asked") as r:
            assert "An officer will carry it out" in await r.text()
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_in(browser, officer)
        async with browser.get("/members/erasures") as r:
            page = await r.text()
        again = (await live.node.members_data.requests("asked"))[0]
        assert f"Forget {ann.member.name}" in page
        async with browser.post(f"/members/erasures/{again.id}/carry-out", data={"csrf": csrf_of(page)},
                                allow_redirects=False) as r:  # fmt: skip
            assert r.status == 303
    assert await live.node.members.get(ann.member.id) is None
    assert (await get(live, "/api/v1/me", ann.headers))[0] == 401
    async with live.http.post("/api/v1/me/erasure", headers=admin.headers) as r:
        admin_request = await r.json()
    async with live.http.post(f"/api/v1/erasures/{admin_request['id']}/carry-out", headers=officer.headers) as r:
        assert r.status == 403  # an admin's erasure is an admin's to carry out
    async with live.http.post("/api/v1/me/erasure", headers=officer.headers) as r:
        own = await r.json()
    async with live.http.post(f"/api/v1/erasures/{own['id']}/carry-out", headers=officer.headers) as r:
        assert r.status == 409 and (await r.json())["error"]["code"] == "own_erasure"
    assert await live.node.members.get(bob.member.id) is not None  # nobody else went with them


def test_the_command_line_forgets_a_member_and_answers_requests(node_dir: Path) -> None:
    def branchnet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip

    d = str(node_dir)
    for name in ("Ann", "Bob"):
        assert branchnet("member", "add", "--dir", d, "--name", f"{name} Example", "--email",
                         f"{name.lower()}@example.org").returncode == 0  # fmt: skip
    erased = branchnet("member", "erase", "1", "--dir", d)
    assert erased.returncode == 0 and "member 1 forgotten" in erased.stdout, erased.stderr
    again = branchnet("member", "erase", "1", "--dir", d)
    assert again.returncode == 1 and "no member 1" in again.stderr and "Traceback" not in again.stderr
    listed = branchnet("member", "list", "--dir", d).stdout
    assert "Ann Example" not in listed and "Bob Example" in listed
    refused = branchnet("member", "erasures", "--dir", d, "--refuse", "9", "--answer", "no")
    assert refused.returncode == 1 and "no erasure request 9" in refused.stderr


async def test_the_privacy_notice_says_who_and_for_how_long_and_is_linked_everywhere(live: Live) -> None:
    officer, member = await live.member("secretary"), await live.member()
    async with live.http.get("/privacy") as r:  # signed out: anyone may read it
        page = await r.text()
    assert r.status == 200 and "have not yet said who the controller is" in page
    assert "deleted after 24 months" in page and "never more than 90 days" in page
    async with live.http.put("/api/v1/privacy", json={"controller": "x" * 2001}, headers=officer.headers) as r:
        assert r.status == 400 and (await r.json())["error"]["field"] == "controller"
    async with live.http.put("/api/v1/privacy", json={"controller": "Riverside Branch, Example Party",
                                                      "contact": "The Secretary, 1 High St"},
                             headers=member.headers) as r:  # fmt: skip
        assert r.status == 403
    async with aiohttp.ClientSession(live.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        await sign_in(browser, officer)
        async with browser.get("/privacy") as r:
            token = csrf_of(await r.text())
        form = {"csrf": token, "controller": "Riverside Branch, Example Party", "contact": "The Secretary, 1 High St"}
        async with browser.post("/privacy", data=form, allow_redirects=False) as r:
            assert r.status == 303
    async with aiohttp.ClientSession(live.url) as anyone:
        async with anyone.get("/privacy") as r:
            page = await r.text()
        assert "<strong>Riverside Branch, Example Party</strong> decides" in page and "1 High St" in page
        async with anyone.get("/api/v1/privacy") as r:
            assert (await r.json())["contact"] == "The Secretary, 1 High St"
        async with anyone.get("/") as r:  # the sign-in page links it
            assert 'href="/privacy"' in await r.text()


def test_the_command_line_makes_a_members_copy_and_writes_the_notice(node_dir: Path, tmp_path: Path) -> None:
    def branchnet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip

    d = str(node_dir)
    assert branchnet("member", "add", "--dir", d, "--name", "Ann Example", "--email", "ann@example.org").returncode == 0
    out = tmp_path / "ann.json"
    made = branchnet("member", "data", "1", "--dir", d, "--out", str(out))
    assert made.returncode == 0, made.stderr
    copy = json.loads(out.read_text())
    assert copy["details"][0]["email"] == "ann@example.org" and copy["format"] == "branchnet member data v1"
    assert copy["who_looked"][-1]["action"] == "download" and copy["who_looked"][-1]["actor_id"] is None
    assert branchnet("member", "data", "7", "--dir", d).returncode == 1  # no member 7
    written = branchnet("privacy", "--dir", d, "--controller", "Riverside Branch", "--contact", "1 High St")
    assert written.returncode == 0 and "controller: Riverside Branch" in written.stdout, written.stderr
    assert "dpo: (not written)" in branchnet("privacy", "--dir", d).stdout
    empty = branchnet("privacy", "--dir", d, "--controller", " ")
    assert empty.returncode == 1 and "name the controller" in empty.stderr
