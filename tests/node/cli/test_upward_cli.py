"""`branchnet agenda`, `delegates`, `campaign`: decisions going up from the command line, with
the same rules as the API and the pages, and one-line errors naming what is wrong."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from node.service import Node
from node.storage.members import MemberIn
from tests.node.cli.test_node_cli import branchnet
from tests.node.conftest import new_node_dir

AS = ("--as", "sec@national.example")


@pytest.mark.slow  # ~20 s of command-line processes: `make test-slow`, which CI runs after `make test`
async def test_an_officer_tables_a_question_and_publishes_a_campaign(tmp_path: Path) -> None:
    d = str(await new_node_dir(tmp_path, "National Committee", level="national"))
    async with Node.opened(Path(d)) as node:
        await node.members.add(MemberIn(name="Sec", email="sec@national.example", role="secretary"))
    tabled = branchnet("agenda", "table", "--dir", d, "--title", "Rent caps", "--text", "We back rent caps.",
                       "--closes", "+2h", "--weighting", "one_branch_one_vote", *AS)  # fmt: skip
    assert tabled.returncode == 0, tabled.stderr
    item = re.search(r"agenda item signed: ([0-9a-f]{64})", tabled.stdout).group(1)  # type: ignore[union-attr]
    listed = branchnet("agenda", "list", "--dir", d)
    assert listed.returncode == 0 and "Rent caps" in listed.stdout and "one_branch_one_vote" in listed.stdout
    shown = branchnet("agenda", "show", item[:10], "--dir", d, "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["item"]["title"] == "Rent caps" and report["findings"] == [] and report["aggregates"] == []
    # Refusals: one line, exit 1, nothing signed.
    for args, words in [
        (("agenda", "aggregate", item, *AS), "open for mandates until its deadline"),
        (("agenda", "mandate", item, *AS), "only a direct child"),
        (("delegates", "--count", "2", *AS), "no body above it"),
        (("agenda", "show", "zz"), "is not an id"),
        (("agenda", "show", "0123456789abcdef"), "no single agenda item"),
        (("agenda", "table", "--title", "T", "--text", "x", "--closes", "+1h", "--as", "nobody@example.org"),
         "no member with email"),
    ]:
        refused = branchnet(*args, "--dir", d)
        assert refused.returncode == 1 and words in refused.stderr, (args, refused.stderr)
        assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    bad_time = branchnet("agenda", "table", "--dir", d, "--title", "T", "--text", "x", "--closes", "tomorrow", *AS)
    assert bad_time.returncode == 2 and "is not a time" in bad_time.stderr
    published = branchnet("campaign", "publish", "--dir", d, "--title", "Support the bin strike", "--text",
                          "On strike from Monday.", "--asks", "Visit the picket line.", *AS)  # fmt: skip
    assert published.returncode == 0, published.stderr
    listed = branchnet("campaign", "list", "--dir", d)
    assert "National Committee: Support the bin strike" in listed.stdout
    assert "asks: Visit the picket line." in listed.stdout
    campaign_id = published.stdout.split("signed: ")[1].split()[0]
    withdrawn = branchnet("campaign", "withdraw", campaign_id[:12], "--dir", d, "--reason", "We won.", *AS)
    assert withdrawn.returncode == 0 and withdrawn.stdout.startswith("withdrawal signed: "), withdrawn.stderr
    again = branchnet("campaign", "withdraw", campaign_id, "--dir", d, *AS)
    assert again.returncode == 1 and "withdrawn already" in again.stderr and "Traceback" not in again.stderr
    assert "Support the bin strike  (withdrawn: We won.)" in branchnet("campaign", "list", "--dir", d).stdout
    async with Node.opened(Path(d)) as node:
        kinds = [k for k in ("agenda_item", "campaign", "aggregate", "mandate", "delegates", "withdrawal")
                 if await node.envelopes.own_of_kind(node.key.public, k)]  # fmt: skip
    assert kinds == ["agenda_item", "campaign", "withdrawal"]


async def test_a_delegates_record_is_put_to_the_members_from_the_command_line(tmp_path: Path) -> None:
    from tests.node.federation.test_upward import Clock, Federation

    fed = Federation(Clock())
    await fed.add(tmp_path, "national", "national", None)
    await fed.add(tmp_path, "north", "region", "national")
    await fed.close()
    d = str(tmp_path / "north")
    proposed = branchnet("delegates", "--dir", d, "--count", "2", "--name", "Ann Lee", "--propose",
                         "--as", "sec@north.org")  # fmt: skip
    assert proposed.returncode == 0, proposed.stderr
    assert "opened for the members on: Send 2 delegates to national" in proposed.stdout and "Ann Lee" in proposed.stdout
    async with Node.opened(Path(d)) as node:  # nothing signed before the members' vote
        assert await node.envelopes.own_of_kind(node.key.public, "delegates") == []
        (act,) = await node.acts.recent()
        assert (act.kind, act.state) == ("delegates", "voting")
