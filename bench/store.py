"""The cost of storing an envelope as the envelopes table grows, against an empty table.

Ingest writes each batch in one transaction (``FederationStore.insert_envelopes``, 500 rows,
one fsync). Until migration 0010 the table had a UNIQUE index on the 32-byte id, keyed by a
hash: once that index was much larger than a batch, each stored row dirtied its own index
page, written to the WAL in full (3.2 x the empty node's cost at 400,000 rows). Now new ids
are found by rowid and merged into ``envelope_ids`` in one sorted run every 32,768 rows, or
every sixteenth of the rows held when that is more (``merge_after``); the default row count
includes at least two such merges at every size, so their cost is in the figure. Measured on
the node's own schema and settings (``Database.open``: WAL, synchronous=FULL), on a temporary
folder.

    .venv/bin/python bench/store.py [--sizes 0,400000,2000000] [--rows N] [--batch 500] [--no-startup]

Prints microseconds of CPU (the process: mostly SQLite's writer thread) and of wall time per
row at each size. The last line is JSON with "ratio_<size>": CPU per row at that size over
CPU per row into an empty table (targets: <= 1.5 at 400,000 and at 2,000,000).

Unless ``--no-startup``, each size's rows are held by a real node: founded, with BODIES
chartered bodies, the rows being real signed logs of the first ``--authors`` of them (profiles,
stored as ingest stores them, with their authors' quotas). Then, before the timed rows, the
node is started
as `branchnet serve` in a fresh process (gossip off), and the time until it listens and its
peak resident memory a second later are printed (targets at 2,000,000: under 2 s and under
300 MB): "startup_s_<size>", "rss_mb_<size>".
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.cli.setup import found_federation, init_node
from node.service import Node
from node.storage.db import Database
from node.storage.envelopes import INSERT_ENVELOPE, envelope_row, merge_after, merge_recent_ids
from node.storage.federation import FederationStore
from protocol import Charter, Head, NodeProfile, Payload, SigningKey, check_next, seal
from protocol.quota import DEFAULT_QUOTA

AUTHORS = 40  # whose logs the rows are (--authors): a batch of 500 then touches 40 logs
BODIES = 2000  # chartered bodies of the node measured starting: a national node's branches
PREFILL_STEP = 100_000  # rows written per transaction while filling (bounded memory)


def rows(count: int, first_seq: int, authors: list[bytes]) -> list[tuple[object, ...]]:
    """``count`` envelope rows of ``authors`` in turn, sequences from ``first_seq``, random
    397-byte bodies."""
    out: list[tuple[object, ...]] = []
    for seq in range(first_seq, first_seq + count // len(authors)):
        for author in authors:
            raw = os.urandom(397)
            out.append((hashlib.sha256(raw).digest(), author, seq, "node_profile", 1, 1, raw, 1, 1))
    return out


async def real_node(directory: Path, bodies: int) -> tuple[list[SigningKey], bytes]:
    """A founded node with ``bodies`` chartered bodies (signed in one transaction): their keys,
    and the federation's id."""
    with contextlib.redirect_stdout(None):
        await init_node(directory, "Bench National", "national", "127.0.0.1:0", None)
        await found_federation(directory, "Bench Federation")
    keys = [SigningKey.generate() for _ in range(bodies)]
    async with Node.opened(directory) as node:
        await node.own_log.append_all([Charter(key=k.public, name=f"Branch {i}", level="region")
                                       for i, k in enumerate(keys)])  # fmt: skip
        federation = node.federation_state.federation
    assert federation is not None
    return keys, federation


