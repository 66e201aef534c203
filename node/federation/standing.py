"""A node's standing of each author: forks proven, cuts applied (envelopes set aside and
taken back), trust replayed from the set of structural envelopes held, and the node's own
envelopes taken into trust. A part of :class:`node.federation.ingest.Federation`, kept apart
by what it does."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

import aiosqlite

from node.storage.db import Database
from node.storage.envelopes import envelope_row
from node.storage.federation import FederationStore, HeadRow
from protocol import (
    ChainFailure,
    Charter,
    Envelope,
    ForkProof,
    Head,
    Quota,
    Revocation,
    Trust,
    check_next,
    open_envelope,
)
from protocol.envelope import reopen
from protocol.models import MAX_SEQ, Genesis
from protocol.models import TAG_OF as KIND_OF
from protocol.trust import STRUCTURAL, Change, CharteredBody


class Standing:
    """Forks, cuts, replay and the own log (see the module's text)."""

    store: FederationStore
    trust: Trust | None
    heads: dict[bytes, Head]
    federation: bytes | None
    own_key: bytes
    clock: Callable[[], float]
    _genesis: Envelope | None
    _structural: dict[bytes, Envelope]
    _authorities: dict[bytes, Envelope]
    _forks: set[tuple[bytes, int]]
    _replay_needed: bool
    _lapse_pending: bool
    _loaded: dict[bytes, CharteredBody]
    db: Database
    rolled_back: Callable[[], Awaitable[None]]
    _held_any: bool
    _digest: bytes | None
    _rows: list[tuple[object, ...]]
    _flush: Callable[[aiosqlite.Connection], Awaitable[None]]
    quota: Callable[[int | None], Quota | None]
    body: Callable[[bytes], CharteredBody | None]
    _head_of: Callable[[HeadRow, bytes | None], Head]
    _remember_authority: Callable[[aiosqlite.Connection, Envelope], Awaitable[Envelope | None]]

    async def _note_fork(self, conn: aiosqlite.Connection, proof: ForkProof, published: bool) -> None:
        """Keep a proven fork (once per author and sequence); trust is replayed with it."""
        a = open_envelope(proof.a, deep=False)
        await self.store.insert_fork(conn, a.author, a.seq, proof.a, proof.b, int(self.clock()), published)
        if (a.author, a.seq) not in self._forks:
            self._forks.add((a.author, a.seq))
            self._replay_needed = True

    async def _record_fork(self, conn: aiosqlite.Connection, proof: ForkProof, published: bool) -> list[Change]:
        await self._note_fork(conn, proof, published)
        assert self.trust is not None
        changes = self.trust.record_fork(proof)
        await self._apply_cuts(conn, changes)
        if any(c.kind == "cut" for c in changes):
            await self._save_bodies(conn)
        return changes

    async def _apply_cuts(self, conn: aiosqlite.Connection, changes: list[Change]) -> None:
        """Set aside the envelopes after each cut and move the author's head back."""
        for change in changes:
            if change.kind == "cut" and change.cut is not None:
                await self._set_aside(conn, change.key, change.cut, change.reason)

    async def _set_aside(self, conn: aiosqlite.Connection, author: bytes, cut: int, reason: str) -> None:
        await self._flush(conn)
        self._held_any = True
        await self.store.set_aside(conn, author, cut, reason, int(self.clock()))
        row = await self.store.head(conn, author)
        if row is None:
            self.heads.pop(author, None)
        else:
            self.heads[author] = self._head_of(row, self.federation)
        self._digest = None

    async def lapse_due(self) -> bool:
        """Replay trust when an interim freeze has lapsed by this node's clock, or once after
        loading: what the freeze set aside comes back in (protocol.trust). True if any body's
        standing changed. The closer asks at each look, and wakes at the next lapse."""
        if self.trust is None or self._genesis is None:
            return False
        due = self.trust.next_lapse()
        if not self._lapse_pending and (due is None or due > int(self.clock() * 1000)):
            return False
        async with self.db.write("federation.lapse", on_rollback=self.rolled_back) as conn:
            changed = await self._replay(conn, self._loaded if self._lapse_pending else None)
        self._lapse_pending, self._loaded = False, {}
        return bool(changed)

    async def _read_structural(self) -> tuple[dict[bytes, Envelope], set[tuple[bytes, int]]]:
        """The structural envelopes held (accepted, or set aside) and the forks proven."""
        kinds = [KIND_OF[t] for t in STRUCTURAL if t is not Genesis]
        structural: dict[bytes, Envelope] = {}
        for raw in await self.store.structural_raws(kinds):
            envelope = reopen(raw)  # verified when it arrived: not again at every load
            if type(envelope.payload.body) in STRUCTURAL:
                structural[envelope.id] = envelope
        return structural, await self.store.forks()

    async def _replay(self, conn: aiosqlite.Connection, old: dict[bytes, CharteredBody] | None = None) -> set[bytes]:
        """Recompute trust from the set of structural envelopes held and the forks proven, as
        any node holding the same set does, and make the tables follow: envelopes beyond a
        cut (or of a key no longer chartered) are set aside, and set-aside envelopes a cut no
        longer covers come back, in order. Returns the keys whose standing changed."""
        assert self.trust is not None and self._genesis is not None
        self._replay_needed = False
        await self._flush(conn)
        new = Trust.replay(self._genesis, self._structural.values(), self._forks, lookup=self._authorities.get,
                           now_ms=int(self.clock() * 1000))  # fmt: skip
        old = self.trust.bodies if old is None else old  # (given: the bodies table as stored)
        changed = {k for k in old.keys() | new.bodies.keys() if _standing(old.get(k)) != _standing(new.bodies.get(k))}
        changed |= {k for k in self.trust.frozen.keys() ^ new.frozen.keys()}
        self.trust = new
        for key in sorted(changed):
            body = new.bodies.get(key)
            if body is None:
                await self._set_aside(conn, key, 0, "revoked")
                continue
            if body.cut is not None:
                await self._set_aside(conn, key, body.cut, body.cut_reason or "revoked")
            await self._take_back(conn, key, MAX_SEQ if body.cut is None else body.cut)
        if changed:
            await self._save_bodies(conn)
        return changed

    async def _take_back(self, conn: aiosqlite.Connection, author: bytes, limit: int) -> None:
        """Move an author's set-aside envelopes up to ``limit`` back into its log, in order,
        as far as they extend it (the chain rules and the quota, as on arrival)."""
        if not self._held_any:
            return
        head = self.heads.get(author)
        rows = await self.store.set_aside_between(conn, author, head.seq if head else 0, limit)
        now_ms = int(self.clock() * 1000)
        back: list[bytes] = []
        for envelope_id, raw in rows:
            envelope = open_envelope(raw, deep=False)  # verified when it arrived
            try:
                new_head = check_next(head, envelope, now_ms, quota=self.quota(envelope.payload.created))
            except ChainFailure:
                break
            self._rows.append(envelope_row(envelope, now_ms, new_head.quota))
            head = new_head
            back.append(envelope_id)
        if back:
            assert head is not None
            await self._flush(conn)
            await self.store.take_back(conn, back)
            self.heads[author] = head
            self._digest = None

    async def _save_bodies(self, conn: aiosqlite.Connection) -> None:
        assert self.trust is not None
        await self.store.save_bodies(conn, self.trust.bodies.values())

    # --- our own log ----------------------------------------------------------------------
    async def record_own(self, conn: aiosqlite.Connection, envelope: Envelope, head: Head) -> None:
        """Called by the own-log writer inside its transaction, after storing ``envelope``."""
        self.heads[envelope.author] = head
        self._digest = None
        if self.trust is None:  # (a genesis never comes this way: `branchnet genesis` stores it)
            return
        await self._remember_authority(conn, envelope)
        changes = self.trust.apply(envelope)
        await self._apply_cuts(conn, changes)
        if any(c.kind != "ineffective" for c in changes):
            await self._save_bodies(conn)
        if type(envelope.payload.body) in STRUCTURAL:
            self._structural[envelope.id] = envelope
            if not agrees_with_replay(changes):
                await self._replay(conn)

    def revocations_of(self, key: bytes) -> list[Envelope]:
        """The revocations of ``key`` held, oldest first."""
        found = [e for e in self._structural.values() if isinstance(e.payload.body, Revocation) and
                 e.payload.body.key == key]  # fmt: skip
        return sorted(found, key=lambda e: (e.payload.created, e.author, e.seq))

    def structural(self, envelope_id: bytes) -> Envelope | None:
        """A structural envelope held (a charter, revocation, freeze, ...), by its id."""
        return self._structural.get(envelope_id)

    def authority_of(self, act: Envelope) -> Envelope | None:
        """The decision an act of power cites, where this node holds it."""
        body = act.payload.body
        if not isinstance(body, Revocation | Charter) or body.decision is None:
            return None
        return self._authorities.get(body.decision)

    def own_cut(self) -> CharteredBody | None:
        """Our own body if it has been cut (then we must not sign anything more)."""
        body = self.body(self.own_key)
        return body if body is not None and body.cut is not None else None


def _standing(body: CharteredBody | None) -> CharteredBody | None:
    """A body as the tables keep it (without when it was cut, which only the replay knows)."""
    return dataclasses.replace(body, cut_created=None) if body is not None else None


def agrees_with_replay(changes: list[Change]) -> bool:
    """Whether applying one envelope on its own is sure to give what a replay of the whole set
    gives: when it cut nobody and nothing of it was ineffective (a charter of a key nobody
    else chartered, a name updated). A conflict or a cut is where arrival order could matter;
    then the node replays."""
    return all(c.kind in ("chartered", "updated") for c in changes)
