"""The node's view of its federation: trust state, per-author heads, and the ingest path.

Ingest (every envelope that arrives from another node goes through :meth:`Federation.ingest`):

1. deduplicate by id (SHA-256 of the bytes) against the batch and against everything held,
   set aside or quarantined, *before* any signature is checked;
2. verify the rest (``open_envelope``: size, canonical form, schema, signature) off the
   event loop (:mod:`node.federation.verify`: worker processes for large batches, threads
   for small ones);
3. in **one transaction per batch**, in (author, sequence) order: trust
   (:mod:`protocol.trust`), then chain rules against the stored head; accept, quarantine
   (author not chartered yet, or predecessors missing), or reject with a reason code;
   apply what accepted envelopes change (charters, revocations, rotations, fork proofs);
   then retry the quarantined envelopes of every author that moved;
4. after the commit, tell listeners (gossip push, metrics) what was accepted and which
   forks were found.

A fork (two envelopes with one author and sequence) freezes the author: its log is cut
before the forked sequence on every node, the envelopes after the cut are set aside as
evidence (table ``held``), and the proof is stored and published.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import aiosqlite

from node.federation.admission import Admission, Outcome, cited_by
from node.federation.quarantine import QuarantineBook, QuarantineLimits
from node.federation.standing import Standing, agrees_with_replay
from node.federation.verify import Verifier
from node.storage.db import Database
from node.storage.envelopes import EnvelopeStore, envelope_row
from node.storage.federation import FederationStore, HeadRow
from protocol import (
    ChainFailure,
    Code,
    Decision,
    Envelope,
    ForkProof,
    Genesis,
    Head,
    ProtocolError,
    Quota,
    Trust,
    TrustFailure,
    check_next,
    make_fork_proof,
    open_envelope,
)
from protocol.envelope import reopen
from protocol.models import MAX_FORK_PROOF_ENVELOPE_BYTES, Aggregate, Delegates, Nomination
from protocol.quota import DEFAULT_QUOTA, charge
from protocol.trust import STRUCTURAL, Change, CharteredBody
from protocol.wire import heads_digest

# Kinds admitted by _admit, which reads the database: those that change trust, and decisions
# (checked against their roll).
_READS = STRUCTURAL | {Decision, Delegates, Nomination}  # kinds whose admission reads what they cite

MAX_RETRY_ROUNDS = 64


@dataclass(frozen=True)
class Found:
    """A fork this node found itself (to be published as a ForkProof in its own log)."""

    author: bytes
    seq: int
    proof: ForkProof


class Federation(Admission, Standing):
    """Trust, heads and ingest for one node. All state changes happen inside write transactions.
    Quarantine and the checks against other envelopes are in :mod:`node.federation.admission`;
    forks, cuts, replay and the own log in :mod:`node.federation.standing`."""

    def __init__(
        self,
        db: Database,
        own_key: bytes,
        *,
        verify_threads: int = 2,
        verify_processes: bool = False,
        quarantine: QuarantineLimits | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = db
        self.store = FederationStore(db)
        self.envelopes = EnvelopeStore(db)
        self.own_key = own_key
        self.clock = clock
        self.verifier = Verifier(verify_threads, verify_processes)
        self.federation: bytes | None = None
        self.trust: Trust | None = None
        self.heads: dict[bytes, Head] = {}
        self.quarantine = QuarantineBook(quarantine or QuarantineLimits())
        self._held_any = False  # whether the held table may have rows (dedupe asks it only then)
        self._rows: list[tuple[object, ...]] = []
        self._quarantine_rows: list[tuple[object, ...]] = []
        self._retry_all = False
        self._digest: bytes | None = None
        # For replaying trust from the set of envelopes (docs/federation.md, "The order rule"):
        self._genesis: Envelope | None = None
        self._structural: dict[bytes, Envelope] = {}  # charters, revocations, rotations, fork proofs held
        self._rolls: dict[bytes, tuple[bytes, int]] = {}  # the latest rolls taken in: id -> (author, seq)
        self._forks: set[tuple[bytes, int]] = set()  # (author, seq) of every fork proven here
        self._authorities: dict[bytes, Envelope] = {}  # the decisions acts of power cite (protocol.authority)
        self._replay_needed = False
        self._lapse_pending = False  # replay at the next look (lapse_due): the state was loaded
        self._loaded: dict[bytes, CharteredBody] = {}  # the bodies table as loaded: what that replay mends
        db.on_outside_change.append(self.reload_after_outside_change)
        self.counters: Counter[str] = Counter()  # "accepted", "duplicate", "quarantined", "rejected:<code>"
        self.on_accept: list[Callable[[list[Envelope]], None]] = []
        self.on_fork: list[Callable[[Found], None]] = []

    # --- loading ------------------------------------------------------------------------
    async def load(self, init: bool = True) -> None:
        """(Re)build the in-memory state from the database (``init``: write the founder's
        body on first use; not from inside a transaction).

        Everything is read first and put in place at once, with no wait in between: a request
        served while another process's write is being taken in (the CLI signed something)
        sees the state before or after, never an empty trust or a founder without its bodies."""
        store = self.store
        federation = await store.federation_id()
        heads = {row[0]: self._head_of(row, federation) for row in await store.heads()}
        quarantine = QuarantineBook(self.quarantine.limits)
        for envelope_id, size, unknown in await store.quarantine_sizes():
            quarantine.add(envelope_id, size, unknown)
        held_any = await store.held_any()
        genesis = await self.envelopes.get(federation) if federation is not None else None
        trust: Trust | None = None
        structural: dict[bytes, Envelope] = {}
        forks: set[tuple[bytes, int]] = set()
        bodies = []
        authorities: dict[bytes, Envelope] = {}
        if genesis is not None:  # (None: no federation yet, or joined and its genesis not received yet)
            genesis_envelope = open_envelope(genesis)
            trust = Trust.from_genesis(genesis_envelope)
            structural, forks = await self._read_structural()
            for act in structural.values():  # what acts of power cite, for the replay
                wanted = cited_by(act.payload.body)
                while wanted:
                    raw = await self.envelopes.get(cited := wanted.pop())
                    if raw is not None:
                        authorities[cited] = found = reopen(raw)
                        if isinstance(found.payload.body, Aggregate):
                            wanted.append(found.payload.body.item)
            bodies = await store.bodies()
            # The state is the replay of the set held, at this clock (a freeze may have lapsed
            # while the node was stopped: its envelopes come back at the first look, lapse_due).
            trust = Trust.replay(genesis_envelope, structural.values(), forks, lookup=authorities.get,
                                 now_ms=int(self.clock() * 1000))  # fmt: skip
            self._lapse_pending = True
            self._loaded = {b.key: b for b in bodies}
            self._genesis = genesis_envelope
        # From here on, no await until the state is whole.
        self.federation, self.heads, self._digest = federation, heads, None
        self.quarantine, self._held_any = quarantine, held_any
        self.trust, self._structural, self._forks, self._authorities = trust, structural, forks, authorities
        if trust is None:
            return
        await self._restore_quotas(persist=init)
        if not bodies and init:
            async with self.db.write("federation.init_bodies") as conn:
                await self._save_bodies(conn)

    @staticmethod
    def _head_of(row: HeadRow, ours: bytes | None) -> Head:
        """A head from the author's last stored envelope, in federation ``ours``."""
        author, seq, envelope_id, created, n, b = row
        # As Head.of would build it: every stored envelope names our federation, but the genesis.
        federation = None if envelope_id == ours else ours
        levels = (n, b) if n is not None and b is not None else None
        return Head(author, seq, envelope_id, created, federation, levels)

    def quota(self, created: int | None = None) -> Quota | None:
        """The federation's per-author quota (its rules in force for an envelope ``created`` then,
        else now; or the protocol default): every node charges an envelope by the same rules,
        whenever it arrives."""
        if self.trust is None:
            return None
        rules = self.trust.rules if created is None else self.trust.rules_at(created)
        return rules.quota or DEFAULT_QUOTA

    async def _restore_quotas(self, persist: bool) -> None:
        """Heads stored without their quota buckets (before quotas, or the founder's genesis):
        replay those authors' logs and (``persist``: not from inside a transaction) keep the
        result on the head row."""
        quota = self.quota()
        missing = [a for a, h in self.heads.items() if h.quota is None]
        if quota is None or not missing:
            return
        updates = []
        for author in missing:
            levels: tuple[int, int] | None = None
            last = 0
            for created, size in await self.store.log_sizes(author):
                try:
                    levels = charge(quota, levels, last, created, size)
                except ChainFailure:  # stored before quotas: over it then, so it starts from empty now
                    levels = (0, 0)
                last = created
            head = self.heads[author]
            self.heads[author] = Head(head.author, head.seq, head.id, head.created, head.federation, levels)
            if levels is not None:
                updates.append((levels[0], levels[1], author, head.seq))
        if updates and persist:
            await self.store.save_quotas(updates)

    async def rolled_back(self) -> None:
        """A transaction that changed our state failed (a full disk, a bug): nothing of it was
        stored, so memory goes back to what the database holds (called inside the write lock)."""
        self._rows = []
        self._quarantine_rows = []
        await self.load(init=False)

    async def reload_after_outside_change(self) -> None:
        """Another process wrote (the CLI chartered, joined, appended): start again from the
        database, and retry every quarantined envelope at the next batch."""
        await self.load(init=False)
        self._retry_all = True

    def close(self) -> None:
        self.verifier.close()

    async def load_counters(self) -> None:
        self.counters = Counter(await self.store.counters())

    async def save_counters(self) -> None:
        if self.counters:
            await self.store.save_counters(dict(self.counters))

    # --- questions ----------------------------------------------------------------------
    def head_triples(self) -> list[tuple[bytes, int, bytes]]:
        return sorted((a, h.seq, h.id) for a, h in self.heads.items())

    def digest(self) -> bytes:
        if self._digest is None:
            self._digest = heads_digest(self.head_triples())
        return self._digest

    def body(self, key: bytes) -> CharteredBody | None:
        return self.trust.bodies.get(key) if self.trust else None

    def may_speak(self, key: bytes) -> bool:
        """Whether ``key`` is a chartered body that has not been cut (for signed requests)."""
        body = self.body(key)
        return body is not None and body.cut is None

    # --- ingest -------------------------------------------------------------------------
    async def ingest(self, raws: list[bytes]) -> list[Outcome]:
        """Take a batch of envelopes from another node; one outcome per input, in order."""
        outcomes: list[Outcome | None] = [None] * len(raws)
        ids = [hashlib.sha256(raw).digest() for raw in raws]
        first_of: dict[bytes, int] = {}
        fresh: list[int] = []
        for i, raw in enumerate(raws):
            if len(raw) > MAX_FORK_PROOF_ENVELOPE_BYTES:
                outcomes[i] = Outcome("rejected", None, Code.TOO_LARGE, f"envelope is {len(raw)} bytes")
            elif ids[i] in first_of:
                outcomes[i] = Outcome("duplicate", ids[i].hex())
            else:
                first_of[ids[i]] = i
                fresh.append(i)
        known = await self._known([ids[i] for i in fresh])
        to_verify = []
        for i in fresh:
            if ids[i] in known:
                outcomes[i] = Outcome("duplicate", ids[i].hex())
            else:
                to_verify.append(i)
        checked = await self.verifier.open([raws[i] for i in to_verify])
        candidates: list[tuple[int, Envelope]] = []
        for i, result in zip(to_verify, checked, strict=True):
            if isinstance(result, ProtocolError):
                outcomes[i] = Outcome("rejected", ids[i].hex(), str(result.code), result.message)
            else:
                candidates.append((i, result))
        accepted: list[Envelope] = []
        found: list[Found] = []
        if candidates:
            async with self.db.write("federation.ingest", on_rollback=self.rolled_back) as conn:
                results = await self._admit_batch(conn, candidates, accepted, found)
            for i, outcome in results.items():
                outcomes[i] = outcome
        final = [o if o is not None else Outcome("rejected", None, "internal", "not processed") for o in outcomes]
        for outcome in final:
            self.counters[outcome.status if outcome.status != "rejected" else f"rejected:{outcome.code}"] += 1
        if accepted:
            for listener in self.on_accept:
                listener(accepted)
        for fork in found:
            for fork_listener in self.on_fork:
                fork_listener(fork)
        return final

    async def _known(self, ids: list[bytes]) -> set[bytes]:
        """Which of ``ids`` are held, set aside or quarantined (the last two tables are
        empty on most nodes: then they are not asked)."""
        return {i for i in ids if i in self.quarantine} | await self.store.known_ids(ids, self._held_any)

    async def _admit_batch(
        self,
        conn: aiosqlite.Connection,
        candidates: list[tuple[int, Envelope]],
        accepted: list[Envelope],
        found: list[Found],
    ) -> dict[int, Outcome]:
        results: dict[int, Outcome] = {}
        bodies_changed = False
        candidates.sort(key=lambda item: (item[1].payload.author, item[1].payload.seq))
        touched: set[bytes] = set()
        if self._retry_all:
            touched.update(await self.store.quarantined_authors(conn))
            self._retry_all = False

        def note(envelope: Envelope, outcome: Outcome, changes: list[Change]) -> None:
            """Remember what moved: accepted envelopes, and authors whose standing changed."""
            nonlocal bodies_changed
            if outcome.status == "accepted":
                accepted.append(envelope)
                touched.add(envelope.author)
            for change in changes:
                bodies_changed = bodies_changed or change.kind != "ineffective"
                touched.add(change.key)

        now_ms = int(self.clock() * 1000)
        if self.trust is not None:
            self.trust.now_ms = now_ms  # an interim freeze is judged by this clock (protocol.trust)
        for i, envelope in candidates:
            plain = self._admit_plain(envelope, now_ms)
            if plain is not None:  # the common case, decided without awaiting anything
                results[i] = plain
                if plain.status == "accepted":
                    accepted.append(envelope)
                    touched.add(envelope.payload.author)
                continue
            outcome, changes = await self._admit(conn, envelope, found)
            results[i] = outcome
            note(envelope, outcome, changes)
        # Retry the quarantined envelopes of every author that moved, until nothing moves.
        # Only those that can move are taken up: an author's envelopes after a gap in its log
        # (or of an author still unknown) would only be quarantined again. When trust changed,
        # it is replayed from the set of envelopes (arrival order must not matter), and the
        # authors whose standing changed are retried again.
        for _ in range(MAX_RETRY_ROUNDS):
            if (not touched or not self.quarantine) and self._replay_needed:
                touched |= await self._replay(conn)
            if not touched or not self.quarantine:
                break
            await self._flush(conn)
            waiting = await self.store.quarantined_of(conn, touched)
            touched.clear()
            resolved: list[bytes] = []
            stuck: set[bytes] = set()
            for envelope_id, author, seq in waiting:
                if author in stuck or self._stays_quarantined(author, seq):
                    stuck.add(author)  # rows come in sequence order: the rest of this author waits too
                    continue
                envelope = self.quarantine.verified(envelope_id) or await self._reopen(conn, envelope_id)
                changes = []
                plain = self._admit_plain(envelope, now_ms, from_quarantine=True)
                if plain is None:
                    outcome, changes = await self._admit(conn, envelope, found, from_quarantine=True)
                else:
                    outcome = plain
                if outcome.status == "quarantined":
                    continue
                resolved.append(envelope_id)
                self.quarantine.remove(envelope_id)
                note(envelope, outcome, changes)
            await self.store.release_quarantined(conn, resolved)
        await self._flush(conn)
        if bodies_changed:
            await self._save_bodies(conn)
        return results

    async def _reopen(self, conn: aiosqlite.Connection, envelope_id: bytes) -> Envelope:
        """An envelope quarantined before a restart (not kept in memory), verified again."""
        raw = await self.store.quarantined_raw(conn, envelope_id)
        assert raw is not None
        return open_envelope(raw)

    def _admit_plain(self, envelope: Envelope, now_ms: int, from_quarantine: bool = False) -> Outcome | None:
        """Accept or reject the common envelope (an author in good standing, the next
        sequence of its log, a body that changes no trust) without reading the database;
        None when :meth:`_admit` must decide. The rules are the same as there."""
        p = envelope.payload
        if type(p.body) in _READS or (not from_quarantine and envelope.id in self.quarantine):
            return None
        trust = self.trust
        if trust is None or p.federation != trust.federation:
            return None
        body = trust.bodies.get(p.author)
        if body is None or body.cut is not None:
            return None
        head = self.heads.get(p.author)
        if p.seq != (1 if head is None else head.seq + 1):
            return None
        try:
            new_head = check_next(head, envelope, now_ms, quota=trust.rules_at(p.created).quota or DEFAULT_QUOTA)
        except ChainFailure as exc:
            return Outcome("rejected", envelope.id.hex(), str(exc.code), exc.message)
        self._rows.append(envelope_row(envelope, now_ms, new_head.quota))
        self.heads[p.author] = new_head
        self._digest = None
        self._note_roll(envelope)
        return Outcome("accepted", envelope.id.hex())

    async def _admit(
        self, conn: aiosqlite.Connection, envelope: Envelope, found: list[Found], from_quarantine: bool = False
    ) -> tuple[Outcome, list[Change]]:
        """Accept, quarantine or reject one verified envelope, inside the batch transaction."""
        hex_id = envelope.id.hex()
        if not from_quarantine and envelope.id in self.quarantine:  # quarantined by a concurrent batch
            return Outcome("duplicate", hex_id), []
        if self.trust is None:
            if isinstance(envelope.payload.body, Genesis) and envelope.id == self.federation:
                self._genesis = envelope
                self.trust = Trust.from_genesis(envelope)
                self.trust.lookup = self._authorities.get
                await self._store(
                    conn, envelope, check_next(None, envelope, int(self.clock() * 1000),
                                               quota=self.quota(envelope.payload.created))
                )
                return Outcome("accepted", hex_id), [Change("chartered", envelope.author)]
            if self.federation is None:
                return Outcome("rejected", hex_id, "not_federated", "this node has joined no federation"), []
            return await self._quarantine(conn, envelope, "waiting for the genesis", from_quarantine, unknown=True), []
        if isinstance(envelope.payload.body, ForkProof):
            # A fork proof proves its author's equivocation whoever carries it: it counts as
            # soon as it is seen, whatever becomes of the envelope carrying it.
            await self._note_fork(conn, envelope.payload.body, published=True)
        try:
            self.trust.check(envelope)
        except TrustFailure as exc:
            if exc.code == Code.UNKNOWN_AUTHOR:
                return await self._quarantine(
                    conn, envelope, exc.message, from_quarantine, Code.UNKNOWN_AUTHOR, unknown=True
                ), []
            return Outcome("rejected", hex_id, str(exc.code), exc.message), []
        head = self.heads.get(envelope.author)
        if head is not None and envelope.seq <= head.seq:
            await self._flush(conn)
            raw = await self.store.envelope_at(conn, envelope.author, envelope.seq)
            if raw is None:
                return Outcome("rejected", hex_id, str(Code.BAD_CHAIN), "this sequence is no longer held"), []
            held = open_envelope(raw, deep=False)
            if held.id == envelope.id:  # the same envelope, from a concurrent batch
                return Outcome("duplicate", hex_id), []
            proof = make_fork_proof(held, envelope)
            changes = await self._record_fork(conn, proof, published=False)
            found.append(Found(envelope.author, envelope.seq, proof))
            return Outcome(
                "rejected", hex_id, str(Code.FORK), f"a different envelope holds seq {envelope.seq}"
            ), changes
        expected = 1 if head is None else head.seq + 1
        if envelope.seq > expected:
            return await self._quarantine(conn, envelope, f"waiting for seq {expected}", from_quarantine), []
        try:
            new_head = check_next(head, envelope, int(self.clock() * 1000), quota=self.quota(envelope.payload.created))
            if isinstance(envelope.payload.body, Decision):
                await self._check_roll(conn, envelope)
            elif isinstance(envelope.payload.body, Nomination):
                await self._check_consent(conn, envelope)
            await self._check_authority(conn, envelope)
        except ChainFailure as exc:
            return Outcome("rejected", hex_id, str(exc.code), exc.message), []
        await self._store(conn, envelope, new_head)
        changes = self.trust.apply(envelope)
        await self._apply_cuts(conn, changes)
        if type(envelope.payload.body) in STRUCTURAL:
            self._structural[envelope.id] = envelope
            self._replay_needed = self._replay_needed or not agrees_with_replay(changes)
        return Outcome("accepted", hex_id), changes

    async def _store(self, conn: aiosqlite.Connection, envelope: Envelope, head: Head) -> None:
        """Queue the insert (written by :meth:`_flush` in one statement per batch)."""
        self._note_roll(envelope)
        self._rows.append(envelope_row(envelope, int(self.clock() * 1000), head.quota))
        self.heads[envelope.author] = head
        self._digest = None

    async def _flush(self, conn: aiosqlite.Connection) -> None:
        """Write queued inserts; called before anything in the transaction reads them back."""
        if self._quarantine_rows:
            rows, self._quarantine_rows = self._quarantine_rows, []
            await self.store.insert_quarantined(conn, rows)
        if self._rows:
            rows, self._rows = self._rows, []
            await self.store.insert_envelopes(conn, rows)
