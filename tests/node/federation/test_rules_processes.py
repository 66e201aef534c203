"""The federation's rules change by its members, across four real `branchnet serve` processes
on 127.0.0.1 (issue 24): a national body and three regions, driven over their HTTP APIs.

National's secretary proposes a lower default quorum; each region's members vote on the
question and the region sends its mandate (card vote: each region weighs its roll of 7);
national aggregates after the deadline and its node signs the change by itself. Carried by two
regions of three (14 of 21, two thirds), it applies on every node: a ballot opened after it
takes the new default. A second change carried by 13 of 21 (62 %) is refused by national's own
node, which signs nothing; signed anyway with national's key (a dishonest officer at the
server), it is refused by every other node with ``below_amendment``, and the rules stay.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from node.cli.demo import RunningNode, demo_sign_in, wait_until_converged
from node.cli.demo_acts import put_rules_change
from node.cli.demo_upward import Api, _tokens, held, until
from node.rules.passwords import hash_password
from node.service import Node
from protocol import Ratio, RulesChange
from tests.node.processes import running

LAYOUT = [
    ("National Committee", "national", None),
    ("North Region", "region", "National Committee"),
    ("South Region", "region", "National Committee"),
    ("East Region", "region", "National Committee"),
]
WINDOW_S = 20.0  # long enough for three regions to vote and mandate on a loaded machine


@pytest.fixture
async def federation(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    async with running(tmp_path, LAYOUT) as nodes:
        yield nodes


async def put_to_the_regions(api: dict[str, Api], nodes: list[RunningNode], changes: dict[str, Any],
                             votes: dict[str, list[str]], deadline: float) -> tuple[dict[str, Any], str]:  # fmt: skip
    """National proposes ``changes`` (checked as proposed); the regions vote and mandate; national
    aggregates (the demo's own steps, node/cli/demo_acts.py)."""
    found, item = await put_rules_change(api, nodes[0], nodes[1:], changes, votes, WINDOW_S, deadline)
    put = next(c for c in (await rules_of(api[nodes[0].name]))["changes"] if c["item"] == item)
    assert put["text"].startswith("Change the federation's rules to:") and put["state"] != "open"
    return found, item


async def rules_of(a: Api) -> dict[str, Any]:
    answer: dict[str, Any] = await a.call("GET", "/api/v1/rules")
    return answer


async def refused_here(http: aiohttp.ClientSession, node: RunningNode) -> bool:
    async with http.get(f"{node.url}/metrics") as r:
        text = await r.text()
    return 'outcome="rejected"' in text and 'code="below_amendment"' in text


@pytest.mark.slow  # ~40 s of four node processes: `make test-slow`, which CI runs after `make test`
async def test_a_change_carried_by_two_thirds_applies_everywhere_and_one_by_62_percent_nowhere(
        federation: list[RunningNode]) -> None:  # fmt: skip
    nodes = federation
    deadline = time.monotonic() + 240
    assert await wait_until_converged(nodes, 60.0) is not None
    password_hash = await hash_password("correct horse battery staple")
    for n in nodes:
        await demo_sign_in(n, password_hash)
    async with aiohttp.ClientSession() as http:
        api = {n.name: Api(http, n, *await _tokens(n)) for n in nodes}
        for region in nodes[1:]:  # each region's weight: its roll of 7 (the secretary and six members)
            await api[region.name].call("POST", "/api/v1/rolls")
        old = await rules_of(api["National Committee"])
        assert old["rules"]["quorum"] == {"num": 1, "den": 4} and len(old["history"]) == 1

        # 1. Two regions of three for it: 14 of 21, exactly two thirds. Carried: signed, applied everywhere.
        third = {"num": 1, "den": 3}
        found, item = await put_to_the_regions(api, nodes, {"quorum": third}, {
            "North Region": ["for"] * 6, "South Region": ["for"] * 6, "East Region": ["against"] * 6}, deadline)
        assert (found["votes"], found["weight_sent"], found["weight_all"]) == ([14, 7, 0], 21, 21)
        assert found["outcome"] == "carried" and found["findings"] == []
        change = await rules_of(api["National Committee"])
        signed = next(c for c in change["changes"] if c["item"] == item)
        assert signed["state"] == "signed" and signed["signed"], signed
        for n in nodes:
            a = api[n.name]
            await held(a, signed["signed"], "the rules change", deadline)
            now = await rules_of(a)
            assert now["rules"]["quorum"] == third and now["history"][-1]["envelope"] == signed["signed"], n.name
            # from its envelope on: a ballot opened now takes the new default quorum
            ballot = await a.call("POST", "/api/v1/ballots", {"motion": "m", "subject": "After", "text": "After."})
            assert ballot["rules"]["quorum"] == third, (n.name, ballot["rules"])

        # 2. 13 of 21 (62 %): a majority, below two thirds. National's node refuses it and signs nothing.
        fifth = {"num": 1, "den": 5}
        found, item = await put_to_the_regions(api, nodes, {"quorum": fifth}, {
            "North Region": ["for"] * 6, "South Region": ["for"] * 5 + ["against"],
            "East Region": ["against"] * 6}, deadline)  # South: 7 split 6/1 (its secretary does not vote)
        assert found["votes"][0] * 3 < 2 * sum(found["votes"]) and found["votes"][0] * 2 > sum(found["votes"])
        refused = next(c for c in (await rules_of(api["National Committee"]))["changes"] if c["item"] == item)
        assert refused["state"] == "refused" and refused["why"].startswith("below_amendment"), refused
        # A dishonest officer signs it anyway with national's key, at its server: every other node refuses it.
        aggregate = bytes.fromhex(found["id"])
        national = nodes[0]
        async with Node.opened(national.directory) as node:
            trust = node.federation_state.trust
            assert trust is not None
            rules = msgspec.structs.replace(trust.rules, quorum=Ratio(num=1, den=5))
            forced = await node.own_log.append(RulesChange(rules=rules, aggregate=aggregate))
        for region in nodes[1:]:
            await until(functools.partial(refused_here, http, region), f"{region.name} to refuse it", deadline)
        for n in nodes:
            after = await rules_of(api[n.name])
            assert after["rules"]["quorum"] == third and len(after["history"]) == 2, n.name
            assert forced.id.hex() not in [h["envelope"] for h in after["history"]]
