"""`branchnet init`, `serve`, `status` and configuration, as a secretary would run them."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from node.config import ConfigError, load_config, parse_config, render_config
from node.federation import ballots, motions
from node.federation.ballots import BallotSpec
from node.rules.members_csv import MAX_FILE_BYTES
from node.service import Node
from node.storage.members import MemberIn
from tests.node.processes import start_serve


def branchnet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})  # fmt: skip


def test_init_creates_private_key_config_and_database(tmp_path: Path) -> None:
    d = tmp_path / "leeds"
    result = branchnet("init", "--dir", str(d), "--name", "Leeds Central", "--level", "branch",
                       "--listen", "127.0.0.1:0", "--public-url", "https://leeds.example.org")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((d / "node.key").stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "node.db").stat().st_mode) == 0o600  # members' personal data
    config = load_config(d, environ={})
    assert (config.node.name, config.node.level, config.http.public_url) == (
        "Leeds Central", "branch", "https://leeds.example.org")  # fmt: skip
    status = branchnet("status", "--dir", str(d), "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["node_id"] in result.stdout
    assert (data["objects"], data["heads"], data["members"], data["federation"]) == (0, {}, 0, None)


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    d = tmp_path / "n"
    assert branchnet("init", "--dir", str(d), "--name", "A", "--level", "branch").returncode == 0
    key = (d / "node.key").read_bytes()
    result = branchnet("init", "--dir", str(d), "--name", "B", "--level", "region")
    assert result.returncode == 2
    assert "already holds a node" in result.stderr and "Traceback" not in result.stderr
    assert (d / "node.key").read_bytes() == key
    assert load_config(d, environ={}).node.name == "A"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--level", "county"], "invalid choice: 'county'"),
        (["--level", "branch", "--listen", "nowhere"], "http.listen: 'nowhere' is not HOST:PORT"),
        (["--level", "branch", "--listen", "127.0.0.1:99999"], "port 99999 is out of range"),
        (["--level", "branch", "--public-url", "ftp://x"], "http.public_url"),
    ],
)
def test_init_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    result = branchnet("init", "--dir", str(tmp_path / "n"), "--name", "A", *args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "n" / "node.key").exists()


def test_commands_on_a_missing_node(tmp_path: Path) -> None:
    for command in ("status", "serve", "id"):
        result = branchnet(command, "--dir", str(tmp_path / "none"))
        assert result.returncode == 2, command
        assert "run `branchnet init" in result.stderr and "Traceback" not in result.stderr


# --- configuration ------------------------------------------------------------------------
BASE = render_config("Riverside", "branch", "127.0.0.1:8470", "http://127.0.0.1:8470")


def test_environment_overrides() -> None:
    config = parse_config(BASE, "node.toml", environ={"BRANCHNET_HTTP_LISTEN": "0.0.0.0:9000",
                                                      "BRANCHNET_AUTH_SECURE_COOKIES": "true",
                                                      "BRANCHNET_HTTP_MAX_BODY_BYTES": "2048",
                                                      "BRANCHNET_DIR": "/ignored"})  # fmt: skip
    assert config.http.host_port() == ("0.0.0.0", 9000)
    assert config.auth.secure_cookies is True and config.http.max_body_bytes == 2048


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        (
            BASE.replace('level = "branch"', 'level = "county"'),
            {},
            "node.level: 'county' is not one of branch, region, national, youth",
        ),
        (
            BASE.replace("session_hours = 336", 'session_hours = "long"'),
            {},
            "auth.session_hours: must be a whole number, not text",
        ),
        (BASE.replace("max_body_bytes = 1048576", "max_body_bytes = 10"), {}, "http.max_body_bytes"),
        (BASE + "\n[gossip]\nfanout = 3\n", {}, "unknown field 'gossip'"),
        (BASE.replace("[log]", "[log]\ncolour = true"), {}, "log.colour: unknown field"),
        ("[node\n", {}, "not valid TOML"),
        (BASE, {"BRANCHNET_AUTH_SESSION_HOURS": "0"}, "auth.session_hours (or BRANCHNET_AUTH_SESSION_HOURS)"),
        (BASE, {"BRANCHNET_HTTP_LISTN": "x"}, "BRANCHNET_HTTP_LISTN: there is no key http.listn"),
        (BASE, {"BRANCHNET_LOG_FORMAT": "xml"}, "log.format (or BRANCHNET_LOG_FORMAT): 'xml' is not one of text, json"),
        (
            BASE,
            {"BRANCHNET_LOG_LEVEL": "loud"},
            "log.level (or BRANCHNET_LOG_LEVEL): 'loud' is not one of debug, info, warning, error",
        ),
        (
            BASE.replace("max_body_bytes = 1048576", "max_body_bytes = 10"),
            {},
            "http.max_body_bytes: must be at least 1024",
        ),
    ],
)
def test_bad_config_names_the_key(text: str, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "node.toml", environ=environ)
    assert message in str(caught.value)
    assert str(caught.value).startswith(("node.toml", *environ))  # where the bad value came from


def test_bad_config_stops_serve_with_the_key(node_dir: Path) -> None:
    result = branchnet("serve", "--dir", str(node_dir), env={"BRANCHNET_HTTP_MAX_BODY_BYTES": "lots"})
    assert result.returncode == 2
    assert "http.max_body_bytes (or BRANCHNET_HTTP_MAX_BODY_BYTES)" in result.stderr
    assert "Traceback" not in result.stderr


# --- serve --------------------------------------------------------------------------------
async def test_serve_answers_and_stops_cleanly_on_sigterm(node_dir: Path) -> None:
    server = await start_serve(node_dir, env={"BRANCHNET_LOG_FORMAT": "json"})
    try:
        async with aiohttp.ClientSession(server.url) as http:
            async with http.get("/healthz") as r:
                assert r.status == 200 and await r.json() == {"status": "ok"}
            async with http.get("/api/v1/node") as r:
                info = await r.json()
        assert info["node_id"] == server.node_id and info["objects"] == 1
    finally:
        code = await server.stop()
    assert code == 0
    events = [json.loads(line) for line in server.stderr().splitlines()]
    assert {e["event"] for e in events} >= {"started", "request", "stopping"}
    requests = [e for e in events if e["event"] == "request"]
    assert {(e["route"], e["status"]) for e in requests} == {("/healthz", 200), ("/api/v1/node", 200)}


async def test_logs_hold_no_personal_data(node_dir: Path) -> None:
    server = await start_serve(node_dir)
    secret_email = "private.person@example.org"
    try:
        async with aiohttp.ClientSession(server.url) as http:
            await (await http.post("/api/v1/auth/login", json={"email": secret_email, "password": "Hunter2!!"})).read()
            await (await http.get(f"/api/v1/members?status={secret_email}")).read()
    finally:
        await server.stop()
    log = server.stderr()
    assert "request" in log
    assert secret_email not in log and "Hunter2" not in log


def test_status_counts_members_and_heads(node_dir: Path) -> None:
    assert (
        branchnet("member", "add", "--dir", str(node_dir), "--name", "Ann", "--email", "ann@example.org").returncode
        == 0
    )
    result = branchnet("status", "--dir", str(node_dir), "--json")
    data = json.loads(result.stdout)
    assert data["members"] == 1 and data["objects"] == 1
    assert data["heads"] == {data["node_id"]: 1}
    text = branchnet("status", "--dir", str(node_dir)).stdout
    assert data["node_id"] in text and "members    1" in text


def test_member_import_names_each_bad_row_and_refuses_an_oversized_file(node_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "members.csv"
    good.write_text("name,email\nAnn Lee,ann@example.org\nBo,not-an-email\n")
    result = branchnet("member", "import", "--dir", str(node_dir), str(good))
    assert result.returncode == 1 and "line 3" in result.stdout and "column email" in result.stdout
    assert "nothing imported" in result.stdout
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as file:  # sparse: no disk is used
        file.write(b"name,email\n")
        file.truncate(MAX_FILE_BYTES + 1)
    result = branchnet("member", "import", "--dir", str(node_dir), str(huge))
    assert result.returncode == 1 and "over 64 MiB" in result.stderr, result.stderr
    status = json.loads(branchnet("status", "--dir", str(node_dir), "--json").stdout)
    assert status["members"] == 0  # neither file imported anything


async def test_backup_while_serving(node_dir: Path, tmp_path: Path) -> None:
    assert (
        branchnet("member", "add", "--dir", str(node_dir), "--name", "Ann", "--email", "ann@example.org").returncode
        == 0
    )
    server = await start_serve(node_dir)
    try:
        out = tmp_path / "backup.db"
        result = branchnet("backup", "--dir", str(node_dir), "--out", str(out), "--plain")
        assert result.returncode == 0, result.stderr
        assert "backed up 1 envelopes and 1 members" in result.stdout
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        again = branchnet("backup", "--dir", str(node_dir), "--out", str(out), "--plain")
        assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    finally:
        assert await server.stop() == 0
    # A node restored from the backup (with its key and config) serves the same data.
    restored = tmp_path / "restored"
    restored.mkdir()
    for name in ("node.key", "node.toml"):
        (restored / name).write_bytes((node_dir / name).read_bytes())
    (restored / "node.db").write_bytes(out.read_bytes())
    status = json.loads(branchnet("status", "--dir", str(restored), "--json").stdout)
    assert (status["objects"], status["members"]) == (1, 1)


async def test_export_writes_every_envelope_and_no_member_data(node_dir: Path, tmp_path: Path) -> None:
    async with Node.opened(node_dir) as node:
        sec = await node.members.add(MemberIn(name="Zelda Canary", email="zelda.canary@example.org", role="secretary"))
        voter = await node.members.add(MemberIn(name="Quentin Canary", email="quentin.canary@example.org"))
        row = await ballots.open_ballot(node, sec, BallotSpec(motion="m1", subject="Fund it", text="We fund it."))
        await ballots.vote(node, voter, row.id, "for")
        await ballots.close_ballot(node, sec, row.id)
        held = await node.envelopes.count()
    out = tmp_path / "all.bundle"
    result = branchnet("export", "--dir", str(node_dir), "--out", str(out))
    assert result.returncode == 0 and f"exported {held} envelopes" in result.stdout, result.stderr
    data = out.read_bytes()
    for secret in (b"Zelda", b"Quentin", b"Canary", b"canary@example.org"):
        assert secret not in data
    checked = branchnet("verify", str(out))
    assert checked.returncode == 0 and f"ok: {held} envelopes" in checked.stdout, checked.stdout
    again = branchnet("export", "--dir", str(node_dir), "--out", str(out))
    assert again.returncode != 0 and "refusing to overwrite" in again.stderr


async def test_an_officer_runs_a_motion_from_the_command_line(node_dir: Path) -> None:
    async with Node.opened(node_dir) as node:
        await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))
        voter = await node.members.add(MemberIn(name="Val Voter", email="val@example.org"))
        motion = await motions.propose(node, voter, "Fund it", "We fund it.")
    d = str(node_dir)
    refused = branchnet("motion", "admit", str(motion.id), "--dir", d, "--as", "val@example.org")
    assert refused.returncode == 1 and "only officers admit motions" in refused.stderr
    assert branchnet("motion", "admit", str(motion.id), "--dir", d, "--as", "sec@example.org").returncode == 0
    opened = branchnet("motion", "ballot", str(motion.id), "--dir", d, "--as", "sec@example.org")
    assert opened.returncode == 0 and "ballot 1 open on motion 1: 2 members on its roll" in opened.stdout
    async with Node.opened(node_dir) as node:
        await ballots.vote(node, voter, 1, "for")
    listed = branchnet("ballot", "list", "--dir", d)
    assert "1 ballots" in listed.stdout and "Fund it" in listed.stdout
    closed = branchnet("ballot", "close", "1", "--dir", d, "--as", "sec@example.org")
    assert closed.returncode == 0 and "ballot 1 closed: carried [1, 0, 0]" in closed.stdout, closed.stderr
    assert "carried" in branchnet("motion", "list", "--dir", d).stdout
    rolled = branchnet("roll", "publish", "--dir", d, "--as", "sec@example.org")
    assert rolled.returncode == 0 and "roll signed: 2 members" in rolled.stdout
    unknown = branchnet("ballot", "close", "1", "--dir", d, "--as", "nobody@example.org")
    assert unknown.returncode == 1 and "no member with email nobody@example.org" in unknown.stderr


@pytest.mark.slow  # ~20 s of command-line processes: `make test-slow`, which CI runs after `make test`
def test_restore_refuses_what_is_not_this_nodes_backup_and_keeps_what_it_replaces(
    node_dir: Path, tmp_path: Path
) -> None:
    """Issue 21, item 16: a 0-byte file 'restored 0 envelopes' and wiped every member; another
    node's backup was taken silently; a file that is not a database hung after its error."""
    added = branchnet("member", "add", "--dir", str(node_dir), "--name", "Ann", "--email", "ann@example.org")
    assert added.returncode == 0
    own = tmp_path / "own.db"
    assert branchnet("backup", "--dir", str(node_dir), "--out", str(own), "--plain").returncode == 0
    other_dir = tmp_path / "other"
    assert branchnet("init", "--dir", str(other_dir), "--name", "Other", "--level", "branch").returncode == 0
    other = tmp_path / "other.db"
    assert branchnet("backup", "--dir", str(other_dir), "--out", str(other), "--plain").returncode == 0
    empty, junk, foreign = tmp_path / "empty.db", tmp_path / "junk.db", tmp_path / "foreign.db"
    empty.write_bytes(b"")
    junk.write_bytes(b"this is a shopping list, not a database\n" * 100)
    with contextlib.closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE t (x)")
    for source, words in ((empty, "is empty: it is not a backup"), (junk, "not an SQLite database"),
                          (foreign, "not a branchnet node's"), (other, "not this node's")):  # fmt: skip
        refused = branchnet("restore", "--dir", str(node_dir), "--from", str(source))  # (each exits at once)
        assert refused.returncode != 0 and words in refused.stderr, (source, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
        status = json.loads(branchnet("status", "--dir", str(node_dir), "--json").stdout)
        assert status["members"] == 1  # nothing replaced
    assert not list(node_dir.glob("node.db.*"))  # no staged copy left behind
    assert empty.read_bytes() == b""  # the file given is never changed
    restored = branchnet("restore", "--dir", str(node_dir), "--from", str(own))
    assert restored.returncode == 0 and "1 members" in restored.stdout, restored.stderr
    kept = list(node_dir.glob("node.db.replaced-*"))
    assert len(kept) == 1 and str(kept[0]) in restored.stdout
    moved = branchnet("restore", "--dir", str(node_dir), "--from", str(other), "--any-node")
    assert moved.returncode == 0, moved.stderr  # (often within the same second: both kept, under two names)
    assert len(list(node_dir.glob("node.db.replaced-*"))) == 2
    status = json.loads(branchnet("status", "--dir", str(node_dir), "--json").stdout)
    assert status["members"] == 0  # the other node's (empty) roll, deliberately


def test_member_list_into_a_closed_pipe_ends_quietly(node_dir: Path, tmp_path: Path) -> None:
    """`branchnet member list | head` ended with a BrokenPipeError traceback."""
    roll = tmp_path / "roll.csv"
    roll.write_text("name,email\n" + "".join(f"Member {i},m{i}@example.org\n" for i in range(3000)))
    assert branchnet("member", "import", "--dir", str(node_dir), str(roll)).returncode == 0
    piped = subprocess.run(f"{sys.executable} -m node member list --dir {node_dir} | head -2", shell=True,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert len(piped.stdout.splitlines()) == 2
    assert piped.stderr == "", piped.stderr


async def test_two_restores_in_one_second_keep_both_replaced_databases(
    node_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from node.cli.setup import restore_node

    own = tmp_path / "own.db"
    assert branchnet("backup", "--dir", str(node_dir), "--out", str(own), "--plain").returncode == 0
    monkeypatch.setattr("node.cli.setup.time.strftime", lambda _: "20261207T000000")  # one second, twice
    assert await restore_node(node_dir, own) == 0
    assert await restore_node(node_dir, own) == 0
    assert sorted(p.name for p in node_dir.glob("node.db.replaced-*")) == [
        "node.db.replaced-20261207T000000", "node.db.replaced-20261207T000000-2"]  # fmt: skip
