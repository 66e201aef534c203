"""The gossip engine's parts on their own: the peer table's backoff and circuit breaker, push
fanout, and anti-entropy decisions, with a recording fake transport."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from node.gossip.engine import (
    BREAKER_FAILURES,
    BREAKER_PAUSE_S,
    MAX_BACKOFF_S,
    MAX_PUSHES,
    GossipEngine,
    Peer,
    PeerError,
    PeerTable,
)
from protocol.wire import RangesReply, SyncReply, SyncRequest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_grows_with_jitter_then_the_breaker_opens() -> None:
    clock = Clock()
    table = PeerTable(random.Random(7), clock=clock)
    peer = table.add("http://a.example")
    assert peer is not None and table.available() == [peer]
    delays = []
    for _ in range(BREAKER_FAILURES - 1):
        table.failed(peer, "refused")
        delays.append(peer.next_try - clock.now)
        assert table.available() == []  # backing off: never chosen
    for n, delay in enumerate(delays):
        base = min(MAX_BACKOFF_S, 2**n)
        assert 0.5 * base <= delay <= 1.5 * base
    table.failed(peer, "refused")
    assert peer.breaker_open
    assert 0.8 * BREAKER_PAUSE_S <= peer.next_try - clock.now <= 1.2 * BREAKER_PAUSE_S
    clock.now = peer.next_try  # half-open: one probe allowed
    assert table.available() == [peer]
    table.succeeded(peer)
    assert (peer.failures, peer.breaker_open, peer.last_error) == (0, False, None)


def test_own_address_is_never_a_peer_and_sampling_is_distinct() -> None:
    table = PeerTable(random.Random(1), exclude={"http://me.example"})
    assert table.add("http://me.example") is None
    for i in range(100):
        table.add(f"http://p{i}.example")
    for _ in range(50):
        chosen = table.sample(3)
        assert len({p.address for p in chosen}) == 3


class FakeReplica:
    def __init__(self, logs: dict[bytes, list[bytes]]) -> None:
        self.logs = logs
        self.received: list[bytes] = []

    def digest(self) -> bytes:
        return repr(sorted((a, len(v)) for a, v in self.logs.items())).encode()[:32].ljust(32, b"\0")

    def head_triples(self) -> list[tuple[bytes, int, bytes]]:
        return [(a, len(v), v[-1]) for a, v in self.logs.items()]

    async def range(self, author: bytes, after: int, limit: int) -> list[bytes]:
        return self.logs.get(author, [])[after : after + limit]

    async def receive(self, raws: list[bytes]) -> int:
        """Accepts each envelope (named by its author's letter and seq, as b"a2") in order."""
        self.received += raws
        for raw in raws:
            log = self.logs.setdefault(raw[:1] * 32, [])
            if raw[1:].isdigit() and int(raw[1:]) == len(log) + 1:
                log.append(raw)
        return len(raws)


class FakeTransport:
    def __init__(self, reply: SyncReply, remote: dict[bytes, list[bytes]], fail: frozenset[str] = frozenset()) -> None:
        self.reply = reply
        self.remote = remote
        self.fail = fail
        self.pushes: list[tuple[str, list[bytes]]] = []
        self.fetches: list[tuple[str, bytes, int, int]] = []
        self.ranges: list[list[tuple[bytes, int, int]]] = []
        self.cap = 1000

    async def push(self, peer: Peer, raws: list[bytes]) -> None:
        if peer.address in self.fail:
            raise PeerError("down")
        self.pushes.append((peer.address, raws))

    async def sync(self, peer: Peer, request: SyncRequest) -> SyncReply:
        if peer.address in self.fail:
            raise PeerError("down")
        return self.reply

    async def fetch(self, peer: Peer, author: bytes, after: int, limit: int) -> list[bytes]:
        self.fetches.append((peer.address, author, after, limit))
        return self.remote[author][after : after + limit]

    async def fetch_ranges(self, peer: Peer, wants: list[tuple[bytes, int, int]]) -> RangesReply:
        self.ranges.append(wants)
        out: list[bytes] = []
        served = 0
        for author, after, until in wants:  # at most ``cap`` envelopes per answer
            wanted = self.remote[author][after:until]
            out += wanted[: self.cap - len(out)]
            if len(out) >= self.cap and len(wanted) and out[-1] != wanted[-1]:
                break
            served += 1
            if len(out) >= self.cap:
                break
        return RangesReply(out, served)


def engine(transport: FakeTransport, replica: FakeReplica, peers: int = 10) -> GossipEngine:
    table = PeerTable(random.Random(3))
    for i in range(peers):
        table.add(f"http://p{i}.example")
    return GossipEngine(replica, transport, table, fanout=3, fetch_batch=2)


async def test_push_goes_to_fanout_peers_once_and_failures_back_off() -> None:
    transport = FakeTransport(SyncReply(equal=True), {}, fail={"http://p0.example", "http://p1.example"})
    e = engine(transport, FakeReplica({}))
    e.offer([b"one", b"two"])
    for _ in range(20):  # bounded
        await e.push(e.take_pending())
        if transport.pushes:
            break
        e.offer([b"one", b"two"])
    assert transport.pushes and all(raws == [b"one", b"two"] for _, raws in transport.pushes)
    assert len({address for address, _ in transport.pushes}) == len(transport.pushes) <= 3
    assert e.pending == []
    failed = [p for p in e.peers.peers.values() if p.failures]
    assert all(p.address in transport.fail for p in failed)


class NewsTransport(FakeTransport):
    """Answers each push as a node would: for each envelope, whether it was news there."""

    def __init__(self, news: Callable[[str, bytes], bool | None]) -> None:
        super().__init__(SyncReply(equal=True), {})
        self.news = news

    async def push(self, peer: Peer, raws: list[bytes]) -> list[bool] | None:  # type: ignore[override]
        await super().push(peer, raws)
        answers = [self.news(peer.address, raw) for raw in raws]
        return None if None in answers else [bool(a) for a in answers]


async def pushes_of(e: GossipEngine, transport: FakeTransport, raw: bytes, steps: int = 10) -> list[set[str]]:
    """Push whatever is queued, ``steps`` times; the peers ``raw`` went to at each step."""
    out: list[set[str]] = []
    for _ in range(steps):
        before = len(transport.pushes)
        await e.push(e.take_pending())
        out.append({address for address, raws in transport.pushes[before:] if raw in raws})
    return [peers for peers in out if peers]


async def test_news_is_pushed_again_while_it_is_news_and_no_more() -> None:
    held: dict[str, set[bytes]] = {}

    def news(address: str, raw: bytes) -> bool:  # a peer holds what it was pushed once
        seen = held.setdefault(address, set())
        fresh = raw not in seen
        seen.add(raw)
        return fresh

    transport = NewsTransport(news)
    e = engine(transport, FakeReplica({}), peers=40)
    e.offer([b"new"])
    rounds = await pushes_of(e, transport, b"new")
    assert len(rounds) == MAX_PUSHES and all(len(peers) == 3 for peers in rounds)  # always news to someone
    assert e.pending == [] and e.stats.repushed == MAX_PUSHES - 1

    # In one batch: "stale" is held by every peer already, "fresh" by none of them.
    every_peer = NewsTransport(lambda address, raw: raw == b"fresh")
    e = engine(every_peer, FakeReplica({}))
    e.offer([b"stale", b"fresh"])
    assert len(await pushes_of(e, every_peer, b"stale")) == 1  # known to the three it reached: not again
    assert sum(b"fresh" in raws for _, raws in every_peer.pushes) == 3 * MAX_PUSHES  # news each time: the cap
    assert e.pending == []


async def test_a_peer_that_does_not_say_gets_one_push() -> None:
    transport = NewsTransport(lambda address, raw: None)  # answers without outcomes we can read
    e = engine(transport, FakeReplica({}))
    e.offer([b"new"])
    assert len(await pushes_of(e, transport, b"new")) == 1
    failing = FakeTransport(SyncReply(equal=True), {}, fail=frozenset(f"http://p{i}.example" for i in range(10)))
    e = engine(failing, FakeReplica({}))
    e.offer([b"new"])
    await pushes_of(e, failing, b"new")
    assert e.pending == [] and e.stats.repushed == 0  # nobody answered: nothing to go on


async def test_equal_digest_costs_one_exchange() -> None:
    transport = FakeTransport(SyncReply(equal=True), {})
    e = engine(transport, FakeReplica({b"a" * 32: [b"x"]}))
    assert await e.reconcile()
    assert (e.stats.equal_rounds, transport.fetches, transport.pushes) == (1, [], [])


async def test_different_heads_pull_what_is_missing_and_push_what_they_lack() -> None:
    a, b, c = b"a" * 32, b"b" * 32, b"c" * 32
    remote = {a: [b"a1", b"a2", b"a3", b"a4", b"a5"], b: [b"b1"]}
    mine = FakeReplica({a: [b"a1"], b: [b"b1"], c: [b"c1", b"c2"]})
    reply = SyncReply(equal=False, heads=[(a, 5, b"a5"), (b, 1, b"b1")])
    transport = FakeTransport(reply, remote)
    e = engine(transport, mine)
    assert await e.reconcile()
    # a: pulled from seq 1 in batches of 2; b: equal; c: they lack it, so it is pushed.
    assert [(author, after, limit) for _, author, after, limit in transport.fetches] == [(a, 1, 2), (a, 3, 2)]
    assert mine.received == [b"a2", b"a3", b"a4", b"a5"]
    assert [raws for _, raws in transport.pushes] == [[b"c1", b"c2"]]


async def test_same_seq_different_head_fetches_the_other_side() -> None:
    a = b"a" * 32
    transport = FakeTransport(SyncReply(equal=False, heads=[(a, 2, b"theirs")]), {a: [b"a1", b"theirs"]})
    mine = FakeReplica({a: [b"a1", b"mine"]})
    e = engine(transport, mine)
    await e.reconcile()
    assert [(after, limit) for _, _, after, limit in transport.fetches] == [(1, 1)]
    assert mine.received == [b"theirs"]  # ingest then sees the fork


# --- one slow or failing peer holds up only its own exchange ------------------------------
class SlowTransport(FakeTransport):
    """``slow`` peers answer after ``delay_s``; ``broken`` ones raise a surprise."""

    def __init__(self, remote: dict[bytes, list[bytes]], slow: set[str], delay_s: float, broken: set[str]) -> None:
        super().__init__(SyncReply(equal=False, heads=[(a, len(v), v[-1]) for a, v in remote.items()]), remote)
        self.slow, self.delay_s, self.broken = slow, delay_s, broken
        self.arrived: dict[str, float] = {}

    async def _maybe_wait(self, peer: Peer) -> None:
        if peer.address in self.broken:
            raise RuntimeError("surprise")  # not a PeerError: a bug, or a peer URL that cannot be signed
        if peer.address in self.slow:
            await asyncio.sleep(self.delay_s)

    async def push(self, peer: Peer, raws: list[bytes]) -> None:
        await self._maybe_wait(peer)
        self.arrived.setdefault(peer.address, time.monotonic())
        await super().push(peer, raws)

    async def sync(self, peer: Peer, request: SyncRequest) -> SyncReply:
        await self._maybe_wait(peer)
        return await super().sync(peer, request)


async def test_a_slow_peer_does_not_hold_up_pushes_to_the_others() -> None:
    transport = SlowTransport({}, slow={"http://p0.example"}, delay_s=0.5, broken={"http://p1.example"})
    e = GossipEngine(FakeReplica({}), transport, _table(4), fanout=4, slow_s=0.1)
    started = time.monotonic()
    e.push_soon([b"new"])
    await asyncio.sleep(0.05)
    fast = {a: t - started for a, t in transport.arrived.items()}
    assert set(fast) == {"http://p2.example", "http://p3.example"} and max(fast.values()) < 0.05
    await asyncio.wait_for(e.stop_exchanges_when_done(), 5)
    slow, broken = e.peers.peers["http://p0.example"], e.peers.peers["http://p1.example"]
    assert slow.failures == 1 and "slow" in (slow.last_error or "")  # answered, but too late: backs off
    assert broken.failures == 1 and "RuntimeError" in (broken.last_error or "")
    assert not slow.available(e.peers.clock()) and not broken.available(e.peers.clock())
    assert e.stats.slow == 1


async def test_a_busy_peer_is_not_chosen_again() -> None:
    transport = SlowTransport({}, slow={f"http://p{i}.example" for i in range(4)}, delay_s=0.3, broken=set())
    e = GossipEngine(FakeReplica({}), transport, _table(4), fanout=2, slow_s=10)
    e.push_soon([b"one"])
    e.push_soon([b"two"])
    e.push_soon([b"three"])  # all four peers are busy: nobody is left for this one
    await asyncio.wait_for(e.stop_exchanges_when_done(), 5)
    assert sorted(len(raws) for _, raws in transport.pushes) == [1, 1, 1, 1]
    assert sum(raws == [b"three"] for _, raws in transport.pushes) == 0


async def test_rounds_run_beside_a_slow_one() -> None:
    a = b"a" * 32
    transport = SlowTransport({a: [b"a1", b"a2"]}, slow={"http://p0.example"}, delay_s=1.0, broken=set())
    replica = FakeReplica({})
    e = GossipEngine(replica, transport, _table(2), slow_s=0.2, max_rounds=2)
    assert await e.reconcile(e.peers.peers["http://p1.example"])
    assert replica.logs[a] == [b"a1", b"a2"]
    assert e.reconcile_soon() and e.reconcile_soon() and not e.reconcile_soon()  # at most two at once
    await asyncio.wait_for(e.stop_exchanges_when_done(), 5)


async def test_many_authors_are_pulled_a_capped_answer_at_a_time() -> None:
    authors = [bytes([97 + i]) * 32 for i in range(20)]
    remote = {a: [a[:1] + str(s).encode() for s in range(1, 8)] for a in authors}
    reply = SyncReply(equal=False, heads=[(a, 7, v[-1]) for a, v in remote.items()])
    transport = FakeTransport(reply, remote)
    transport.cap = 9  # each answer holds at most 9 envelopes
    replica = FakeReplica({})
    e = engine(transport, replica)
    assert await e.reconcile()
    assert all(len(replica.logs[a]) == 7 for a in authors)
    assert len(transport.ranges) <= -(-140 // 9)  # 9 per answer: none wasted


def _table(n: int) -> PeerTable:
    table = PeerTable(random.Random(5))
    for i in range(n):
        table.add(f"http://p{i}.example")
    return table


def test_while_peers_fail_picks_favour_those_that_answer() -> None:
    """Many addresses that never answer (profiles of nodes that are down, or mistyped) must not
    starve gossip of the one peer that works."""
    clock = Clock()
    table = PeerTable(random.Random(11), clock=clock)
    for i in range(500):
        table.add(f"http://dead{i}.example")
    good = table.add("http://good.example")
    assert good is not None
    table.succeeded(good)
    picks = [table.sample(1)[0].address for _ in range(400)]
    assert picks.count(good.address) < 20  # nobody failing yet: uniform picks
    bad = table.peers["http://dead0.example"]
    table.failed(bad, "refused")
    clock.now = bad.next_try  # available again, still failing
    picks = [table.sample(1)[0].address for _ in range(400)]
    assert picks.count(good.address) > 250  # about three in four


async def test_a_peer_that_lacks_everything_is_pushed_a_batch_at_a_time() -> None:
    """A new peer (no heads) lacks every author: what it lacks is read and pushed a batch at a
    time, never gathered whole first (memory stays one batch and one author's range)."""
    authors = [bytes([97 + i]) * 32 for i in range(20)]
    mine = FakeReplica({a: [a[:1] + str(s).encode() for s in range(1, 4)] for a in authors})
    events: list[tuple[str, int]] = []
    read = mine.range

    async def range_logged(author: bytes, after: int, limit: int) -> list[bytes]:
        out = await read(author, after, limit)
        events.append(("read", len(out)))
        return out

    mine.range = range_logged  # type: ignore[method-assign]
    transport = FakeTransport(SyncReply(equal=False, heads=[]), {})
    push = transport.push

    async def push_logged(peer: Peer, raws: list[bytes]) -> None:
        events.append(("push", len(raws)))
        await push(peer, raws)

    transport.push = push_logged  # type: ignore[method-assign]
    e = GossipEngine(mine, transport, _table(1), push_batch=4, fetch_batch=500)
    assert await e.reconcile()
    assert sorted(r for _, raws in transport.pushes for r in raws) == sorted(r for v in mine.logs.values() for r in v)
    assert all(len(raws) <= 4 for _, raws in transport.pushes)
    held = peak = 0
    for what, n in events:  # envelopes read but not yet pushed
        held += n if what == "read" else -n
        peak = max(peak, held)
    assert peak < 4 + 3  # one batch short of full plus one author's range
