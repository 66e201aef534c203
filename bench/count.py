"""Scottish STV on 100,000 ballots, 20 candidates, 5 seats: seconds and ballots per second
(and Meek STV on the same ballots, for the record: no target).

The ballots are drawn in one run from a fixed seed: each voter ranks 1 to 20 candidates, the
first choice weighted towards a few popular candidates (as real elections are), the rest in
random order. The baseline, in the same run, is reading the ballots once (grouping identical
rankings), which any count must do.

    .venv/bin/python bench/count.py [--ballots N] [--candidates C] [--seats S]

The last line is JSON: {"seconds", "ballots_per_s", "baseline_s", "ratio", ...}; target:
seconds under 5 here.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from protocol.counting import Election, meek_stv, scottish_stv


def ballots(n: int, candidates: int, seed: int = 2026) -> list[tuple[int, ...]]:
    rng = random.Random(seed)
    popularity = [1.0 / (1 + i) for i in range(candidates)]
    out = []
    for _ in range(n):
        first = rng.choices(range(candidates), popularity)[0]
        rest = [c for c in range(candidates) if c != first]
        rng.shuffle(rest)
        out.append((first, *rest[: rng.randint(0, candidates - 1)]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--seats", type=int, default=5)
    args = parser.parse_args()
    drawn = ballots(args.ballots, args.candidates)
    started = time.perf_counter()
    grouped = Counter(drawn)
    baseline = time.perf_counter() - started
    election = Election(tuple(f"Candidate {i + 1}" for i in range(args.candidates)), args.seats,
                        tuple(grouped.items()))  # fmt: skip
    started = time.perf_counter()
    result = scottish_stv(Election(election.candidates, election.seats, tuple((r, 1) for r in drawn)))
    seconds = time.perf_counter() - started
    grouped_result = scottish_stv(election)
    assert grouped_result.winners == result.winners
    started = time.perf_counter()
    meek = meek_stv(election)
    meek_s = time.perf_counter() - started
    print(f"{args.ballots:,} ballots ({len(grouped):,} different), {args.candidates} candidates, {args.seats} seats")
    print(f"winners: {', '.join(election.candidates[w] for w in result.winners)} in {len(result.stages)} stages")
    print(f"count: {seconds:.2f} s ({args.ballots / seconds:,.0f} ballots/s); reading them once: {baseline:.3f} s")
    print(f"Meek STV on the same ballots (grouped): {meek_s:.2f} s, {len(meek.stages)} rounds, winners "
          f"{', '.join(election.candidates[w] for w in meek.winners)}")
    print(json.dumps({"seconds": round(seconds, 3), "ballots_per_s": round(args.ballots / seconds),
                      "baseline_s": round(baseline, 3), "ratio": round(seconds / baseline, 1),
                      "ballots": args.ballots, "candidates": args.candidates, "seats": args.seats,
                      "stages": len(result.stages), "meek_s": round(meek_s, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
