"""The demo's second act: decisions go up across the running nodes, over their HTTP APIs.

Leeds and York carry motions for North and submit them; North composites them and both
consent; the national body tables the question (weighted by delegates), North tables the
composite (card vote, by the branches' rolls) and South the same text (one branch one vote);
every branch votes on its region's item and sends its mandate (Exeter a split card vote);
the youth section votes on the national item directly; each region aggregates after its
deadline and carries the result upward as its mandate; the national body aggregates; every
node recounts every aggregate and finds nothing wrong. Then Bristol publishes a campaign
notice and two other branches pledge support. ``tests/node/federation/test_upward_processes.py``
runs the same chain and checks each total against its own recount.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from node.service import Node


class RunningNode(Protocol):
    """A node the demo started (node.cli.demo.RunningNode)."""

    name: str
    level: str
    parent: str | None
    directory: Path
    url: str
    node_id: str


class Api:
    """One node's API, as its secretary and its members."""

    def __init__(self, http: aiohttp.ClientSession, running: RunningNode, officer: str, voters: list[str]) -> None:
        self.http, self.running, self.officer, self.voters = http, running, officer, voters

    async def call(self, method: str, path: str, body: object = None, token: str | None = None,
                   ok: tuple[int, ...] = (200, 201)) -> Any:  # fmt: skip
        headers = {"Authorization": f"Bearer {token or self.officer}"}
        async with self.http.request(method, self.running.url + path, json=body, headers=headers) as r:
            answer = await r.json()
            if r.status not in ok:
                raise RuntimeError(f"{self.running.name}: {method} {path}: {r.status} {answer}")
            return answer

    async def holds(self, envelope_id: str) -> bool:
        async with self.http.get(f"{self.running.url}/api/v1/envelopes/{envelope_id}") as r:
            return r.status == 200


async def _tokens(running: RunningNode) -> tuple[str, list[str]]:
    """The secretary's token and each ordinary member's (the demo's own members)."""
    async with Node.opened(running.directory) as node:
        members = await node.members.list("active")
        officer = next(m for m in members if m.role == "secretary")
        token = (await node.auth.create_token(officer.id, "demo"))[1]
        voters = [(await node.auth.create_token(m.id, "demo"))[1] for m in members if m.role == "member"]
    return token, voters


async def until(check: Callable[[], Awaitable[bool]], what: str, deadline: float) -> None:
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting: {what}")
        await asyncio.sleep(0.2)


async def carried_act(api: Api, proposed: dict[str, Any], choices: list[str]) -> dict[str, Any]:
    """An act of power put to ``api``'s members (``proposed``: the answer of a POST .../proposals):
    they vote ``choices``, the secretary closes the ballot, and the node signs the act by itself
    once carried (docs/federation.md, "Authority"); the act as GET /api/v1/acts lists it."""
    ballot = proposed["ballot"]
    for token, choice in zip(api.voters, choices, strict=False):
        await api.call("POST", f"/api/v1/ballots/{ballot}/votes", {"choice": choice}, token=token)
    await api.call("POST", f"/api/v1/ballots/{ballot}/close")
    act: dict[str, Any] = next(x for x in await api.call("GET", "/api/v1/acts") if x["ballot"] == ballot)
    if act["state"] != "signed":
        raise RuntimeError(f"{api.running.name}: the act its members voted on was not signed: {act}")
    return act


async def held(api: Api, envelope_id: str, what: str, deadline: float) -> None:
    await until(functools.partial(api.holds, envelope_id), f"{api.running.name} to hold {what}", deadline)


async def decide_and_mandate(a: Api, item: str, choices: Sequence[str], split: bool, deadline: float) -> None:
    """A body's members vote on its parent's item, then the body sends its mandate (``split``:
    its weight split as they voted)."""
    await held(a, item, "its parent's item", deadline)
    ballot = await a.call("POST", f"/api/v1/agenda/{item}/ballot")
    for token, choice in zip(a.voters, choices, strict=False):
        await a.call("POST", f"/api/v1/ballots/{ballot['id']}/votes", {"choice": choice}, token=token)
    await a.call("POST", f"/api/v1/ballots/{ballot['id']}/close")
    await a.call("POST", f"/api/v1/agenda/{item}/mandate", {"split": split})


@dataclass
class Result:
    lines: list[str] = field(default_factory=list)
    rolls: dict[str, str] = field(default_factory=dict)  # branch -> roll envelope id
    delegates: dict[str, str] = field(default_factory=dict)  # region or section -> its delegates record
    items: dict[str, str] = field(default_factory=dict)  # body -> its agenda item
    aggregates: dict[str, str] = field(default_factory=dict)  # body -> its aggregate
    campaign: str = ""


