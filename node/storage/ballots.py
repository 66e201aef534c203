"""Ballots on this node: the frozen electorate, who has voted, and the votes.

A vote is taken in one write transaction with every check it needs (the ballot is open,
the member is an elector, the member has not voted), so concurrent attempts by one member
leave exactly one vote. On a secret ballot the vote rows hold a receipt digest and a
choice only; who voted is a separate table; both are deleted (and overwritten: the
connection uses ``secure_delete``) once the decision holding the records is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

import msgspec

from node.errors import Conflict, NotFound
from node.storage import outbox
from node.storage.db import Database
from node.storage.votes import MAX_BATCH, Participated, Vote, take_votes
from protocol import BallotRules

TURNOUT_FRESH_S = 2.0  # a turnout counted by another process shows within this
ELECTORS_KEPT = 16  # ballots whose frozen electors are kept in memory (each at most ~7,000 rows)

_COLUMNS = (
    "id, ballot, motion, amendment, subject, text_hash, method, options, rules, secrecy, may_change, state,"
    " opened, opens, closes, closed, electorate, roll, decision, created_by, election, text, register_swept"
)


@dataclass(frozen=True)
class ElectionSpec:
    """A ranked ballot's count, and what it is for: a body's selection (its ballots are a
    bundle the body counts), or the branch's delegates to the body ``delegates_to``."""

    seats: int
    counting: str
    selection: bytes | None = None
    delegates_to: bytes | None = None

    def as_json(self) -> str:
        return json.dumps({"seats": self.seats, "counting": self.counting,
                           "selection": self.selection.hex() if self.selection else None,
                           "delegates_to": self.delegates_to.hex() if self.delegates_to else None})  # fmt: skip

    @staticmethod
    def from_json(text: str) -> ElectionSpec | None:
        d = json.loads(text)
        if not d:
            return None
        return ElectionSpec(d["seats"], d["counting"], bytes.fromhex(d["selection"]) if d["selection"] else None,
                            bytes.fromhex(d["delegates_to"]) if d["delegates_to"] else None)  # fmt: skip


@dataclass(frozen=True)
class NewBallot:
    """A ballot as opened: what the officer asked for and the roll it froze."""

    ballot: bytes
    motion: str
    amendment: str
    subject: str
    text_hash: bytes
    method: str
    options: list[str]
    rules: BallotRules
    secrecy: str
    may_change: bool
    opened: int
    opens: int
    closes: int | None
    roll: bytes
    created_by: int | None
    _: KW_ONLY
    election: ElectionSpec | None = field(default=None)
    text: str = ""  # what is decided, whose SHA-256 is text_hash (shown on the ballot's page)


@dataclass(frozen=True)
class BallotRow(NewBallot):
    """A stored ballot: as opened, and where it stands."""

    id: int
    state: str
    closed: int | None
    electorate: int
    decision: bytes | None
    register_swept: int | None = None  # ms: when the retention rule cleared its register's signatures


def _row(r: sqlite3.Row) -> BallotRow:
    return BallotRow(
        id=r["id"], ballot=bytes(r["ballot"]), motion=r["motion"], amendment=r["amendment"], subject=r["subject"],
        text_hash=bytes(r["text_hash"]), method=r["method"], options=json.loads(r["options"]),
        rules=msgspec.json.decode(r["rules"], type=BallotRules), secrecy=r["secrecy"],
        may_change=bool(r["may_change"]), state=r["state"], opened=r["opened"], opens=r["opens"], closes=r["closes"],
        closed=r["closed"], electorate=r["electorate"], roll=bytes(r["roll"]),
        decision=bytes(r["decision"]) if r["decision"] is not None else None, created_by=r["created_by"],
        election=ElectionSpec.from_json(r["election"]), text=r["text"], register_swept=r["register_swept"],
    )  # fmt: skip


class BallotStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._pending: list[tuple[Vote, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._closing: dict[int, tuple[asyncio.Lock, list[int]]] = {}  # a lock, and how many hold or wait
        self.on_opened: Callable[[], None] = lambda: None  # serve's ballot closer: look again
        self._electors: dict[int, dict[int, tuple[bytes, bytes | None]]] = {}  # frozen rolls being voted on
        self._opened: dict[int, BallotRow] = {}  # the ballots being voted on, as they opened
        self._loading: dict[int, asyncio.Future[dict[int, tuple[bytes, bytes | None]]]] = {}  # electors being read
        self._turnout: dict[int, tuple[float, int]] = {}  # (when, how many have voted) of the ballots shown

    @contextlib.asynccontextmanager
    async def closing(self, ballot_id: int) -> AsyncIterator[None]:
        """Held by the one close of this ballot running in this process: a second close waits
        for it, then finds the ballot closed (four officers pressing "Close and count" at once
        get one decision and three refusals; a close cut short by a crash finishes in the
        next, which finds no lock held)."""
        lock, users = self._closing.setdefault(ballot_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._closing[ballot_id]

    async def create(self, new: NewBallot, electors: Sequence[tuple[int, bytes, bytes | None]],
                     notice: Callable[[int], dict[str, Any]] | None = None, *, once: bool = False,
                     act: tuple[str, bytes] | None = None, join: int | None = None) -> BallotRow:  # fmt: skip
        """The ballot and its frozen electorate (member id, roll salt), together; with
        ``notice`` (the values of the mail, given the ballot's id), a notice to each elector
        who has ballot notices on, in the same transaction. With ``once``, refused (409
        ``already_balloted``) when a ballot on the same motion exists, checked in that
        transaction too. With ``act`` (kind, canonical body), the act of power it decides
        (table ``acts``), in the same transaction; with ``join``, the join request whose
        charter it decides, then 'voting' (refused, 409, unless still pending)."""
        async with self.db.write("ballots.create") as conn:
            if once:
                cursor = await conn.execute("SELECT 1 FROM ballots WHERE motion = ? LIMIT 1", (new.motion,))
                if await cursor.fetchone() is not None:
                    raise Conflict("this body has opened its ballot on this already", code="already_balloted")
            try:
                cursor = await conn.execute(
                    "INSERT INTO ballots (ballot, motion, amendment, subject, text_hash, method, options, rules,"
                    " secrecy, may_change, state, opened, opens, closes, electorate, roll, created_by, election, text)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?)",
                    (new.ballot, new.motion, new.amendment, new.subject, new.text_hash, new.method,
                     json.dumps(new.options), msgspec.json.encode(new.rules).decode(), new.secrecy,
                     int(new.may_change), new.opened, new.opens, new.closes, len(electors), new.roll, new.created_by,
                     new.election.as_json() if new.election else "{}", new.text),
                )  # fmt: skip
            except sqlite3.IntegrityError as exc:
                if "ballots_one_per_selection" not in str(exc):
                    raise
                raise Conflict("this branch's ballot for the selection is open already", code="already_open") from None
            ballot_id = cursor.lastrowid
            await conn.executemany(
                "INSERT INTO ballot_electors (ballot_id, member_id, salt, keys) VALUES (?, ?, ?, ?)",
                [(ballot_id, member, salt, keys) for member, salt, keys in electors],
            )
            if notice is not None:
                await outbox.queue_to_electors(conn, int(ballot_id or 0), "ballot_opened", notice(int(ballot_id or 0)),
                                               new.opened // 1000)  # fmt: skip
            if act is not None:
                await conn.execute("INSERT INTO acts (ballot_id, kind, body, proposed_by) VALUES (?, ?, ?, ?)",
                                   (ballot_id, act[0], act[1], new.created_by))  # fmt: skip
            if join is not None:
                cursor = await conn.execute(
                    "UPDATE joins SET status = 'voting', ballot_id = ? WHERE id = ? AND status = 'pending'",
                    (ballot_id, join),
                )
                if cursor.rowcount != 1:
                    raise Conflict(f"join request {join} is no longer pending", code="not_pending")
        self.on_opened()
        return await self.require(int(ballot_id or 0))

    async def for_selection(self, selection: bytes) -> BallotRow | None:
        """This node's ballot for a body's selection, if it opened one (by its index)."""
        row = await self.db.fetchone(
            f"SELECT {_COLUMNS} FROM ballots WHERE json_extract(election, '$.selection') = ?", (selection.hex(),)
        )
        return _row(row) if row else None

    async def get(self, ballot_id: int) -> BallotRow | None:
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM ballots WHERE id = ?", (ballot_id,))
        return _row(row) if row else None

    async def require(self, ballot_id: int) -> BallotRow:
        found = await self.get(ballot_id)
        if found is None:
            raise NotFound(f"no ballot {ballot_id}")
        return found

    async def as_opened(self, ballot_id: int) -> BallotRow:
        """The ballot as it opened, for taking a vote: what never changes after the opening
        (its id, method, options, roll and rules) is read once and kept for the latest
        ELECTORS_KEPT ballots; its state, as read then, may be stale, so a vote's transaction
        checks the state itself (node/storage/votes.py)."""
        found = self._opened.get(ballot_id)
        if found is None:
            found = await self.require(ballot_id)
            while len(self._opened) >= ELECTORS_KEPT:
                self._opened.pop(next(iter(self._opened)))
        else:
            self._opened.pop(ballot_id)
        self._opened[ballot_id] = found  # the latest used stays longest
        return found

    async def of_motion(self, motion: str) -> list[BallotRow]:
        """The ballots on one motion (its own id on this node) and its amendments."""
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM ballots WHERE motion = ? ORDER BY id", (motion,))
        return [_row(r) for r in rows]

    async def recent(self, limit: int = 100) -> list[BallotRow]:
        rows = await self.db.fetchall(f"SELECT {_COLUMNS} FROM ballots ORDER BY id DESC LIMIT ?", (limit,))
        return [_row(r) for r in rows]

    async def due(self, now_ms: int) -> list[BallotRow]:
        """Open ballots whose closing time has come (and those cut short while closing)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS} FROM ballots WHERE state IN ('open', 'closing') AND closes IS NOT NULL AND closes <= ?"
            " ORDER BY closes, id",
            (now_ms,),
        )
        return [_row(r) for r in rows]

    async def next_closes(self) -> int | None:
        """The earliest closing time (ms) of an open ballot, or None."""
        row = await self.db.fetchone("SELECT MIN(closes) FROM ballots WHERE state = 'open' AND closes IS NOT NULL")
        return None if row is None or row[0] is None else int(row[0])

    async def by_ballot(self, ballot: bytes) -> BallotRow | None:
        """This node's ballot by its 16-byte id (as a roll and a decision name it)."""
        row = await self.db.fetchone(f"SELECT {_COLUMNS} FROM ballots WHERE ballot = ?", (ballot,))
        return _row(row) if row else None

    async def waiting(self, member_id: int, limit: int = 100) -> list[tuple[BallotRow, bool]]:
        """The open ballots this member is on the roll of, soonest to close first, and whether
        they have voted on each."""
        rows = await self.db.fetchall(
            f"SELECT {', '.join('b.' + c.strip() for c in _COLUMNS.split(','))}, EXISTS (SELECT 1 FROM ballot_voters v"
            " WHERE v.ballot_id = b.id AND v.member_id = e.member_id) AS voted"
            " FROM ballot_electors e JOIN ballots b ON b.id = e.ballot_id"
            " WHERE e.member_id = ? AND b.state = 'open' ORDER BY b.closes IS NULL, b.closes, b.id LIMIT ?",
            (member_id, limit),
        )
        return [(_row(r), bool(r["voted"])) for r in rows]

    async def open_ones(self, limit: int = 100) -> list[tuple[BallotRow, int]]:
        """Open ballots, soonest to close first, each with how many have voted (a number)."""
        rows = await self.db.fetchall(
            f"SELECT {_COLUMNS}, (SELECT COUNT(*) FROM ballot_voters v WHERE v.ballot_id = ballots.id) AS turnout"
            " FROM ballots WHERE state = 'open' ORDER BY closes IS NULL, closes, id LIMIT ?",
            (limit,),
        )
        return [(_row(r), int(r["turnout"])) for r in rows]

    async def turnout(self, ballot_id: int) -> int:
        """How many members have voted on an open ballot so far (a number, never who). Each
        batch of votes this process takes counts its ballots again as it writes them, so a
        page shown after a vote here includes it; votes another process took (the command
        line) show within TURNOUT_FRESH_S. (At a conference, 2,000 pages counting 2,000 rows
        each was the ballot page's largest cost.)"""
        kept = self._turnout.get(ballot_id)
        now = time.monotonic()
        if kept is not None and now - kept[0] < TURNOUT_FRESH_S:
            return kept[1]
        row = await self.db.fetchone("SELECT COUNT(*) FROM ballot_voters WHERE ballot_id = ?", (ballot_id,))
        count = int(row[0]) if row else 0
        self._keep_turnout(ballot_id, now, count)
        return count

    def _keep_turnout(self, ballot_id: int, at: float, count: int) -> None:
        self._turnout.pop(ballot_id, None)
        while len(self._turnout) >= ELECTORS_KEPT:
            self._turnout.pop(next(iter(self._turnout)))
        self._turnout[ballot_id] = (at, count)

    async def vote(self, ballot_id: int, member_id: int, digest: bytes, choice: bytes, now_ms: int,
                   replaces: bytes | None = None, *, tag: bytes = b"", replaces_tag: bytes | None = None,
                   participated: Participated | None = None) -> None:  # fmt: skip
        """Record a vote, or refuse it and store nothing: the ballot must be open at
        ``now_ms``, the member an elector, and this their first vote (or, where the ballot
        allows a change, ``replaces`` the digest of their current vote).

        ``tag`` is kept beside the voter (never beside the vote): a change must bring the tag
        of the vote it replaces (``replaces_tag``), which only the receipt the voter holds
        gives, so a member presenting another member's receipt changes nothing.

        Votes that arrive together are written in one transaction (group commit: one sync
        to disk for all of them), each checked and written in its own savepoint, in the
        order they came, so that a refused vote takes nothing else with it."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        vote = Vote(ballot_id, member_id, digest, choice, now_ms, replaces, tag, replaces_tag, participated)
        self._pending.append((vote, future))
        if self._writer is None or self._writer.done():
            # A task of its own: a caller that goes away (a closed connection) cannot stop it.
            self._writer = asyncio.create_task(self._drain(), name="ballot-votes")
        await future

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            outcomes: list[BaseException | None] = []
            try:
                async with self.db.write("ballots.vote") as conn:
                    outcomes = await take_votes(conn, [vote for vote, _ in batch])
                    counted = {}
                    for ballot_id in sorted({vote.ballot_id for (vote, _), o in zip(batch, outcomes, strict=True)
                                             if o is None and vote.replaces is None}):  # fmt: skip
                        async with conn.execute("SELECT COUNT(*) FROM ballot_voters WHERE ballot_id = ?",
                                                (ballot_id,)) as cursor:  # fmt: skip
                            row = await cursor.fetchone()
                        counted[ballot_id] = int(row[0]) if row is not None else 0
                at = time.monotonic()
                for ballot_id, count in counted.items():  # written: the pages show it from now
                    self._keep_turnout(ballot_id, at, count)
            except BaseException as exc:  # the commit failed: none of the batch was stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)

    async def has_voted(self, ballot_id: int, member_id: int) -> bool:
        row = await self.db.fetchone(
            "SELECT 1 FROM ballot_voters WHERE ballot_id = ? AND member_id = ?", (ballot_id, member_id)
        )
        return row is not None

    async def elector_salt(self, ballot_id: int, member_id: int) -> bytes | None:
        row = await self.db.fetchone(
            "SELECT salt FROM ballot_electors WHERE ballot_id = ? AND member_id = ?", (ballot_id, member_id)
        )
        return bytes(row[0]) if row else None

    async def electors(self, ballot_id: int) -> list[tuple[int, bytes, bytes | None]]:
        """(member, salt, keys as the roll froze them: None on a version 1 roll)."""
        rows = await self.db.fetchall(
            "SELECT member_id, salt, keys FROM ballot_electors WHERE ballot_id = ? ORDER BY member_id", (ballot_id,)
        )
        return [(int(r[0]), bytes(r[1]), None if r[2] is None else bytes(r[2])) for r in rows]

    async def elector(self, ballot_id: int, member_id: int) -> tuple[bytes, bytes | None] | None:
        """The member's salt and keys on this ballot's roll (None: not an elector). A roll is
        frozen when its ballot opens, so the electors of the ballots being voted on are read
        once each and kept (the latest ELECTORS_KEPT ballots): a vote reads nothing more. The
        votes that arrive together on a ballot not yet read wait for one read, not one each."""
        electors = self._electors.get(ballot_id)
        if electors is None:
            loading = self._loading.get(ballot_id)
            if loading is None:
                loading = asyncio.ensure_future(self._read_electors(ballot_id))
                self._loading[ballot_id] = loading
                loading.add_done_callback(lambda _: self._loading.pop(ballot_id, None))
            electors = await asyncio.shield(loading)  # a voter who goes away leaves the read to the others
        else:
            self._electors[ballot_id] = self._electors.pop(ballot_id)  # the latest used stays longest
        return electors.get(member_id)

    async def _read_electors(self, ballot_id: int) -> dict[int, tuple[bytes, bytes | None]]:
        rows = await self.db.fetchall("SELECT member_id, salt, keys FROM ballot_electors WHERE ballot_id = ?",
                                      (ballot_id,))  # fmt: skip
        electors = {int(r[0]): (bytes(r[1]), None if r[2] is None else bytes(r[2])) for r in rows}
        if rows:  # (a ballot opened since is read again)
            while len(self._electors) >= ELECTORS_KEPT:
                self._electors.pop(next(iter(self._electors)))
            self._electors[ballot_id] = electors
        return electors

    async def participation(self, ballot_id: int, roll_leaf: bytes) -> bool | None:
        """Whether the register holds this roll leaf's participation signed (True), unsigned
        (False), or not at all (None): one row read by its key."""
        row = await self.db.fetchone(
            "SELECT digest IS NOT NULL FROM participations WHERE ballot_id = ? AND roll_leaf = ?",
            (ballot_id, roll_leaf),
        )
        return None if row is None else bool(row[0])

    async def register(self, ballot_id: int) -> list[tuple[int | None, bytes, bytes | None, bytes | None]]:
        """The marked register in full, for the scrutineers: (member, roll leaf, key id, signature)."""
        rows = await self.db.fetchall(
            "SELECT member_id, roll_leaf, key_id, signature FROM participations WHERE ballot_id = ? ORDER BY roll_leaf",
            (ballot_id,),
        )
        return [(r[0], bytes(r[1]), None if r[2] is None else bytes(r[2]), None if r[3] is None else bytes(r[3]))
                for r in rows]  # fmt: skip

    async def participations(self, ballot_id: int) -> list[tuple[bytes, bytes | None]]:
        """The ballot's marked register as its decision commits to it: (roll leaf, digest of
        the signed statement, or None), in roll-leaf order."""
        rows = await self.db.fetchall(
            "SELECT roll_leaf, digest FROM participations WHERE ballot_id = ? ORDER BY roll_leaf", (ballot_id,)
        )
        return [(bytes(r[0]), None if r[1] is None else bytes(r[1])) for r in rows]

    async def begin_close(self, ballot_id: int, now_ms: int) -> list[tuple[bytes, bytes]]:
        """Stop taking votes (state ``closing``) and return the votes (digest, choice), in
        digest order; a ballot already closing returns its votes again."""
        async with self.db.write("ballots.begin_close") as conn:
            async with conn.execute("SELECT state FROM ballots WHERE id = ?", (ballot_id,)) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise NotFound(f"no ballot {ballot_id}")
            if row[0] == "closed":
                raise Conflict("this ballot is already closed", code="ballot_closed")
            if row[0] == "open":
                await conn.execute("UPDATE ballots SET state = 'closing', closed = ? WHERE id = ?", (now_ms, ballot_id))
            async with conn.execute(
                "SELECT digest, choice FROM ballot_votes WHERE ballot_id = ? ORDER BY digest", (ballot_id,)
            ) as cursor:
                return [(bytes(r[0]), bytes(r[1])) for r in await cursor.fetchall()]

    async def finish_close(self, ballot_id: int, decision: bytes, notice: dict[str, Any] | None = None) -> None:
        """Closed, with the decision published; a secret ballot's votes and voters are
        deleted (the decision holds the records; nothing here links a member to a choice).
        With ``notice``, a decision notice to each member who turned those on, together."""
        async with self.db.write("ballots.finish_close") as conn:
            if notice is not None:
                now = int(time.time())
                await outbox.queue_to_choosers(conn, "decisions", "decision", f"decision:{decision.hex()}", notice, now)
            await conn.execute("UPDATE ballots SET state = 'closed', decision = ? WHERE id = ?", (decision, ballot_id))
            async with conn.execute("SELECT secrecy FROM ballots WHERE id = ?", (ballot_id,)) as cursor:
                row = await cursor.fetchone()
            if row is not None and row[0] == "secret":
                await conn.execute("DELETE FROM ballot_votes WHERE ballot_id = ?", (ballot_id,))
                await conn.execute("DELETE FROM ballot_voters WHERE ballot_id = ?", (ballot_id,))
        await self.db.checkpoint()
