"""Judging what arrives across envelopes, for the one list of findings (docs/decisions.md,
"Findings"): here, a second decision by one author on one ballot (``decision_twice``: the
first in its author's log counts). The recounts of aggregates (:mod:`node.federation.upward`)
and of selections (:mod:`node.federation.elections`) keep theirs in the same store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from node.storage.findings import FindingStore
from node.storage.upward import UpwardStore
from protocol import Decision, Envelope
from protocol.ballots import repeated_decisions
from protocol.envelope import reopen
from protocol.errors import Code

DECISION_TWICE = str(Code.DECISION_TWICE)


class Judging(Protocol):
    @property
    def upward(self) -> UpwardStore: ...

    @property
    def findings(self) -> FindingStore: ...


async def judge_decisions(node: Judging, new: Iterable[Envelope], now_ms: int) -> int:
    """For each ballot a new decision is on: every decision its author signed on it after the
    first is a finding. Returns how many findings were written."""
    written = 0
    for author, ballot in sorted({(e.author, e.payload.body.ballot) for e in new
                                  if isinstance(e.payload.body, Decision)}):  # fmt: skip
        held = [reopen(raw) for raw in await node.upward.referring_by(ballot, "decision", author)]
        later = repeated_decisions(held)
        if not later:
            continue
        first = min(held, key=lambda e: e.seq)
        for e in later:
            message = (f"a second decision by its author on ballot {ballot.hex()}: the first, at seq {first.seq} "
                       f"({first.id.hex()[:16]}…), counts")  # fmt: skip
            await node.findings.replace(e.id, "decision", e.author, ballot, [(DECISION_TWICE, message)], now_ms)
            written += 1
    return written