TEXT = ("North calls for a four-day, 32-hour working week without loss of pay, and asks the "
        "national body to make it policy.")  # fmt: skip
# How each body's members vote on the question (its members in order; the rest do not vote).
VOTES = {
    "Leeds Branch": ["for"] * 9 + ["against"] * 3,
    "York Branch": ["against", "against", "for"],
    "Bristol Branch": ["for", "for", "for", "abstain"],
    "Exeter Branch": ["for", "against", "against", "for", "for"],
    "Youth Section": ["for", "for", "for", "for", "for", "against"],
}


async def demo_upward(nodes: Sequence[RunningNode], window_s: float = 10.0, timeout_s: float = 90.0) -> Result:
    deadline = time.monotonic() + timeout_s
    result = Result()
    by_level: dict[str, list[RunningNode]] = {}
    for n in nodes:
        by_level.setdefault(n.level, []).append(n)
    national, regions = by_level["national"][0], by_level["region"]
    youth = by_level.get("youth", [])
    branches = {r.name: [n for n in nodes if n.parent == r.name] for r in regions}
    north, south = regions[0], regions[1]
    async with aiohttp.ClientSession() as http:
        api = {n.name: Api(http, n, *await _tokens(n)) for n in nodes}

        async def everywhere(envelope_id: str, what: str) -> None:
            for n in nodes:
                await held(api[n.name], envelope_id, what, deadline)

        # Two branches carry motions for North and submit them; North composites them; both consent.
        sources = []
        for b, title in zip(branches[north.name], ("Four-day week", "32-hour week"), strict=False):
            a = api[b.name]
            proposed = {"title": title, "text": f"{title} for all.", "for_body": north.node_id}
            motion = await a.call("POST", "/api/v1/motions", proposed, token=a.voters[0])
            await a.call("POST", f"/api/v1/motions/{motion['id']}/admit")
            ballot = await a.call("POST", f"/api/v1/motions/{motion['id']}/ballot")
            for token in a.voters[:4]:
                await a.call("POST", f"/api/v1/ballots/{ballot['id']}/votes", {"choice": "for"}, token=token)
            await a.call("POST", f"/api/v1/ballots/{ballot['id']}/close")
            sources.append((await a.call("POST", "/api/v1/submissions", {"motion": motion["id"]}))["id"])
        for s in sources:
            await held(api[north.name], s, "the submissions", deadline)
        proposal = {"title": "Working time", "text": TEXT, "sources": sources}
        composite = (await api[north.name].call("POST", "/api/v1/composites", proposal))["id"]
        for b in branches[north.name]:
            await held(api[b.name], composite, "the composite", deadline)
            await api[b.name].call("POST", f"/api/v1/composites/{composite}/answer", {"answer": "consent"})
        result.lines.append(f"North composited motions from {' and '.join(b.name for b in branches[north.name])}; "
                            "both consented")  # fmt: skip

        # Weights: every branch signs a roll (card votes: Leeds has taken in 25 more members first),
        # regions and the youth section record their delegates (an officers' record: each put to its members).
        leeds = branches[north.name][0]
        rows = "".join(f"Member {i},new{i}@{leeds.name.split()[0].lower()}.example\n" for i in range(25))
        async with http.post(f"{leeds.url}/api/v1/members/import?skip_bad=1", data=("name,email\n" + rows).encode(),
                             headers={"Authorization": f"Bearer {api[leeds.name].officer}",
                                      "Content-Type": "text/csv"}) as r:  # fmt: skip
            if r.status != 200:
                raise RuntimeError(f"{leeds.name}: importing members: {r.status} {await r.text()}")
        api[leeds.name] = Api(http, leeds, *await _tokens(leeds))  # its new members vote too
        for b in (b for bs in branches.values() for b in bs):
            result.rolls[b.name] = (await api[b.name].call("POST", "/api/v1/rolls"))["decision"]
        for body, count in zip([*regions, *youth], (3, 2, 1), strict=False):  # each by its members' vote
            proposed = await api[body.name].call("POST", "/api/v1/delegates/proposals",
                                                 {"count": count, "names": ["Sam Porter"]})  # fmt: skip
            result.delegates[body.name] = (await carried_act(api[body.name], proposed, ["for"] * 4))["signed"]

        # The question, tabled by the national body and by both regions (North: the composite).
        started = time.time()
        result.items[national.name] = (await api[national.name].call("POST", "/api/v1/agenda", {
            "title": "Working time", "text": TEXT, "closes": int((started + 2.5 * window_s) * 1000),
            "weighting": "delegates"}))["id"]  # fmt: skip
        closes = int((started + window_s) * 1000)
        while True:  # until North holds both consents
            tabled = {"composite": composite, "closes": closes, "weighting": "card_vote"}
            answer = await api[north.name].call("POST", "/api/v1/agenda", tabled, ok=(201, 409))
            if "id" in answer:
                result.items[north.name] = answer["id"]
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"North could not table the composite: {answer}")
            await asyncio.sleep(0.2)
        tabled = {"title": "Working time", "text": TEXT, "closes": closes, "weighting": "one_branch_one_vote"}
        result.items[south.name] = (await api[south.name].call("POST", "/api/v1/agenda", tabled))["id"]

        for region in regions:
            for b in branches[region.name]:
                await decide_and_mandate(api[b.name], result.items[region.name], VOTES[b.name],
                                         b.name == "Exeter Branch", deadline)  # fmt: skip
        for y in youth:
            await decide_and_mandate(api[y.name], result.items[national.name], VOTES[y.name], False, deadline)

        async def aggregate(body: RunningNode) -> dict[str, Any]:
            item = result.items[body.name]
            for b in nodes:  # every mandate on the item reaches the body before it counts
                if b.parent == body.name:
                    mandated = functools.partial(sent, api[body.name], item, b)
                    await until(mandated, f"{body.name} to hold {b.name}'s mandate", deadline)
            while True:
                answer = await api[body.name].call("POST", f"/api/v1/agenda/{item}/aggregate", ok=(201, 409))
                if "id" in answer:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{body.name} could not aggregate: {answer}")
                await asyncio.sleep(0.25)
            result.aggregates[body.name] = answer["id"]
            await everywhere(answer["id"], f"{body.name}'s aggregate")
            for n in nodes:  # every node recounts it, and finds it adds up
                report = await api[n.name].call("GET", f"/api/v1/agenda/{item}")
                found = next(x for x in report["aggregates"] if x["id"] == answer["id"])
                if found["findings"]:
                    raise RuntimeError(f"{n.name}'s recount of {body.name}'s aggregate: {found['findings']}")
            votes = found["votes"]
            result.lines.append(f"{body.name} ({found['weighting']}): {found['outcome']}; for {votes[0]}, against "
                                f"{votes[1]}, abstain {votes[2]}; {found['children_sent']} of {found['children_all']} "
                                "children sent mandates; every node's recount agrees")  # fmt: skip
            return dict(found)

        for region in regions:
            await aggregate(region)
            await api[region.name].call("POST", f"/api/v1/agenda/{result.items[national.name]}/mandate", {})
        await aggregate(national)

        # A campaign notice, and pledges from two other branches, seen on every node.
        bristol, others = branches[south.name][0], [branches[north.name][0], branches[south.name][-1]]
        result.campaign = (await api[bristol.name].call("POST", "/api/v1/campaigns", {
            "title": "Support the Bristol bus strike", "text": "Drivers are on strike from Monday for a fair wage.",
            "asks": "Visit the picket line at the depot; give to the hardship fund.",
            "contact": "Bristol Branch secretary, through the branch"}))["id"]  # fmt: skip
        for b in others:
            await held(api[b.name], result.campaign, "the campaign", deadline)
            await api[b.name].call("POST", f"/api/v1/campaigns/{result.campaign}/pledges",
                                   {"text": f"{b.name} will send members to the picket line."})  # fmt: skip
        for n in nodes:
            pledged = functools.partial(_pledged, api[n.name], result.campaign, len(others))
            await until(pledged, f"{n.name} to list the pledges", deadline)
        result.lines.append(f"{bristol.name} published a campaign notice; {len(others)} branches pledged support, "
                            f"listed on all {len(nodes)} nodes")  # fmt: skip
    return result


async def sent(api: Api, item: str, child: RunningNode) -> bool:
    """Whether ``child``'s mandate on ``item`` is held by ``api``'s node and counts."""
    report = await api.call("GET", f"/api/v1/agenda/{item}")
    return any(m["by"] == child.node_id and m["counted"] for m in report["mandates"])


async def _pledged(api: Api, campaign: str, count: int) -> bool:
    listed = await api.call("GET", "/api/v1/campaigns")
    return any(c["id"] == campaign and len(c["pledges"]) >= count for c in listed)
