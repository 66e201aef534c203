"""What an envelope needs besides itself before a node takes it in: its predecessors and its
author's charter (else it waits in quarantine), the roll a decision names, and the decision
an act of power cites (docs/federation.md, "Authority"), the roll a nomination's signed
consent names. A part of
:class:`node.federation.ingest.Federation`, kept apart by what it does."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Literal

import aiosqlite
import msgspec

from node.federation.quarantine import QuarantineBook
from node.storage.db import Database
from node.storage.envelopes import EnvelopeStore
from node.storage.federation import FederationStore
from protocol import ChainFailure, Code, Decision, Envelope, Head, Roll, Trust
from protocol.ballots import check_against_roll
from protocol.envelope import reopen
from protocol.member_keys import consent_problem, participation_problem
from protocol.models import (
    AgendaItem,
    Aggregate,
    Charter,
    Delegates,
    ForkProof,
    Freeze,
    Nomination,
    Revocation,
    RulesChange,
)
from protocol.parts import check_parts, places

ROLLS_KEPT = 65_536  # where the latest rolls are, for their decisions' check (about 6 MB)

Status = Literal["accepted", "duplicate", "quarantined", "rejected"]


class Outcome(msgspec.Struct, omit_defaults=True):
    """What happened to one envelope of a batch."""

    status: Status
    id: str | None = None
    code: str | None = None
    message: str | None = None


class Admission:
    """Quarantine, and the checks of an envelope against others held (see the module's text)."""

    db: Database
    store: FederationStore
    trust: Trust | None
    heads: dict[bytes, Head]
    clock: Callable[[], float]
    quarantine: QuarantineBook
    _rolls: dict[bytes, tuple[bytes, int]]
    _authorities: dict[bytes, Envelope]
    _quarantine_rows: list[tuple[object, ...]]
    _flush: Callable[[aiosqlite.Connection], Awaitable[None]]
    rolled_back: Callable[[], Awaitable[None]]

    def _stays_quarantined(self, author: bytes, seq: int) -> bool:
        """Whether a quarantined envelope would certainly be quarantined again now: its
        author is unknown (or no genesis is held), or in good standing with a gap before
        ``seq``. (A cut author's envelopes are taken up: the full path rejects them.)"""
        if self.trust is None:
            return True
        body = self.trust.bodies.get(author)
        if body is None:
            return True
        if body.cut is not None:
            return False
        head = self.heads.get(author)
        return seq > (head.seq if head is not None else 0) + 1

    async def _held_roll(self, conn: aiosqlite.Connection, roll_id: bytes) -> Envelope | None:
        """A roll by its id, as held now (it may have come in this batch)."""
        await self._flush(conn)
        raw = None
        where = self._rolls.get(roll_id)
        if where is not None:  # taken in lately: one point read by author and sequence
            raw = await self.store.envelope_at(conn, *where)
            if raw is not None and reopen(raw).id != roll_id:
                raw = None
        if raw is None:
            raw = await EnvelopeStore.by_id_in(conn, roll_id)
        return reopen(raw) if raw is not None else None

    async def _check_roll(self, conn: aiosqlite.Connection, envelope: Envelope) -> None:
        """A decision against its roll (ChainFailure ``wrong_roll``): the roll is the author's
        own and comes earlier in its log, so a decision whose roll is not held is refused too;
        and a decision in parts against its parts, just before it (``missing_part``,
        ``wrong_part``, ``bad_decision``: :func:`protocol.parts.check_parts`)."""
        body = envelope.payload.body
        assert isinstance(body, Decision)
        roll = await self._held_roll(conn, body.roll)
        if roll is None:
            raise ChainFailure(Code.WRONG_ROLL, "the roll it names is not held: a body's roll comes before its "
                               "decision in its own log", "body.roll")  # fmt: skip
        check_against_roll(envelope, roll)
        if body.parts:  # its records: the envelopes just before it in its log, taken in already
            where = places(envelope)
            held = await self.store.envelopes_between(conn, envelope.author, where.start, where.stop - 1)
            check_parts(envelope, [reopen(held[seq]) if seq in held else None for seq in where])
        if self.trust is not None:  # signed participations, where the rules when the ballot opened ask
            problem = participation_problem(body, self.trust.rules_at(roll.payload.created))
            if problem is not None:
                raise ChainFailure(problem[0], problem[1], "body.signed")

    async def _check_consent(self, conn: aiosqlite.Connection, envelope: Envelope) -> None:
        """A nomination's candidate's own consent against the nominating body's roll, and
        required where the rules in force ask (ChainFailure, :func:`protocol.member_keys.
        consent_problem`)."""
        body = envelope.payload.body
        assert isinstance(body, Nomination)
        if self.trust is None:
            return
        roll = await self._held_roll(conn, body.consent.roll) if body.consent is not None else None
        problem = consent_problem(envelope, roll, self.trust.federation, self.trust.rules_at(envelope.payload.created))
        if problem is not None:
            raise ChainFailure(problem[0], problem[1], "body.consent")

    async def _quarantine(
        self,
        conn: aiosqlite.Connection,
        envelope: Envelope,
        reason: str,
        already: bool,
        code: str = "waiting",
        *,
        unknown: bool = False,
    ) -> Outcome:
        if not already:
            refusal = self.quarantine.refusal(len(envelope.raw), unknown)
            if refusal is not None:
                return Outcome("rejected", envelope.id.hex(), "quarantine_full", refusal)
            self.quarantine.add(envelope.id, len(envelope.raw), unknown, envelope)
            self._quarantine_rows.append(
                (envelope.id, envelope.author, envelope.seq, envelope.raw, reason, int(self.clock()), int(unknown))
            )
        return Outcome("quarantined", envelope.id.hex(), str(code), reason)

    @property
    def quarantined(self) -> int:
        """Envelopes waiting in quarantine."""
        return len(self.quarantine)

    async def expire_quarantine(self, now: float | None = None) -> int:
        """Drop quarantined envelopes older than the limit; returns how many."""
        cutoff = int(self.clock() if now is None else now) - self.quarantine.limits.ttl_s
        async with self.db.write("federation.expire_quarantine", on_rollback=self.rolled_back) as conn:
            expired = await self.store.expire_quarantined(conn, cutoff)
            for envelope_id in expired:
                self.quarantine.remove(envelope_id)
        return len(expired)

    def _note_roll(self, envelope: Envelope) -> None:
        """Where a roll just taken in is (so its decision finds it by a point read, not a scan)."""
        if isinstance(envelope.payload.body, Roll):
            self._rolls[envelope.id] = (envelope.author, envelope.seq)
            if len(self._rolls) > ROLLS_KEPT:
                self._rolls.pop(next(iter(self._rolls)))


    async def _check_authority(self, conn: aiosqlite.Connection, envelope: Envelope) -> None:
        """An act of power judged as the trust replay will judge it (:mod:`protocol.authority`):
        ChainFailure ``no_authority``, ``wrong_authority``, ``no_evidence``,
        ``below_amendment`` or ``freeze_too_long`` unless it stands. What it cites is its
        author's own and comes earlier in its log, all of which is held once the act extends
        it: so what is not held now never will be. Kept for the trust replay."""
        body = envelope.payload.body
        if self.trust is None or not isinstance(body, ACTS):
            return
        if self.trust.rules.authority is None and isinstance(body, Charter | Revocation | Delegates):
            return  # a federation whose rules list no authorities: these acts stand as signed
        await self._remember_authority(conn, envelope)
        problem = self.trust.act_problem(envelope, None)
        if problem is not None:
            field = "body.aggregate" if isinstance(body, RulesChange) else _FIELD_OF.get(problem[0], "body")
            raise ChainFailure(problem[0], problem[1], field)

    async def _remember_authority(self, conn: aiosqlite.Connection, envelope: Envelope) -> Envelope | None:
        """What an act cites (a decision, a fork proof, an aggregate and its item), as held,
        kept where the trust replay looks it up; returns the first."""
        found: list[Envelope | None] = []
        wanted = cited_by(envelope.payload.body)
        while wanted:
            cited = wanted.pop(0)
            held = self._authorities.get(cited)
            if held is None:
                await self._flush(conn)  # it may have come in this batch
                raw = await EnvelopeStore.by_id_in(conn, cited)
                held = reopen(raw) if raw is not None else None
                if held is not None and isinstance(held.payload.body, CITED):
                    self._authorities[held.id] = held
            found.append(held)
            if held is not None and isinstance(held.payload.body, Aggregate):
                wanted.append(held.payload.body.item)  # a rules change: the question it answered
        return found[0] if found else None


ACTS = (Charter, Revocation, Freeze, RulesChange, Delegates)
CITED = (Decision, ForkProof, Aggregate, AgendaItem)
_FIELD_OF = {Code.NO_AUTHORITY: "body.decision", Code.WRONG_AUTHORITY: "body.decision",
             Code.NO_EVIDENCE: "body.evidence", Code.BELOW_AMENDMENT: "body.aggregate",
             Code.FREEZE_TOO_LONG: "body.until"}  # fmt: skip


def cited_by(body: object) -> list[bytes]:
    """The envelopes an act of power cites for its authority (protocol.authority)."""
    if isinstance(body, Charter):
        return [body.decision] if body.decision is not None else []
    if isinstance(body, Delegates):
        return [h for h in (body.decision, body.election) if h is not None]
    if isinstance(body, Revocation):
        return [h for h in (body.decision, body.evidence) if h is not None]
    if isinstance(body, RulesChange):
        return [body.aggregate]
    return []
