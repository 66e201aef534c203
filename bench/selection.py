"""A national selection: 100,000 ranked ballots in 1,500 branch bundles, counted and recounted.

One node (the selecting body, founder of its federation) charters BRANCHES branches and
publishes a selection of 5 seats by Scottish STV; 16 branches nominate a candidate each; the
body fixes the ballot paper; each branch signs its roll and its bundle (a ranked decision on
the paper, outcome ``bundled``) of a size drawn from a long-tailed spread (a few large
branches, many small), BALLOTS in all, each ballot a random ranking with the candidates
unevenly popular. Every envelope is signed here and taken in by the node's ingest, as gossip
would bring it. Then, in one run:

* **baseline**: read the 1,500 bundles from the database and decode them (what any count of
  them must at least do);
* **publish**: the body counts every bundle and signs the result (`selection publish result`);
* **recount**: what a node does with a result it holds, as its page first asks for it: gather
  the bundles and judge the paper, every bundle and the result by counting again
  (node.federation.elections.selection_view, its judgement not yet kept);
* **page**: the selection's page over HTTP from a served node, once the recount is kept:
  p99 of PAGE_VIEWS views.

    .venv/bin/python bench/selection.py [--branches N] [--ballots B] [--rounds R]

The last line is JSON: {"branches", "ballots", "recount_s", "publish_s", "baseline_s",
"page_p99_ms", ...}. Targets: recount under 5 s, the page under 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp

from bench.aggregate import Log, _ingest
from node.cli.setup import found_federation, init_node
from node.config import KEY_FILE
from node.federation import elections as el
from node.federation import upward
from node.keyfile import read_key
from node.service import Node
from node.storage.members import MemberIn
from protocol import BallotRules, Charter, Decision, Envelope, Nomination, Ratio, Roll, Selection, SigningKey
from protocol import selections as sel
from protocol.ballots import ranked_choice, records, tally
from protocol.envelope import reopen

OFFICE, SEATS, CANDIDATES = "National executive", 5, 16
PAGE_VIEWS = 50
AHEAD_S = 700.0  # the node lives this much later than the bench signs: voting has closed


def ahead() -> float:
    return time.time() + AHEAD_S


def sizes(branches: int, ballots: int, rng: random.Random) -> list[int]:
    """Each branch's ballots: long-tailed (lognormal), at least one each, summing to ``ballots``."""
    drawn = [rng.lognormvariate(0, 1.1) for _ in range(branches)]
    scale = (ballots - branches) / sum(drawn)
    out = [1 + int(d * scale) for d in drawn]
    out[0] += ballots - sum(out)  # the rounding's remainder to the first (largest-looking) branch
    return out


def ranking(rng: random.Random) -> list[int]:
    """A ballot: some of the 16 candidates in order, the lower-numbered ones more popular."""
    return sorted(range(CANDIDATES), key=lambda c: rng.random() * (1 + c / 4))[: rng.randint(1, CANDIDATES)]


async def setup(directory: Path, branches: int, ballots: int) -> tuple[Node, Envelope]:
    with contextlib.redirect_stdout(None):
        await init_node(directory, "Bench National", "region", "127.0.0.1:0", None)
        await found_federation(directory, "Bench Federation")
    node = await Node.open(directory, clock=ahead)
    federation = node.federation_state.federation
    assert federation is not None
    t = int(time.time() * 1000) + 1000
    own = Log(read_key(directory / KEY_FILE), federation, (1, federation))
    keys = [SigningKey.generate() for _ in range(branches)]
    batch = [own.sign(Charter(key=k.public, name=f"Branch {i}", level="branch"), t) for i, k in enumerate(keys)]
    selection = own.sign(Selection(office=OFFICE, seats=SEATS, method="stv", nominations_close=t + 100_000,
                                   voting_close=t + 300_000, reopen="off"), t + 2_000)  # fmt: skip
    await _ingest(node, [*batch, selection])
    logs = [Log(k, federation) for k in keys]
    nominations = [logs[i].sign(Nomination(selection=selection.id, candidate=f"Candidate {i:02d}",
                                           statement=f"Candidate {i:02d} stands.", consented=t + 40_000),
                                t + 50_000) for i in range(CANDIDATES)]  # fmt: skip
    await _ingest(node, nominations)
    signed = [sel.Signed(n.id, n.author, n.payload.created, n.payload.body) for n in nominations]
    paper = sel.ballot_paper(selection.id, selection.payload.body, signed, {k.public for k in keys})  # type: ignore[arg-type]
    paper_env = own.sign(paper, t + 110_000)
    await _ingest(node, [paper_env])
    rng = random.Random(20261208)
    rules = BallotRules(quorum=Ratio(num=0, den=1), threshold=Ratio(num=1, den=2))
    text_hash = hashlib.sha256(f"{OFFICE}: {', '.join(paper.candidates)}".encode()).digest()
    envelopes: list[Envelope] = []
    for i, (log, size) in enumerate(zip(logs, sizes(branches, ballots, rng), strict=True)):
        ballot = hashlib.sha256(b"bench selection %d" % i).digest()[:16]
        roll = log.sign(Roll(count=size + 3, root=hashlib.sha256(ballot).digest(), as_of=t + 120_000, ballot=ballot),
                        t + 120_000)  # fmt: skip
        votes = [(rng.randbytes(16), ranked_choice(ranking(rng), CANDIDATES)) for _ in range(size)]
        data = records(ballot, votes)
        counts, _ = tally("ranked", CANDIDATES, data)
        envelopes.append(roll)
        envelopes.append(log.sign(Decision(
            ballot=ballot, motion="selection", subject=OFFICE, text_hash=text_hash, method="ranked", rules=rules,
            electorate=size + 3, roll=roll.id, opened=t + 120_000, closed=t + 290_000, counts=counts, receipts=data,
            outcome="bundled", options=paper.candidates, secrecy="secret", seats=SEATS, counting="stv",
            selection=selection.id), t + 295_000))  # fmt: skip
    for start in range(0, len(envelopes), 1000):
        await _ingest(node, envelopes[start : start + 1000])
    await upward.refresh(node)  # index what arrived (not timed: it happens as envelopes arrive)
    return node, selection


