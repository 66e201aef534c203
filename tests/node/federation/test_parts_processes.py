"""A large branch's ranked ballot across real processes (issue 26): a national node, a region
and a branch of 8,000 members (the fixture of test_decision_processes). An officer opens a
ranked ballot of 16 candidates through the API; 6,000 members rank them; the officer closes
it through the API. Its decision does not fit one envelope: the branch publishes it in parts,
and every node takes in the parts and the decision, which it recounts whole on arrival; each
node's copies are the branch's, and recounted here from their bytes they elect the same.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import aiohttp
import pytest

from node.cli.demo import RunningNode
from node.federation import ballots
from node.service import Node
from node.storage.members import MemberIn
from protocol import Decision, open_envelope
from protocol.parts import check_parts
from tests.node.federation.test_decision_processes import RecordingProxy
from tests.node.federation.test_decision_processes import federation as federation  # the fixture
from tests.node.processes import envelope_from, held_everywhere

MEMBERS, VOTERS = 8_000, 6_000
NAMES = [f"Candidate {chr(65 + i)}" for i in range(16)]


@pytest.mark.slow  # ~12 s: three node processes and 6,000 votes: `make test-slow`, which CI runs
async def test_a_branch_of_eight_thousand_publishes_its_ranked_decision_in_parts_and_every_node_recounts_it(
    federation: tuple[list[RunningNode], list[RecordingProxy]],
) -> None:
    nodes, _ = federation
    branch = nodes[-1]
    async with Node.opened(branch.directory) as node:  # as `branchnet member import` beside the server
        await node.members.import_all([(i, MemberIn(name=f"Member {i}", email=f"m{i}@example.org"))
                                       for i in range(MEMBERS - 1)])  # fmt: skip
        sec = await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))
        token = (await node.auth.create_token(sec.id, "test"))[1]

    async with aiohttp.ClientSession(branch.info["direct"], headers={"Authorization": f"Bearer {token}"}) as http:

        async def call(method: str, path: str, body: object = None) -> Any:
            async with http.request(method, path, json=body) as r:
                answer = await r.json()
                assert r.status in (200, 201), answer
                return answer

        opened = await call("POST", "/api/v1/ballots", {"motion": "d1", "subject": "Delegates to conference",
                                                        "text": "Three delegates.", "method": "ranked",
                                                        "options": NAMES, "seats": 3, "counting": "stv"})  # fmt: skip
        rng = random.Random(8_000)
        async with Node.opened(branch.directory) as node:  # 6,000 members vote, as `branchnet ballot vote` would
            voters = [m for m in await node.members.list("active") if m.id != sec.id][:VOTERS]
            receipts: list[str] = []
            for start in range(0, VOTERS, 500):
                receipts += await asyncio.gather(*(
                    ballots.vote(node, m, opened["id"], rng.sample(NAMES, rng.randint(1, 16)))
                    for m in voters[start : start + 500]))  # fmt: skip
        closed = await call("POST", f"/api/v1/ballots/{opened['id']}/close")
        mine = await call("POST", f"/api/v1/ballots/{opened['id']}/receipt-check", {"receipt": receipts[-1]})
        assert mine["counted"] is True

    async with Node.opened(branch.directory) as node:
        decision = open_envelope((await node.envelopes.get(bytes.fromhex(closed["decision"]))) or b"")
        body = decision.payload.body
        assert isinstance(body, Decision) and body.parts == 3 and body.cast == VOTERS
        parts = [open_envelope(raw) for raw in await node.envelopes.range(node.key.public, decision.seq - 4, 3)]
    assert [p.kind for p in parts] == ["decision_part"] * 3
    assert check_parts(decision, parts)  # recounted here, from the branch's own bytes
    await held_everywhere(nodes, branch.node_id, decision.seq, 120)
    for n in nodes:
        url = n.info.get("direct", n.url)
        held = [open_envelope(await envelope_from(url, e.id.hex())) for e in [*parts, decision]]
        assert [e.raw for e in held] == [e.raw for e in [*parts, decision]]
        check_parts(held[-1], held[:-1])  # the whole adds up: STV over every part elects its winners
