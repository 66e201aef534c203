"""Votes cast through the HTTP API against a bare aiohttp handler, in one run.

Two servers run as separate processes on 127.0.0.1 (OS-chosen ports):

* the node: a real `branchnet serve` holding 1,000 members, each with an API token, and
  BALLOTS open ballots; every request is ``POST /api/v1/ballots/{id}/votes`` by one member
  on one ballot, never the same pair twice (token look-up, the ballot's checks and the vote
  in one write transaction, a fresh receipt);
* the baseline: a bare aiohttp handler that reads the JSON body and answers 201 with a
  body of the same size as the node's receipt.

Every member holds a key file's key (members' own keys, issue 25), so each ballot's roll
commits to it. Half the ballots take unsigned votes; on the other half each vote brings its
voter's Ed25519 signature of their participation (checked against the roll's keys, then
written to the marked register in the vote's transaction). Both kinds run in the same rounds.

One load generator (this process, aiohttp client, 64 connections) drives each for the same
time, alternating ROUNDS times; the best round of each counts.

    .venv/bin/python bench/vote.py [--seconds S] [--rounds R] [--connections C]

The last line is JSON: {"node_rps", "bare_rps", "ratio", "node_p99_ms", "signed_rps",
"signed_ratio", "signed_p99_ms", ...}. Targets: unsigned ratio >= 0.25 and p99 < 50 ms; signed
ratio >= 0.2 and p99 < 60 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import bare_server, start  # the same baseline and process start as the others
from protocol import SigningKey

MEMBERS = 1000
BARE_SERVER = bare_server("POST", "/api/v1/ballots/{ballot_id}/votes", "application/json", 201, True)


@dataclass
class Prepared:
    tokens: list[str]
    keys: list[SigningKey]  # each member's key file's key
    key_ids: list[str]
    ballot_ids: list[int]
    statements: dict[int, bytes]  # what a member signs to take part in each ballot


async def prepare_node(directory: Path, ballots_open: int) -> Prepared:
    """A node with MEMBERS members (a token and a key file's key each) and ``ballots_open``
    open ballots, whose rolls commit to those keys."""
    from node.cli.setup import found_federation, init_node
    from node.federation import ballots
    from node.federation.ballots import BallotSpec
    from node.federation.participations import statement_of
    from node.service import Node
    from node.storage.members import MemberIn
    from protocol.member_keys import MemberKey, key_id

    await init_node(directory, "Bench Branch", "branch", "127.0.0.1:0", None)
    await found_federation(directory, "Bench Federation")
    async with Node.opened(directory) as node:
        sec = await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))
        rows = [(i, MemberIn(name=f"Member {i}", email=f"m{i}@example.org")) for i in range(MEMBERS)]
        await node.members.import_all(rows)
        members = [m for m in await node.members.list() if m.role == "member"]
        tokens = [(await node.auth.create_token(m.id, "bench"))[1] for m in members]
        keys = [SigningKey.generate() for _ in members]
        for member, signer in zip(members, keys, strict=True):
            await node.member_keys.add(member.id, MemberKey(alg="ed25519", public=signer.public), "bench")
        ids, statements = [], {}
        for b in range(ballots_open):
            spec = BallotSpec(motion=f"m{b}", subject=f"Motion {b}", text=f"Text of motion {b}.")
            row = await ballots.open_ballot(node, sec, spec)
            ids.append(row.id)
            statements[row.id] = statement_of(node, row)
    key_ids = [key_id(MemberKey(alg="ed25519", public=k.public)).hex() for k in keys]
    return Prepared(tokens, keys, key_ids, ids, statements)


def signed_body(prepared: Prepared, ballot: int, member: int) -> dict[str, object]:
    """A vote with its voter's signature of their participation (made by the load generator,
    as the member's terminal would)."""
    signature = prepared.keys[member].sign(prepared.statements[ballot])
    return {"choice": "for", "participation": {"key_id": prepared.key_ids[member],
            "signature": base64.urlsafe_b64encode(signature).decode().rstrip("=")}}  # fmt: skip


async def load(url: str, pairs: itertools.count[int], tokens: list[str], ballot_ids: list[int], seconds: float,
               connections: int, body: Callable[[int, int], dict[str, object]] | None = None
               ) -> tuple[float, float]:  # fmt: skip
    """(votes per second, p99 ms): each request the next unused (ballot, member) pair; its
    body ``body(ballot, member)`` (default: an unsigned vote)."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(url, connector=connector) as http:
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            while (began := time.perf_counter()) < deadline:
                n = next(pairs)
                ballot, member = ballot_ids[n // len(tokens)], n % len(tokens)
                payload = body(ballot, member) if body is not None else {"choice": "for"}
                async with http.post(f"/api/v1/ballots/{ballot}/votes", json=payload,
                                     headers={"Authorization": f"Bearer {tokens[member]}"}) as r:  # fmt: skip
                    await r.read()
                    if r.status != 201:
                        raise RuntimeError(f"{url}: {r.status} {await r.text()}")
                latencies.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return len(latencies) / elapsed, latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--ballots", type=int, default=120, help="open ballots (each takes 1,000 votes; half signed)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "node"
        prepared = await prepare_node(directory, args.ballots)
        tokens, half = prepared.tokens, len(prepared.ballot_ids) // 2
        ballot_ids, signed_ids = prepared.ballot_ids[:half], prepared.ballot_ids[half:]
        env = {**os.environ, "BRANCHNET_LOG_LEVEL": "warning"}
        node_proc = subprocess.Popen([sys.executable, "-m", "node", "serve", "--dir", str(directory)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)  # fmt: skip
        assert node_proc.stdout is not None
        node_url = node_proc.stdout.readline().decode().split()[3]
        pairs = itertools.count()
        first = {"json": {"choice": "for"}, "headers": {"Authorization": f"Bearer {tokens[0]}"}}
        async with aiohttp.ClientSession(node_url) as http, http.post(
            f"/api/v1/ballots/{ballot_ids[0]}/votes", **first
        ) as r:
            assert r.status == 201, await r.text()
            body = await r.read()
        next(pairs)  # that pair has voted
        bare_proc, bare_url = start([sys.executable, "-c", BARE_SERVER], stdin=body)
        signed_pairs = itertools.count()
        # Every signed vote's body made before the rounds, as each member's terminal would make
        # its own: the load generator then spends no time signing.
        bodies = {(b, m): signed_body(prepared, b, m) for b in signed_ids for m in range(len(tokens))}
        try:
            node_runs, bare_runs, signed_runs = [], [], []
            for _ in range(args.rounds):
                bare_runs.append(await load(bare_url, itertools.count(), tokens, ballot_ids * 1000, args.seconds,
                                            args.connections))  # fmt: skip
                node_runs.append(await load(node_url, pairs, tokens, ballot_ids, args.seconds, args.connections))
                signed_runs.append(await load(node_url, signed_pairs, tokens, signed_ids, args.seconds,
                                              args.connections, lambda b, m: bodies[(b, m)]))  # fmt: skip
        finally:
            for process in (node_proc, bare_proc):
                process.terminate()
                process.wait(timeout=15)
    node_rps, node_p99 = max(node_runs)
    bare_rps, bare_p99 = max(bare_runs)
    print(f"{MEMBERS} members, {args.ballots} ballots; {args.connections} connections; "
          f"{args.rounds} rounds of {args.seconds}s")  # fmt: skip
    print(f"bare aiohttp handler : {bare_rps:8.0f} req/s  p99 {bare_p99:6.1f} ms")
    signed_rps, signed_p99 = max(signed_runs)
    print(f"node votes           : {node_rps:8.0f} req/s  p99 {node_p99:6.1f} ms")
    print(f"node signed votes    : {signed_rps:8.0f} req/s  p99 {signed_p99:6.1f} ms")
    print(json.dumps({
        "node_rps": round(node_rps), "bare_rps": round(bare_rps), "ratio": round(node_rps / bare_rps, 3),
        "node_p99_ms": round(node_p99, 2), "bare_p99_ms": round(bare_p99, 2), "connections": args.connections,
        "target_ratio": 0.25, "target_p99_ms": 50, "signed_rps": round(signed_rps),
        "signed_ratio": round(signed_rps / bare_rps, 3), "signed_p99_ms": round(signed_p99, 2),
        "target_signed_ratio": 0.2, "target_signed_p99_ms": 60,
    }))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
