"""A regional selection across four branches, on real `branchnet serve` processes on 127.0.0.1,
driven over their HTTP APIs by the demo's own act (node/cli/demo_elections.py): a branch elects
its delegates; the region's selection takes nominations from all four branches (each with the
candidate's own consent), every branch's members rank on their own node, and the region counts.

Checked here, from the envelopes alone (fetched from the nodes, opened by the protocol): the
result is byte-identical on every node, cites one bundle from each of the four branches and
every ballot cast, and is exactly what the protocol's count of those bundles gives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.cli.demo import DEMO_ENV, RunningNode, build, demo_sign_in, stop_all, wait_until_converged
from node.cli.demo_elections import demo_elections
from node.rules.passwords import hash_password
from protocol import BallotPaper, Decision, Nomination, Selection, SelectionResult, open_envelope, parse_node_id
from protocol import selections as sel
from tests.node.processes import envelope_from

LAYOUT: list[tuple[str, str, str | None]] = [
    ("National Committee", "national", None),
    ("North Region", "region", "National Committee"),
    *((f"{town} Branch", "branch", "North Region") for town in ("Leeds", "York", "Hull", "Selby")),
]


@pytest.fixture
async def federation(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    nodes = await build(tmp_path, DEMO_ENV, LAYOUT)
    try:
        yield nodes
    finally:
        await stop_all(nodes)


@pytest.mark.slow  # ~25 s: five node processes: `make test-slow`, which CI runs after `make test`
async def test_a_regional_selection_across_four_branch_processes(federation: list[RunningNode]) -> None:
    nodes = federation
    assert await wait_until_converged(nodes, 60.0) is not None
    password_hash = await hash_password("correct horse battery staple")
    for n in nodes:
        await demo_sign_in(n, password_hash)
    done = await demo_elections(nodes, window_s=10.0, timeout_s=120.0)
    assert done.branches == ["Leeds Branch", "York Branch", "Hull Branch", "Selby Branch"]

    async def fetch(node: RunningNode, envelope_id: bytes | str) -> bytes:
        hexed = envelope_id if isinstance(envelope_id, str) else envelope_id.hex()
        return await envelope_from(node.url, hexed)

    raws = {await fetch(n, done.result) for n in nodes}
    assert len(raws) == 1, "the result differs between nodes"
    result_env = open_envelope(raws.pop())
    result = result_env.payload.body
    assert isinstance(result, SelectionResult)
    region = next(n for n in nodes if n.name == "North Region")
    selection_env = open_envelope(await fetch(region, done.selection))
    selection = selection_env.payload.body
    assert isinstance(selection, Selection) and result_env.author == selection_env.author
    paper_env = open_envelope(await fetch(region, result.paper))
    paper = paper_env.payload.body
    assert isinstance(paper, BallotPaper) and paper.selection == selection_env.id
    nominations = {}
    for n_id in paper.nominations:
        e = open_envelope(await fetch(region, n_id))
        assert isinstance(e.payload.body, Nomination) and e.payload.created <= selection.nominations_close
        nominations[e.id] = e.payload.body
    branches = {parse_node_id(n.node_id) for n in nodes if n.parent == "North Region"}
    bundles = [open_envelope(await fetch(region, b)) for b in result.bundles]
    assert {b.author for b in bundles} == branches  # one from each of the four branches
    ballots = 0
    for b in bundles:
        body = b.payload.body
        assert isinstance(body, Decision) and body.outcome == "bundled" and body.options == paper.candidates
        assert body.closed <= selection.voting_close
        ballots += len(body.receipts) // (8 + len(paper.candidates))
    assert ballots == result.ballots == done.ballots_cast
    signed = [sel.Signed(b.id, b.author, b.payload.created, b.payload.body) for b in bundles]
    again = sel.count_selection(selection_env.id, selection, paper_env.id, paper, signed,
                                sel.categories_of(paper, nominations))  # fmt: skip
    assert again == result
    assert len(result.winners) == 2 and sorted(result.balanced) == sorted(result.order)
