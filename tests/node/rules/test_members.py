"""One set of member rules for the API, the CLI and CSV import.

Every name the API refuses (control characters, ANSI escapes, direction overrides, blank,
too long) the CLI refuses too, for `member add` and `member edit`, and CSV import reports on
its line; the last-admin rule holds for the CLI as for the API (web/test_accounts.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from node.rules.members_csv import parse_members_csv
from tests.node.conftest import Live

BAD_NAMES = {
    "an ANSI escape (ESC)": "\x1b[31mRed",
    "an ANSI escape (CSI, C1)": "\x9b31mRed",
    "a bell": "Ann\x07",
    "a line break": "Ann\nLee",
    "a direction override": "Ann\u202eeeL",
    "blank": "   ",
    "too long": "n" * 201,
}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
async def test_the_cli_and_csv_refuse_what_the_api_refuses(live: Live, name: str) -> None:
    admin = await live.member("admin")
    async with live.http.post("/api/v1/members", json={"name": name, "email": "x@example.org"},
                              headers=admin.headers) as r:  # fmt: skip
        assert r.status == 400 and (await r.json())["error"]["field"] == "name"
    directory = str(live.node.directory)
    added = await asyncio.to_thread(cli, "member", "add", "--dir", directory, "--name", name, "--email", "y@x.org")
    assert added.returncode == 1 and "--name:" in added.stderr, added.stderr
    edited = await asyncio.to_thread(cli, "member", "edit", "--dir", directory, str(admin.member.id), "--name", name)
    assert edited.returncode == 1 and "--name:" in edited.stderr, edited.stderr
    csv = ("name,email\n" + '"' + name.replace('"', '""') + '",z@example.org\n').encode()
    parsed = parse_members_csv(csv)
    assert parsed.rows == [] and parsed.problems  # reported on its line (a line break splits it in two)
    assert {p.field for p in parsed.problems} <= {"name", None}
    assert [m.email for m in await live.node.members.list()] == [admin.member.email]  # nothing added
    assert (await live.node.members.require(admin.member.id)).name == admin.member.name  # nothing changed


async def test_good_names_pass_everywhere(live: Live) -> None:
    admin = await live.member("admin")
    for i, name in enumerate(("Zoë Ann-Marie O'Neill", "李 小龍", "Ngũgĩ wa Thiong'o")):
        async with live.http.post("/api/v1/members", json={"name": name, "email": f"a{i}@example.org"},
                                  headers=admin.headers) as r:  # fmt: skip
            assert r.status == 201
        done = await asyncio.to_thread(cli, "member", "add", "--dir", str(live.node.directory), "--name", name,
                                       "--email", f"b{i}@example.org")  # fmt: skip
        assert done.returncode == 0, done.stderr
