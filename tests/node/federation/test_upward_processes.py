"""Decisions go up across eight real `branchnet serve` processes on 127.0.0.1: a national node,
two regions, four branches and a youth section (the demo's layout), driven over their HTTP
APIs by the demo's own chain (node/cli/demo_upward.py): two branch motions submitted to
North and composited with both branches' consent, the question voted on in every branch and
the youth section, mandates, each region's aggregate, carried upward, the national aggregate;
a campaign notice with pledges from two other branches.

Checked here, from the envelopes alone (fetched from the nodes, opened by the protocol): each
aggregate is byte-identical on every node, and its totals are what a recount gives from the
mandates it cites and the weights of the rolls and delegate records signed before the item
opened; each mandate follows the decision (or aggregate) it cites.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from node.cli.demo import DEMO_ENV, LAYOUT, RunningNode, build, demo_sign_in, stop_all, wait_until_converged
from node.cli.demo_upward import demo_upward
from node.rules.passwords import hash_password
from protocol import AgendaItem, Aggregate, Decision, Delegates, Mandate, Roll, open_envelope, parse_node_id
from protocol import upward as up
from protocol.aggregates import Counted, totals
from tests.node.processes import envelope_from


@pytest.fixture
async def federation(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    nodes = await build(tmp_path, DEMO_ENV, LAYOUT)
    try:
        yield nodes
    finally:
        await stop_all(nodes)


async def fetch(http: aiohttp.ClientSession, node: RunningNode, envelope_id: str) -> bytes:
    return await envelope_from(node.url, envelope_id)


async def report(http: aiohttp.ClientSession, node: RunningNode, item: str, token: str) -> dict[str, Any]:
    async with http.get(f"{node.url}/api/v1/agenda/{item}", headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200
        answer: dict[str, Any] = await r.json()
        return answer


@pytest.mark.slow  # ~35 s: eight node processes: `make test-slow`, which CI runs after `make test`
async def test_decisions_go_up_across_eight_processes(federation: list[RunningNode]) -> None:
    nodes = federation
    assert [n.level for n in nodes].count("youth") == 1 and len(nodes) == 8
    assert await wait_until_converged(nodes, 60.0) is not None  # every node holds every charter
    password_hash = await hash_password("correct horse battery staple")
    for n in nodes:
        await demo_sign_in(n, password_hash)
    result = await demo_upward(nodes, window_s=10.0, timeout_s=120.0)
    by_name = {n.name: n for n in nodes}
    national = by_name["National Committee"]
    async with aiohttp.ClientSession() as http:
        token = await _token(national)
        for body, aggregate_id in result.aggregates.items():
            raws = {await fetch(http, n, aggregate_id) for n in nodes}
            assert len(raws) == 1, f"{body}'s aggregate differs between nodes"
            aggregate = open_envelope(raws.pop())
            a = aggregate.payload.body
            assert isinstance(a, Aggregate) and aggregate.id.hex() == aggregate_id
            item = open_envelope(await fetch(http, national, result.items[body]))
            agenda = item.payload.body
            assert isinstance(agenda, AgendaItem) and a.item == item.id
            # The cited mandates: the item's report names them; each is fetched and opened here.
            listed = (await report(http, national, result.items[body], token))["mandates"]
            mandates = [open_envelope(await fetch(http, national, m["id"])) for m in listed if m["counted"]]
            assert hashlib.sha256(b"".join(m.id for m in sorted(mandates, key=lambda m: m.id))).digest() == a.cited
            weights = await _weights(http, national, body, agenda, result, nodes)
            counted = []
            for m in mandates:
                mb = m.payload.body
                assert isinstance(mb, Mandate) and m.payload.created <= agenda.closes
                basis = open_envelope(await fetch(http, national, mb.basis.hex()))
                assert basis.author == m.author
                b = basis.payload.body
                outcome, counts = (b.outcome, list(b.counts)) if isinstance(b, Decision) else (b.outcome, b.votes)  # type: ignore[union-attr]
                assert up.follows(mb.position, mb.split, outcome, counts), (body, mb)
                counted.append(Counted(mb.position, weights[m.author], tuple(mb.split) if mb.split else None))  # type: ignore[arg-type]
            again = totals(counted, list(weights.values()), agenda.rules)
            assert (list(again.votes), again.weight_sent, again.weight_all, again.outcome) == (
                list(a.votes), a.weight_sent, a.weight_all, a.outcome), body  # fmt: skip
        # Every weighting rule was used, and the regions carried their aggregates upward.
        assert {a for a in ("North Region", "South Region", "National Committee")} == set(result.aggregates)
        national_report = await report(http, national, result.items["National Committee"], token)
        bases = {m["by"]: m["basis"] for m in national_report["mandates"] if m["counted"]}
        assert bases[by_name["North Region"].node_id] == result.aggregates["North Region"]
        assert bases[by_name["South Region"].node_id] == result.aggregates["South Region"]
        assert by_name["Youth Section"].node_id in bases
        # The campaign, on every node, with its two pledges from two other branches.
        async with http.get(f"{national.url}/api/v1/campaigns", headers={"Authorization": f"Bearer {token}"}) as r:
            listed = [c for c in await r.json() if c["id"] == result.campaign]
        assert [sorted(p["by_name"] for p in c["pledges"]) for c in listed] == [["Exeter Branch", "Leeds Branch"]]
        for n in nodes:
            assert open_envelope(await fetch(http, n, result.campaign)).kind == "campaign"


async def _token(running: RunningNode) -> str:
    from node.service import Node

    async with Node.opened(running.directory) as node:
        member = next(m for m in await node.members.list("active") if m.role == "secretary")
        return (await node.auth.create_token(member.id, "test"))[1]


async def _weights(http: aiohttp.ClientSession, node: RunningNode, body: str, agenda: AgendaItem, result: Any,
                   nodes: list[RunningNode]) -> dict[bytes, int]:  # fmt: skip
    """Each direct child's weight, from the roll or delegate record it signed before the item opened."""
    out: dict[bytes, int] = {}
    for child in (n for n in nodes if n.parent == body):
        key = parse_node_id(child.node_id)
        if agenda.weighting == "one_branch_one_vote":
            out[key] = 1
            continue
        signed = result.rolls[child.name] if agenda.weighting == "card_vote" else result.delegates[child.name]
        envelope = open_envelope(await fetch(http, node, signed))
        b = envelope.payload.body
        assert envelope.author == key and envelope.payload.created <= agenda.opens
        assert isinstance(b, Roll | Delegates)
        out[key] = b.count
    return out
