"""Everything the node holds about one member, read for their own copy ("my data").

One query per table that names a member, each listed here, so a table added later without
a line here is caught by the test that checks every column naming a member
(tests/node/web/test_members_data.py). Secrets stay out (only hashes are stored anyway),
and so does how they voted: the ballots they were on the roll of and voted on, never a
choice, even on an open ballot (whose decision shows it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.errors import Conflict, NotFound
from node.storage.db import Database
from node.storage.members import _keeps_an_admin, _remember

# (section, query with one "?" for the member's id). Ids and times only where the row is a
# secret's (a session, an invite): what it is and when, never the hash.
QUERIES: tuple[tuple[str, str], ...] = (
    ("details", "SELECT id, name, email, role, youth, status, joined, consent_contact, consent_publish_name,"
                " password_hash IS NOT NULL AS has_password, invited_at, status_since, created_at, updated_at"
                " FROM members WHERE id = ?"),
    ("consent_history", "SELECT at, consent_contact, consent_publish_name FROM consent_history"
                        " WHERE member_id = ? ORDER BY id"),
    ("notice_choices", "SELECT ballots, decisions, elections, digest FROM notice_choices WHERE member_id = ?"),
    ("sessions", "SELECT created_at, expires_at FROM sessions WHERE member_id = ? ORDER BY created_at"),
    ("api_tokens", "SELECT id, name, created_at FROM api_tokens WHERE member_id = ? ORDER BY id"),
    ("invites", "SELECT created_at, expires_at FROM invites WHERE member_id = ? ORDER BY created_at"),
    ("keys", "SELECT id, key_id, credential IS NOT NULL AS passkey, label, added_at, revoked_at FROM member_keys"
             " WHERE member_id = ? ORDER BY id"),
    ("password_resets", "SELECT created_at, expires_at FROM password_resets WHERE member_id = ? ORDER BY created_at"),
    ("mail", "SELECT id, kind, state, attempts, created_at, sent_at, error FROM outbox WHERE member_id = ?"
             " ORDER BY id"),
    ("ballots_on_roll", "SELECT b.id, b.subject, b.opened, b.state,"
                        " EXISTS (SELECT 1 FROM ballot_voters v WHERE v.ballot_id = b.id AND v.member_id = e.member_id)"
                        " AS voted FROM ballot_electors e JOIN ballots b ON b.id = e.ballot_id"
                        " WHERE e.member_id = ? ORDER BY b.id"),
    ("participations", "SELECT p.ballot_id, b.subject, p.key_id IS NOT NULL AS signed FROM participations p"
                       " JOIN ballots b ON b.id = p.ballot_id WHERE p.member_id = ? ORDER BY p.ballot_id"),
    ("scrutineer", "SELECT appointed_at FROM scrutineers WHERE member_id = ?"),
    ("ballots_opened", "SELECT id, subject, opened, state FROM ballots WHERE created_by = ? ORDER BY id"),
    ("motions", "SELECT id, title, text, state, created_at FROM motions WHERE proposer_id = ? ORDER BY id"),
    ("amendments", "SELECT id, motion_id, paragraph, original, replacement, state, created_at FROM amendments"
                   " WHERE proposer_id = ? ORDER BY id"),
    ("comments", "SELECT id, motion_id, text, created_at FROM motion_comments WHERE member_id = ? ORDER BY id"),
    ("candidacies", "SELECT contest, name, statement, category, consented, nomination IS NOT NULL AS nominated,"
                    " consent_key IS NOT NULL AS signed"
                    " FROM candidacies WHERE member_id = ? ORDER BY consented"),
    ("join_codes_made", "SELECT created_at, expires_at, used_by IS NOT NULL AS used FROM join_codes"
                        " WHERE created_by = ? ORDER BY created_at"),
    ("joins_decided", "SELECT name, level, status, requested_at FROM joins WHERE decided_by = ? ORDER BY id"),
    ("who_looked", "SELECT at, actor_id, action, rows, via FROM access_log WHERE member_id = ? ORDER BY id"),
    ("what_they_looked_at", "SELECT at, action, member_id, rows, via FROM access_log WHERE actor_id = ? ORDER BY id"),
    ("erasure_requests", "SELECT id, asked_at, state, decided_at, answer FROM erasure_requests WHERE member_id = ?"
                         " ORDER BY id"),
    ("erasures_decided", "SELECT id, asked_at, state, decided_at FROM erasure_requests WHERE decided_by = ?"
                         " ORDER BY id"),
)  # fmt: skip
REMOVED = "(removed at the member's request)"


@dataclass(frozen=True)
class Lapsed:
    """A member the retention rule will forget: lapsed since ``since`` (s)."""

    id: int
    name: str
    since: int


@dataclass(frozen=True)
class Swept:
    """What one run of the retention rule removed, by kind (counts; members by id only)."""

    members: list[int]
    sessions: int
    invites: int
    resets: int
    mail_bodies: int
    access: int
    registers: int = 0  # counted ballots whose marked register's signatures were cleared


@dataclass(frozen=True)
class ErasureRequest:
    id: int
    member_id: int | None
    asked_at: int
    state: str  # asked, done, refused
    decided_at: int | None
    decided_by: int | None
    answer: str


def _request(r: sqlite3.Row) -> ErasureRequest:
    return ErasureRequest(int(r["id"]), r["member_id"], int(r["asked_at"]), r["state"], r["decided_at"],
                          r["decided_by"], r["answer"])  # fmt: skip


class MembersData:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    async def of(self, member_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every section, each a list of rows as dicts (bytes as hex)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for section, sql in QUERIES:
            rows = await self.db.fetchall(sql, (member_id,))
            out[section] = [{k: (bytes(r[k]).hex() if isinstance(r[k], bytes | memoryview) else r[k])
                             for k in r.keys()} for r in rows]  # noqa: SIM118 (a Row iterates its values)
        return out

    async def ask_erasure(self, member_id: int) -> ErasureRequest:
        """The member asks to be forgotten (one open request at a time)."""
        async with self.db.write("erasure.ask") as conn:
            try:
                cursor = await conn.execute(
                    "INSERT INTO erasure_requests (member_id, asked_at, state) VALUES (?, ?, 'asked')",
                    (member_id, int(self.clock())),
                )
            except sqlite3.IntegrityError:
                raise Conflict("you have asked already; an officer will carry it out or tell you why not",
                               code="already_asked") from None  # fmt: skip
            request_id = int(cursor.lastrowid or 0)
        return await self.require_request(request_id)

    async def require_request(self, request_id: int) -> ErasureRequest:
        row = await self.db.fetchone("SELECT * FROM erasure_requests WHERE id = ?", (request_id,))
        if row is None:
            raise NotFound(f"no erasure request {request_id}")
        return _request(row)

    async def requests(self, state: str | None = None, limit: int = 200) -> list[ErasureRequest]:
        where, args = ("WHERE state = ?", (state,)) if state else ("", ())
        rows = await self.db.fetchall(f"SELECT * FROM erasure_requests {where} ORDER BY id DESC LIMIT ?",
                                      (*args, limit))  # fmt: skip
        return [_request(r) for r in rows]

    async def refuse(self, request_id: int, officer_id: int | None, answer: str) -> ErasureRequest:
        async with self.db.write("erasure.refuse") as conn:
            cursor = await conn.execute(
                "UPDATE erasure_requests SET state = 'refused', decided_at = ?, decided_by = ?, answer = ?"
                " WHERE id = ? AND state = 'asked'",
                (int(self.clock()), officer_id, answer, request_id),
            )
            if cursor.rowcount == 0:
                await self.require_request(request_id)  # NotFound when there is none
                raise Conflict("this request is not waiting for an answer", code="not_asked")
        return await self.require_request(request_id)

    async def erase(self, member_id: int, officer_id: int | None) -> int:
        """Forget the member, in one transaction: their row and everything hanging from it
        (sessions, tokens, invites, reset links, mail, notices, consents, candidacies: by the
        foreign keys); their comments' words; their name against motions, amendments and an
        open ballot's votes (the rows stay, naming nobody). What stays names no one: ids in
        rolls and counts, receipt digests, signed decisions, and what they consented to have
        signed (a nomination, a delegate's name). The last active admin cannot be erased. Any
        open request of theirs is marked done. Returns how many rows changed. Deleted pages are
        zeroed (``secure_delete``) and the write-ahead log is emptied afterwards, so the file
        keeps no copy."""
        now = int(self.clock())
        async with self.db.write("erasure.erase") as conn:
            await _keeps_an_admin(conn, member_id, None, None, removing=True)
            await _remember(conn, member_id)
            changed = (await conn.execute("UPDATE motion_comments SET member_id = NULL, text = ? WHERE member_id = ?",
                                          (REMOVED, member_id))).rowcount or 0  # fmt: skip
            for sql in (
                "UPDATE motions SET proposer_id = NULL WHERE proposer_id = ?",
                "UPDATE amendments SET proposer_id = NULL WHERE proposer_id = ?",
                "UPDATE ballot_votes SET member_id = NULL WHERE member_id = ?",
            ):
                changed += (await conn.execute(sql, (member_id,))).rowcount or 0
            await conn.execute(
                "UPDATE erasure_requests SET state = 'done', decided_at = ?, decided_by = ? WHERE member_id = ?"
                " AND state = 'asked'",
                (now, officer_id, member_id),
            )
            cursor = await conn.execute("DELETE FROM members WHERE id = ?", (member_id,))
            if cursor.rowcount == 0:
                raise NotFound(f"no member {member_id}")
            changed += 1
        await self.db.checkpoint()
        return changed

    async def lapsed_before(self, cutoff: int, limit: int = 1000) -> list[Lapsed]:
        """Members lapsed since before ``cutoff`` (s), longest first."""
        rows = await self.db.fetchall(
            "SELECT id, name, status_since FROM members WHERE status = 'lapsed' AND status_since < ?"
            " ORDER BY status_since, id LIMIT ?",
            (cutoff, limit),
        )
        return [Lapsed(int(r["id"]), r["name"], int(r["status_since"])) for r in rows]

    async def lapsed(self, limit: int = 1000) -> list[Lapsed]:
        """Every lapsed member, longest lapsed first (what the retention rule will forget, and when)."""
        return await self.lapsed_before(1 << 62, limit)

    async def sweep(self, *, secrets_before: int, mail_before: int, access_before: int,
                    register_before: int = 0) -> Swept:  # fmt: skip
        """Remove what is past its time (s): sessions, invites and reset links created before
        ``secrets_before`` or expired; what a mail said, for mail created before ``mail_before``
        (a sent mail keeps none already); the record of who looked before ``access_before``;
        the signatures in the marked register of ballots counted before ``register_before``
        (who took part stays, as the salted roll leaves the decision commits to).
        One transaction; deleted pages are zeroed."""
        now = int(self.clock())
        counts = []
        async with self.db.write("retention.sweep") as conn:
            for table in ("sessions", "invites", "password_resets"):
                cursor = await conn.execute(f"DELETE FROM {table} WHERE created_at < ? OR expires_at <= ?",
                                            (secrets_before, now))  # fmt: skip
                counts.append(cursor.rowcount or 0)
            cursor = await conn.execute("UPDATE outbox SET params = '{}' WHERE created_at < ? AND params != '{}'",
                                        (mail_before,))  # fmt: skip
            counts.append(cursor.rowcount or 0)
            cursor = await conn.execute("DELETE FROM access_log WHERE at < ?", (access_before,))
            counts.append(cursor.rowcount or 0)
            cursor = await conn.execute("UPDATE ballots SET register_swept = ? WHERE state = 'closed'"
                                        " AND register_swept IS NULL AND closed < ?",
                                        (now * 1000, register_before * 1000))  # fmt: skip
            counts.append(cursor.rowcount or 0)
            if counts[-1]:
                await conn.execute("UPDATE participations SET key_id = NULL, signature = NULL WHERE signature IS NOT"
                                   " NULL AND ballot_id IN (SELECT id FROM ballots WHERE register_swept IS NOT NULL)")
        return Swept([], *counts)

    async def notice(self) -> dict[str, str]:
        """What officers wrote for the privacy notice (the controller and how to reach them)."""
        row = await self.db.fetchone("SELECT value FROM meta WHERE key = 'privacy_notice'")
        if row is None:
            return {}
        found = json.loads(bytes(row[0]) if isinstance(row[0], bytes | memoryview) else row[0])
        return {k: str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    async def set_notice(self, fields: dict[str, str]) -> None:
        async with self.db.write("privacy.notice") as conn:
            await conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('privacy_notice', ?)",
                               (json.dumps(fields),))  # fmt: skip
