"""The retention rule on a fake clock: exactly what it says goes, and nothing else."""

from __future__ import annotations

import json
import time
from pathlib import Path

from node.rules import retention
from node.service import Node
from node.storage.members import MemberIn, MemberPatch

DAY, MONTH = retention.DAY_S, retention.MONTH_S


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_rule_removes_exactly_what_it_says(node_dir: Path) -> None:
    now = int(time.time())
    clock = Clock(now)
    node = await Node.open(node_dir, clock=clock)
    try:
        members = [await node.members.add(MemberIn(name=n, email=f"{n.lower()}@example.org"))
                   for n in ("Lapsed Long", "Lapsed Lately", "Active Ann", "Admin Old")]  # fmt: skip
        long_ago, lately, ann, admin = members
        for m in (long_ago, lately):
            await node.members.update(m.id, MemberPatch(status="lapsed"))
        await node.members.update(admin.id, MemberPatch(role="admin"))
        # When each lapsed, as the trigger keeps it: set back to the months the test needs.
        async with node.db.write("test.backdate") as conn:
            await conn.execute("UPDATE members SET status_since = ? WHERE id = ?", (now - 25 * MONTH, long_ago.id))
            await conn.execute("UPDATE members SET status_since = ? WHERE id = ?", (now - 23 * MONTH, lately.id))
        # Sign-ins, links and mail of different ages (the stores take the node's clock).
        clock.now = now - 100 * DAY
        await node.auth.create_session(ann.id, 365 * DAY)  # still valid, but past the 90 days: goes
        await node.auth.create_token(ann.id, "old token")  # tokens are the member's to revoke: kept
        await node.auth.create_reset(ann.id, 3600, lambda token, expires: {"url": token})
        await node.outbox.queue_one(ann.id, "invite", {"url": "old link"})
        await node.access.record(admin.id, "export", "page", rows=4)
        clock.now = now - 25 * MONTH
        await node.access.record(admin.id, "view", "page", member_id=ann.id, rows=1)
        clock.now = now - DAY
        await node.auth.create_session(ann.id, 14 * DAY)  # valid: kept
        await node.auth.create_invite(lately.id, 7 * DAY)  # valid: kept
        await node.outbox.queue_one(ann.id, "invite", {"url": "new link"})
        clock.now = now

        going = await retention.plan(node, None)
        assert [(g.member.id, g.at) for g in going] == [(long_ago.id, now - 25 * MONTH + 24 * MONTH),
                                                        (lately.id, now - 23 * MONTH + 24 * MONTH)]  # fmt: skip
        done = await retention.run(node, now)
        assert (done.members, done.sessions, done.invites, done.resets, done.mail_bodies, done.access) == (
            [long_ago.id], 1, 0, 1, 2, 1)  # fmt: skip

        assert await node.members.get(long_ago.id) is None
        assert {m.id for m in await node.members.list()} == {lately.id, ann.id, admin.id}
        assert len(await node.db.fetchall("SELECT 1 FROM sessions")) == 1
        assert len(await node.db.fetchall("SELECT 1 FROM invites")) == 1
        assert await node.db.fetchall("SELECT 1 FROM password_resets") == []
        assert len(await node.auth.list_tokens(ann.id)) == 1
        params = [json.loads(r[0]) for r in await node.db.fetchall("SELECT params FROM outbox ORDER BY id")]
        assert params == [{}, {}, {"url": "new link"}]  # the reset's mail and the old invite said nothing more
        accesses = [(a.action, a.via, a.member_id) for a in await node.access.page()]
        assert accesses == [("erase", "rule", long_ago.id), ("export", "page", None)]  # the 25-month view went
        # Run again: nothing more is due.
        again = await retention.run(node, now)
        assert (again.members, again.sessions, again.invites, again.resets, again.mail_bodies, again.access) == (
            [], 0, 0, 0, 0, 0)  # fmt: skip
        # A month later the second lapsed member goes too.
        later = await retention.run(node, now + 32 * DAY)
        assert later.members == [lately.id]
    finally:
        await node.close()