async def page_p99(directory: Path, selection_id: bytes) -> tuple[float, int]:
    """The selection's page served by `branchnet serve`, once its recount is kept: p99 ms of
    PAGE_VIEWS views by a signed-in member, and the page's size."""
    import os
    import subprocess

    async with Node.opened(directory) as node:
        member = await node.members.add(MemberIn(name="Val Viewer", email="val@example.org"))
        session = await node.auth.create_session(member.id, 3600)
    env = {**os.environ, "BRANCHNET_LOG_LEVEL": "warning"}
    process = subprocess.Popen([sys.executable, "-m", "node", "serve", "--dir", str(directory)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().decode().split()[3]
        latencies, size = [], 0
        async with aiohttp.ClientSession(url, cookie_jar=aiohttp.DummyCookieJar()) as http:
            for _ in range(PAGE_VIEWS + 1):  # the first view recounts: not counted here (see "recount")
                began = time.perf_counter()
                async with http.get(f"/selections/{selection_id.hex()}", headers={"Cookie": f"bn_session={session}"}
                                    ) as r:  # fmt: skip
                    body = await r.read()
                    assert r.status == 200 and b"got exactly this result" in body, (r.status, body[:300])
                latencies.append(time.perf_counter() - began)
                size = len(body)
        latencies = sorted(latencies[1:])
        return latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, size
    finally:
        process.terminate()
        process.wait(timeout=15)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--branches", type=int, default=1500)
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="timings repeated; the best counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "national"
        started = time.perf_counter()
        node, selection = await setup(directory, args.branches, args.ballots)
        print(f"setup: {args.branches:,} branches, {args.ballots:,} ballots; {2 * args.branches + 18:,} envelopes "
              f"signed and taken in ({time.perf_counter() - started:.1f} s)")  # fmt: skip
        best: dict[str, float] = {}

        def keep(name: str, seconds: float) -> None:
            best[name] = min(best.get(name, seconds), seconds)

        try:
            officer = await node.members.add(MemberIn(name="Sec", email="sec@example.org", role="secretary"))
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                bundles = [reopen(raw) for raw in await node.upward.referring(selection.id, "decision")]
                keep("baseline", time.perf_counter() - t0)
                assert len(bundles) == args.branches
            t0 = time.perf_counter()
            result = await el.publish_result(node, officer, selection.id, ahead)
            keep("publish", time.perf_counter() - t0)
            for _ in range(args.rounds):
                el._judgements.clear()  # as on a node the result has just reached
                t0 = time.perf_counter()
                view = await el.selection_view(node, selection.id)
                keep("recount", time.perf_counter() - t0)
                assert [r.findings for r in view.results] == [[]], view.results
        finally:
            await node.close()
        page_ms, page_bytes = await page_p99(directory, selection.id)
    body = result.payload.body
    print(f"result: {len(body.bundles):,} bundles, {body.ballots:,} ballots, {len(body.rounds)} rounds; "  # type: ignore[union-attr]
          f"{len(result.raw):,} bytes signed")  # type: ignore[union-attr]  # fmt: skip
    for name in ("baseline", "publish", "recount"):
        print(f"{name:<9} {best[name]:8.2f} s")
    print(f"page      {page_ms:8.1f} ms p99 of {PAGE_VIEWS} views ({page_bytes:,} bytes)")
    print(json.dumps({"branches": args.branches, "ballots": args.ballots, "recount_s": round(best["recount"], 3),
                      "publish_s": round(best["publish"], 3), "baseline_s": round(best["baseline"], 3),
                      "recount_ratio": round(best["recount"] / best["baseline"], 2), "page_p99_ms": round(page_ms, 1),
                      "page_bytes": page_bytes, "result_bytes": len(result.raw), "target_recount_s": 5,
                      "target_page_p99_ms": 200}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
