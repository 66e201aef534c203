"""A big branch's ranked ballot: 20,000 members, 15,000 of them rank 16 candidates; the branch
closes it into a decision in parts, and a second node recounts it as it takes it in.

Node A (a branch, founder of its federation) holds MEMBERS members; an officer opens a ranked
ballot of 16 candidates for SEATS seats (Scottish STV); VOTERS members vote through the node's
own vote path (ballots.vote, receipts and all), each a random ranking with the candidates
unevenly popular. Then, in one run:

* **baseline**: the count alone, in this process: the same records counted by the protocol's
  code (what closing and recounting must at least do);
* **close**: the officer closes the ballot: count, cut the records into parts, sign every part
  and the decision in one transaction, committed (close-to-published);
* **recount**: node B, holding A's log up to the ballot's roll, takes in the parts and the
  decision as gossip brings them: every part recounted alone, the whole decision recounted
  across its parts (its STV count included) before it is stored;
* **receipt**: a voter checks their receipt against the decision, whichever part holds it.

    .venv/bin/python bench/big_ballot.py [--members N] [--voters V]

The last line is JSON: {"members", "voters", "parts", "close_s", "recount_s", "baseline_s",
"receipt_ms", ...}. Targets: close-to-published and recount each under 5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.cli.setup import found_federation, init_node
from node.federation import ballots
from node.federation.ballots import BallotSpec
from node.service import Node
from node.storage.ballots import ElectionSpec
from node.storage.db import Database
from node.storage.members import Member, MemberIn
from protocol import Decision, open_envelope
from protocol.ballots import ranked_election
from protocol.counting import count

CANDIDATES, SEATS = 16, 3
NAMES = tuple(f"Candidate {chr(65 + i)}" for i in range(CANDIDATES))
CHUNK = 500  # votes sent at once (the node's vote writer batches them)


def ranking(rng: random.Random) -> list[str]:
    """A ballot: some of the 16 candidates in order, the earlier ones more popular."""
    order = sorted(range(CANDIDATES), key=lambda c: rng.random() * (1 + c / 4))[: rng.randint(1, CANDIDATES)]
    return [NAMES[c] for c in order]


async def setup(directory: Path, members: int, voters: int) -> tuple[Node, Member, int, list[str]]:
    with contextlib.redirect_stdout(None):
        await init_node(directory, "Big Branch", "branch", "127.0.0.1:0", None)
        await found_federation(directory, "Bench Federation")
    node = await Node.open(directory)
    await node.members.import_all([(i, MemberIn(name=f"Member {i}", email=f"m{i}@example.org"))
                                   for i in range(members - 1)])  # fmt: skip
    officer = await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))
    spec = BallotSpec(motion="m1", subject="Delegates to conference", text="Three delegates.", method="ranked",
                      options=NAMES, election=ElectionSpec(SEATS, "stv"))  # fmt: skip
    row = await ballots.open_ballot(node, officer, spec)
    rng = random.Random(20_000)
    electors = [m for m in await node.members.list("active") if m.id != officer.id][:voters]
    receipts: list[str] = []
    for start in range(0, len(electors), CHUNK):
        receipts += await asyncio.gather(*(ballots.vote(node, m, row.id, ranking(rng))
                                           for m in electors[start : start + CHUNK]))  # fmt: skip
    return node, officer, row.id, receipts


async def second_node(directory: Path, log: list[bytes]) -> Node:
    """Node B, in the same federation, holding ``log`` (A's envelopes before the parts)."""
    with contextlib.redirect_stdout(None):
        await init_node(directory, "Neighbour", "branch", "127.0.0.1:0", None)
    genesis = open_envelope(log[0])
    db = await Database.open(directory / "node.db")
    async with db.write("bench.pin_federation") as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('federation', ?)", (genesis.id,))
    await db.close()
    node = await Node.open(directory)
    outcomes = await node.federation_state.ingest(log)
    bad = [o for o in outcomes if o.status != "accepted"]
    if bad:
        raise SystemExit(f"setup: {len(bad)} envelopes not accepted by node B, first: {bad[0]}")
    return node


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--voters", type=int, default=15_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        a, officer, ballot_id, receipts = await setup(Path(tmp) / "a", args.members, args.voters)
        took = time.perf_counter() - started
        print(f"setup: {args.members:,} members, {len(receipts):,} ranked votes ({took:.1f} s)")
        b = None
        try:
            t0 = time.perf_counter()
            envelope = await ballots.close_ballot(a, officer, ballot_id)
            close_s = time.perf_counter() - t0
            decided = envelope.payload.body
            assert isinstance(decided, Decision) and decided.parts, "a decision in parts"
            raws = await a.envelopes.range(a.key.public, 0, envelope.seq)
            whole = b"".join(b for raw in raws[-decided.parts - 1 : -1]
                             for b in [open_envelope(raw).payload.body.receipts])  # type: ignore[union-attr]
            t0 = time.perf_counter()
            election = ranked_election(decided.options, decided.seats, whole, decided.ballot)
            baseline = count(decided.counting, election).winners
            baseline_s = time.perf_counter() - t0
            assert baseline == list(decided.chosen), "the node elects what the protocol counts"
            b = await second_node(Path(tmp) / "b", raws[: -decided.parts - 1])
            t0 = time.perf_counter()
            outcomes = await b.federation_state.ingest(raws[-decided.parts - 1 :])
            recount_s = time.perf_counter() - t0
            assert all(o.status == "accepted" for o in outcomes), outcomes
            t0 = time.perf_counter()
            for receipt in receipts[:: max(1, len(receipts) // 20)]:
                assert (await ballots.check_receipt(a, ballot_id, receipt)).counted
            receipt_ms = (time.perf_counter() - t0) * 1000 / len(receipts[:: max(1, len(receipts) // 20)])
        finally:
            await a.close()
            if b is not None:
                await b.close()
    sizes = [len(r) for r in raws[-decided.parts - 1 :]]
    print(f"decision: {decided.cast:,} votes in {decided.parts} parts ({sum(sizes):,} bytes), "
          f"elected {[decided.options[i] for i in decided.chosen]}")  # fmt: skip
    print(f"baseline (the STV count alone, in process): {baseline_s:.2f} s")
    print(f"close to published (count, parts and decision signed and committed): {close_s:.2f} s "
          f"(target 5; {close_s / baseline_s:.1f} x the count alone)")  # fmt: skip
    print(f"recount on a second node (parts and decision taken in): {recount_s:.2f} s "
          f"(target 5; {recount_s / baseline_s:.1f} x the count alone)")  # fmt: skip
    print(f"a voter's receipt check: {receipt_ms:.1f} ms")
    print(json.dumps({"members": args.members, "voters": len(receipts), "parts": decided.parts,
                      "close_s": round(close_s, 3), "recount_s": round(recount_s, 3),
                      "baseline_s": round(baseline_s, 3), "receipt_ms": round(receipt_ms, 2),
                      "close_ratio": round(close_s / baseline_s, 2),
                      "recount_ratio": round(recount_s / baseline_s, 2)}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
