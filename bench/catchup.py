"""A new node joins a federation whose national node holds a million envelopes, and catches up
from that one peer, against the rate at which a node takes the same envelopes in when they are
pushed to it, measured in the same run.

1. A national node (`branchnet serve`, its own process on 127.0.0.1) charters ``--authors``
   regions and a new node's key; every region's log (``--envelopes`` NodeProfile envelopes in
   all) is pushed to it through ``POST /fed/v1/envelopes`` in bundles of ``--batch``, four in
   flight, as bench/ingest.py does: **the baseline**, envelopes per second taken in by a node
   of this software on this machine, as they arrive;
2. the new node (`branchnet serve`, its own process) joins with the national node as its one
   peer (`branchnet join`: the genesis from it) and catches up by gossip with the node's
   default settings: the clock runs from its start until it holds every envelope the national
   node holds: **the catch-up rate**.

    .venv/bin/python bench/catchup.py [--envelopes 1000000] [--authors 1000] [--batch 500]

The last line is JSON: {"envelopes", "baseline_per_s", "catchup_per_s", "ratio", ...}.
Target: ratio >= 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ingest import batches, prepare
from node.cli import demo
from node.cli.setup import init_node
from node.config import KEY_FILE
from node.federation.acts import issue_charter
from node.gossip.client import HttpTransport
from node.keyfile import read_key
from node.service import Node
from protocol import write_bundle

ENV = {"BRANCHNET_LOG_LEVEL": "warning", "BRANCHNET_FEDERATION_PEER_RATE": "100000",
       "BRANCHNET_FEDERATION_PEER_BURST": "100000"}  # fmt: skip
TIMEOUT_S = 3600.0


def serve(directory: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """`branchnet serve` (its log, with BENCH_LOG=info, in DIRECTORY/serve.log) and its URL."""
    log = open(directory / "serve.log", "wb")  # noqa: SIM115 (handed to the child)
    level = os.environ.get("BENCH_LOG", "warning")
    server = subprocess.Popen([sys.executable, "-m", "node", "serve", "--dir", str(directory)], cwd=ROOT,
                              env={**os.environ, **env, "BRANCHNET_LOG_LEVEL": level}, stdout=subprocess.PIPE,
                              stderr=log)  # fmt: skip
    assert server.stdout is not None
    while not (line := server.stdout.readline().decode()).startswith("branchnet: listening"):
        if not line:
            raise SystemExit(f"the node in {directory} did not start; see its serve.log")
    return server, line.split()[3]


async def held(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/api/v1/node") as r:
        return int((await r.json())["objects"])


async def push_all(url: str, client: HttpTransport, bundles: list[list[bytes]], concurrency: int = 4) -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bundles:
        queue.put_nowait(write_bundle(b))

    async def sender() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            answer = await client.request("POST", url, "/fed/v1/envelopes", body, "application/vnd.branchnet.bundle")
            if any(o["status"] == "rejected" for o in msgspec.msgpack.decode(answer)["outcomes"]):
                raise SystemExit("the national node refused an envelope")

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envelopes", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        national_dir, new_dir = Path(tmp) / "national", Path(tmp) / "new"
        started = time.perf_counter()
        logs, client_key, size = await prepare(national_dir, args.authors, args.envelopes)
        with contextlib.redirect_stdout(None):
            await init_node(new_dir, "New Region", "region", "127.0.0.1:0", None, allow_private_peers=True)
        async with Node.opened(national_dir) as node:  # the new node is chartered before it joins
            await issue_charter(node, read_key(new_dir / KEY_FILE).public, "New Region", "region", None)
            federation = node.federation_state.federation
        assert federation is not None
        total = sum(len(log) for log in logs)
        print(f"setup: {total:,} envelopes of {size} bytes signed ({time.perf_counter() - started:.0f} s)", flush=True)
        national, url = serve(national_dir, {**ENV, "BRANCHNET_FEDERATION_GOSSIP": "false"})
        new = None
        client = HttpTransport(client_key, allow_private=True, timeout_s=300, max_batch=100_000)
        try:
            async with aiohttp.ClientSession() as http:
                before = await held(http, url)
                t0 = time.perf_counter()
                await push_all(url, client, batches(logs, args.batch))
                pushed_s = time.perf_counter() - t0
                holds = await held(http, url)
                if holds - before < total:
                    raise SystemExit(f"the national node holds {holds - before:,} of {total:,} pushed")
                print(f"baseline: the national node took in {total:,} pushed envelopes in {pushed_s:.1f} s "
                      f"({total / pushed_s:,.0f}/s)", flush=True)  # fmt: skip
                await demo.join_federation(new_dir, federation, url)
                t0 = time.perf_counter()
                new, new_url = serve(new_dir, ENV)
                while (have := await held(http, new_url)) < holds:
                    if time.perf_counter() - t0 > TIMEOUT_S or new.poll() is not None:
                        raise SystemExit(f"the new node holds {have:,} of {holds:,}")
                    await asyncio.sleep(0.2)
                caught_s = time.perf_counter() - t0
                if os.environ.get("BENCH_LOG"):
                    print((new_dir / "serve.log").read_text()[-20_000:], file=sys.stderr)
        finally:
            await client.close()
            for process in (national, new):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=60)
    baseline, rate = total / pushed_s, holds / caught_s
    print(f"catch-up: the new node holds all {holds:,} in {caught_s:.1f} s ({rate:,.0f}/s): "
          f"{rate / baseline:.2f} x the baseline (target 0.8)")  # fmt: skip
    print(json.dumps({"envelopes": total, "baseline_per_s": round(baseline), "catchup_per_s": round(rate),
                      "ratio": round(rate / baseline, 3), "pushed_s": round(pushed_s, 1),
                      "catchup_s": round(caught_s, 1)}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