async def fill(db: Database, size: int, authors: list[bytes]) -> None:
    """``size`` rows of random bytes (seq from 2), PREFILL_STEP at a time, merged as a node
    storing them would."""
    per_step = max(len(authors), PREFILL_STEP // len(authors) * len(authors))
    done = 0
    while done < size:
        step = min(per_step, size - done)
        async with db.write("bench.prefill") as conn:
            await conn.executemany(INSERT_ENVELOPE, rows(step, 2 + done // len(authors), authors))
            await merge_recent_ids(conn)
        done += step


async def fill_real(db: Database, size: int, signers: list[SigningKey], federation: bytes) -> None:
    """``size`` real envelopes (profiles, each log from seq 1, signed and chained, ten seconds
    apart within the default quota, the last a minute ago), stored as ingest stores them, with
    each author's quota, PREFILL_STEP at a time."""
    per_author = -(-size // len(signers))
    first = int(time.time() * 1000) - 60_000 - per_author * 10_000
    heads: dict[bytes, Head | None] = {s.public: None for s in signers}
    done = 0
    while done < size:
        step = min(PREFILL_STEP, size - done)
        batch = []
        for n in range(done, done + step):
            signer = signers[n % len(signers)]
            head = heads[signer.public]
            seq = head.seq + 1 if head is not None else 1
            i = n % len(signers)
            body = NodeProfile(name=f"Branch {i}", endpoints=[f"https://b{i}.example.org"], contact=f"update {seq}")
            envelope = seal(signer, Payload(author=signer.public, seq=seq, created=first + seq * 10_000, body=body,
                                            federation=federation, prev=head.id if head else None))  # fmt: skip
            head = check_next(head, envelope, first + seq * 10_000, quota=DEFAULT_QUOTA)
            heads[signer.public] = head
            batch.append(envelope_row(envelope, 1, head.quota))
        async with db.write("bench.prefill") as conn:
            await conn.executemany(INSERT_ENVELOPE, batch)
            await merge_recent_ids(conn)
        done += step


async def cost_per_row(directory: Path, size: int, count: int, batch: int, startup: bool, authors_n: int
                       ) -> tuple[float, float, tuple[float, float] | None]:  # fmt: skip
    """(CPU µs, wall µs) per row stored with ``size`` held, and (with ``startup``) the node's
    start-up then."""
    started_up = None
    if startup:
        signers, federation = await real_node(directory, BODIES)
        authors = [s.public for s in signers[:authors_n]]
        db = await Database.open(directory / "node.db", create=True, serving=True)
        await fill_real(db, size, signers[:authors_n], federation)
        await db.close()
        started_up = start_up(directory)
        first_seq = size // authors_n + 2
    else:
        authors = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(authors_n)]
        db = await Database.open(directory / "node.db", create=True, serving=True)
        await fill(db, size, authors)
        await db.close()
        first_seq = 2 + size // authors_n
    db = await Database.open(directory / "node.db", serving=True)
    try:
        measured = rows(count, first_seq, authors)
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(measured), batch):
            async with db.write("bench.batch") as conn:
                await FederationStore.insert_envelopes(conn, measured[i : i + batch])
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await db.close()
    return cpu / len(measured) * 1e6, wall / len(measured) * 1e6, started_up


def start_up(directory: Path) -> tuple[float, float]:
    """(seconds until `branchnet serve` listens, its peak resident MB then), in a fresh process."""
    env = {**os.environ, "BRANCHNET_FEDERATION_GOSSIP": "false", "BRANCHNET_LOG_LEVEL": "warning"}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "node", "serve", "--dir", str(directory)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        assert server.stdout is not None
        said = [server.stdout.readline().decode() for _ in range(1)]
        while "listening" not in said[-1]:
            if not said[-1] or len(said) > 50:
                raise SystemExit("the node did not start:\n" + "".join(said))
            said.append(server.stdout.readline().decode())
        took = time.perf_counter() - started
        time.sleep(1.0)  # what it loads just after it listens (the recent ids, the first refresh) counts too
        status = Path(f"/proc/{server.pid}/status").read_text()
        peak = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
    finally:
        server.terminate()
        server.wait(timeout=60)
    return took, peak


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,400000,2000000", help="rows already held, comma-separated")
    parser.add_argument("--rows", type=int, default=0,
                        help="rows inserted and timed at each size (default: two merges of recent ids' worth at the "
                             "largest size, so that every size's timed rows include at least two merges)")  # fmt: skip
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--authors", type=int, default=AUTHORS,
                        help=f"logs the rows are spread over (at most {BODIES})")  # fmt: skip
    parser.add_argument("--no-startup", dest="startup", action="store_false",
                        help="bare databases, no node and no start-up measured")  # fmt: skip
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.rows = args.rows or 2 * merge_after(max(sizes))
    results: dict[int, tuple[float, float]] = {}
    started: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            cpu, wall, up = await cost_per_row(folder, size, args.rows, args.batch, args.startup, args.authors)
            results[size] = cpu, wall
            line = f"{size:>9,} rows held: {cpu:6.1f} us CPU, {wall:6.1f} us wall per row stored"
            if up is not None:
                started[size] = up
                line += f"; node start-up {up[0]:.2f} s, peak {up[1]:.0f} MB"
            print(line, flush=True)
            shutil.rmtree(folder)
    base = results[sizes[0]][0]
    print(json.dumps({f"ratio_{size}": round(results[size][0] / base, 2) for size in sizes}
                     | {f"cpu_us_{size}": round(results[size][0], 1) for size in sizes}
                     | {f"startup_s_{size}": round(started[size][0], 2) for size in started}
                     | {f"rss_mb_{size}": round(started[size][1]) for size in started}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
