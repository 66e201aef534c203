"""The gossip engine: push to a few random peers, pull anti-entropy with one peer at a time.

Transport-agnostic: the node runs it over signed HTTP (:mod:`node.gossip.client`); the
simulator (``bench/gossip_sim.py``) runs the same engine over an in-memory transport.

* **Push**: every envelope newly accepted here (ours or a peer's) is queued and sent,
  batched, to ``fanout`` random available peers; an envelope that was news to at least one
  of them (the peer's answer says it took it) goes out again at the next push, to other
  random peers, up to ``MAX_PUSHES`` times in all (rumour mongering with feedback: while a
  rumour still finds people who had not heard it, it is worth telling again; once a push
  finds it known to all it reached, it stops).
* **Pull anti-entropy**: every interval, one random available peer gets our heads digest.
  Equal digests end the round (constant bytes, whatever the number of authors). Otherwise
  the peer answers with its heads; for each author where it is ahead we fetch the missing
  range in batches, and for each author where we are ahead we push ours (push-pull).
* **Peers**: a table with health, exponential backoff with jitter, and a circuit breaker:
  after ``BREAKER_FAILURES`` failures in a row a peer is left alone for a long pause and
  then tried once (half-open); a dead peer costs nothing between probes.

Wire messages (msgpack, docs/federation.md) are in :mod:`protocol.wire`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from node.errors import PeerError as PeerError  # re-exported
from protocol.wire import MAX_WANTS, HeadEntry, RangesReply, SyncReply, SyncRequest, Want

log = logging.getLogger("branchnet.gossip")

BASE_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
BREAKER_FAILURES = 5
BREAKER_PAUSE_S = 600.0
HEALTHY_SHARE = 0.75  # of random picks, the share drawn from peers that answered last time
MAX_PUSHES = 2  # times one envelope is pushed (each to ``fanout`` peers) while it is still news

T = TypeVar("T")


class Replica(Protocol):
    """The local store the engine reconciles."""

    def digest(self) -> bytes: ...

    def head_triples(self) -> list[HeadEntry]: ...

    async def range(self, author: bytes, after: int, limit: int) -> list[bytes]: ...

    async def receive(self, raws: list[bytes]) -> int:
        """Ingest; returns how many were newly accepted."""
        ...


class Transport(Protocol):
    async def push(self, peer: Peer, raws: list[bytes]) -> Sequence[bool] | None:
        """Send ``raws``; for each, whether the peer took it as news (accepted or queued, not
        held already), or None when the answer does not say."""
        ...

    async def sync(self, peer: Peer, request: SyncRequest) -> SyncReply: ...

    async def fetch(self, peer: Peer, author: bytes, after: int, limit: int) -> list[bytes]: ...

    async def fetch_ranges(self, peer: Peer, wants: list[Want]) -> RangesReply:
        """Many authors' ranges at once (at most MAX_WANTS); the peer may serve a prefix only."""
        ...


@dataclass
class Peer:
    address: str  # a URL for HTTP; any key for other transports
    node_id: bytes | None = None
    source: str = "seed"
    failures: int = 0
    next_try: float = 0.0
    last_ok: float | None = None
    last_error: str | None = None
    sent: int = 0
    received: int = 0
    busy: int = 0  # exchanges in progress with this peer (at most one at a time)
    slow: str | None = None  # set when an answer of the current exchange came too late

    @property
    def breaker_open(self) -> bool:
        return self.failures >= BREAKER_FAILURES

    def available(self, now: float) -> bool:
        return now >= self.next_try and not self.busy


