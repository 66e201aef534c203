"""The demo's acts of power, each by a vote (issue 24; docs/federation.md, "Authority"), over
the running nodes' HTTP APIs.

North's members revoke York Branch's charter (proposed by North's secretary; North's node
signs the revocation once the ballot is carried): it takes effect from York's next envelope,
so York's mandate stays counted in North's aggregate, which every node still recounts the
same. Then the national body puts a lower default quorum to its children (card vote, each
weighing its roll): two of three carry it, two thirds of the weight; the national node signs
the change and every node applies it.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from node.cli.demo_upward import Api, Result, RunningNode, _tokens, carried_act, decide_and_mandate, held, sent, until


async def put_rules_change(api: dict[str, Api], founder: RunningNode, children: Sequence[RunningNode],
                           changes: dict[str, Any], votes: dict[str, list[str]], window_s: float,
                           deadline: float) -> tuple[dict[str, Any], str]:  # fmt: skip
    """The founding body proposes ``changes``; each child's members vote ``votes`` on it and the
    child mandates (split by its vote where divided); the founding body aggregates after the
    deadline, and its node signs the change if carried. (The aggregate as reported, the item.)"""
    national = api[founder.name]
    closes = int((time.time() + window_s) * 1000)
    proposed = await national.call("POST", "/api/v1/rules/proposals", {"changes": changes, "closes": closes})
    item = proposed["item"]
    for child in children:
        choices = votes[child.name]
        await decide_and_mandate(api[child.name], item, choices, len(set(choices)) > 1, deadline)
    for child in children:
        await until(functools.partial(sent, national, item, child), f"{founder.name} to hold {child.name}'s mandate",
                    deadline)  # fmt: skip
    await asyncio.sleep(max(0.0, closes / 1000 - time.time()) + 0.1)  # aggregated after its deadline
    aggregated = await national.call("POST", f"/api/v1/agenda/{item}/aggregate")
    report = await national.call("GET", f"/api/v1/agenda/{item}")
    return next(x for x in report["aggregates"] if x["id"] == aggregated["id"]), item


async def demo_acts(nodes: Sequence[RunningNode], upward: Result, window_s: float = 10.0,
                    timeout_s: float = 90.0) -> list[str]:  # fmt: skip
    deadline = time.monotonic() + timeout_s
    lines: list[str] = []
    by_name = {n.name: n for n in nodes}
    national, north, york = by_name["National Committee"], by_name["North Region"], by_name["York Branch"]
    children = [n for n in nodes if n.parent == national.name]
    async with aiohttp.ClientSession() as http:
        api = {n.name: Api(http, n, *await _tokens(n)) for n in nodes}

        async def everywhere(envelope_id: str, what: str) -> None:
            for n in nodes:
                await held(api[n.name], envelope_id, what, deadline)

        # North's members revoke York's charter, from its next envelope.
        a = api[north.name]
        proposed = await a.call("POST", "/api/v1/revocations/proposals", {
            "node_id": york.node_id, "reason": "York Branch stopped meeting and asked to be wound up."})  # fmt: skip
        choices = ["for"] * 4 + ["against"]
        act = await carried_act(a, proposed, choices)
        await everywhere(act["signed"], "North's revocation of York")
        item, aggregate = upward.items[north.name], upward.aggregates[north.name]
        for n in nodes:  # York's mandate stays counted in North's aggregate, and it still adds up
            report = await api[n.name].call("GET", f"/api/v1/agenda/{item}")
            found = next(x for x in report["aggregates"] if x["id"] == aggregate)
            if found["findings"]:
                raise RuntimeError(f"{n.name}'s recount of North's aggregate after York's revocation: "
                                   f"{found['findings']}")  # fmt: skip
        lines.append(f"North's members revoked York Branch's charter, {choices.count('for')} votes to "
                     f"{choices.count('against')}; North's node signed it by itself. It takes effect from York's next "
                     "envelope: York's mandate stays counted in North's aggregate, which every node still recounts "
                     "the same")  # fmt: skip

        # The national body lowers the default quorum by a two-thirds vote of its children.
        for child in children:  # each weighs its roll (card vote, the rules' own weighting)
            await api[child.name].call("POST", "/api/v1/rolls")
        before = (await api[national.name].call("GET", "/api/v1/rules"))["rules"]["quorum"]
        third = {"num": 1, "den": 3}
        votes = {c.name: ["against"] * 6 if c.name == "South Region" else ["for"] * 6 for c in children}
        found, item = await put_rules_change(api, national, children, {"quorum": third}, votes, window_s, deadline)
        rules = await api[national.name].call("GET", "/api/v1/rules")
        change = next(c for c in rules["changes"] if c["item"] == item)
        if change["state"] != "signed":
            raise RuntimeError(f"the national body's change of the quorum was not signed: {change}")
        await everywhere(change["signed"], "the change of the rules")
        for n in nodes:
            now = (await api[n.name].call("GET", "/api/v1/rules"))["rules"]["quorum"]
            if now != third:
                raise RuntimeError(f"{n.name} does not apply the new quorum: {now}")
        votes_for, weight = found["votes"][0], found["weight_sent"]
        lines.append(f"the national body changed the default quorum from {before['num']}/{before['den']} to 1/3, "
                     f"carried by {votes_for} of {weight} of its children's weight (two thirds needed); its node "
                     f"signed the change and all {len(nodes)} nodes apply it")  # fmt: skip
    return lines
