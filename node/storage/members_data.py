"""Everything the node holds about one member, read for their own copy ("my data").

One query per table that names a member, each listed here, so a table added later without
a line here is caught by the test that checks every column naming a member
(tests/node/web/test_members_data.py). Secrets stay out (only hashes are stored anyway),
and so does how they voted: the ballots they were on the roll of and voted on, never a
choice, even on an open ballot (whose decision shows it).
"""

from __future__ import annotations

from typing import Any

from node.storage.db import Database

# (section, query with one "?" for the member's id). Ids and times only where the row is a
# secret's (a session, an invite): what it is and when, never the hash.
QUERIES: tuple[tuple[str, str], ...] = (
    ("details", "SELECT id, name, email, role, youth, status, joined, consent_contact, consent_publish_name,"
                " password_hash IS NOT NULL AS has_password, invited_at, created_at, updated_at"
                " FROM members WHERE id = ?"),
    ("consent_history", "SELECT at, consent_contact, consent_publish_name FROM consent_history"
                        " WHERE member_id = ? ORDER BY id"),
    ("notice_choices", "SELECT ballots, decisions, elections, digest FROM notice_choices WHERE member_id = ?"),
    ("sessions", "SELECT created_at, expires_at FROM sessions WHERE member_id = ? ORDER BY created_at"),
    ("api_tokens", "SELECT id, name, created_at FROM api_tokens WHERE member_id = ? ORDER BY id"),
    ("invites", "SELECT created_at, expires_at FROM invites WHERE member_id = ? ORDER BY created_at"),
    ("password_resets", "SELECT created_at, expires_at FROM password_resets WHERE member_id = ? ORDER BY created_at"),
    ("mail", "SELECT id, kind, state, attempts, created_at, sent_at, error FROM outbox WHERE member_id = ?"
             " ORDER BY id"),
    ("ballots_on_roll", "SELECT b.id, b.subject, b.opened, b.state,"
                        " EXISTS (SELECT 1 FROM ballot_voters v WHERE v.ballot_id = b.id AND v.member_id = e.member_id)"
                        " AS voted FROM ballot_electors e JOIN ballots b ON b.id = e.ballot_id"
                        " WHERE e.member_id = ? ORDER BY b.id"),
    ("ballots_opened", "SELECT id, subject, opened, state FROM ballots WHERE created_by = ? ORDER BY id"),
    ("motions", "SELECT id, title, text, state, created_at FROM motions WHERE proposer_id = ? ORDER BY id"),
    ("amendments", "SELECT id, motion_id, paragraph, original, replacement, state, created_at FROM amendments"
                   " WHERE proposer_id = ? ORDER BY id"),
    ("comments", "SELECT id, motion_id, text, created_at FROM motion_comments WHERE member_id = ? ORDER BY id"),
    ("candidacies", "SELECT contest, name, statement, category, consented, nomination IS NOT NULL AS nominated"
                    " FROM candidacies WHERE member_id = ? ORDER BY consented"),
    ("join_codes_made", "SELECT created_at, expires_at, used_by IS NOT NULL AS used FROM join_codes"
                        " WHERE created_by = ? ORDER BY created_at"),
    ("joins_decided", "SELECT name, level, status, requested_at FROM joins WHERE decided_by = ? ORDER BY id"),
    ("who_looked", "SELECT at, actor_id, action, rows, via FROM access_log WHERE member_id = ? ORDER BY id"),
    ("what_they_looked_at", "SELECT at, action, member_id, rows, via FROM access_log WHERE actor_id = ? ORDER BY id"),
)  # fmt: skip


class MembersData:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of(self, member_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every section, each a list of rows as dicts (bytes as hex)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for section, sql in QUERIES:
            rows = await self.db.fetchall(sql, (member_id,))
            out[section] = [{k: (bytes(r[k]).hex() if isinstance(r[k], bytes | memoryview) else r[k])
                             for k in r.keys()} for r in rows]  # noqa: SIM118 (a Row iterates its values)
        return out