@dataclass
class PeerTable:
    rng: random.Random
    clock: Callable[[], float] = time.monotonic
    peers: dict[str, Peer] = field(default_factory=dict)
    exclude: set[str] = field(default_factory=set)  # our own addresses
    _all: list[Peer] = field(default_factory=list)  # the same peers, for O(k) sampling
    _healthy: dict[str, Peer] = field(default_factory=dict)  # peers whose last exchange went well
    _failing: set[str] = field(default_factory=set)  # peers whose last exchange failed

    def add(self, address: str, node_id: bytes | None = None, source: str = "seed") -> Peer | None:
        if address in self.exclude:
            return None
        peer = self.peers.get(address)
        if peer is None:
            peer = self.peers[address] = Peer(address, node_id, source)
            self._all.append(peer)
        elif node_id is not None:
            peer.node_id = node_id
        return peer

    def available(self) -> list[Peer]:
        now = self.clock()
        return [p for p in self.peers.values() if p.available(now)]

    def sample(self, k: int) -> list[Peer]:
        """Up to ``k`` distinct random available peers. While some peers are failing, each pick
        is, three times in four, one that answered its last exchange (when there is one), so
        a table full of addresses that never answer does not starve gossip of the peers that
        work; the fourth pick keeps trying the others. With no peer failing, picks are
        uniform (the spread the simulator measures)."""
        now = self.clock()
        healthy = [p for p in self._healthy.values() if p.available(now)] if self._healthy and self._failing else []
        if not healthy:
            return self._sample_any(k, now, ())
        wanted = sum(1 for _ in range(k) if self.rng.random() < HEALTHY_SHARE)
        chosen = self.rng.sample(healthy, min(wanted, len(healthy)))
        return chosen + self._sample_any(k - len(chosen), now, chosen)

    def _sample_any(self, k: int, now: float, taken: Sequence[Peer]) -> list[Peer]:
        if k <= 0:
            return []
        if len(self.peers) > 4 * (k + len(taken)):  # large table: draw a few, keep the available ones
            drawn = self.rng.sample(self._all, min(len(self._all), 3 * (k + len(taken))))
            chosen = [p for p in drawn if p.available(now) and p not in taken][:k]
            if len(chosen) == k:
                return chosen
        candidates = [p for p in self.peers.values() if p.available(now) and p not in taken]
        return self.rng.sample(candidates, min(k, len(candidates)))

    def succeeded(self, peer: Peer) -> None:
        peer.failures, peer.next_try, peer.last_error = 0, 0.0, None
        peer.last_ok = self.clock()
        self._healthy[peer.address] = peer
        self._failing.discard(peer.address)

    def failed(self, peer: Peer, error: str) -> None:
        """Back off exponentially with jitter; past the breaker threshold, pause long."""
        self._healthy.pop(peer.address, None)
        self._failing.add(peer.address)
        peer.failures += 1
        peer.last_error = error
        if peer.breaker_open:
            delay = BREAKER_PAUSE_S * self.rng.uniform(0.8, 1.2)  # then one probe (half-open)
        else:
            delay = min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** (peer.failures - 1)) * self.rng.uniform(0.5, 1.5)
        peer.next_try = self.clock() + delay


@dataclass
class Stats:
    rounds: int = 0
    equal_rounds: int = 0
    pushed: int = 0
    repushed: int = 0  # envelopes queued again because they were news to a peer
    pulled: int = 0
    accepted: int = 0
    failures: int = 0
    slow: int = 0


PULL_STREAMS = 4  # ranges of many authors pulled from one peer at once


