"""`branchnet selection` and `branchnet election`: a body's selection and a branch's delegate
election from the command line, with the same rules as the API and the pages, and one-line
errors naming what is wrong (the whole flow across nodes: tests/node/federation/test_elections.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from node.federation.acts import issue_charter
from node.service import Node
from node.storage.members import MemberIn
from protocol import SigningKey
from tests.node.cli.test_node_cli import branchnet
from tests.node.conftest import new_node_dir

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
