"""The outbox: mail to members, queued with the act that causes it and sent in the background.

A mail is a row: to one member (the address is read from the member's record when it is
sent, so nothing ever goes elsewhere), of one kind, with the values its template needs. Its
life: ``queued`` → ``sending`` (committed before the SMTP transaction starts) → ``sent`` (its
values erased: an invite's link is a credential) or, after its tries, ``failed`` with the
server's words. A row still ``sending`` when the node starts was cut short by a crash: it is
queued again under the same Message-ID (:meth:`OutboxStore.recover`).

Functions that take ``conn`` run inside the caller's transaction: an invite and its mail, a
ballot and its notices, are written together or not at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.storage.db import Database

NOTICE_KINDS = ("ballots", "decisions", "elections", "digest")  # what a member may turn on or off
NOTICE_DEFAULTS = {"ballots": True, "decisions": False, "elections": False, "digest": False}
STATES = ("queued", "sending", "sent", "failed")


@dataclass(frozen=True)
class OutMail:
    """A mail about to be sent: its row and its recipient as the members table has them now."""

    id: int
    member_id: int
    email: str
    name: str
    kind: str
    params: dict[str, Any]
    attempts: int  # this one included
    created_at: int


@dataclass(frozen=True)
class MailRow:
    """A mail as officers see it: never its values (a link in it may be a credential)."""

    id: int
    member_id: int
    name: str
    email: str
    kind: str
    state: str
    attempts: int
    created_at: int
    next_at: int
    sent_at: int | None
    error: str


async def queue(conn: Any, member_id: int, kind: str, params: dict[str, Any], now: int,
                dedupe: str | None = None) -> bool:  # fmt: skip
    """One mail, in the caller's transaction; False if ``dedupe`` was queued already."""
    cursor = await conn.execute(
        "INSERT INTO outbox (member_id, kind, dedupe, params, state, next_at, created_at)"
        " VALUES (?, ?, ?, ?, 'queued', ?, ?) ON CONFLICT (dedupe) DO NOTHING",
        (member_id, kind, dedupe, json.dumps(params), now, now),
    )
    return bool(cursor.rowcount)


async def queue_to_electors(conn: Any, ballot_id: int, kind: str, params: dict[str, Any], now: int,
                            *, not_voted: bool = False) -> int:  # fmt: skip
    """A ballot notice to each member on its electorate in good standing whose ballot notices
    are on (and, for a reminder, who has not voted), once per member and kind; how many."""
    voted = (" AND NOT EXISTS (SELECT 1 FROM ballot_voters v WHERE v.ballot_id = e.ballot_id"
             " AND v.member_id = e.member_id)") if not_voted else ""  # fmt: skip
    cursor = await conn.execute(
        "INSERT INTO outbox (member_id, kind, dedupe, params, state, next_at, created_at)"
        " SELECT e.member_id, ?, ? || ':' || e.ballot_id || ':' || e.member_id, ?, 'queued', ?, ?"
        " FROM ballot_electors e JOIN members m ON m.id = e.member_id"
        " LEFT JOIN notice_choices n ON n.member_id = e.member_id"
        f" WHERE e.ballot_id = ? AND m.status = 'active' AND COALESCE(n.ballots, 1) = 1{voted}"
        " ORDER BY e.member_id ON CONFLICT (dedupe) DO NOTHING",
        (kind, kind, json.dumps(params), now, now, ballot_id),
    )
    return int(cursor.rowcount)


async def queue_to_choosers(conn: Any, notice: str, kind: str, dedupe: str, params: dict[str, Any], now: int) -> int:
    """A notice to every active member who turned ``notice`` on (decisions, elections, the
    digest), once per member and ``dedupe``."""
    assert notice in NOTICE_KINDS and notice != "ballots"
    cursor = await conn.execute(
        "INSERT INTO outbox (member_id, kind, dedupe, params, state, next_at, created_at)"
        " SELECT n.member_id, ?, ? || ':' || n.member_id, ?, 'queued', ?, ?"
        f" FROM notice_choices n JOIN members m ON m.id = n.member_id WHERE n.{notice} = 1 AND m.status = 'active'"
        " ORDER BY n.member_id ON CONFLICT (dedupe) DO NOTHING",
        (kind, dedupe, json.dumps(params), now, now),
    )
    return int(cursor.rowcount)


