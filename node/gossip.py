"""The gossip engine: push to a few random peers, pull anti-entropy with one peer at a time.

Transport-agnostic: the node runs it over signed HTTP (:mod:`node.fedclient`); the
simulator (``bench/gossip_sim.py``) runs the same engine over an in-memory transport.

* **Push**: every envelope newly accepted here (ours or a peer's) is queued once and sent,
  batched, to ``fanout`` random available peers.
* **Pull anti-entropy**: every interval, one random available peer gets our heads digest.
  Equal digests end the round (constant bytes, whatever the number of authors). Otherwise
  the peer answers with its heads; for each author where it is ahead we fetch the missing
  range in batches, and for each author where we are ahead we push ours (push-pull).
* **Peers**: a table with health, exponential backoff with jitter, and a circuit breaker:
  after ``BREAKER_FAILURES`` failures in a row a peer is left alone for a long pause and
  then tried once (half-open); a dead peer costs nothing between probes.

Wire messages (msgpack, docs/federation.md): :class:`SyncRequest`, :class:`SyncReply`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec

log = logging.getLogger("branchnet.gossip")

BASE_BACKOFF_S = 1.0
MAX_BACKOFF_S = 300.0
BREAKER_FAILURES = 5
BREAKER_PAUSE_S = 600.0

HeadEntry = tuple[bytes, int, bytes]  # author, seq, head id


class SyncRequest(msgspec.Struct, forbid_unknown_fields=True):
    digest: bytes


class SyncReply(msgspec.Struct, omit_defaults=True):
    equal: bool
    heads: list[HeadEntry] | None = None


class Replica(Protocol):
    """The local store the engine reconciles."""

    def digest(self) -> bytes: ...

    def head_triples(self) -> list[HeadEntry]: ...

    async def range(self, author: bytes, after: int, limit: int) -> list[bytes]: ...

    async def receive(self, raws: list[bytes]) -> int:
        """Ingest; returns how many were newly accepted."""
        ...


class Transport(Protocol):
    async def push(self, peer: Peer, raws: list[bytes]) -> None: ...

    async def sync(self, peer: Peer, request: SyncRequest) -> SyncReply: ...

    async def fetch(self, peer: Peer, author: bytes, after: int, limit: int) -> list[bytes]: ...


class PeerError(Exception):
    """A peer failed (refused, timed out, answered nonsense); the message says how."""


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

    @property
    def breaker_open(self) -> bool:
        return self.failures >= BREAKER_FAILURES

    def available(self, now: float) -> bool:
        return now >= self.next_try


@dataclass
class PeerTable:
    rng: random.Random
    clock: Callable[[], float] = time.monotonic
    peers: dict[str, Peer] = field(default_factory=dict)
    exclude: set[str] = field(default_factory=set)  # our own addresses
    _all: list[Peer] = field(default_factory=list)  # the same peers, for O(k) sampling

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
        """Up to ``k`` distinct random available peers."""
        if len(self.peers) > 4 * k:  # large table: draw a few, keep the available ones
            now = self.clock()
            drawn = self.rng.sample(self._all, min(len(self._all), 3 * k))
            chosen = [p for p in drawn if p.available(now)][:k]
            if len(chosen) == k:
                return chosen
        candidates = self.available()
        return self.rng.sample(candidates, min(k, len(candidates)))

    def succeeded(self, peer: Peer) -> None:
        peer.failures, peer.next_try, peer.last_error = 0, 0.0, None
        peer.last_ok = self.clock()

    def failed(self, peer: Peer, error: str) -> None:
        """Back off exponentially with jitter; past the breaker threshold, pause long."""
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
    pulled: int = 0
    accepted: int = 0
    failures: int = 0


class GossipEngine:
    def __init__(
        self,
        replica: Replica,
        transport: Transport,
        peers: PeerTable,
        *,
        fanout: int = 3,
        push_batch: int = 256,
        fetch_batch: int = 500,
    ) -> None:
        self.replica = replica
        self.transport = transport
        self.peers = peers
        self.fanout = fanout
        self.push_batch = push_batch
        self.fetch_batch = fetch_batch
        self.pending: list[bytes] = []
        self.stats = Stats()
        self.wake = asyncio.Event()

    # --- push -----------------------------------------------------------------------------
    def offer(self, raws: list[bytes]) -> None:
        """Queue newly accepted envelopes to be pushed once."""
        self.pending.extend(raws)
        self.wake.set()

    def take_pending(self) -> list[bytes]:
        batch, self.pending = self.pending[: self.push_batch], self.pending[self.push_batch :]
        return batch

    async def push(self, batch: list[bytes]) -> None:
        if not batch:
            return
        targets = self.peers.sample(self.fanout)
        await asyncio.gather(*(self._push_to(peer, batch) for peer in targets))

    async def _push_to(self, peer: Peer, batch: list[bytes]) -> None:
        try:
            await self.transport.push(peer, batch)
        except PeerError as exc:
            self.stats.failures += 1
            self.peers.failed(peer, str(exc))
            return
        self.peers.succeeded(peer)
        peer.sent += len(batch)
        self.stats.pushed += len(batch)

    # --- pull -----------------------------------------------------------------------------
    async def reconcile(self, peer: Peer | None = None) -> bool:
        """One anti-entropy exchange; True when the peer answered."""
        if peer is None:
            choice = self.peers.sample(1)
            if not choice:
                return False
            peer = choice[0]
        self.stats.rounds += 1
        try:
            reply = await self.transport.sync(peer, SyncRequest(self.replica.digest()))
            if reply.equal:
                self.stats.equal_rounds += 1
            else:
                await self._exchange(peer, reply.heads or [])
        except PeerError as exc:
            self.stats.failures += 1
            self.peers.failed(peer, str(exc))
            return False
        self.peers.succeeded(peer)
        return True

    async def _exchange(self, peer: Peer, theirs_list: list[HeadEntry]) -> None:
        ours = {author: (seq, head_id) for author, seq, head_id in self.replica.head_triples()}
        theirs = {author: (seq, head_id) for author, seq, head_id in theirs_list}
        to_push: list[bytes] = []
        for author, (their_seq, their_id) in theirs.items():
            our_seq, our_id = ours.get(author, (0, b""))
            if their_seq > our_seq:
                await self._pull(peer, author, our_seq, their_seq)
            elif their_seq == our_seq and their_id != our_id:
                await self._pull(peer, author, our_seq - 1, our_seq)  # the other side of a fork
        for author, (our_seq, _) in ours.items():
            their_seq = theirs.get(author, (0, b""))[0]
            if our_seq > their_seq:
                to_push += await self.replica.range(author, their_seq, self.fetch_batch)
        for start in range(0, len(to_push), self.push_batch):
            await self.transport.push(peer, to_push[start : start + self.push_batch])
            peer.sent += len(to_push[start : start + self.push_batch])

    async def _pull(self, peer: Peer, author: bytes, after: int, until: int) -> None:
        while after < until:
            raws = await self.transport.fetch(peer, author, after, min(self.fetch_batch, until - after))
            if not raws:
                return
            peer.received += len(raws)
            self.stats.pulled += len(raws)
            accepted = await self.replica.receive(raws)
            self.stats.accepted += accepted
            if accepted == 0:
                return  # nothing moved (quarantined or refused): do not loop on it
            after += len(raws)

    # --- running --------------------------------------------------------------------------
    async def run(self, sync_interval_s: float, push_interval_s: float, rng: random.Random) -> None:
        """Push as envelopes arrive (at most every ``push_interval_s``) and reconcile every
        ``sync_interval_s`` (with jitter), until cancelled."""
        next_sync = time.monotonic() + rng.uniform(0, sync_interval_s)
        while True:
            timeout = max(0.0, next_sync - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)
            self.wake.clear()
            try:
                while self.pending:
                    await self.push(self.take_pending())
                if time.monotonic() >= next_sync:
                    await self.reconcile()
                    next_sync = time.monotonic() + sync_interval_s * rng.uniform(0.75, 1.25)
                else:
                    await asyncio.sleep(push_interval_s)  # batch what arrives meanwhile
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad exchange must not stop gossip
                log.exception("gossip round failed")
                await asyncio.sleep(push_interval_s)
