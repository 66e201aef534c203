"""Time for one new object to reach every one of 20 real `branchnet serve` processes.

A national node, 3 regions and 16 branches run on 127.0.0.1 (the demo's settings: push
batching 50 ms, anti-entropy every 300 ms). Once they converge, an officer of a random
branch publishes a NodeProfile through the HTTP API, ``--rounds`` times; each time the
clock runs from the API's answer until every node's heads include the new envelope
(polled every 20 ms).

    .venv/bin/python bench/spread.py [--rounds 10] [--seed 1]

The last line is JSON with "nodes", "mean_s", "p50_s", "max_s".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.cli.demo import DEMO_ENV, RunningNode, build, stop_all, wait_until_converged
from node.service import Node
from node.storage.members import MemberIn

LAYOUT: list[tuple[str, str, str | None]] = [("National", "national", None)]
LAYOUT += [(f"Region {r}", "region", "National") for r in range(3)]
LAYOUT += [(f"Branch {b}", "branch", f"Region {b % 3}") for b in range(16)]


async def officer_token(running: RunningNode) -> str:
    async with Node.opened(running.directory) as node:
        member = await node.members.add(MemberIn(name="Bench Secretary", email="sec@example.org", role="secretary"))
        _, token = await node.auth.create_token(member.id, "bench")
        return token


async def until_everywhere(http: aiohttp.ClientSession, nodes: list[RunningNode], author: str, seq: int,
                           bound_s: float = 60) -> float:  # fmt: skip
    started = time.perf_counter()
    pending = list(nodes)
    while pending and time.perf_counter() - started < bound_s:
        still = []
        for n in pending:
            async with http.get(f"{n.url}/api/v1/node") as r:
                if (await r.json())["heads"].get(author, 0) < seq:
                    still.append(n)
        pending = still
        if pending:
            await asyncio.sleep(0.02)
    if pending:
        raise SystemExit(f"{len(pending)} nodes did not receive the object within {bound_s} s")
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.redirect_stdout(sys.stderr):
            nodes = await build(Path(tmp), DEMO_ENV, LAYOUT)
        try:
            took = await wait_until_converged(nodes, 120)
            if took is None:
                raise SystemExit("the 20 nodes did not converge")
            print(f"{len(nodes)} nodes converged after set-up in {took:.1f} s")
            branches = [n for n in nodes if n.level == "branch"]
            tokens = {n.name: await officer_token(n) for n in branches}
            times = []
            async with aiohttp.ClientSession() as http:
                for i in range(args.rounds):
                    origin = rng.choice(branches)
                    body = {"name": origin.name, "endpoints": [origin.url], "contact": f"round {i}"}
                    headers = {"Authorization": f"Bearer {tokens[origin.name]}"}
                    async with http.post(f"{origin.url}/api/v1/log/profile", json=body, headers=headers) as r:
                        assert r.status == 201, await r.text()
                        seq = (await r.json())["seq"]
                    spent = await until_everywhere(http, nodes, origin.node_id, seq)
                    times.append(spent)
                    print(f"round {i + 1}: from {origin.name} to all {len(nodes)} nodes in {spent * 1000:.0f} ms")
        finally:
            await stop_all(nodes)
    print(json.dumps({"nodes": len(nodes), "rounds": len(times), "mean_s": round(statistics.mean(times), 3),
                      "p50_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
