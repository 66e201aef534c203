"""The conference moment: every member opens a ballot's page and votes through the pages, at once.

Two servers run as separate processes on 127.0.0.1 (OS-chosen ports):

* the node: a real `branchnet serve` holding MEMBERS members, each signed in with a session
  of their own (made before the rounds, as each member's phone would have), and one open
  ballot a round. Each member ``GET /ballots/{id}`` (the page, with its form and CSRF token,
  read from the page as a browser does), then ``POST /ballots/{id}/vote`` (the form: its
  token and the choice): the page with the receipt comes back (201);
* the baseline: a bare aiohttp handler answering GET with a page of the same size as the
  node's ballot page.

All the members come from one address, as at a venue whose Wi-Fi shares one public address:
the node runs with ``[http] max_connections_per_address`` raised for it (docs/operating.md,
"A conference"). One load generator (this process, aiohttp client, CONNECTIONS connections)
drives each; the best of ROUNDS rounds counts.

    .venv/bin/python bench/conference.py [--members N] [--connections C] [--rounds R]

The last line is JSON: {"members", "connections", "errors", "page_p99_ms", "vote_p99_ms",
"node_members_per_s", "node_rps", "bare_rps", "ratio", ...}. Targets: no errors, the vote's
p99 under 250 ms and the page's under 150 ms (2,000 members, 256 connections).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import bare_server, start  # the same baseline and process start as the others

BARE_SERVER = bare_server("GET", "/ballots/{ballot_id}", "text/html")
CSRF = re.compile(rb'name="csrf" value="([^"]+)"')


@dataclass
class Prepared:
    sessions: list[str]  # each member's session cookie
    ballot_ids: list[int]  # one open ballot a round


async def prepare_node(directory: Path, members: int, rounds: int) -> Prepared:
    from node.cli.setup import found_federation, init_node
    from node.federation import ballots
    from node.federation.ballots import BallotSpec
    from node.service import Node
    from node.storage.members import MemberIn

    await init_node(directory, "Conference Branch", "branch", "127.0.0.1:0", None)
    await found_federation(directory, "Bench Federation")
    async with Node.opened(directory) as node:
        sec = await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))
        await node.members.import_all([(i, MemberIn(name=f"Member {i}", email=f"m{i}@example.org"))
                                       for i in range(members)])  # fmt: skip
        people = [m for m in await node.members.list() if m.role == "member"]
        sessions = [await node.auth.create_session(m.id, 86_400) for m in people]
        ids = []
        for r in range(rounds):
            spec = BallotSpec(motion=f"m{r}", subject=f"Motion {r}: conference business",
                              text=f"That conference adopts standing orders, round {r}.")  # fmt: skip
            ids.append((await ballots.open_ballot(node, sec, spec)).id)
    return Prepared(sessions, ids)


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * 0.99))] * 1000 if values else 0.0


async def conference(url: str, prepared: Prepared, ballot: int, connections: int) -> dict[str, float]:
    """Every member opens the ballot's page and votes, CONNECTIONS at a time."""
    pages: list[float] = []
    votes: list[float] = []
    errors = 0
    members = itertools.count()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(url, connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as http:

        async def member() -> None:
            nonlocal errors
            while (n := next(members)) < len(prepared.sessions):
                cookie = {"Cookie": f"bn_session={prepared.sessions[n]}"}
                began = time.perf_counter()
                async with http.get(f"/ballots/{ballot}", headers=cookie) as r:
                    page = await r.read()
                pages.append(time.perf_counter() - began)
                found = CSRF.search(page)
                if r.status != 200 or found is None:
                    errors += 1
                    continue
                began = time.perf_counter()
                form = {"csrf": found.group(1).decode(), "choice": "for"}
                async with http.post(f"/ballots/{ballot}/vote", data=form, headers=cookie) as r:
                    await r.read()
                    if r.status != 201:
                        errors += 1
                votes.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(member() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "members_per_s": len(votes) / elapsed, "rps": (len(pages) + len(votes)) / elapsed,
            "page_p99_ms": _p99(pages), "vote_p99_ms": _p99(votes), "errors": errors}  # fmt: skip


async def bare(url: str, connections: int, requests: int) -> tuple[float, float]:
    """(requests per second, p99 ms) of REQUESTS pages from the bare handler."""
    latencies: list[float] = []
    left = itertools.count()
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(url, connector=connector) as http:

        async def client() -> None:
            while next(left) < requests:
                began = time.perf_counter()
                async with http.get("/ballots/1") as r:
                    await r.read()
                latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, _p99(latencies)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "node"
        prepared = await prepare_node(directory, args.members, args.rounds)
        env = {**os.environ, "BRANCHNET_LOG_LEVEL": "warning",
               "BRANCHNET_HTTP_MAX_CONNECTIONS_PER_ADDRESS": str(4 * args.connections)}  # fmt: skip
        node_proc = subprocess.Popen([sys.executable, "-m", "node", "serve", "--dir", str(directory)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)  # fmt: skip
        assert node_proc.stdout is not None
        node_url = node_proc.stdout.readline().decode().split()[3]
        bare_proc = None
        try:
            async with aiohttp.ClientSession(node_url, cookie_jar=aiohttp.DummyCookieJar()) as http, http.get(
                f"/ballots/{prepared.ballot_ids[0]}", headers={"Cookie": f"bn_session={prepared.sessions[0]}"}
            ) as r:
                assert r.status == 200, await r.text()
                page = await r.read()
            bare_proc, bare_url = start([sys.executable, "-c", BARE_SERVER], stdin=page)
            runs, bares = [], []
            for ballot in prepared.ballot_ids:
                bares.append(await bare(bare_url, args.connections, 2 * args.members))
                runs.append(await conference(node_url, prepared, ballot, args.connections))
        finally:
            for process in (node_proc, bare_proc):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=15)
    best = max(runs, key=lambda r: r["members_per_s"])
    bare_rps, bare_p99 = max(bares)
    errors = sum(int(r["errors"]) for r in runs)
    print(f"{args.members} members, each signed in, one address; {args.connections} connections; "
          f"{args.rounds} rounds (a ballot each); page {len(page):,} bytes")  # fmt: skip
    print(f"bare aiohttp handler : {bare_rps:8.0f} pages/s   p99 {bare_p99:6.1f} ms")
    print(f"node                 : {best['rps']:8.0f} requests/s ({best['members_per_s']:.0f} members/s: a page and a "
          f"vote each)  page p99 {best['page_p99_ms']:6.1f} ms  vote p99 {best['vote_p99_ms']:6.1f} ms  "
          f"errors {errors}")  # fmt: skip
    print(json.dumps({
        "members": args.members, "connections": args.connections, "errors": errors,
        "page_p99_ms": round(best["page_p99_ms"], 1), "vote_p99_ms": round(best["vote_p99_ms"], 1),
        "node_members_per_s": round(best["members_per_s"]), "node_rps": round(best["rps"]),
        "bare_rps": round(bare_rps), "bare_p99_ms": round(bare_p99, 1), "ratio": round(best["rps"] / bare_rps, 3),
        "page_bytes": len(page), "target_page_p99_ms": 150, "target_vote_p99_ms": 250,
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
