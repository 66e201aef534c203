"""Hold the count across real processes (issue 21): a national node, a region and a branch
(the fixture of test_decision_processes). In the branch, four officers press "Close and count"
on one ballot at the same moment, and a member presents another member's receipt to change
that vote. Every node ends holding exactly one decision on the ballot, in which each member's
vote counts once, as cast.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from node.cli.demo import RunningNode
from node.service import Node
from node.storage.members import MemberIn
from protocol import Decision, open_envelope, parse_node_id
from tests.node.federation.test_decision_processes import RecordingProxy
from tests.node.federation.test_decision_processes import federation as federation  # the fixture
from tests.node.processes import held_everywhere


async def test_four_officers_close_at_once_and_a_borrowed_receipt_changes_nothing(
    federation: tuple[list[RunningNode], list[RecordingProxy]],
) -> None:
    nodes, _ = federation
    branch = nodes[-1]
    async with Node.opened(branch.directory) as node:  # as `branchnet member add` beside the server
        officers = [await node.members.add(MemberIn(name=f"Officer {i}", email=f"officer{i}@example.org",
                                                    role="secretary")) for i in range(4)]  # fmt: skip
        a, b, c = [await node.members.add(MemberIn(name=n, email=f"{n.lower()}@example.org")) for n in "ABC"]
        officer_tokens = [(await node.auth.create_token(o.id, "test"))[1] for o in officers]
        token = {m.id: (await node.auth.create_token(m.id, "test"))[1] for m in (a, b, c)}

    async with aiohttp.ClientSession(branch.info["direct"]) as http:

        async def call(method: str, path: str, bearer: str, body: object = None) -> tuple[int, Any]:
            async with http.request(method, path, json=body, headers={"Authorization": f"Bearer {bearer}"}) as r:
                return r.status, await r.json()

        status, ballot = await call("POST", "/api/v1/ballots", officer_tokens[0],
                                    {"motion": "m-count", "subject": "Fund the food bank", "text": "Give £200.",
                                     "may_change": True})  # fmt: skip
        assert status == 201, ballot
        votes = f"/api/v1/ballots/{ballot['id']}/votes"
        status, cast_a = await call("POST", votes, token[a.id], {"choice": "for"})
        assert status == 201
        # C presents A's receipt as hers, with her own choice: refused, nothing stored ...
        status, refused = await call("POST", votes, token[c.id], {"choice": "against", "replaces": cast_a["receipt"]})
        assert status == 409 and refused["error"]["code"] == "bad_receipt", refused
        # ... and votes once, as herself; B votes too.
        assert (await call("POST", votes, token[c.id], {"choice": "against"}))[0] == 201
        assert (await call("POST", votes, token[b.id], {"choice": "for"}))[0] == 201
        closes = await asyncio.gather(*(call("POST", f"/api/v1/ballots/{ballot['id']}/close", t)
                                        for t in officer_tokens))  # fmt: skip
        assert sorted(s for s, _ in closes) == [201, 409, 409, 409], closes
        (decision,) = [answer for s, answer in closes if s == 201]
        status, mine = await call("POST", f"/api/v1/ballots/{ballot['id']}/receipt-check", token[a.id],
                                  {"receipt": cast_a["receipt"]})  # fmt: skip
        assert (status, mine) == (200, {"counted": True, "choice": "for"})

    await held_everywhere(nodes, branch.node_id, int(decision["seq"]), 60)
    author = parse_node_id(branch.node_id)
    for n in nodes:  # every node: one decision on the ballot, each vote once, as cast
        async with Node.opened(n.directory) as node:
            held = [open_envelope(raw).payload.body for raw in await node.envelopes.own_of_kind(author, "decision")]
        on_it = [d for d in held if isinstance(d, Decision)]  # the branch's only ballot
        assert len(on_it) == 1, (n.name, len(on_it))
        assert on_it[0].electorate == 7  # four officers and three members
        assert on_it[0].counts == [2, 1, 0] and on_it[0].outcome == "carried", n.name
