"""The node's own log: the one place where the node signs.

Appending to our own log is the one place where a bug could fork the federation's trust
in this node, so it is built to make that impossible:

* one :class:`OwnLog` writer task takes every pending append, reads the head *inside* the
  write transaction, seals each body at the next sequence with the previous id, inserts
  them and commits; only then are the callers answered (group commit: one fsync per batch);
* the database has ``UNIQUE (author, seq)``, so even another process appending at the
  same moment (the CLI) cannot store a second envelope at a sequence: its
  ``BEGIN IMMEDIATE`` waits, then it reads the new head;
* nothing is published before its transaction committed. An envelope signed but not
  committed when the process dies was never seen by anyone, so re-using its sequence
  after a restart is not a fork;
* an append may carry a **check** that runs inside that same write transaction, just before
  its body is sealed ("no result of this selection signed yet"): two officers acting in the
  same instant, or a command beside the server, cannot both pass it (:func:`none_signed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiosqlite

from node.errors import Conflict, NodeError, Unavailable
from node.rules.throttle import SigningThrottle
from node.storage.db import Database
from node.storage.envelopes import EnvelopeStore
from node.storage.federation import FederationStore
from protocol import (
    Aggregate,
    Body,
    ChainFailure,
    Code,
    Decision,
    DecisionPart,
    Delegates,
    Envelope,
    ForkProof,
    Head,
    Mandate,
    Payload,
    ProtocolError,
    Quota,
    SelectionResult,
    SigningKey,
    check_next,
    seal,
)
from protocol.envelope import reopen
from protocol.quota import DAY_MS, DEFAULT_QUOTA

if TYPE_CHECKING:
    from node.federation.ingest import Federation

MAX_BATCH = 256
WAIT_FOR_SERVER_S = 30.0

# Kinds that must never wait for a member's limit or for the node's daily quota to refill:
# closing a ballot or a selection, a body's mandate, its aggregate, its elected delegates, and
# a fork proof. The last tenth of the day's quota is kept for them (RESERVE).
ESSENTIAL = frozenset({Decision, DecisionPart, Mandate, Aggregate, SelectionResult, Delegates, ForkProof})
RESERVE = 10  # one part in ten of the daily allowance (envelopes and bytes)

# The member on whose request the node is signing (set by the web layer for each request),
# so that one member's requests cannot spend the node's whole quota.
ACTING: contextvars.ContextVar[int | None] = contextvars.ContextVar("acting_member", default=None)


# A check run inside the own log's write transaction, given its connection; it raises a
# NodeError to refuse the append (nothing is signed, no sequence is used).
Check = Callable[[aiosqlite.Connection], Awaitable[None]]
# Run in the same transaction once the envelope is stored: what must be written with it (a
# change of the rules' row with its agenda item), so a crash keeps both or neither.
Stored = Callable[[aiosqlite.Connection, Envelope], Awaitable[None]]


def none_signed(author: bytes, kind: str, matches: Callable[[Body], bool], refusal: NodeError) -> Check:
    """A check: refuse when ``author`` has already signed an envelope of ``kind`` whose body
    ``matches`` (one result per selection, one pledge per campaign ...)."""

    async def check(conn: aiosqlite.Connection) -> None:
        for raw in await EnvelopeStore.own_of_kind_in(conn, author, kind):
            if matches(reopen(raw).payload.body):
                raise refusal

    return check


def _keep_reserve(quota: Quota, head: Head) -> None:
    """Refuse (ChainFailure ``over_quota``, as the quota itself does) an envelope that is not
    essential when it would leave less than the reserve of the day's allowance."""
    if head.quota is None:
        return
    envelopes, size = head.quota
    if envelopes < quota.envelopes_per_day * DAY_MS // RESERVE or size < quota.bytes_per_day * DAY_MS // RESERVE:
        raise ChainFailure(Code.OVER_QUOTA, "the node keeps the last tenth of its daily allowance for closing ballots "
                           "and signing mandates; this can be signed again when the allowance refills",
                           "payload.created")  # fmt: skip


@dataclass
class _Pending:
    bodies: tuple[Body, ...]  # signed together, one after the other, or none of them
    future: asyncio.Future[list[Envelope]]
    check: Check | None = None
    stored: Stored | None = None


