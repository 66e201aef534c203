"""Ballots close themselves: at each open ballot's closing time ``serve`` closes, counts and
publishes it (:func:`node.federation.motions.close_due`). The time was set by the officer who
opened it, so no officer need be awake at midnight, and none can keep a ballot open past it.
It also finishes an act of power whose ballot closed just before the node stopped
(:func:`node.federation.ballots.settle_acts`) or whose question was aggregated
(:func:`node.federation.rules_change.settle`), and lets an interim freeze lapse at its time,
taking back what it set aside (:meth:`node.federation.ingest.Federation.lapse_due`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from node.federation import ballots, motions, rules_change
from node.tasks import Background

log = logging.getLogger("branchnet.ballots")

LOOK_S = 30.0  # at most this long between looks (a ballot opened by the command line is seen within it)


class Closer(Background):
    name = "ballot closer"

    def __init__(self, node: rules_change.Closing, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.node = node
        self.clock = clock
        self.wake = asyncio.Event()  # set when a ballot with a closing time opens here

    async def _run(self) -> None:
        while True:
            try:
                for envelope in await motions.close_due(self.node, self.clock):
                    log.info("ballot closed at its closing time", extra={"fields": {"decision": envelope.id.hex()}})
                if await ballots.settle_acts(self.node):
                    log.info("an act of power whose ballot closed before a stop was finished")
                if await rules_change.settle(self.node):
                    log.info("a change of the rules its children carried was signed")
                if await self.node.federation_state.lapse_due():
                    log.info("an interim freeze lapsed; what it set aside was taken back")
                nearest = await self.node.ballots.next_closes()
                trust = self.node.federation_state.trust
                lapse = trust.next_lapse() if trust is not None else None
                if lapse is not None:
                    nearest = lapse if nearest is None else min(nearest, lapse)
            except asyncio.CancelledError:
                raise
            except Exception:  # a database or signing problem: say so, look again soon
                log.exception("closing ballots at their closing time failed; trying again in %.0f s", LOOK_S)
                nearest = None
            wait = LOOK_S if nearest is None else min(LOOK_S, max(0.0, nearest / 1000 - self.clock()) + 0.05)
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)