class OutboxStore:
    """The outbox and each member's choice of notices."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock
        self.on_queued: Callable[[], None] = lambda: None  # the sender's wake-up, once it runs

    def queued(self) -> None:
        """Tell the sender (in this process) that there is something to send."""
        self.on_queued()

    async def queue_one(self, member_id: int, kind: str, params: dict[str, Any], dedupe: str | None = None) -> bool:
        async with self.db.write("outbox.queue") as conn:
            fresh = await queue(conn, member_id, kind, params, int(self.clock()), dedupe)
        self.queued()
        return fresh

    async def recover(self) -> int:
        """At start: mails a crash cut short while sending are queued again (same Message-ID)."""
        async with self.db.write("outbox.recover") as conn:
            cursor = await conn.execute("UPDATE outbox SET state = 'queued' WHERE state = 'sending'")
            return int(cursor.rowcount)

    async def claim(self) -> OutMail | None:
        """The next mail due, marked ``sending`` (committed before it is sent), or None."""
        now = int(self.clock())
        async with self.db.write("outbox.claim") as conn:
            async with conn.execute(
                "SELECT o.id, o.member_id, m.email, m.name, o.kind, o.params, o.attempts, o.created_at"
                " FROM outbox o JOIN members m ON m.id = o.member_id"
                " WHERE o.state = 'queued' AND o.next_at <= ? ORDER BY o.next_at, o.id LIMIT 1",
                (now,),
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                return None
            await conn.execute("UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?", (row[0],))
        return OutMail(int(row[0]), int(row[1]), str(row[2]), str(row[3]), str(row[4]), json.loads(row[5]),
                       int(row[6]) + 1, int(row[7]))  # fmt: skip

    async def sent(self, mail_id: int) -> None:
        async with self.db.write("outbox.sent") as conn:
            await conn.execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?, params = '{}', error = '' WHERE id = ?",
                (int(self.clock()), mail_id),
            )

    async def retry(self, mail_id: int, at: int, error: str) -> None:
        async with self.db.write("outbox.retry") as conn:
            await conn.execute(
                "UPDATE outbox SET state = 'queued', next_at = ?, error = ? WHERE id = ?", (at, error[:500], mail_id)
            )

    async def failed(self, mail_id: int, error: str) -> None:
        """Given up: the values are erased too (nothing more will be sent from them)."""
        async with self.db.write("outbox.failed") as conn:
            await conn.execute(
                "UPDATE outbox SET state = 'failed', params = '{}', error = ? WHERE id = ?", (error[:500], mail_id)
            )

    async def next_due(self) -> int | None:
        """When the earliest queued mail is due (s), or None."""
        row = await self.db.fetchone("SELECT MIN(next_at) FROM outbox WHERE state = 'queued'")
        return None if row is None or row[0] is None else int(row[0])

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetchall("SELECT state, COUNT(*) FROM outbox GROUP BY state")
        found = {str(r[0]): int(r[1]) for r in rows}
        return {state: found.get(state, 0) for state in STATES}

    async def page(self, state: str | None = None, before: int | None = None, limit: int = 50) -> list[MailRow]:
        """Newest first; ``before`` is the smallest id of the previous page."""
        where, args = ["o.id < ?"], [before if before is not None else 1 << 62]  # type: list[str], list[Any]
        if state is not None:
            where.append("o.state = ?")
            args.append(state)
        rows = await self.db.fetchall(
            "SELECT o.id, o.member_id, m.name, m.email, o.kind, o.state, o.attempts, o.created_at, o.next_at,"
            " o.sent_at, o.error FROM outbox o JOIN members m ON m.id = o.member_id"
            f" WHERE {' AND '.join(where)} ORDER BY o.id DESC LIMIT ?",
            (*args, limit),
        )
        return [MailRow(int(r[0]), int(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), int(r[6]), int(r[7]),
                        int(r[8]), None if r[9] is None else int(r[9]), str(r[10])) for r in rows]  # fmt: skip

    async def choices(self, member_id: int) -> dict[str, bool]:
        row = await self.db.fetchone(
            "SELECT ballots, decisions, elections, digest FROM notice_choices WHERE member_id = ?", (member_id,)
        )
        if row is None:
            return dict(NOTICE_DEFAULTS)
        return {kind: bool(row[i]) for i, kind in enumerate(NOTICE_KINDS)}

    async def choose(self, member_id: int, changes: dict[str, bool]) -> dict[str, bool]:
        """Set some of a member's notices on or off (the others stay as they were)."""
        unknown = set(changes) - set(NOTICE_KINDS)
        assert not unknown, unknown
        async with self.db.write("outbox.choose") as conn:
            async with conn.execute(
                "SELECT ballots, decisions, elections, digest FROM notice_choices WHERE member_id = ?", (member_id,)
            ) as cursor:
                row = await cursor.fetchone()
            now = dict(NOTICE_DEFAULTS) if row is None else {k: bool(row[i]) for i, k in enumerate(NOTICE_KINDS)}
            now.update(changes)
            await conn.execute(
                "INSERT INTO notice_choices (member_id, ballots, decisions, elections, digest) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (member_id) DO UPDATE SET ballots = excluded.ballots, decisions = excluded.decisions,"
                " elections = excluded.elections, digest = excluded.digest",
                (member_id, *(int(now[k]) for k in NOTICE_KINDS)),
            )
        return now

    async def due_reminders(self, hours: int) -> list[tuple[int, str, int]]:
        """Open ballots whose reminder is due (``hours`` before they close, or halfway through
        a shorter ballot) and not yet sent: (id, subject, closes in ms)."""
        now_ms = int(self.clock() * 1000)
        rows = await self.db.fetchall(
            "SELECT id, subject, closes FROM ballots WHERE state = 'open' AND reminded IS NULL"
            " AND closes IS NOT NULL AND closes > ? AND closes - MIN(?, (closes - opens) / 2) <= ? ORDER BY closes",
            (now_ms, hours * 3_600_000, now_ms),
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    async def remind(self, ballot_id: int, params: dict[str, Any]) -> int:
        """The reminders of one ballot to its electors who have not voted, queued once."""
        now = int(self.clock())
        async with self.db.write("outbox.remind") as conn:
            cursor = await conn.execute(
                "UPDATE ballots SET reminded = ? WHERE id = ? AND reminded IS NULL AND state = 'open'", (now, ballot_id)
            )
            if not cursor.rowcount:
                return 0
            return await queue_to_electors(conn, ballot_id, "ballot_reminder", params, now, not_voted=True)

    async def announce(self, kind: str, notice: str, dedupe: str, params: dict[str, Any]) -> int:
        """A notice to every member who turned ``notice`` on and has not had this one."""
        async with self.db.write("outbox.announce") as conn:
            return await queue_to_choosers(conn, notice, kind, dedupe, params, int(self.clock()))

    async def prune(self, older_than_s: int) -> int:
        """Forget mail sent or failed more than ``older_than_s`` ago; how many rows."""
        cutoff = int(self.clock()) - older_than_s
        async with self.db.write("outbox.prune") as conn:
            cursor = await conn.execute(
                "DELETE FROM outbox WHERE state IN ('sent', 'failed') AND created_at < ?", (cutoff,)
            )
            return int(cursor.rowcount)

    async def digest_items(self, since_ms: int) -> tuple[list[tuple[int, str, int | None]], list[tuple[str, str]]]:
        """What a daily digest lists: open ballots (id, subject, closes) and this node's
        decisions since ``since_ms`` (decision id hex, subject) by its ballots' record."""
        open_rows = await self.db.fetchall(
            "SELECT id, subject, closes FROM ballots WHERE state = 'open' ORDER BY closes IS NULL, closes, id LIMIT 50"
        )
        closed = await self.db.fetchall(
            "SELECT decision, subject FROM ballots WHERE state = 'closed' AND closed >= ? AND decision IS NOT NULL"
            " ORDER BY closed DESC LIMIT 50",
            (since_ms,),
        )
        return ([(int(r[0]), str(r[1]), None if r[2] is None else int(r[2])) for r in open_rows],
                [(bytes(r[0]).hex(), str(r[1])) for r in closed])  # fmt: skip
