"""`branchnet charter`, `revoke`, `rotate-key`, `peer` and `joins` on a node folder."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from protocol import SigningKey
from tests.node.conftest import new_node_dir


def branchnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=60)


def status(directory: Path) -> dict:  # type: ignore[type-arg]
    result = branchnet("status", "--dir", str(directory), "--json")
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.mark.slow  # ~20 s of command-line processes: `make test-slow`, which CI runs after `make test`
async def test_charter_revoke_and_rotate(tmp_path: Path) -> None:
    national = await new_node_dir(tmp_path, "National Committee", level="national")
    d = str(national)
    region = SigningKey.generate()
    ok = branchnet("charter", "--dir", d, "--node-id", region.node_id, "--name", "North", "--level", "region",
                   "--url", "https://north.example.org")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "chartered" in ok.stdout and status(national)["bodies"] == 2
    # The genesis rules: a national body charters regions and youth sections, not branches.
    refused = branchnet("charter", "--dir", d, "--node-id", SigningKey.generate().node_id, "--name", "B",
                        "--level", "branch")  # fmt: skip
    assert refused.returncode == 1 and "a national may not charter a branch" in refused.stderr
    bad_id = branchnet("charter", "--dir", d, "--node-id", "bn1nope", "--name", "X", "--level", "region")
    assert bad_id.returncode == 1 and "--node-id" in bad_id.stderr and "Traceback" not in bad_id.stderr
    again = branchnet("charter", "--dir", d, "--node-id", region.node_id, "--name", "North", "--level", "youth")
    assert again.returncode == 1 and "already chartered" in again.stderr
    assert status(national)["objects"] == 2  # genesis + one charter: refusals signed nothing

    revoked = branchnet("revoke", "--dir", d, "--node-id", region.node_id, "--reason", "test")
    assert revoked.returncode == 0, revoked.stderr
    stranger = branchnet("revoke", "--dir", d, "--node-id", SigningKey.generate().node_id)
    assert stranger.returncode == 1 and "not chartered here" in stranger.stderr

    old_id = branchnet("id", "--dir", d).stdout.strip()
    rotated = branchnet("rotate-key", "--dir", d)
    assert rotated.returncode == 0, rotated.stderr
    new_id = branchnet("id", "--dir", d).stdout.strip()
    assert new_id != old_id and new_id in rotated.stdout
    assert list(national.glob("node.key.retired-*"))
    after = status(national)
    assert after["node_id"] == new_id and after["chartered"]  # the new key speaks for the body
    # ...and it still may act: its first own envelope is a charter.
    child = SigningKey.generate()
    ok = branchnet("charter", "--dir", d, "--node-id", child.node_id, "--name", "South", "--level", "region")
    assert ok.returncode == 0, ok.stderr
    assert status(national)["heads"][new_id] == 1


async def test_peers_and_joins(tmp_path: Path) -> None:
    d = str(await new_node_dir(tmp_path))
    assert branchnet("peer", "add", "https://north.example.org/", "--dir", d).returncode == 0
    bad = branchnet("peer", "add", "ftp://north.example.org", "--dir", d)
    assert bad.returncode == 1 and "only http and https" in bad.stderr
    listed = branchnet("peer", "list", "--dir", d)
    assert listed.stdout.strip() == "https://north.example.org  (seed)"
    # Options and arguments in any order, as for `member add --dir X`.
    assert branchnet("peer", "add", "--dir", d, "https://south.example.org").returncode == 0
    assert branchnet("peer", "remove", "--dir", d, "https://north.example.org/").returncode == 0
    assert branchnet("peer", "list", "--dir", d).stdout.strip() == "https://south.example.org  (seed)"
    gone = branchnet("peer", "remove", "https://north.example.org", "--dir", d)
    assert gone.returncode == 1 and "no peer https://north.example.org" in gone.stderr
    assert branchnet("joins", "list", "--dir", d).stdout == ""
    made = branchnet("joins", "code", "--dir", d)  # a one-time join code for an expected node
    assert made.returncode == 0 and re.search(r"join code .*: [a-z2-7]{6}(-[a-z2-7]{6}){3}\n", made.stdout), made
    for args in (("joins", "approve", "7", "--dir", d), ("joins", "approve", "--dir", d, "7")):
        missing = branchnet(*args)
        assert missing.returncode == 1 and "no join request 7" in missing.stderr
