"""Chaos with real processes: seven nodes, one a tarpit and one flooding within its quota.

Six `branchnet serve` processes (a national node, two regions, three branches) and a tarpit:
a chartered node whose endpoint (a server in this test) holds every request for 9 s before
answering. One branch floods: it signs 200 envelopes of ~20 KB as fast as it can (within the
federation's quota). Meanwhile every other node publishes. Bounds stated and asserted:

* all six honest nodes hold identical logs within 60 s of the last publication;
* with the tarpit in every peer table, one new envelope reaches all six within 10 s (the
  report: a tarpit kept one that spreads in 0.1 s from all six others for 60 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from node.cli.demo import LAYOUT as DEMO_LAYOUT
from node.cli.demo import RunningNode, wait_until_converged
from node.federation.acts import issue_charter
from node.gossip.client import HttpTransport
from node.service import Node
from protocol import NodeProfile, Payload, SigningKey, seal, write_bundle
from tests.node.processes import held_everywhere, running, write_profile

LAYOUT = DEMO_LAYOUT[:6]  # the demo's federation, without its last branch
TARPIT_S = 9.0
CONVERGE_S = 60.0
SPREAD_S = 10.0


class Tarpit:
    """An HTTP endpoint that answers every request after TARPIT_S (an error, after the wait)."""

    def __init__(self) -> None:
        self.requests = 0
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        async def hold(request: web.Request) -> web.Response:
            self.requests += 1
            await asyncio.sleep(TARPIT_S)
            return web.Response(status=503)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hold)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@pytest.fixture
async def honest(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    async with running(tmp_path, LAYOUT, authority=None) as nodes:  # an officer charters the tarpit alone
        yield nodes


@pytest.mark.slow  # ~22 s: node processes, a tarpit, a flood: `make test-slow`, which CI runs after `make test`
async def test_honest_nodes_converge_beside_a_tarpit_and_a_flood(honest: list[RunningNode]) -> None:
    assert await wait_until_converged(honest, 60) is not None
    national, north, south, leeds, york, bristol = honest
    tarpit = Tarpit()
    await tarpit.start()
    try:
        # The tarpit is a chartered node: its charter (with its URL) and its profile spread.
        tarpit_key = SigningKey.generate()
        async with Node.opened(national.directory) as node:
            charter = await issue_charter(node, tarpit_key.public, "Tarpit Youth", "youth", tarpit.url)
            federation = node.federation_state.federation
        assert federation is not None
        profile = seal(tarpit_key, Payload(author=tarpit_key.public, seq=1, created=int(time.time() * 1000),
                                           federation=federation,
                                           body=NodeProfile(name="Tarpit Youth", endpoints=[tarpit.url])))  # fmt: skip
        await held_everywhere(honest, national.node_id, charter.seq, 30)
        pusher = HttpTransport(tarpit_key, allow_private=True, timeout_s=10)
        try:
            await pusher.request("POST", national.url, "/fed/v1/envelopes", write_bundle([profile.raw]),
                                 "application/vnd.branchnet.bundle")  # fmt: skip
        finally:
            await pusher.close()
        await held_everywhere(honest, tarpit_key.node_id, 1, 30)
        await asyncio.sleep(6)  # every node's peer table has taken the tarpit in (refreshed every 5 s)

        # Bristol floods within its quota while everyone else publishes.
        async def flood() -> int:
            async with Node.opened(bristol.directory) as node:
                seq = 0
                for i in range(200):
                    envelope = await node.own_log.append(NodeProfile(
                        name="Bristol Branch", endpoints=[f"http://127.0.0.1:9/flood/{i}/" + "f" * 2000] * 8,
                        contact="🙂" * 1000))  # fmt: skip
                    seq = envelope.seq
                return seq

        flooding = asyncio.create_task(flood())
        published = {}
        for round_no in range(3):
            for n in (national, north, south, leeds, york):
                published[n.node_id] = await write_profile(n, f"while Bristol floods, #{round_no}")
            await asyncio.sleep(0.5)
        last_flood = await asyncio.wait_for(flooding, 120)
        # Each write beside a server reaches it within a watch interval, so wait for the writes
        # themselves ("all heads equal" alone can hold before the last of them is read).
        started = time.monotonic()
        for author, seq in [*published.items(), (bristol.node_id, last_flood)]:
            await held_everywhere(honest, author, seq, max(1.0, CONVERGE_S - (time.monotonic() - started)))
        took = await wait_until_converged(honest, max(1.0, CONVERGE_S - (time.monotonic() - started)))
        assert took is not None, [(n.name, n.info.get("objects")) for n in honest]

        # One new envelope, with the tarpit in every peer table: everywhere within SPREAD_S.
        before = tarpit.requests
        seq = await write_profile(leeds, "one more, after the storm")
        spread = await held_everywhere(honest, leeds.node_id, seq, SPREAD_S)
        assert spread < SPREAD_S
        assert tarpit.requests > 0 and before > 0  # the tarpit was in play throughout
    finally:
        await tarpit.stop()
