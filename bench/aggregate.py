"""An agenda item with 5,000 child mandates: time to build the aggregate, and to recount it.

One node (a region, founder of its federation) charters CHILDREN branches; each branch signs a
roll, a decision on the item's text (receipt records that add up) and a mandate following it;
every envelope is signed here and taken in by the node's ingest, as gossip would bring it. The
item closed before the timing starts. Then, in one run:

* **baseline**: read the 5,000 mandates and their 5,000 decisions from the database by id and
  decode them (protocol.envelope.reopen: what any count of them must at least do);
* **build**: judge every mandate (parent, window, basis, replacement) and weigh every child by
  its roll, then build the aggregate (node.federation.upward.judge + protocol.upward.build):
  what `branchnet agenda aggregate` does before signing;
* **publish**: the whole step, `upward.aggregate` (build, sign, store, and the node's own
  recount of what it signed);
* **recount**: what a node does when the aggregate arrives: judge again and recount it
  (protocol.upward.recount), keeping the findings.

    .venv/bin/python bench/aggregate.py [--children N] [--rounds R]

The last line is JSON: {"children", "build_s", "recount_s", "publish_s", "baseline_s", ...};
targets: build_s and recount_s under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.cli.setup import found_federation, init_node
from node.config import KEY_FILE
from node.federation import upward
from node.keyfile import read_key
from node.service import Node
from node.storage.members import MemberIn
from protocol import (
    AgendaItem,
    BallotRules,
    Body,
    Charter,
    Decision,
    Envelope,
    Mandate,
    Payload,
    Ratio,
    Roll,
    SigningKey,
    seal,
)
from protocol import upward as up
from protocol.ballots import records
from protocol.envelope import reopen

TEXT = "This region backs a four-day week without loss of pay."
RULES = BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2))


AHEAD_S = 700.0


def ahead() -> float:
    """The node's clock: the bench's envelopes are signed over the next few minutes of real
    time, and the node lives AHEAD_S later, when the item has closed."""
    return time.time() + AHEAD_S


class Log:
    def __init__(self, key: SigningKey, federation: bytes, after: tuple[int, bytes] | None = None) -> None:
        self.key, self.federation = key, federation
        self.seq, self.prev = after if after else (0, None)

    def sign(self, body: Body, created: int) -> Envelope:
        self.seq += 1
        envelope = seal(self.key, Payload(author=self.key.public, seq=self.seq, created=created, body=body,
                                          federation=self.federation, prev=self.prev))  # fmt: skip
        self.prev = envelope.id
        return envelope


def decision(ballot: bytes, counts: list[int], opened: int) -> Decision:
    choices = [choice for choice, n in enumerate(counts) for _ in range(n)]
    votes = [(i.to_bytes(16, "big"), bytes([c])) for i, c in enumerate(choices)]
    outcome = "carried" if counts[0] > counts[1] else "lost"
    return Decision(ballot=ballot, motion="item", subject="Four-day week", text_hash=up.text_hash(TEXT),
                    method="for_against_abstain", rules=RULES, electorate=sum(counts) + 2, roll=b"\x00" * 32,
                    opened=opened, closed=opened + 1, counts=counts, receipts=records(ballot, votes),
                    outcome=outcome)  # type: ignore[arg-type]  # fmt: skip


async def setup(directory: Path, children: int) -> tuple[Node, bytes]:
    with contextlib.redirect_stdout(None):
        await init_node(directory, "Bench Region", "region", "127.0.0.1:0", None)
        await found_federation(directory, "Bench Federation")
    node = await Node.open(directory, clock=ahead)
    region = read_key(directory / KEY_FILE)
    federation = node.federation_state.federation
    assert federation is not None
    t = int(time.time() * 1000) + 1000  # after the genesis; the node's clock is AHEAD_S on: the item has closed
    own = Log(region, federation, (1, federation))
    keys = [SigningKey.generate() for _ in range(children)]
    batch = [own.sign(Charter(key=k.public, name=f"Branch {i}", level="branch"), t) for i, k in enumerate(keys)]
    item = own.sign(AgendaItem(title="Four-day week", text=TEXT, opens=t + 100_000, closes=t + 400_000,
                               weighting="card_vote", rules=RULES), t + 50_000)  # fmt: skip
    batch.append(item)
    await _ingest(node, batch)
    rng = hashlib.sha256(b"bench aggregate")
    envelopes: list[Envelope] = []
    for i, k in enumerate(keys):
        rng = hashlib.sha256(rng.digest())
        pick = rng.digest()
        log = Log(k, federation)
        envelopes.append(log.sign(Roll(count=10 + pick[0] * 2, root=pick, as_of=t + 10_000), t + 10_000))
        counts = [pick[1] % 7, pick[2] % 7, pick[3] % 3]
        if sum(counts) == 0:
            counts[0] = 1
        decided = log.sign(decision(pick[:16], counts, t + 150_000), t + 200_000)
        envelopes.append(decided)
        body = decided.payload.body
        assert isinstance(body, Decision)
        position = "split" if i % 10 == 0 else up.outcome_position(body.outcome) or "abstain"
        split = counts if position == "split" else []
        envelopes.append(log.sign(Mandate(item=item.id, position=position, basis=decided.id, split=split),  # type: ignore[arg-type]
                                  t + 300_000))  # fmt: skip
    for i in range(0, len(envelopes), 3000):
        await _ingest(node, envelopes[i : i + 3000])
    await upward.refresh(node)  # index what arrived (not timed: it happens as envelopes arrive)
    return node, item.id


async def _ingest(node: Node, raws: list[Envelope]) -> None:
    outcomes = await node.federation_state.ingest([e.raw for e in raws])
    bad = [o for o in outcomes if o.status != "accepted"]
    if bad:
        raise SystemExit(f"setup: {len(bad)} envelopes not accepted, first: {bad[0]}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--children", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3, help="timings repeated; the best counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        node, item_id = await setup(Path(tmp) / "region", args.children)
        print(f"setup: {args.children:,} children, {3 * args.children + args.children + 1:,} envelopes signed and "
              f"taken in ({time.perf_counter() - started:.1f} s)")  # fmt: skip
        try:
            officer = await node.members.add(MemberIn(name="Sec", email="sec@example.org", role="secretary"))
            item = await upward.item(node, item_id)
            best: dict[str, float] = {}

            def keep(name: str, seconds: float) -> None:
                best[name] = min(best.get(name, seconds), seconds)

            for _ in range(args.rounds):
                judged = await upward.judge(node, item)
                ids = [m.id for m, _ in judged.mandates.values()]
                bases = [m.payload.body.basis for m, _ in judged.mandates.values()]  # type: ignore[union-attr]
                t0 = time.perf_counter()
                raws = await node.upward.many([*ids, *bases])
                opened = [reopen(raw) for raw in raws.values()]
                keep("baseline", time.perf_counter() - t0)
                assert len(opened) == 2 * args.children
                t0 = time.perf_counter()
                judged = await upward.judge(node, item)
                built = up.build(item, judged.weights, judged.latest)
                keep("build", time.perf_counter() - t0)
                assert len(built.counted) == args.children * up.RECORD
            t0 = time.perf_counter()
            aggregate = await upward.aggregate(node, officer, item_id, ahead)
            keep("publish", time.perf_counter() - t0)
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                checked = await upward._recount_and_keep(node, item_id, [aggregate], ahead)
                keep("recount", time.perf_counter() - t0)
                assert checked[0][1] == [], checked[0][1]
            body = aggregate.payload.body
            print(f"aggregate: {body.outcome}, for {body.votes[0]:,}, against {body.votes[1]:,}, abstain "  # type: ignore[union-attr]
                  f"{body.votes[2]:,}; {len(aggregate.raw):,} bytes signed")  # type: ignore[union-attr]  # fmt: skip
            for name in ("baseline", "build", "publish", "recount"):
                print(f"{name:<9} {best[name] * 1000:8.1f} ms")
            print(f"build is {best['build'] / best['baseline']:.1f} x the baseline; recount "
                  f"{best['recount'] / best['baseline']:.1f} x")  # fmt: skip
            print(json.dumps({"children": args.children, "build_s": round(best["build"], 3),
                              "recount_s": round(best["recount"], 3), "publish_s": round(best["publish"], 3),
                              "baseline_s": round(best["baseline"], 3),
                              "build_ratio": round(best["build"] / best["baseline"], 2),
                              "recount_ratio": round(best["recount"] / best["baseline"], 2),
                              "aggregate_bytes": len(aggregate.raw)}))  # fmt: skip
        finally:
            await node.close()


if __name__ == "__main__":
    os.environ.setdefault("BRANCHNET_LOG_LEVEL", "warning")
    asyncio.run(main())
