"""Judging what arrives across envelopes, for the one list of findings (docs/decisions.md,
"Findings"): here, a second decision by one author on one ballot (``decision_twice``: the
first in its author's log counts), and a roll whose count is implausible where it gives
weight (``implausible_roll``, :mod:`protocol.rolls`). The recounts of aggregates (:mod:`node.federation.upward`)
and of selections (:mod:`node.federation.elections`) keep theirs in the same store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from node.storage.envelopes import EnvelopeStore
from node.storage.findings import FindingStore
from node.storage.upward import UpwardStore
from protocol import Decision, Envelope, Roll
from protocol.ballots import repeated_decisions
from protocol.envelope import reopen
from protocol.errors import Code
from protocol.rolls import RECENT_DECISIONS, doubt

DECISION_TWICE = str(Code.DECISION_TWICE)


class Judging(Protocol):
    @property
    def upward(self) -> UpwardStore: ...

    @property
    def envelopes(self) -> EnvelopeStore: ...

    @property
    def findings(self) -> FindingStore: ...


async def judge_decisions(node: Judging, due: Iterable[bytes], now_ms: int) -> int:
    """For each decision due (just arrived): every decision its author signed on its ballot
    after the first is a finding. Returns how many findings were written."""
    written = 0
    for decision_id in due:
        raw = await node.envelopes.get(decision_id)
        arrived = reopen(raw) if raw is not None else None
        if arrived is not None and isinstance(arrived.payload.body, Decision):
            author, ballot = arrived.author, arrived.payload.body.ballot
            held = [reopen(r) for r in await node.upward.referring_by(ballot, "decision", author)]
            first = min(held, key=lambda e: e.seq)
            for e in repeated_decisions(held):
                message = (f"a second decision by its author on ballot {ballot.hex()}: the first, at seq {first.seq} "
                           f"({first.id.hex()[:16]}…), counts")  # fmt: skip
                await node.findings.replace(e.id, "decision", e.author, ballot, [(DECISION_TWICE, message)], now_ms)
                written += 1
        await node.findings.judged(decision_id)
    return written




async def roll_doubt(node: Judging, roll: Envelope) -> str | None:
    """Why this roll's count is implausible, from the body's previous roll and the votes its
    recent decisions counted (:func:`protocol.rolls.doubt`); None when nothing shows it."""
    body = roll.payload.body
    assert isinstance(body, Roll)
    before = await node.envelopes.before(roll.author, "roll", roll.seq)
    previous = reopen(before).payload.body if before is not None else None
    recent = [d for d in (reopen(raw).payload.body for raw in await node.envelopes.own_of_kind(
        roll.author, "decision", RECENT_DECISIONS)) if isinstance(d, Decision)]  # fmt: skip
    return doubt(body.count, previous.count if isinstance(previous, Roll) else None, recent)
