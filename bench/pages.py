"""The members page (5,000 members, paged) against a bare aiohttp handler, in one run.

Two servers run as separate processes on 127.0.0.1 (OS-chosen ports):

* the node: a real `branchnet serve` on a fresh temporary node holding 5,000 members; the
  request is ``GET /members?page=50`` as a signed-in officer's browser sends it (session
  cookie, the count and one page of 50 members from SQLite, the Jinja2 template, the
  security headers);
* the baseline: a bare aiohttp application whose handler returns the same HTML bytes.

Officers page back and forth, so the node keeps rendered member tables by (members
version, search, page): the main figure asks for one page again and again, as the target
is stated. A second figure, ``cold_ratio``, asks for pages 1 to 100 in turn, more than the
node keeps, so every table is read from SQLite and rendered afresh.

One load generator (this process, aiohttp client) drives each for the same time,
alternating ROUNDS times; the best round of each counts (bench/api.py's method).

    .venv/bin/python bench/pages.py [--members N] [--seconds S] [--rounds R] [--connections C]

The last line is JSON: {"node_rps", "bare_rps", "ratio", "cold_ratio", ...}. Target: ratio >= 0.3.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import bare_server, load, start  # the same baseline, load generator and process start

PATH = "/members?page=50"
BARE_SERVER = bare_server("GET", "/members", "text/html")


async def prepare_node(directory: Path, count: int) -> str:
    """A fresh node with ``count`` members and a signed-in secretary; returns the session."""
    from node.cli.setup import found_federation, init_node
    from node.service import Node
    from node.storage.members import MemberIn

    await init_node(directory, "Bench Branch", "branch", "127.0.0.1:0", None)
    await found_federation(directory, "Bench Federation")
    async with Node.opened(directory) as node:
        officer = await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))
        rows = [(i, MemberIn(name=f"Member {i:05} Surname", email=f"member{i}@example.org", youth=i % 7 == 0))
                for i in range(count)]  # fmt: skip
        await node.members.import_all(rows)
        return await node.auth.create_session(officer.id, 3600)


async def load_cold(url: str, headers: dict[str, str], seconds: float, connections: int) -> float:
    """Requests per second when each asks for the next of pages 1..100 (no table kept)."""
    done = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as http:
        deadline = time.perf_counter() + seconds

        async def client(first: int) -> None:
            nonlocal done
            n = first
            while time.perf_counter() < deadline:
                async with http.get(f"/members?page={n % 100 + 1}") as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{url}: {r.status}")
                done += 1
                n += connections

        began = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(connections)))
        return done / (time.perf_counter() - began)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "node"
        session = await prepare_node(directory, args.members)
        env = {**os.environ, "BRANCHNET_LOG_LEVEL": "warning"}
        node_proc = subprocess.Popen([sys.executable, "-m", "node", "serve", "--dir", str(directory)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)  # fmt: skip
        assert node_proc.stdout is not None
        node_url = node_proc.stdout.readline().decode().split()[3]
        headers = {"Cookie": f"bn_session={session}", "Accept": "text/html"}
        async with aiohttp.ClientSession(node_url, headers=headers) as http, http.get(PATH) as r:
            assert r.status == 200, r.status
            body = await r.read()
        assert body.count(b'href="/members/') >= 50 and b"page 50 of" in body, "not the members page"
        bare_proc, bare_url = start([sys.executable, "-c", BARE_SERVER], stdin=body)
        try:
            node_runs, bare_runs, cold_runs, bare_cold_runs = [], [], [], []
            for _ in range(args.rounds):
                bare_runs.append(await load(bare_url, PATH, headers, args.seconds, args.connections))
                node_runs.append(await load(node_url, PATH, headers, args.seconds, args.connections))
                bare_cold_runs.append(await load_cold(bare_url, headers, args.seconds, args.connections))
                cold_runs.append(await load_cold(node_url, headers, args.seconds, args.connections))
        finally:
            for process in (node_proc, bare_proc):
                process.terminate()
                process.wait(timeout=15)
    node_rps, node_p99 = max(node_runs)
    bare_rps, bare_p99 = max(bare_runs)
    cold, bare_cold = max(cold_runs), max(bare_cold_runs)
    # The bare server answers every /members address with the same bytes, so both of its
    # loops measure the same thing: its best round of either is the baseline for both ratios.
    bare_rps = max(bare_rps, bare_cold)
    print(f"{args.members} members; page body {len(body)} bytes; {args.connections} connections; "
          f"{args.rounds} rounds of {args.seconds}s")  # fmt: skip
    print(f"bare aiohttp handler : {bare_rps:8.0f} req/s  p99 {bare_p99:6.1f} ms")
    print(f"node members page    : {node_rps:8.0f} req/s  p99 {node_p99:6.1f} ms")
    print(f"pages 1..100 in turn : {cold:8.0f} req/s")
    result = {
        "node_rps": round(node_rps),
        "bare_rps": round(bare_rps),
        "ratio": round(node_rps / bare_rps, 3),
        "cold_ratio": round(cold / bare_rps, 3),
        "node_p99_ms": round(node_p99, 2),
        "bare_p99_ms": round(bare_p99, 2),
        "members": args.members,
        "body_bytes": len(body),
        "connections": args.connections,
        "target": 0.3,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
