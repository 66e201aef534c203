"""Retention: how long the node keeps members' personal data, applied by the node itself.

The rule (``[retention]`` in node.toml, docs/operating.md "Retention"): a member lapsed for
``lapsed_months`` is forgotten as an erasure would (:meth:`MembersData.erase`); sessions,
invites and reset links go when they expire or after ``secrets_days``; what a mail said goes
after ``mail_days`` (a sent mail keeps none already); the record of who looked after
``access_months``; the signatures in a counted ballot's marked register after
``register_months``. ``serve`` runs it at start and every hour (:class:`Keeper`); each run
logs what it removed, by count and member id, never a name. Officers see what will go and when.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from node.errors import Forbidden, NodeError
from node.rules.members import access
from node.rules.members_data import HoldsMembersData
from node.storage.members import Member
from node.storage.members_data import Lapsed, Swept
from node.tasks import Background

log = logging.getLogger("branchnet.retention")

DAY_S = 86_400
MONTH_S = 2_629_800  # an average month (365.25 / 12 days)
EVERY_S = 3600.0


@dataclass(frozen=True)
class Going:
    """A lapsed member and when the rule forgets them (s)."""

    member: Lapsed
    at: int


async def plan(node: HoldsMembersData, who: Member | None) -> list[Going]:
    """Every lapsed member and when the rule will forget them, soonest first (officers)."""
    if who is not None and access(who.role) < 1:
        raise Forbidden("only officers see what the retention rule will remove")
    keep = node.config.retention.lapsed_months * MONTH_S
    return [Going(m, m.since + keep) for m in await node.members_data.lapsed()]


async def run(node: HoldsMembersData, now: int | None = None) -> Swept:
    """Apply the rule once, at ``now`` (s; default the clock): what it removed."""
    rule = node.config.retention
    at = int(node.members_data.clock()) if now is None else now
    forgotten = []
    for lapsed in await node.members_data.lapsed_before(at - rule.lapsed_months * MONTH_S):
        try:
            changed = await node.members_data.erase(lapsed.id, None)
        except NodeError as exc:  # the last admin, lapsed: kept, and said
            log.warning("retention could not forget member %d: %s", lapsed.id, exc.message)
            continue
        await node.access.record(None, "erase", "rule", member_id=lapsed.id, rows=changed)
        forgotten.append(lapsed.id)
    swept = await node.members_data.sweep(secrets_before=at - rule.secrets_days * DAY_S,
                                          mail_before=at - rule.mail_days * DAY_S,
                                          access_before=at - rule.access_months * MONTH_S,
                                          register_before=at - rule.register_months * MONTH_S)  # fmt: skip
    done = Swept(forgotten, swept.sessions, swept.invites, swept.resets, swept.mail_bodies, swept.access,
                 swept.registers)  # fmt: skip
    if forgotten or any((done.sessions, done.invites, done.resets, done.mail_bodies, done.access, done.registers)):
        log.info(
            "retention applied",
            extra={
                "fields": {
                    "members": forgotten,
                    "sessions": done.sessions,
                    "invites": done.invites,
                    "resets": done.resets,
                    "mail_bodies": done.mail_bodies,
                    "access": done.access,
                    "registers": done.registers,
                }
            },
        )
    return done


class Keeper(Background):
    """Runs the rule inside ``serve``: at start, then every hour."""

    name = "retention"

    def __init__(self, node: HoldsMembersData, clock: Callable[[], float] | None = None) -> None:
        super().__init__()
        self.node = node
        self.clock = clock or node.members_data.clock  # the node's own clock (a test's fake one)

    async def _run(self) -> None:
        while True:
            try:
                await run(self.node, int(self.clock()))
            except asyncio.CancelledError:
                raise
            except Exception:  # a database problem: say so, try again next hour
                log.exception("applying the retention rule failed; trying again in an hour")
            await asyncio.sleep(EVERY_S)
