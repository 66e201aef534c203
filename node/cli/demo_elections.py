"""The demo's third act: members elect, over the running nodes' HTTP APIs.

A branch's members stand as delegates to their region and elect two by Scottish STV; the
record citing the decision replaces the officers'. Then the region selects a two-seat slate
across all its branches: one member of each branch stands (with a declared category, for
the alternating list the selection declares), the branch nominates them, the region fixes
the ballot paper once nominations close, every branch's members rank the candidates on their
own node, each branch's decision carries its anonymised ballots, and the region counts them
all. Every node holds the same signed result, and each node's own recount agrees.
``tests/node/federation/test_election_processes.py`` runs the same act and recounts the result
from the envelopes alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp

from node.cli.demo_upward import Api, RunningNode, _tokens, held, until
from protocol import Decision, open_envelope, parse_node_id

CANDIDATES = [("Asha Patel", "woman"), ("Ben Okafor", "man"), ("Cara Lewis", "woman"), ("Dev Sharma", "man"),
              ("Ella Byrne", "woman"), ("Finn Walsh", "man")]  # fmt: skip


@dataclass
class Elected:
    lines: list[str] = field(default_factory=list)
    delegates: str = ""  # the decision that elected the branch's delegates
    selection: str = ""
    result: str = ""
    ballots_cast: int = 0
    branches: list[str] = field(default_factory=list)


def rankings(own: int, count: int, voters: int) -> list[list[int]]:
    """How a branch's members rank the candidates (indices on the paper, by name: the demo's
    are in name order): mostly their own first, then around."""
    out = []
    for v in range(voters):
        first = own if v % 3 else (own + 1) % count
        order = [first, *((first + k) % count for k in range(1, count))]
        out.append(order[: 1 + v % count])  # some rank one, some all
    return out


async def demo_elections(nodes: Sequence[RunningNode], window_s: float = 10.0, timeout_s: float = 90.0) -> Elected:
    deadline = time.monotonic() + timeout_s
    out = Elected()
    region = next(n for n in nodes if n.level == "region")
    branches = [n for n in nodes if n.parent == region.name][: len(CANDIDATES)]
    async with aiohttp.ClientSession() as http:
        api = {n.name: Api(http, n, *await _tokens(n)) for n in [region, *branches]}

        # A branch elects its two delegates to the region: three members stand; STV.
        first = api[branches[0].name]
        statements = ("I will report back after every meeting.", "Housing first.", "For a members' voice.")
        contest = f"delegates:{_hex(region.node_id)}"
        for token, statement in zip(first.voters[:3], statements, strict=True):
            me = await first.call("GET", "/api/v1/me", token=token)
            stand = {"contest": contest, "name": me["name"], "statement": statement}
            await first.call("POST", "/api/v1/candidacies", stand, token=token)
        ballot = await first.call("POST", "/api/v1/elections/delegates", {"seats": 2})
        names = ballot["options"]
        cast = 0
        patterns = [[0, 1], [0, 2], [1, 0], [1], [2, 1], [0], [0, 1, 2], [2]]
        for k, token in enumerate(first.voters):  # every member votes: the federation's quorum applies
            ranking = patterns[k % len(patterns)]
            await first.call("POST", f"/api/v1/ballots/{ballot['id']}/votes",
                             {"choice": [names[i] for i in ranking]}, token=token)  # fmt: skip
            cast += 1
        closed = await first.call("POST", f"/api/v1/ballots/{ballot['id']}/close")
        async with http.get(f"{branches[0].url}/api/v1/envelopes/{closed['decision']}") as r:
            body = open_envelope(await r.read()).payload.body
        assert isinstance(body, Decision)
        elected = [body.options[i] for i in body.chosen]
        if body.outcome != "elected":
            raise RuntimeError(f"{branches[0].name}'s delegate election came out {body.outcome}")
        out.delegates = closed["decision"]
        out.lines.append(
            f"{branches[0].name} elected its delegates to {region.name} by STV: {', '.join(elected)} "
            f"({cast} ranked ballots, {len(names)} standing); its node recorded them, citing the election"
        )

        # The region selects a two-seat slate across its branches.
        now = int(time.time() * 1000)
        window = int(window_s * 1000)
        selection = (await api[region.name].call("POST", "/api/v1/selections", {
            "office": "Regional executive", "seats": 2, "nominations_close": now + window,
            "voting_close": now + 2 * window, "balancing": "alternate",
            "text": "Two members to the regional executive, chosen by every branch's members."}))["id"]  # fmt: skip
        out.selection = selection
        per = -(-4 // len(branches))  # at least four candidates for the two seats
        for i, b in enumerate(branches):
            a = api[b.name]
            await held(a, selection, "the selection", deadline)
            for j in range(per):
                name, category = CANDIDATES[(i * per + j) % len(CANDIDATES)]
                stand = {"contest": f"selection:{selection}", "name": name, "statement": f"{name} for the executive.",
                         "category": category}  # fmt: skip
                stood = await a.call("POST", "/api/v1/candidacies", stand, token=a.voters[-1 - j])
                await a.call("POST", f"/api/v1/selections/{selection}/nominations", {"member": stood["member"]})
        region_api = api[region.name]
        candidates = per * len(branches)

        async def nominated() -> bool:
            shown = await region_api.call("GET", f"/api/v1/selections/{selection}")
            return len(shown["nominations"]) == candidates

        await until(nominated, f"{region.name} to hold every nomination", deadline)
        await until(lambda: _past(now + window), "nominations to close", deadline)
        paper = (await region_api.call("POST", f"/api/v1/selections/{selection}/paper"))["id"]
        ballots = {}
        for i, b in enumerate(branches):
            a = api[b.name]
            await held(a, paper, "the ballot paper", deadline)
            opened = await a.call("POST", f"/api/v1/selections/{selection}/ballot")
            ballots[b.name] = opened["id"]
            for token, ranking in zip(a.voters, rankings(i * per, candidates, len(a.voters)), strict=False):
                await a.call("POST", f"/api/v1/ballots/{opened['id']}/votes",
                             {"choice": [opened["options"][c] for c in ranking]}, token=token)  # fmt: skip
                out.ballots_cast += 1
        await until(lambda: _past(now + 2 * window), "voting to close", deadline)
        bundles = []
        for b in branches:  # each branch's node closes its ballot at the voting close, by itself
            bundles.append(await closed_by_itself(api[b.name], ballots[b.name], deadline))
        for bundle in bundles:
            await held(region_api, bundle, "every branch's ballots", deadline)
        result = (await region_api.call("POST", f"/api/v1/selections/{selection}/result"))["id"]
        out.result = result
        out.branches = [b.name for b in branches]
        agree = 0
        for n in nodes:
            a = Api(http, n, *await _tokens(n)) if n.name not in api else api[n.name]
            await held(a, result, "the result", deadline)
            shown = await a.call("GET", f"/api/v1/selections/{selection}")
            (counted,) = shown["results"]
            if counted["id"] != result or counted["findings"]:
                raise RuntimeError(f"{n.name}: the result's recount does not agree: {counted['findings']}")
            agree += 1
        listed = ", ".join(counted["balanced"] or counted["order"])
        out.lines.append(
            f"{region.name} selected its executive across {len(branches)} branches by STV: "
            f"{', '.join(counted['winners'])} ({counted['ballots']} ranked ballots, quota "
            f"{counted['quota']}; the list, balanced: {listed}); all {agree} nodes' recounts agree"
        )
    return out


def _hex(node_id: str) -> str:
    return parse_node_id(node_id).hex()


async def closed_by_itself(api: Api, ballot_id: int, deadline: float) -> str:
    """The decision of a ballot its node closes at its closing time (waited for, bounded)."""
    found: list[str] = []

    async def done() -> bool:
        row = await api.call("GET", f"/api/v1/ballots/{ballot_id}")
        if row["state"] == "closed" and row["decision"]:
            found.append(row["decision"])
        return bool(found)

    await until(done, f"{api.running.name} to close its ballot at its closing time", deadline)
    return found[0]


async def _past(ms: int) -> bool:
    return time.time() * 1000 > ms
