"""Keeping up with what arrived, and the one list of findings it leaves (docs/decisions.md,
"Findings"): index the new envelopes and recount the aggregates they concern
(:func:`node.federation.upward.refresh`, which also judges decisions and rolls), then judge
each selection something arrived for (:func:`node.federation.elections.judge_due`). The
runner does this as envelopes arrive; whoever reads the findings does it first.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from node.federation import elections, upward
from node.storage.findings import Finding


async def catch_up(node: elections.Electing, clock: Callable[[], float] = time.time) -> None:
    await upward.refresh(node, clock)
    await elections.judge_due(node, clock)


async def findings(node: elections.Electing, limit: int = 50, before: tuple[int, bytes, str] | None = None
                   ) -> list[Finding]:  # fmt: skip
    """Every finding this node holds, newest first, after catching up with what arrived."""
    await catch_up(node)
    return await node.findings.page(limit, before)
