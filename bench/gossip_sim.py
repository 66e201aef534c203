"""Rounds for one new object to reach every node, with the real gossip engine.

The engine (node/gossip.py: peer sampling, push with fanout, pull anti-entropy with
digests, heads and ranges) runs unchanged over an in-memory transport. What is simulated:

* replicas are in-memory logs (no SQLite, no signatures: propagation is what is measured);
* every message of the pull protocol is really encoded and decoded with the same msgspec
  types as over HTTP, and its body bytes are counted (HTTP headers, about 700 bytes with
  the request signature, are the same for every request and not counted);
* each node knows a random view of ``--view`` peers (a real node knows every chartered
  node with a profile; a random view of 64 keeps 10,000 simulated nodes in memory and
  is, if anything, slower to spread);
* time runs in synchronous rounds: in a round every node first pushes what it received in
  the previous round (fanout peers), and again what its last push found to be news to a
  peer (as the node reads its peers' answers), then runs one anti-entropy exchange with one
  random peer. A new object starts at one random node. Rounds are synchronous: what a node
  receives during a round is applied when the round ends, so nothing travels two hops in
  one round.

    .venv/bin/python bench/gossip_sim.py [--runs 50] [--sizes 1000,10000] [--fanout 3] [--seed 1]

The last line is JSON with "p99_rounds_1000", "p99_rounds_10000", "mean_rounds_*",
"pushes_per_node_*" (push messages, one per peer per batch, anti-entropy's pushes back
included, per node per new object) and "idle_round_bytes" (body bytes per node per idle
round, both directions). Targets: p99 <= 6 rounds at 1,000 nodes and <= 7 at 10,000.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import statistics
import sys
import time
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from node.gossip.engine import GossipEngine, Peer, PeerTable
from protocol.wire import HeadEntry, RangesReply, SyncReply, SyncRequest, heads_digest

AUTHORS = 40  # authors with history before the new object appears
ENCODER = msgspec.msgpack.Encoder()
REQUEST = msgspec.msgpack.Decoder(SyncRequest)
REPLY = msgspec.msgpack.Decoder(SyncReply)
RAW = msgspec.msgpack.Decoder(tuple[bytes, int, bytes])


class SimReplica:
    """An in-memory replica: per-author logs of opaque envelopes (author, seq, body)."""

    def __init__(self, base: dict[bytes, list[bytes]]) -> None:
        self.logs = {author: list(log) for author, log in base.items()}
        self.head_ids = {author: hashlib.sha256(log[-1]).digest() for author, log in base.items()}
        self._digest: bytes | None = None
        self.engine: GossipEngine | None = None
        self.inbox: list[bytes] | None = None  # during a round, what arrives waits here
        self.waiting: set[bytes] = set()  # the same, for "is it news?"

    def digest(self) -> bytes:
        if self._digest is None:
            self._digest = heads_digest(self.head_triples())
        return self._digest

    def head_triples(self) -> list[HeadEntry]:
        return [(a, len(log), self.head_ids[a]) for a, log in self.logs.items()]

    async def range(self, author: bytes, after: int, limit: int) -> list[bytes]:
        return self.logs.get(author, [])[after : after + limit]

    async def receive(self, raws: list[bytes]) -> int:
        if self.inbox is not None:
            self.inbox.extend(raws)
            self.waiting.update(raws)
            return 0
        return self.apply(raws)

    def news(self, raw: bytes) -> bool:
        """Whether ``raw`` is news here: neither held nor already arrived this round."""
        author, seq, _ = RAW.decode(raw)
        return raw not in self.waiting and len(self.logs.get(author, ())) < seq

    def apply(self, raws: list[bytes]) -> int:
        new: list[bytes] = []
        for raw in raws:
            author, seq, _ = RAW.decode(raw)
            log = self.logs.setdefault(author, [])
            if seq == len(log) + 1:
                log.append(raw)
                self.head_ids[author] = hashlib.sha256(raw).digest()
                new.append(raw)
        if new:
            self._digest = None
            assert self.engine is not None
            self.engine.offer(new)  # as the node does: newly accepted envelopes are pushed on
        return len(new)


class MemoryTransport:
    """Calls the other replica directly, encoding every pull message to count its bytes."""

    def __init__(self, replicas: dict[str, SimReplica]) -> None:
        self.replicas = replicas
        self.bytes = 0
        self.pushes = 0  # push messages (one per peer per batch)

    async def push(self, peer: Peer, raws: list[bytes]) -> list[bool]:
        self.bytes += sum(len(r) + 4 for r in raws)
        self.pushes += 1
        remote = self.replicas[peer.address]
        taken = [remote.news(raw) for raw in raws]  # what the node's answer says (accepted/quarantined)
        await remote.receive(raws)
        return taken

    async def sync(self, peer: Peer, request: SyncRequest) -> SyncReply:
        body = ENCODER.encode(request)
        self.bytes += len(body)
        remote = self.replicas[peer.address]
        digest = REQUEST.decode(body).digest
        reply = SyncReply(equal=True) if digest == remote.digest() else SyncReply(False, remote.head_triples())
        answer = ENCODER.encode(reply)
        self.bytes += len(answer)
        return REPLY.decode(answer)

    async def fetch(self, peer: Peer, author: bytes, after: int, limit: int) -> list[bytes]:
        raws = await self.replicas[peer.address].range(author, after, limit)
        self.bytes += sum(len(r) + 4 for r in raws)
        return raws

    async def fetch_ranges(self, peer: Peer, wants: list[tuple[bytes, int, int]]) -> RangesReply:
        raws = []
        for author, after, until in wants:
            raws += await self.replicas[peer.address].range(author, after, until - after)
        self.bytes += sum(len(r) + 4 for r in raws)
        return RangesReply(raws, len(wants))


def build(n: int, fanout: int, view: int, rng: random.Random) -> tuple[list[GossipEngine], MemoryTransport]:
    authors = [hashlib.sha256(f"author {i}".encode()).digest() for i in range(AUTHORS)]
    base = {a: [ENCODER.encode((a, s, b"x" * 200)) for s in range(1, 4)] for a in authors}
    replicas = {str(i): SimReplica(base) for i in range(n)}
    transport = MemoryTransport(replicas)
    engines = []
    for i in range(n):
        table = PeerTable(rng, clock=lambda: 0.0)
        for j in rng.sample(range(n - 1), min(view, n - 1)):
            table.add(str(j if j < i else j + 1))
        engine = GossipEngine(replicas[str(i)], transport, table, fanout=fanout)
        replicas[str(i)].engine = engine
        engines.append(engine)
    return engines, transport


async def spread_once(engines: list[GossipEngine], rng: random.Random, max_rounds: int = 60) -> tuple[int, float]:
    """Rounds until a new object created at one random node is held by every node, and the
    push messages it cost per node (counted until no node has it queued any more)."""
    transport: MemoryTransport = engines[0].transport  # type: ignore[assignment]
    pushes = transport.pushes
    origin = rng.randrange(len(engines))
    author = hashlib.sha256(f"new author {rng.random()}".encode()).digest()
    new = ENCODER.encode((author, 1, b"a new decision" * 10))
    await engines[origin].replica.receive([new])  # type: ignore[attr-defined]
    replicas = [e.replica for e in engines]
    order = list(range(len(engines)))
    spread = 0
    for round_no in range(1, max_rounds + 1):
        for r in replicas:
            r.inbox = []  # type: ignore[attr-defined]
        batches = [(e, e.take_pending()) for e in engines]
        for engine, batch in batches:
            await engine.push(batch)
        rng.shuffle(order)
        for i in order:
            await engines[i].reconcile()
        for r in replicas:
            inbox, r.inbox = r.inbox, None  # type: ignore[attr-defined]
            r.waiting.clear()  # type: ignore[attr-defined]
            r.apply(inbox)  # type: ignore[attr-defined]
        if not spread and all(author in r.logs for r in replicas):  # type: ignore[attr-defined]
            spread = round_no
        if spread and not any(e.pending for e in engines):
            return spread, (transport.pushes - pushes) / len(engines)
    raise RuntimeError(f"not spread after {max_rounds} rounds")


async def idle_bytes(engines: list[GossipEngine], transport: MemoryTransport) -> float:
    for e in engines:
        e.pending.clear()
    before = transport.bytes
    for engine in engines:
        await engine.reconcile()
    return (transport.bytes - before) / len(engines)


def p99(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, -(-99 * len(ordered) // 100) - 1)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--fanout", type=int, default=3)
    parser.add_argument("--view", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    result: dict[str, float | int] = {"runs": args.runs, "fanout": args.fanout, "view": args.view}
    for n in (int(s) for s in args.sizes.split(",")):
        rng = random.Random(args.seed * 1_000_003 + n)
        started = time.perf_counter()
        engines, transport = build(n, args.fanout, args.view, rng)
        idle = await idle_bytes(engines, transport)
        runs = [await spread_once(engines, rng) for _ in range(args.runs)]
        rounds = [r for r, _ in runs]
        pushes = statistics.mean(p for _, p in runs)
        # Between runs the new objects stay: each run starts from the previous state, as in life.
        result[f"mean_rounds_{n}"] = round(statistics.mean(rounds), 2)
        result[f"p99_rounds_{n}"] = p99(rounds)
        result[f"max_rounds_{n}"] = max(rounds)
        result[f"pushes_per_node_{n}"] = round(pushes, 2)
        result["idle_round_bytes"] = round(idle, 1)
        print(
            f"N={n:>6}: mean {statistics.mean(rounds):.2f} rounds, p99 {p99(rounds)}, max {max(rounds)}; "
            f"{pushes:.2f} push messages per node; idle round {idle:.1f} bytes/node;"
            f" {time.perf_counter() - started:.0f} s"
        )
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
