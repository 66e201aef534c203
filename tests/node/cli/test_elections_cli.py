"""`branchnet selection` and `branchnet election`: a body's selection and a branch's delegate
election from the command line, with the same rules as the API and the pages, and one-line
errors naming what is wrong (the whole flow across nodes: tests/node/federation/test_elections.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from node.federation.acts import issue_charter
from node.service import Node
from node.storage.members import MemberIn
from protocol import SigningKey
from tests.node.cli.test_node_cli import branchnet
from tests.node.conftest import PASSWORD, new_node_dir
from tests.node.federation.test_upward import Clock, Federation

AS = ("--as", "sec@national.example")


async def test_an_officer_publishes_a_selection_and_each_refusal_is_one_line(tmp_path: Path) -> None:
    d = str(await new_node_dir(tmp_path, "National Committee", level="national"))
    async with Node.opened(Path(d)) as node:
        await node.members.add(MemberIn(name="Sec", email="sec@national.example", role="secretary"))
        await issue_charter(node, SigningKey.generate().public, "North Region", "region", None)
    published = branchnet("selection", "publish", "--dir", d, "--office", "National executive", "--seats", "3",
                          "--nominations-close", "+1d", "--voting-close", "+3d", "--balancing", "alternate",
                          *AS)  # fmt: skip
    assert published.returncode == 0, published.stderr
    selection = re.search(r"selection signed: ([0-9a-f]{64})", published.stdout).group(1)  # type: ignore[union-attr]
    listed = branchnet("selection", "list", "--dir", d)
    assert "National Committee: National executive, 3 seat(s), stv" in listed.stdout
    shown = json.loads(branchnet("selection", "show", selection[:12], "--dir", d, "--json").stdout)
    assert shown["selection"]["balancing"] == "alternate" and shown["selection"]["reopen"] is False
    assert shown["paper"] is None and shown["results"] == []
    for args, words in [
        (("selection", "paper", selection, *AS), "nominations are still open"),
        (("selection", "result", selection, *AS), "voting is still open"),
        (("selection", "nominate", selection, "--member", "1", *AS), "not of the body directly above"),
        (("selection", "ballot", selection, *AS), "not of the body directly above"),
        (("selection", "publish", "--office", "X", "--seats", "2", "--nominations-close", "+2d", "--voting-close",
          "+1d", *AS), "voting closes after nominations close"),
        (("election", "delegates", "--seats", "2", *AS), "no body above it"),
    ]:
        refused = branchnet(*args, "--dir", d)
        assert refused.returncode == 1 and words in (refused.stderr + refused.stdout), (args, refused.stderr)
        assert "Traceback" not in refused.stderr
    async with Node.opened(Path(d)) as node:
        assert len(await node.envelopes.own_of_kind(node.key.public, "selection")) == 1  # nothing else signed


def member_cli(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    """A member's own command, their password on standard input."""
    return subprocess.run([sys.executable, "-m", "node", *args, "--password-stdin"], input=password + "\n",
                          capture_output=True, text=True, timeout=60)  # fmt: skip


@pytest.mark.slow  # ~16 s: a dozen command-line processes: `make test-slow`, which CI runs
async def test_members_stand_and_vote_with_their_own_password(tmp_path: Path, password_hash: str) -> None:
    fed = Federation(Clock())
    await fed.add(tmp_path, "national", "national", None)
    await fed.add(tmp_path, "north", "region", "national")
    leeds = await fed.add(tmp_path, "leeds", "branch", "north", 3)
    for voter in leeds.voters:
        await leeds.node.auth.change_password(voter.id, password_hash)
    await fed.close()
    d = str(tmp_path / "leeds")
    refused = member_cli("election", "stand", "--dir", d, "--as", "v0@leeds.org", "--name", "Val", password="wrong")
    assert refused.returncode == 1 and "wrong email or password" in refused.stderr
    for email, name in (("v0@leeds.org", "Val"), ("v1@leeds.org", "Wyn")):
        stood = member_cli("election", "stand", "--dir", d, "--as", email, "--name", name, "--statement",
                           f"{name} will report back.", password=PASSWORD)  # fmt: skip
        assert stood.returncode == 0 and f"{name} stands in delegates:" in stood.stdout, stood.stderr
    listed = branchnet("election", "candidates", "--dir", d)
    assert "Val" in listed.stdout and "Wyn will report back." in listed.stdout and "2 standing" in listed.stdout
    opened = branchnet("election", "delegates", "--dir", d, "--seats", "1", "--as", "sec@leeds.org")
    assert opened.returncode == 0 and "Val, Wyn, Re-open nominations (RON)" in opened.stdout, opened.stderr
    ballot = re.search(r"ballot (\d+) open", opened.stdout).group(1)  # type: ignore[union-attr]
    voted = member_cli("ballot", "vote", ballot, "Wyn", "Val", "--dir", d, "--as", "v2@leeds.org", password=PASSWORD)
    assert voted.returncode == 0 and "your receipt" in voted.stdout, voted.stderr
    again = member_cli("ballot", "vote", ballot, "Val", "--dir", d, "--as", "v2@leeds.org", password=PASSWORD)
    assert again.returncode == 1 and "already voted" in again.stderr
    unknown = member_cli("ballot", "vote", ballot, "Zed", "--dir", d, "--as", "v1@leeds.org", password=PASSWORD)
    assert unknown.returncode == 1 and "not a candidate on this ballot: Zed" in unknown.stderr
    withdrawn = member_cli("election", "withdraw", "--dir", d, "--as", "v1@leeds.org", password=PASSWORD)
    assert withdrawn.returncode == 0 and "no longer stands" in withdrawn.stdout
