"""Running gossip inside `branchnet serve`: the engine, its peers, and what feeds them.

Peers come from three places, refreshed every few seconds: seeds (``branchnet peer add``
and ``federation.seeds``), the URLs in charters, and the endpoints in the latest
NodeProfile of every chartered body. Our own URL and node id are never peers.
Accepted envelopes (ours and other nodes') are offered to the engine for pushing; forks
this node finds are published as a ForkProof in its own log unless a proof is already known.
When upward envelopes arrive (mandates, aggregates, ...), the upward index catches up and every
aggregate they concern is recounted, and every selection judged (node/federation/judging.py), at most once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from node.federation import judging, upward
from node.federation.ingest import Found
from node.gossip.client import HttpTransport
from node.gossip.engine import GossipEngine, Peer, PeerTable
from node.service import Node
from protocol import Envelope, NodeProfile
from protocol.encoding import decode_payload, decode_wire

log = logging.getLogger("branchnet.gossip")
PEER_REFRESH_S = 5.0
WATCH_S = 0.5
MAINTENANCE_S = 60.0  # expire quarantined envelopes and join requests this often
CONFIRMATIONS = 2  # peers that must confirm our latest sequence after a start


class Gossip:
    def __init__(self, node: Node, rng: random.Random | None = None, *, trust_local_log: bool = False) -> None:
        self.node = node
        self.trust_local_log = trust_local_log
        self.confirmed = False  # our latest sequence is confirmed by our peers (we may sign)
        self._confirmed_by: set[str] = set()
        self._needed = 0
        self.rng = rng or random.Random()
        config = node.config.federation
        self.peers = PeerTable(self.rng, exclude={node.config.http.public_url.rstrip("/")})
        self.transport = HttpTransport(
            node.key,
            allow_private=config.allow_private_peers,
            timeout_s=config.request_timeout_ms / 1000,
            max_batch=config.max_batch,
        )
        self.engine = GossipEngine(
            _Replica(node),
            self.transport,
            self.peers,
            fanout=config.fanout,
            push_batch=min(256, config.max_batch),
            slow_s=config.slow_answer_ms / 1000,
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._upward_due = asyncio.Event()
        node.federation_state.on_accept.append(self._accepted)
        node.federation_state.on_fork.append(self._fork_found)
        node.own_log.on_append.append(self._appended)
        own = node.federation_state.heads.get(node.key.public)
        self._own_seq = own.seq if own else 0
        self._peers_stale = False
        node.db.on_outside_change.append(self._outside_change)
        self.engine.on_round.append(self._round_seen)

    # --- learning our own latest sequence before signing --------------------------------------
    async def begin_confirmation(self) -> None:
        """After a start, our database may be older than what we signed (a restored backup, a
        rolled-back disk): until our peers confirm our latest sequence, the own log signs
        nothing (docs/operating.md, "Backup and restore")."""
        node = self.node
        if node.federation_state.federation is None:
            self.confirmed = True  # nothing signed yet, nothing to sign in
            return
        if self.trust_local_log:
            log.warning("signing without asking peers for our latest sequence (--trust-local-log)")
            await self._confirm()
            return
        known = len(self.peers.peers)
        if known == 0:
            log.info("no peers known: nobody can hold newer envelopes of ours; signing")
            await self._confirm()
            return
        await node.federation_state.store.set_unconfirmed(True)
        self._needed = min(CONFIRMATIONS, known)
        for peer in self.peers.sample(CONFIRMATIONS):
            self.engine.reconcile_soon(peer)

    def _round_seen(self, peer: Peer, heads: list[tuple[bytes, int, bytes]] | None) -> None:
        """A peer answered a round: its view of our log confirms our head, or shows we are behind."""
        if self.confirmed:
            return
        own = self.node.key.public
        head = self.node.federation_state.heads.get(own)
        ours = head.seq if head is not None else 0
        theirs = ours if heads is None else max((seq for author, seq, _ in heads if author == own), default=0)
        if theirs > ours:
            log.warning("a peer holds newer envelopes of ours than our database: taking them back",
                        extra={"fields": {"ours": ours, "theirs": theirs}})  # fmt: skip
            return  # the exchange that follows pulls them; a later round confirms
        self._confirmed_by.add(peer.address)
        if len(self._confirmed_by) >= self._needed:
            self.confirmed = True
            self._tasks.append(asyncio.create_task(self._confirm()))

    async def _confirm(self) -> None:
        self.confirmed = True
        await self.node.federation_state.store.set_unconfirmed(False)
        log.info("our latest sequence is confirmed; signing", extra={"fields": {"peers": len(self._confirmed_by)}})

    def _appended(self, envelope: Envelope) -> None:
        self._own_seq = max(self._own_seq, envelope.seq)
        self.engine.offer([envelope.raw])

    def _accepted(self, envelopes: list[Envelope]) -> None:
        self.engine.offer([e.raw for e in envelopes])
        if any(e.kind in upward.KINDS for e in envelopes):
            self._upward_due.set()

    async def _upward_loop(self) -> None:
        """Recount what arrived: aggregates are checked on arrival, not when first asked for."""
        while True:
            await self._upward_due.wait()
            self._upward_due.clear()
            try:
                await judging.catch_up(self.node)
            except Exception:
                log.exception("recounting what arrived failed")
            await asyncio.sleep(1.0)

    def _fork_found(self, found: Found) -> None:
        self._tasks.append(asyncio.create_task(self._publish_fork(found)))

    async def _publish_fork(self, found: Found) -> None:
        store = self.node.federation_state.store
        if await store.fork_published(found.author, found.seq):
            return
        try:
            await self.node.own_log.append(found.proof)
        except Exception as exc:  # not chartered, key cut, shutting down: another witness will publish
            log.warning("could not publish a fork proof", extra={"fields": {"error": str(exc)}})
            return
        await store.mark_fork_published(found.author, found.seq)

    async def refresh_peers(self) -> None:
        node = self.node
        urls: list[tuple[str, bytes | None, str]] = []
        urls += [(u, None, "seed") for u in node.config.federation.seeds]
        for peer in await node.peers.all():
            urls.append((peer.url, peer.node_id, peer.source))
        trust = node.federation_state.trust
        if trust is not None:
            for body in trust.bodies.values():
                if body.url and body.cut is None:
                    urls.append((body.url, body.key, "charter"))
            for raw in await node.federation_state.store.latest_profiles():
                # Stored envelopes were verified on arrival: decode only, no signature every 5 s.
                payload = decode_payload(decode_wire(raw)[1])
                if isinstance(payload.body, NodeProfile) and node.federation_state.may_speak(payload.author):
                    urls += [(u, payload.author, "profile") for u in payload.body.endpoints]
        for url, node_id, source in urls:
            if node_id == node.key.public:
                continue
            self.peers.add(url.rstrip("/"), node_id, source)

    async def _outside_change(self) -> None:
        """Another process (the CLI: charter, revoke, join, peer add) wrote to our database
        (the federation state was reloaded just before): push what it appended to our log."""
        own = self.node.federation_state.heads.get(self.node.key.public)
        now = own.seq if own else 0
        if now > self._own_seq:
            self.engine.offer(await self.node.envelopes.range(self.node.key.public, self._own_seq, 10_000))
        self._own_seq = now
        self._peers_stale = True

    async def save_health(self) -> None:
        """Keep counters and peer health in the database, for `branchnet status`."""
        await self.node.federation_state.save_counters()
        rows = [(p.address, p.node_id, p.source, int(time.time()), _wall(p.last_ok), p.failures, p.last_error)
                for p in self.peers.peers.values()]  # fmt: skip
        await self.node.peers.save_health(rows)

    async def _refresh_loop(self) -> None:
        ticks = 0
        while True:
            try:
                await self.node.db.notice_outside_changes()
                if self._peers_stale or ticks % int(PEER_REFRESH_S / WATCH_S) == 0:
                    self._peers_stale = False
                    await self.refresh_peers()
                    await self.save_health()
                if not self.confirmed and not self.engine.rounds_in_flight:
                    self.engine.reconcile_soon()  # keep asking until our peers confirm our head
                if ticks % int(MAINTENANCE_S / WATCH_S) == 0:
                    await self.node.federation_state.expire_quarantine()
                    await self.node.joins.expire()
            except Exception:
                log.exception("refreshing peers failed")
            ticks += 1
            await asyncio.sleep(WATCH_S)

    async def start(self) -> None:
        await self.node.federation_state.load_counters()
        await self.refresh_peers()
        await self.begin_confirmation()
        config = self.node.config.federation
        self._tasks.append(asyncio.create_task(self._refresh_loop(), name="peer-refresh"))
        self._tasks.append(asyncio.create_task(self._upward_loop(), name="upward-recount"))
        self._upward_due.set()  # whatever arrived while the node was down
        if config.gossip:
            self._tasks.append(
                asyncio.create_task(
                    self.engine.run(config.sync_interval_ms / 1000, config.push_interval_ms / 1000, self.rng),
                    name="gossip",
                )
            )
            self.engine.reconcile_soon()  # what our peers hold, now: a node just joined or back up catches up

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.engine.stop_exchanges()
        await self.transport.close()
        with contextlib.suppress(Exception):
            await self.save_health()

    def lag(self) -> dict[str, float | None]:
        """Seconds since each peer last answered (None: never)."""
        now = time.monotonic()
        return {p.address: (now - p.last_ok if p.last_ok is not None else None) for p in self.peers.peers.values()}


def _wall(monotonic: float | None) -> int | None:
    """A monotonic-clock time as Unix seconds."""
    return None if monotonic is None else int(time.time() - (time.monotonic() - monotonic))


class _Replica:
    """The engine's view of the node's store."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def digest(self) -> bytes:
        return self.node.federation_state.digest()

    def head_triples(self) -> list[tuple[bytes, int, bytes]]:
        return self.node.federation_state.head_triples()

    async def range(self, author: bytes, after: int, limit: int) -> list[bytes]:
        return await self.node.envelopes.range(author, after, limit)

    async def receive(self, raws: list[bytes]) -> int:
        outcomes = await self.node.federation_state.ingest(raws)
        return sum(1 for o in outcomes if o.status == "accepted")
