"""Envelopes/s through the real HTTP ingest endpoint, against raw Ed25519 verifications/s.

In one run:

1. the baseline: raw Ed25519 verifications per second of ``cryptography`` (OpenSSL) on one
   core (keys pre-loaded, the same ~300-byte signing inputs), measured again just before
   every ingest run so that each ratio compares two moments of equal load on this shared
   machine; libsodium's raw rate (PyNaCl, what the node verifies with) on one core and in two
   threads; and whole ``open_envelope`` calls in two threads (what the cores and our checks
   allow);
2. a fresh national node (`branchnet serve` in its own process on 127.0.0.1) that has
   chartered ``--authors`` regions; a client signed as one of them pushes every region's
   log (``--count`` NodeProfile envelopes in all) to ``POST /fed/v1/envelopes`` in bundles
   of ``--batch``: the whole ingest path (signed request check, bundle parsing, dedupe,
   verification off the event loop, trust and chain rules, one transaction per batch,
   fsync). With ``--verify-in processes`` (the node's default) its verify worker processes
   are started first, as on a node that has been running, by a batch it refuses;
3. the same with ``federation.verify_threads`` (the number of verify workers) = 1 and = 2,
   each on a fresh copy of the node, alternating, ``--rounds`` times; the best ratio of each
   counts (as in bench/verify.py), and the median is printed beside it. Four bundles are in
   flight at once, as when several peers push.

    .venv/bin/python bench/ingest.py [--count 12000] [--authors 40] [--batch 500] [--concurrency 4] [--rounds 3]
                                     [--verify-in processes|threads]

``BENCH_THREADS=1`` prints the CPU of each server thread and worker process while timed.
The last line is JSON with "ratio" (1 worker / raw) and "ratio_2threads" (2 workers / raw),
their medians, "raw_2threads_ratio" (bare verification in two threads over one) and
"open_2threads_ratio" (open_envelope in two threads over bare verification in one).
"raw_sodium_per_s" and "raw_sodium_2threads_per_s" are libsodium's bare rates.
Targets: ratio >= 1.5, ratio_2threads >= 2.5 (against ``cryptography``'s one-core rate).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
import msgspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import crypto_sign_open

from node.cli.setup import found_federation, init_node
from node.federation.acts import issue_charter
from node.gossip.client import HttpTransport
from node.service import Node
from protocol import Envelope, NodeProfile, Payload, SigningKey, open_envelope, seal, write_bundle
from protocol.encoding import decode_wire
from protocol.envelope import signing_input


def raw_verify_rate(envelopes: list[Envelope], seconds: float = 2.0, threads: int = 1, opened: bool = False,
                    sodium: bool = False) -> float:  # fmt: skip
    """Bare Ed25519 verifications per second in ``threads`` threads (best of 3), by
    ``cryptography`` or (``sodium``) libsodium; with ``opened``, whole ``open_envelope`` calls
    instead (decoding, every check, the signature)."""
    keys = {e.author: Ed25519PublicKey.from_public_bytes(e.author) for e in envelopes}
    items = [(keys[e.author], e.signature, signing_input(decode_wire(e.raw)[1])) for e in envelopes]
    raws = [e.raw for e in envelopes]
    authors = [e.author for e in envelopes]

    def spin(deadline: float) -> int:
        done = 0
        while time.perf_counter() < deadline:
            if opened:
                for raw in raws:
                    open_envelope(raw)
            elif sodium:
                for (_, signature, message), author in zip(items, authors, strict=True):
                    crypto_sign_open(signature + message, author)
            else:
                for key, signature, message in items:
                    key.verify(signature, message)
            done += len(items)
        return done

    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(3):
            started = time.perf_counter()
            deadline = started + seconds / 3
            done = sum(pool.map(spin, [deadline] * threads))
            best = max(best, done / (time.perf_counter() - started))
    return best


async def prepare(directory: Path, authors: int, count: int) -> tuple[list[list[bytes]], SigningKey, int]:
    """A national node that chartered ``authors`` regions; each region's log of profiles."""
    with contextlib.redirect_stdout(None):
        await init_node(directory, "Bench National", "national", "127.0.0.1:0", None, allow_private_peers=True)
        await found_federation(directory, "Bench Federation")
    regions = [SigningKey.generate() for _ in range(authors)]
    async with Node.opened(directory) as node:
        for i, region in enumerate(regions):
            await issue_charter(node, region.public, f"Region {i}", "region", None)
        federation = node.federation_state.federation
    assert federation is not None
    logs: list[list[bytes]] = []
    per_author = count // authors
    now = int(time.time() * 1000)
    size = 0
    for i, region in enumerate(regions):
        prev: Envelope | None = None
        log = []
        for seq in range(1, per_author + 1):
            body = NodeProfile(name=f"Region {i}", endpoints=[f"https://region-{i}.example.org/branchnet"],
                               contact=f"secretary-{i}@example.org, update {seq}, {'x' * 40}")  # fmt: skip
            prev = seal(region, Payload(author=region.public, seq=seq, created=now, body=body, federation=federation,
                                        prev=prev.id if prev else None))  # fmt: skip
            log.append(prev.raw)
            size += len(prev.raw)
        logs.append(log)
    return logs, regions[0], size // (per_author * authors)