class GossipEngine:
    """Push and pull with many peers at once, one exchange per peer at a time.

    Each push and each anti-entropy round runs in its own task, so a slow or hostile peer
    holds up only its own exchange: pushes to the other peers and rounds with them go on.
    A peer that answers later than ``slow_s`` has failed (it backs off) even though its
    answer is used, and a round with it stops after that answer."""

    def __init__(
        self,
        replica: Replica,
        transport: Transport,
        peers: PeerTable,
        *,
        fanout: int = 3,
        push_batch: int = 256,
        fetch_batch: int = 500,
        slow_s: float = 3.0,
        max_rounds: int = 2,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.replica = replica
        self.transport = transport
        self.peers = peers
        self.fanout = fanout
        self.push_batch = push_batch
        self.fetch_batch = fetch_batch
        self.slow_s = slow_s
        self.max_rounds = max_rounds
        self.clock = clock or peers.clock
        self.pending: list[bytes] = []
        self._pushes: dict[bytes, int] = {}  # envelopes pushed before and queued again: times pushed
        self.stats = Stats()
        self.wake = asyncio.Event()
        self._tasks: set[asyncio.Task[object]] = set()
        self._rounds = 0  # anti-entropy rounds in progress
        self.on_round: list[Callable[[Peer, list[HeadEntry] | None], None]] = []  # a peer's heads, once seen

    # --- push -----------------------------------------------------------------------------
    def offer(self, raws: list[bytes]) -> None:
        """Queue newly accepted envelopes to be pushed."""
        self.pending.extend(raws)
        self.wake.set()

    def take_pending(self) -> list[bytes]:
        batch, self.pending = self.pending[: self.push_batch], self.pending[self.push_batch :]
        return batch

    async def push(self, batch: list[bytes]) -> None:
        """Push ``batch`` to ``fanout`` available peers and wait for them (the simulator's step)."""
        if batch:
            await self._push_all([self._reserve(peer) for peer in self.peers.sample(self.fanout)], batch)

    def push_soon(self, batch: list[bytes]) -> None:
        """Push ``batch`` to ``fanout`` available peers, in a task (the peers, each answering in
        its own time, are chosen and reserved now)."""
        if batch:
            self._spawn(self._push_all([self._reserve(peer) for peer in self.peers.sample(self.fanout)], batch))

    async def _push_all(self, targets: list[Peer], batch: list[bytes]) -> None:
        answers = await asyncio.gather(*(self._push_to(peer, batch) for peer in targets))
        news = [any(taken[i] for taken in answers if taken is not None) for i in range(len(batch))]
        again: list[bytes] = []
        for raw, was_news in zip(batch, news, strict=True):
            times = self._pushes.pop(raw, 0) + 1
            if was_news and times < MAX_PUSHES:
                self._pushes[raw] = times
                again.append(raw)
        if again:
            self.stats.repushed += len(again)
            self.offer(again)

    async def _push_to(self, peer: Peer, batch: list[bytes]) -> Sequence[bool] | None:
        taken: Sequence[bool] | None = None
        async with self._exchange_with(peer):
            answer = await self._timed(peer, self.transport.push(peer, batch))
            peer.sent += len(batch)
            self.stats.pushed += len(batch)
            if answer is not None and len(answer) == len(batch):
                taken = answer
        return taken

    # --- pull -----------------------------------------------------------------------------
    async def reconcile(self, peer: Peer | None = None, *, reserved: bool = False) -> bool:
        """One anti-entropy exchange; True when the peer answered in time."""
        if peer is None:
            choice = self.peers.sample(1)
            if not choice:
                return False
            peer = choice[0]
        if not reserved:
            self._reserve(peer)
        self.stats.rounds += 1
        ok = False
        async with self._exchange_with(peer):
            reply = await self._timed(peer, self.transport.sync(peer, SyncRequest(self.replica.digest())))
            for listener in self.on_round:
                listener(peer, None if reply.equal else (reply.heads or []))
            if reply.equal:
                self.stats.equal_rounds += 1
            elif peer.slow is None:
                await self._exchange(peer, reply.heads or [])
            ok = peer.slow is None
        return ok

    async def _exchange(self, peer: Peer, theirs_list: list[HeadEntry]) -> None:
        ours = {author: (seq, head_id) for author, seq, head_id in self.replica.head_triples()}
        theirs = {author: (seq, head_id) for author, seq, head_id in theirs_list}
        wants: list[Want] = []
        for author, (their_seq, their_id) in theirs.items():
            our_seq, our_id = ours.get(author, (0, b""))
            if their_seq > our_seq:
                wants.append((author, our_seq, their_seq))
            elif their_seq == our_seq and their_id != our_id:
                wants.append((author, our_seq - 1, our_seq))  # the other side of a fork
        # Several authors' ranges are pulled in PULL_STREAMS at once, each stream its own
        # requests and batches: one batch is verified while the next is fetched and another
        # stored, as when several peers push (a node catching up on a federation's history
        # took it in at a third of the rate it takes pushes: bench/catchup.py).
        streams = [wants[i::PULL_STREAMS] for i in range(PULL_STREAMS)] if len(wants) > PULL_STREAMS else [wants]
        await asyncio.gather(*(self._pull(peer, stream) for stream in streams))
        # Push what they lack, a batch at a time as it is read: at most one author's range
        # and one batch in memory, however many authors a new peer lacks.
        batch: list[bytes] = []
        for author, (our_seq, _) in ours.items():
            their_seq = theirs.get(author, (0, b""))[0]
            if our_seq > their_seq:
                batch += await self.replica.range(author, their_seq, self.fetch_batch)
            while len(batch) >= self.push_batch and peer.slow is None:
                await self._push_back(peer, batch[: self.push_batch])
                del batch[: self.push_batch]
            if peer.slow is not None:
                return
        if batch:
            await self._push_back(peer, batch)

    async def _push_back(self, peer: Peer, batch: list[bytes]) -> None:
        await self._timed(peer, self.transport.push(peer, batch))
        peer.sent += len(batch)

    async def _pull(self, peer: Peer, wants: list[Want]) -> None:
        """Fetch what the peer holds beyond us, until every want is met or stops moving: one
        author's range with ``fetch``; many authors' with ``fetch_ranges``, MAX_WANTS at a time."""
        while wants and peer.slow is None:
            if len(wants) == 1:
                author, after, until = wants[0]
                raws = await self._timed(peer, self.transport.fetch(peer, author, after,
                                                                    min(self.fetch_batch, until - after)))  # fmt: skip
                served = 0
            else:
                reply = await self._timed(peer, self.transport.fetch_ranges(peer, wants[:MAX_WANTS]))
                raws, served = reply.envelopes, reply.served
            if raws:
                peer.received += len(raws)
                self.stats.pulled += len(raws)
                self.stats.accepted += await self.replica.receive(raws)
            held = {author: seq for author, seq, _ in self.replica.head_triples()}
            asked = wants[:MAX_WANTS] if len(wants) > 1 else wants
            again: list[Want] = []
            moved = False
            for i, (author, after, until) in enumerate(asked):
                now = held.get(author, 0)
                moved = moved or now > after
                if now >= until or i < served:
                    continue  # met, or served in full (what did not move was quarantined or refused)
                if now > after or (raws and len(asked) > 1):
                    again.append((author, max(after, now), until))  # progress, or not reached yet
            if not moved and served == 0:
                return  # nothing moved and nothing was served: do not loop on it
            wants = again + wants[len(asked) :]

    # --- exchanges with one peer ------------------------------------------------------------
    @staticmethod
    def _reserve(peer: Peer) -> Peer:
        """Mark ``peer`` busy from the moment it is chosen (so it is not chosen twice)."""
        peer.busy += 1
        return peer

    @contextlib.asynccontextmanager
    async def _exchange_with(self, peer: Peer) -> AsyncIterator[None]:
        """One exchange with a reserved ``peer``: records how it went and frees it. Any
        failure, expected or not, backs the peer off; a slow answer too."""
        peer.slow = None
        try:
            yield
        except PeerError as exc:
            self.stats.failures += 1
            self.peers.failed(peer, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a surprise: log it (rate-limited) and back off
            self.stats.failures += 1
            self.peers.failed(peer, f"{type(exc).__name__}: {exc}")
            log.warning("exchange with a peer failed", exc_info=True, extra={"fields": {"peer": peer.address}})
        else:
            if peer.slow is not None:
                self.stats.slow += 1
                self.stats.failures += 1
                self.peers.failed(peer, peer.slow)
            else:
                self.peers.succeeded(peer)
        finally:
            peer.busy -= 1
            peer.slow = None

    async def _timed(self, peer: Peer, call: Awaitable[T]) -> T:
        """Await one answer of ``peer``; one later than ``slow_s`` marks the exchange slow."""
        started = self.clock()
        result = await call
        took = self.clock() - started
        if took > self.slow_s and peer.slow is None:
            peer.slow = f"slow: answered in {took:.1f} s (the limit is {self.slow_s:g} s)"
        return result

    def _spawn(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _round(self, peer: Peer) -> None:
        try:
            await self.reconcile(peer, reserved=True)
        finally:
            self._rounds -= 1

    @property
    def rounds_in_flight(self) -> int:
        return self._rounds

    def reconcile_soon(self, peer: Peer | None = None) -> bool:
        """Start an anti-entropy round (with ``peer``, or a random available one) in its own
        task, unless ``max_rounds`` are running or nobody is available."""
        if self._rounds >= self.max_rounds:
            return False
        if peer is None:
            choice = self.peers.sample(1)
            if not choice:
                return False
            peer = choice[0]
        self._reserve(peer)
        self._rounds += 1
        self._spawn(self._round(peer))
        return True

    # --- running --------------------------------------------------------------------------
    async def run(self, sync_interval_s: float, push_interval_s: float, rng: random.Random) -> None:
        """Push as envelopes arrive (at most every ``push_interval_s``) and start a round every
        ``sync_interval_s`` (with jitter), until cancelled; then stop every exchange."""
        next_sync = time.monotonic() + rng.uniform(0, sync_interval_s)
        try:
            while True:
                timeout = max(0.0, next_sync - time.monotonic())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout)
                self.wake.clear()
                try:
                    while self.pending:
                        self.push_soon(self.take_pending())
                    if time.monotonic() >= next_sync:
                        self.reconcile_soon()
                        next_sync = time.monotonic() + sync_interval_s * rng.uniform(0.75, 1.25)
                    else:
                        await asyncio.sleep(push_interval_s)  # batch what arrives meanwhile
                except asyncio.CancelledError:
                    raise
                except Exception:  # one bad step must not stop gossip
                    log.exception("gossip step failed")
                    await asyncio.sleep(push_interval_s)
        finally:
            await self.stop_exchanges()

    async def stop_exchanges_when_done(self) -> None:
        """Wait for every exchange in progress to end (tests; bounded by the transport's timeouts)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop_exchanges(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
