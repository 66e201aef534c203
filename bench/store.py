"""The cost of storing an envelope as the envelopes table grows, against an empty table.

Ingest writes each batch in one transaction (``FederationStore.insert_envelopes``, 500 rows,
one fsync). Until migration 0010 the table had a UNIQUE index on the 32-byte id, keyed by a
hash: once that index was much larger than a batch, each stored row dirtied its own index
page, written to the WAL in full (3.2 x the empty node's cost at 400,000 rows). Now new ids
are found by rowid and merged into ``envelope_ids`` every ``MERGE_ROWS`` rows in one sorted
run; the default row count includes two such merges at every size, so their cost is in the
figure. Measured on the node's own schema and settings (``Database.open``: WAL,
synchronous=FULL), on a temporary folder.

    .venv/bin/python bench/store.py [--sizes 0,100000,400000] [--rows 65536] [--batch 500]

Prints microseconds of CPU (the process: mostly SQLite's writer thread) and of wall time per
row at each size. The last line is JSON with "ratio_<size>": CPU per row at that size over
CPU per row into an empty table (target at 400,000: <= 1.5).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.storage.db import Database
from node.storage.envelopes import INSERT_ENVELOPE, MERGE_ROWS, merge_recent_ids
from node.storage.federation import FederationStore

AUTHORS = 40


def rows(count: int, first_seq: int) -> list[tuple[object, ...]]:
    """``count`` envelope rows of 40 authors, sequences from ``first_seq``, random 397-byte bodies."""
    authors = [hashlib.sha256(bytes([i])).digest() for i in range(AUTHORS)]
    out: list[tuple[object, ...]] = []
    for seq in range(first_seq, first_seq + count // AUTHORS):
        for author in authors:
            raw = os.urandom(397)
            out.append((hashlib.sha256(raw).digest(), author, seq, "node_profile", 1, 1, raw, 1, 1))
    return out


async def cost_per_row(directory: Path, size: int, count: int, batch: int) -> tuple[float, float]:
    db = await Database.open(directory / "node.db", create=True, serving=True)
    try:
        if size:
            async with db.write("bench.prefill") as conn:
                await conn.executemany(INSERT_ENVELOPE, rows(size, 1))
                await merge_recent_ids(conn)  # as a node that stored them batch by batch would have
        measured = rows(count, size // AUTHORS + 1)
        started, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(measured), batch):
            async with db.write("bench.batch") as conn:
                await FederationStore.insert_envelopes(conn, measured[i : i + batch])
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await db.close()
    return cpu / len(measured) * 1e6, wall / len(measured) * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0,100000,400000", help="rows already held, comma-separated")
    parser.add_argument(
        "--rows",
        type=int,
        default=2 * MERGE_ROWS,
        help="rows inserted and timed at each size (the default includes two merges of recent ids at every size)",
    )
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            folder = Path(tmp) / str(size)
            folder.mkdir()
            results[size] = await cost_per_row(folder, size, args.rows, args.batch)
            cpu, wall = results[size]
            print(f"{size:>9,} rows held: {cpu:6.1f} us CPU, {wall:6.1f} us wall per row stored")
    base = results[sizes[0]][0]
    print(json.dumps({f"ratio_{size}": round(results[size][0] / base, 2) for size in sizes}
                     | {f"cpu_us_{size}": round(results[size][0], 1) for size in sizes}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