def batches(logs: list[list[bytes]], batch: int) -> list[list[bytes]]:
    """Interleave authors (as gossip does), keeping each author's order; cut into bundles."""
    flat = [raw for column in zip(*logs, strict=True) for raw in column]
    return [flat[i : i + batch] for i in range(0, len(flat), batch)]


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of process ``pid``."""
    ticks = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        f = (task / "stat").read_text().rsplit(")", 1)[1].split()
        out[int(task.name)] = (int(f[11]) + int(f[12])) / ticks
    return out


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (started by any of its threads)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return sorted(found)


async def warm_up(transport: HttpTransport, url: str, sample: list[bytes], workers: int) -> None:
    """Start the node's verify worker processes as a running node has them: push a batch it
    refuses (each signature spoilt in one bit, so nothing is stored) and wait until
    ``/metrics`` says the workers are up (node/federation/verify.py)."""
    spoilt = [raw[:-1] + bytes([raw[-1] ^ 1]) for raw in sample]
    body = write_bundle(spoilt)
    answer = await transport.request("POST", url, "/fed/v1/envelopes", body, "application/vnd.branchnet.bundle")
    if any(o["status"] != "rejected" for o in msgspec.msgpack.decode(answer)["outcomes"]):
        raise SystemExit("the warm-up batch was not refused")
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            async with http.get(f"{url}/metrics") as r:
                if f"branchnet_verify_processes {workers}.0" in await r.text():
                    return
            await asyncio.sleep(0.1)
    raise SystemExit("the verify worker processes did not start within 30 s")


async def ingest_rate(
    directory: Path, threads: int, bundles: list[list[bytes]], client: SigningKey, concurrency: int, processes: bool
) -> float:
    env = {**os.environ, "BRANCHNET_FEDERATION_VERIFY_THREADS": str(threads), "BRANCHNET_FEDERATION_GOSSIP": "false",
           "BRANCHNET_FEDERATION_VERIFY_PROCESSES": "true" if processes else "false",
           "BRANCHNET_LOG_LEVEL": "warning", "BRANCHNET_FEDERATION_PEER_RATE": "100000",
           "BRANCHNET_FEDERATION_PEER_BURST": "100000"}  # fmt: skip
    server = subprocess.Popen([sys.executable, "-m", "node", "serve", "--dir", str(directory)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    assert server.stdout is not None
    url = server.stdout.readline().decode().split()[3]

    transport = HttpTransport(client, allow_private=True, timeout_s=120, max_batch=100_000)
    bodies = [write_bundle(b) for b in bundles]
    accepted = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def sender() -> None:  # several peers pushing at once, as in gossip
        nonlocal accepted
        while not queue.empty():
            body = queue.get_nowait()
            answer = await transport.request("POST", url, "/fed/v1/envelopes", body, "application/vnd.branchnet.bundle")
            outcomes = msgspec.msgpack.decode(answer)["outcomes"]
            # Bundles overtake each other: an envelope whose predecessor is still in flight waits in
            # quarantine and is accepted with it. Only the final count below says all were taken.
            accepted += sum(1 for o in outcomes if o["status"] in ("accepted", "quarantined"))

    try:
        if processes:
            await warm_up(transport, url, bundles[0][:100], threads)
        before = thread_cpu(server.pid)
        before_children = {child: sum(thread_cpu(child).values()) for child in children(server.pid)}
        total = sum(len(b) for b in bundles)
        started = time.perf_counter()
        client_cpu = time.process_time()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        async with aiohttp.ClientSession() as http, http.get(f"{url}/api/v1/node") as r:
            held = (await r.json())["objects"]
        client_cpu = time.process_time() - client_cpu
        ticks = os.sysconf("SC_CLK_TCK")
        fields = Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()
        server_cpu = (int(fields[11]) + int(fields[12])) / ticks
        print(
            f"  {threads} worker(s): {elapsed:.2f} s; CPU: server {server_cpu:.2f} s (with start-up),"
            f" client {client_cpu:.2f} s",
            file=sys.stderr,
        )
        if os.environ.get("BENCH_THREADS"):  # CPU seconds per server thread while timed, to see where time goes
            for tid, seconds in sorted(thread_cpu(server.pid).items()):
                spent = seconds - before.get(tid, 0.0)
                print(f"    thread {tid:8} {spent:.2f} s, {spent / total * 1e6:.1f} us per envelope", file=sys.stderr)
            for child in children(server.pid):  # the verify worker processes
                cpu = sum(thread_cpu(child).values()) - before_children.get(child, 0.0)
                print(f"    process {child:7} {cpu:.2f} s, {cpu / total * 1e6:.1f} us per envelope", file=sys.stderr)
    finally:
        await transport.close()
        server.terminate()
        server.wait(timeout=30)
    if accepted != total or held < total:  # held also counts the node's own log
        raise SystemExit(f"only {held} envelopes are held after pushing {total} ({accepted} taken)")
    return total / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=12_000)
    parser.add_argument("--authors", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4, help="bundles in flight at once")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each; the best counts")
    parser.add_argument(
        "--verify-in", choices=["processes", "threads"], default="processes",
        help="where the node checks signatures (federation.verify_processes; processes is the default)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared"
        logs, client, envelope_bytes = await prepare(prepared, args.authors, args.count)
        sample = [open_envelope(r) for r in logs[0][:200]]
        # What the cores allow with nothing else running: bare signatures, and whole
        # open_envelope calls (our checks around each signature), in two threads.
        raw_rate = raw_verify_rate(sample)
        raw_rate_2 = raw_verify_rate(sample, threads=2)
        sodium_rate = raw_verify_rate(sample, sodium=True)
        sodium_rate_2 = raw_verify_rate(sample, threads=2, sodium=True)
        open_rate_2 = raw_verify_rate(sample, threads=2, opened=True)
        bundles = batches(logs, args.batch)
        # Each ingest run is paired with a raw rate measured just before it, so that a
        # busier or quieter moment of this shared machine moves both sides of its ratio.
        runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
        for attempt in range(args.rounds):  # alternate; the best ratio of --rounds counts
            for threads in (1, 2):
                copy = Path(tmp) / f"node-{threads}-{attempt}"
                shutil.copytree(prepared, copy)
                raw_now = raw_verify_rate(sample)
                rate = await ingest_rate(
                    copy, threads, bundles, client, args.concurrency, processes=args.verify_in == "processes"
                )
                runs[threads].append((rate, raw_now))
                print(f"    = {rate / raw_now:.3f} x the raw rate measured just before ({raw_now:.0f} /s)",
                      file=sys.stderr)  # fmt: skip
                shutil.rmtree(copy)
    total = sum(len(b) for b in bundles)
    where = "process" if args.verify_in == "processes" else "thread"
    best = {t: max(runs[t], key=lambda run: run[0] / run[1]) for t in runs}
    ratio = {t: best[t][0] / best[t][1] for t in runs}
    median = {t: statistics.median(rate / raw for rate, raw in runs[t]) for t in runs}
    print(f"{total} envelopes of ~{envelope_bytes} bytes from {args.authors} authors, bundles of {args.batch}")
    print(f"raw Ed25519 verify (1 core)     : {raw_rate:8.0f} /s")
    print(f"raw Ed25519 verify (2 threads)  : {raw_rate_2:8.0f} /s  ({raw_rate_2 / raw_rate:.2f} x raw, alone)")
    print(f"raw, libsodium (1 core)         : {sodium_rate:8.0f} /s  ({sodium_rate / raw_rate:.2f} x raw)")
    print(f"raw, libsodium (2 threads)      : {sodium_rate_2:8.0f} /s  ({sodium_rate_2 / raw_rate:.2f} x raw)")
    print(f"open_envelope (2 threads)       : {open_rate_2:8.0f} /s  ({open_rate_2 / raw_rate:.2f} x raw, alone)")
    for t in (1, 2):
        print(
            f"HTTP ingest, {t} verify {where}(s): {best[t][0]:8.0f} /s  ({ratio[t]:.2f} x raw, best of"
            f" {len(runs[t])}; median {median[t]:.2f})"
        )
    print(json.dumps({"verify_in": args.verify_in, "raw_per_s": round(raw_rate),
                      "ingest_per_s_1thread": round(best[1][0]),
                      "ingest_per_s_2threads": round(best[2][0]), "ratio": round(ratio[1], 3),
                      "ratio_2threads": round(ratio[2], 3), "ratio_median": round(median[1], 3),
                      "ratio_2threads_median": round(median[2], 3),
                      "raw_2threads_ratio": round(raw_rate_2 / raw_rate, 3),
                      "open_2threads_ratio": round(open_rate_2 / raw_rate, 3), "envelopes": total,
                      "raw_sodium_per_s": round(sodium_rate), "raw_sodium_2threads_per_s": round(sodium_rate_2),
                      "envelope_bytes": envelope_bytes, "targets": {"ratio": 1.5, "ratio_2threads": 2.5}}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