class OwnLog:
    """Appends to this node's own log through one writer task with group commit."""

    def __init__(
        self,
        db: Database,
        key: SigningKey,
        clock: Callable[[], float] = time.time,
        federation: Federation | None = None,
        server_running: Callable[[], bool] = lambda: False,
    ) -> None:
        self.db = db
        self.key = key
        self.clock = clock
        self.federation = federation
        self.server_running = server_running  # (the CLI) whether `branchnet serve` holds this folder
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.on_append: list[Callable[[Envelope], None]] = []
        self.signing: SigningThrottle | None = None  # per member, for requests (ACTING)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="own-log-writer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(Conflict("the node is shutting down", code="shutting_down"))

    async def append(self, body: Body, check: Check | None = None, stored: Stored | None = None) -> Envelope:
        """Append ``body`` to our log; returns once it is durably stored. ``check``, if given,
        runs in the same write transaction first and may refuse it; ``stored``, if given, runs
        in it once the envelope is stored (what is written with it; its failure fails the
        transaction).

        Raises the body's ProtocolError if it cannot be sealed (it then takes no sequence)."""
        return (await self.append_all([body], check, stored))[0]

    async def append_all(self, bodies: list[Body], check: Check | None = None, stored: Stored | None = None
                         ) -> list[Envelope]:  # fmt: skip
        """Append ``bodies`` to our log one after the other, in one transaction: all of them or
        none (a decision and its parts). ``check`` runs once, before the first; ``stored``
        after the last, with it."""
        if not bodies:
            raise ValueError("nothing to append")
        member = ACTING.get()
        if member is not None and self.signing is not None and any(type(b) not in ESSENTIAL for b in bodies):
            self.signing.take(member)
        future: asyncio.Future[list[Envelope]] = asyncio.get_running_loop().create_future()
        pending = _Pending(tuple(bodies), future, check, stored)
        if self._task is None:  # no writer task (CLI use): write this one directly
            deadline = time.monotonic() + WAIT_FOR_SERVER_S
            while True:
                try:
                    await self._write([pending])
                    break
                except Unavailable:
                    # A server that just started is learning our latest sequence from its
                    # peers: give it a moment. Without a server, nobody would clear the mark.
                    if not self.server_running() or time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.25)
        else:
            await self._queue.put(pending)
        return await future

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                envelopes = await self._write(batch)
            except Exception as exc:  # answer every caller; the writer keeps running
                for pending in batch:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            for envelope in envelopes:
                for callback in self.on_append:
                    callback(envelope)

    def _seal_all(self, pending: _Pending, head: Head | None, federation: bytes, now: int, quota: Quota | None
                  ) -> list[tuple[Envelope, Head]]:  # fmt: skip
        """Seal each of a pending append's bodies after ``head``; ProtocolError if one cannot be
        (then none is stored)."""
        author = self.key.public
        sealed = []
        for body in pending.bodies:
            created = max(now, head.created if head else 0)  # a clock step back must not break our chain
            payload = Payload(author=author, seq=head.seq + 1 if head else 1, created=created, body=body,
                              federation=federation, prev=head.id if head else None)  # fmt: skip
            envelope = seal(self.key, payload)
            # Our own envelopes obey the federation's quota like anyone's: one the others
            # would refuse is not stored, and its sequence is used again by the next.
            head = check_next(head, envelope, now, quota=quota)
            if type(body) not in ESSENTIAL:
                _keep_reserve(quota or DEFAULT_QUOTA, head)
            sealed.append((envelope, head))
        return sealed

    async def _write(self, batch: list[_Pending]) -> list[Envelope]:
        """Seal and store a batch in one transaction; resolve each caller after commit."""
        author = self.key.public
        rolled_back = self.federation.rolled_back if self.federation is not None else None
        async with self.db.write("own_log.append", on_rollback=rolled_back) as conn:
            state = await FederationStore.own_state(conn, author)
            if state.federation is None:
                raise Conflict("this node has no federation yet (found one or join one first)", code="not_federated")
            federation = state.federation
            if state.unconfirmed:
                raise Unavailable(
                    "this node has not yet learnt its latest sequence from its peers (after a start or a"
                    " restore), so it signs nothing yet: it waits for `branchnet serve` to reach them, or"
                    " for `branchnet serve --trust-local-log` if no newer envelope of it exists anywhere",
                    code="catching_up",
                )
            cut = self.federation.own_cut() if self.federation else None
            if cut is not None and cut.cut_reason == "suspended":
                raise Conflict("an ancestor's officers froze this body: it signs nothing until the freeze lapses or "
                               "its parent's members decide (the home page says until when)", code="frozen")
            if cut is not None:
                raise Conflict(
                    f"this node's key was {cut.cut_reason} after seq {cut.cut}; it signs nothing more", code="key_cut"
                )
            row = state.head
            if state.highest_set_aside is not None and (row is None or state.highest_set_aside > row[1]):
                # Never re-use a sequence number we signed before, even one set aside.
                raise Conflict("this node's own log was cut; it signs nothing more", code="key_cut")
            head: Head | None = None
            if row is not None:
                _, seq, envelope_id, created, n, b = row
                levels = (n, b) if n is not None and b is not None else None
                head = Head(author, seq, envelope_id, created, federation, levels)
                if levels is None and self.federation is not None:
                    head = self.federation.heads.get(author, head)  # rebuilt with its quota at load
            quota = self.federation.quota() if self.federation is not None else None
            now = int(self.clock() * 1000)
            done: list[tuple[_Pending, list[Envelope]]] = []
            for pending in batch:
                if pending.check is not None:
                    try:
                        await pending.check(conn)
                    except NodeError as exc:
                        pending.future.set_exception(exc)
                        continue
                try:
                    sealed = self._seal_all(pending, head, federation, now, quota)
                except ProtocolError as exc:
                    pending.future.set_exception(
                        Conflict(exc.message, code=str(exc.code)) if exc.code == Code.OVER_QUOTA else exc
                    )
                    continue
                for envelope, new_head in sealed:
                    await EnvelopeStore.insert(conn, envelope, now, new_head.quota)
                    if self.federation is not None:
                        await self.federation.record_own(conn, envelope, new_head)
                if pending.stored is not None:
                    await pending.stored(conn, sealed[-1][0])
                done.append((pending, [envelope for envelope, _ in sealed]))
                head = sealed[-1][1]
        for pending, envelopes in done:  # committed: now, and only now, answer
            if not pending.future.done():
                pending.future.set_result(envelopes)
        return [envelope for _, envelopes in done for envelope in envelopes]
