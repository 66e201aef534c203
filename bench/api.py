"""The node's member read endpoint against a bare aiohttp handler, in one run.

Two servers run as separate processes on 127.0.0.1 (OS-chosen ports):

* the node: a real `branchnet serve` on a fresh temporary node; the request is
  ``GET /api/v1/members/{id}`` with an API token (token lookup, authorisation, member
  read from SQLite, msgspec JSON), exactly what a script or the web pages do;
* the baseline: a bare aiohttp application whose handler returns the same JSON bytes.

One load generator (this process, aiohttp client, 64 connections) drives each for the
same time, alternating ROUNDS times; the best round of each counts. Both servers get one
core each in turn, the client the other.

    .venv/bin/python bench/api.py [--seconds S] [--rounds R] [--connections C]

The last line is JSON: {"node_rps", "bare_rps", "ratio", "node_p99_ms", "bare_p99_ms", ...}.
Target: ratio >= 0.5.
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

def bare_server(method: str, path: str, content_type: str, status: int = 200, read_json: bool = False) -> str:
    """A bare aiohttp server's source: its one handler answers with the bytes read from stdin
    (the node's answer), and prints its URL. The baseline of every HTTP benchmark."""
    return f"""
import asyncio, sys
from aiohttp import web
body = sys.stdin.buffer.read()
async def handler(request):
    {"await request.json()" if read_json else "pass"}
    return web.Response(body=body, status={status}, content_type={content_type!r})
async def main():
    app = web.Application()
    app.router.add_route({method!r}, {path!r}, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    print(f"listening on http://{{host}}:{{port}}", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


BARE_SERVER = bare_server("GET", "/api/v1/members/{member_id}", "application/json")


async def prepare_node(directory: Path) -> tuple[str, int]:
    """A fresh node with one member and an API token for an officer; returns (token, member id)."""
    from node.cli.setup import found_federation, init_node
    from node.service import Node
    from node.storage.members import MemberIn

    await init_node(directory, "Bench Branch", "branch", "127.0.0.1:0", None)
    await found_federation(directory, "Bench Federation")
    async with Node.opened(directory) as node:
        officer = await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))
        member = await node.members.add(MemberIn(name="Ann Member", email="ann@example.org", youth=True))
        _, token = await node.auth.create_token(officer.id, "bench")
    return token, member.id


def start(argv: list[str], stdin: bytes | None = None) -> tuple[subprocess.Popen[bytes], str]:
    process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert process.stdin is not None and process.stdout is not None
    if stdin is not None:
        process.stdin.write(stdin)
    process.stdin.close()
    line = process.stdout.readline().decode()
    url = next(word for word in line.split() if word.startswith("http://"))
    return process, url


async def load(url: str, path: str, headers: dict[str, str], seconds: float, connections: int) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) for `connections` clients for `seconds`."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(url, connector=connector, headers=headers) as http:
        for _ in range(connections):  # warm the connections
            async with http.get(path) as r:
                assert r.status == 200, await r.text()
                await r.read()
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while (start := time.perf_counter()) < deadline:
                async with http.get(path) as r:
                    await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"{url}{path}: {r.status}")
                latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p99


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "node"
        token, member_id = await prepare_node(directory)
        env = {**os.environ, "BRANCHNET_LOG_LEVEL": "warning"}
        node_proc = subprocess.Popen([sys.executable, "-m", "node", "serve", "--dir", str(directory)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)  # fmt: skip
        assert node_proc.stdout is not None
        node_url = node_proc.stdout.readline().decode().split()[3]
        path = f"/api/v1/members/{member_id}"
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(node_url, headers=headers) as http, http.get(path) as r:
            body = await r.read()
        bare_proc, bare_url = start([sys.executable, "-c", BARE_SERVER], stdin=body)
        try:
            node_runs, bare_runs = [], []
            for _ in range(args.rounds):
                bare_runs.append(await load(bare_url, path, headers, args.seconds, args.connections))
                node_runs.append(await load(node_url, path, headers, args.seconds, args.connections))
        finally:
            for process in (node_proc, bare_proc):
                process.terminate()
                process.wait(timeout=15)
    node_rps, node_p99 = max(node_runs)
    bare_rps, bare_p99 = max(bare_runs)
    print(f"response body: {len(body)} bytes; {args.connections} connections; {args.rounds} rounds of {args.seconds}s")
    print(f"bare aiohttp handler : {bare_rps:8.0f} req/s  p99 {bare_p99:6.1f} ms")
    print(f"node member read     : {node_rps:8.0f} req/s  p99 {node_p99:6.1f} ms")
    result = {
        "node_rps": round(node_rps),
        "bare_rps": round(bare_rps),
        "ratio": round(node_rps / bare_rps, 3),
        "node_p99_ms": round(node_p99, 2),
        "bare_p99_ms": round(bare_p99, 2),
        "connections": args.connections,
        "target": 0.5,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
