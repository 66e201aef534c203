"""A body decides, across real processes: a national node, a region and a branch, each behind
a recording TCP proxy on 127.0.0.1 that is its public address, so every byte one node sends
another passes a proxy and is kept.

In the branch, a member proposes a motion; one amendment is carried and one lost by ballot;
the motion as amended is voted by 20 members (names and emails unique to this run: canaries),
one abstaining; every decision is published and every other node holds it and finds that it
adds up. No byte that crossed between the nodes holds any canary, and the branch's stored
vote rows never held a member id.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from node.cli import demo
from node.cli.demo import DEMO_ENV, RunningNode, _federation_of
from node.cli.setup import found_federation, init_node
from node.federation.acts import issue_charter
from node.service import Node
from node.storage.members import MemberIn
from protocol import Decision, open_envelope, parse_node_id
from protocol.ballots import check_decision
from tests.node.processes import envelope_from, held_everywhere

CAPTURE_LIMIT = 256 * 1024 * 1024


class RecordingProxy:
    """Forwards every connection to ``target`` and keeps every byte, both ways."""

    def __init__(self) -> None:
        self.target: tuple[str, int] | None = None
        self.seen = bytearray()
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.target is None:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while chunk := await src.read(65536):
                    if len(self.seen) < CAPTURE_LIMIT:
                        self.seen += chunk
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


LAYOUT = [("National Committee", "national", None), ("North Region", "region", "National Committee"),
          ("Leeds Branch", "branch", "North Region")]  # fmt: skip


@pytest.fixture
async def federation(tmp_path: Path) -> AsyncIterator[tuple[list[RunningNode], list[RecordingProxy]]]:
    nodes, proxies = [], []
    try:
        for i, (name, level, parent) in enumerate(LAYOUT):
            proxy = RecordingProxy()
            await proxy.start()
            proxies.append(proxy)
            running = RunningNode(name, level, parent, tmp_path / f"{i}-{demo.slug(name)}")
            await init_node(running.directory, name, level, "127.0.0.1:0", proxy.url, allow_private_peers=True)
            running.process, bound, running.node_id = await demo.start_serve(running.directory, DEMO_ENV)
            host, port = bound.removeprefix("http://").split(":")
            proxy.target = (host, int(port))
            running.url = proxy.url  # what every other node knows it by
            running.info["direct"] = bound  # the test's own API calls, not through the proxy
            nodes.append(running)
        await found_federation(nodes[0].directory, "Canary Federation")
        federation_id = await _federation_of(nodes[0].directory)
        assert federation_id is not None
        by_name = {n.name: n for n in nodes}
        for n in nodes[1:]:
            parent = by_name[n.parent or ""]
            await demo.join_federation(n.directory, federation_id, parent.url)
            await demo.wait_chartered(parent)
            async with Node.opened(parent.directory) as node:  # no authority list here: an officer charters
                await issue_charter(node, parse_node_id(n.node_id), n.name, n.level, n.url)
        await demo.wait_chartered(nodes[-1])
        for n in nodes:
            await demo.publish_profile(n)
        yield nodes, proxies
    finally:
        await demo.stop_all(nodes)
        for proxy in proxies:
            await proxy.stop()


async def test_a_branch_decides_and_every_node_holds_a_decision_that_adds_up_with_no_canary_crossing(
    federation: tuple[list[RunningNode], list[RecordingProxy]],
) -> None:
    nodes, proxies = federation
    branch = nodes[-1]
    tag = os.urandom(6).hex()
    names = [f"Canary{tag}Voter{i}" for i in range(20)]
    emails = [f"canary.{tag}.{i}@example.org" for i in range(20)]
    async with Node.opened(branch.directory) as node:  # as `branchnet member add` beside the server
        sec = await node.members.add(MemberIn(name=f"Canary{tag}Secretary", email=f"sec.{tag}@example.org",
                                              role="secretary"))  # fmt: skip
        voters = [await node.members.add(MemberIn(name=n, email=e)) for n, e in zip(names, emails, strict=True)]
        sec_token = (await node.auth.create_token(sec.id, "test"))[1]
        tokens = [(await node.auth.create_token(v.id, "test"))[1] for v in voters]

    async with aiohttp.ClientSession(branch.info["direct"]) as http:

        async def call(method: str, path: str, token: str, body: object = None) -> dict[str, object]:
            async with http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
                answer = await r.json()
                assert r.status in (200, 201), answer
                return answer  # type: ignore[no-any-return]

        text = "This branch gives £200 to the food bank.\n\nWe ask the region to match it."
        motion = await call("POST", "/api/v1/motions", tokens[0], {"title": "Fund the food bank", "text": text})
        await call("POST", f"/api/v1/motions/{motion['id']}/admit", sec_token)
        carried = await call("POST", f"/api/v1/motions/{motion['id']}/amendments", tokens[1],
                             {"paragraph": 1, "start": 18, "end": 22, "text": "£300"})  # fmt: skip
        lost = await call("POST", f"/api/v1/motions/{motion['id']}/amendments", tokens[2],
                          {"paragraph": 2, "start": 0, "end": 29, "text": ""})  # fmt: skip
        for amendment, choices in [(carried, ["for"] * 12 + ["against"] * 3), (lost, ["for"] * 4 + ["against"] * 11)]:
            on = await call("POST", f"/api/v1/amendments/{amendment['id']}/ballot", sec_token)
            await asyncio.gather(*(call("POST", f"/api/v1/ballots/{on['id']}/votes", t, {"choice": c})
                                   for t, c in zip(tokens, choices, strict=False)))  # fmt: skip
            await call("POST", f"/api/v1/ballots/{on['id']}/close", sec_token)
        settled = await call("GET", f"/api/v1/motions/{motion['id']}", tokens[0])
        assert [a["state"] for a in settled["amendments"]] == ["carried", "lost"]  # type: ignore[index, union-attr]
        assert settled["current"] == "This branch gives £300 to the food bank.\n\nWe ask the region to match it."
        ballot = await call("POST", f"/api/v1/motions/{motion['id']}/ballot", sec_token)
        choices = ["abstain"] + ["for"] * 13 + ["against"] * 6
        receipts = await asyncio.gather(*(call("POST", f"/api/v1/ballots/{ballot['id']}/votes", t, {"choice": c})
                                          for t, c in zip(tokens, choices, strict=True)))  # fmt: skip
        async with Node.opened(branch.directory) as node:
            stored = await node.db.fetchall("SELECT member_id FROM ballot_votes")
        assert len(stored) == 20 and all(r[0] is None for r in stored)  # a secret ballot names nobody
        closed = await call("POST", f"/api/v1/ballots/{ballot['id']}/close", sec_token)
        mine = await call("POST", f"/api/v1/ballots/{ballot['id']}/receipt-check", tokens[0],
                          {"receipt": receipts[0]["receipt"]})  # fmt: skip
        assert mine == {"counted": True, "choice": "abstain"}
        final = await call("GET", f"/api/v1/motions/{motion['id']}", tokens[0])
        assert final["state"] == "carried_as_amended"

    async with Node.opened(branch.directory) as node:
        decision_id = (await node.ballots.require(int(str(ballot["id"])))).decision
        assert decision_id is not None and decision_id.hex() == closed["decision"]
        decision_env = open_envelope((await node.envelopes.get(decision_id)) or b"")
    await held_everywhere(nodes, branch.node_id, decision_env.seq, 60)
    for n in nodes:
        # A node's heads are reported as its ingest takes a batch in, a moment before the batch
        # commits: ask again for the envelope itself until it answers (bounded).
        raw = await envelope_from(n.info.get("direct", n.url), closed["decision"])
        held = open_envelope(raw)  # opening runs the decision's own checks
        body = held.payload.body
        assert isinstance(body, Decision)
        check_decision(body)
        assert body.counts == [13, 6, 1] and body.outcome == "carried" and body.electorate == 21

    captured = b"".join(bytes(p.seen) for p in proxies)
    assert len(captured) > 10_000  # the nodes talked, through the proxies,
    assert b"Leeds Branch" in captured and b"Fund the food bank" in captured  # and what they signed is seen
    assert b"We ask the region" not in captured  # motion texts stay on the node (decisions carry their hash)
    for canary in [*names, *emails, tag]:
        assert canary.encode() not in captured, canary

