"""Taking votes: every check of a vote and the vote itself, in the write transaction of a
batch (node/storage/ballots.py gathers the batches). A vote is refused, storing nothing,
unless the ballot is open, the member an elector and it is their first vote (or, where the
ballot allows, a change brought with the receipt of the vote it replaces). With the vote,
the voter's participation: their roll leaf, and their signed statement if they signed."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from node.errors import Conflict, Forbidden, NodeError, NotFound

MAX_BATCH = 500  # votes in one transaction


@dataclass(frozen=True)
class Participated:
    """A voter's entry in the marked register: their roll leaf, and their signed statement
    (the key's id, the signature's canonical bytes and its digest) or None for each."""

    roll_leaf: bytes
    key_id: bytes | None = None
    signature: bytes | None = None
    digest: bytes | None = None
    counter: int = 0  # a passkey's signature counter (0: a key file, or a passkey that keeps none)


@dataclass(frozen=True)
class Vote:
    ballot_id: int
    member_id: int
    digest: bytes
    choice: bytes
    now_ms: int
    replaces: bytes | None
    tag: bytes = b""  # binds this vote to its voter: see :meth:`BallotStore.vote`
    replaces_tag: bytes | None = None
    participated: Participated | None = None  # None: a ballot on a version 1 roll (no register)


_REGISTER = (
    "INSERT INTO participations (ballot_id, roll_leaf, member_id, key_id, signature, digest) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (ballot_id, roll_leaf) DO UPDATE SET key_id = coalesce(excluded.key_id, key_id),"
    " signature = coalesce(excluded.signature, signature), digest = coalesce(excluded.digest, digest)"
)  # a changed vote keeps its voter's entry; signed now, it is signed


_REVOKED = "that key was revoked: it signs nothing more here"
_COUNTER_BACK = "that passkey's counter went back: it may have been copied; revoke it and make another"


async def _keys_in_force(conn: Any, votes: list[Vote]) -> dict[bytes, int]:
    """The keys the votes' signatures name that are in force now, with each one's last
    passkey counter: read in the vote's own transaction, so a key revoked an instant before
    (from a page, or the command line in another process) signs nothing."""
    wanted = sorted({v.participated.key_id for v in votes if v.participated is not None
                     and v.participated.key_id is not None})  # fmt: skip
    found: dict[bytes, int] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        async with conn.execute(f"SELECT key_id, sign_count FROM member_keys WHERE revoked_at IS NULL AND key_id IN"
                                f" ({','.join('?' * len(chunk))})", chunk) as cursor:  # fmt: skip
            found.update((bytes(r[0]), int(r[1])) for r in await cursor.fetchall())
    return found


def _key_refused(vote: Vote, keys: dict[bytes, int]) -> Forbidden | None:
    """Why this vote's signature does not stand now (its key revoked, a passkey's counter gone
    back), else None, noting the counter it moves the key to."""
    p = vote.participated
    if p is None or p.key_id is None:
        return None
    if p.key_id not in keys:
        return Forbidden(_REVOKED, field="participation", code="bad_member_signature")
    if p.counter:
        if p.counter <= keys[p.key_id]:
            return Forbidden(_COUNTER_BACK, field="participation", code="bad_member_signature")
        keys[p.key_id] = p.counter
    return None


async def _counters(conn: Any, votes: list[Vote]) -> None:
    moved = [(v.participated.counter, v.participated.key_id) for v in votes
             if v.participated is not None and v.participated.counter]  # fmt: skip
    if moved:
        await conn.executemany("UPDATE member_keys SET sign_count = max(sign_count, ?) WHERE key_id = ?", moved)


def _entry(vote: Vote) -> tuple[Any, ...]:
    p = vote.participated
    assert p is not None
    return (vote.ballot_id, p.roll_leaf, vote.member_id, p.key_id, p.signature, p.digest)


async def take_vote(conn: Any, vote: Vote) -> None:
    """Every check of a vote, then the vote; raises (storing nothing) when one fails."""
    refused = _key_refused(vote, await _keys_in_force(conn, [vote]))
    if refused is not None:
        raise refused
    async with conn.execute(
        "SELECT state, opens, closes, secrecy, may_change FROM ballots WHERE id = ?", (vote.ballot_id,)
    ) as cursor:
        ballot = await cursor.fetchone()
    if ballot is None:
        raise NotFound(f"no ballot {vote.ballot_id}")
    if ballot["state"] != "open" or (ballot["closes"] is not None and vote.now_ms >= ballot["closes"]):
        raise Conflict("this ballot is closed", code="ballot_closed")
    if vote.now_ms < ballot["opens"]:
        raise Conflict("this ballot is not open for votes yet", code="ballot_not_open")
    async with conn.execute(
        "SELECT 1 FROM ballot_electors WHERE ballot_id = ? AND member_id = ?", (vote.ballot_id, vote.member_id)
    ) as cursor:
        if await cursor.fetchone() is None:
            raise Forbidden("only members in good standing when the ballot opened may vote on it",
                            code="not_an_elector")  # fmt: skip
    secret = ballot["secrecy"] == "secret"
    if vote.replaces is not None:
        if not ballot["may_change"]:
            raise Conflict("votes on this ballot cannot be changed", code="already_voted")
        async with conn.execute(
            "SELECT change_tag FROM ballot_voters WHERE ballot_id = ? AND member_id = ?",
            (vote.ballot_id, vote.member_id),
        ) as cursor:
            mine = await cursor.fetchone()
        if mine is None or mine[0] is None or bytes(mine[0]) != vote.replaces_tag:
            # Another member's receipt, or one this member replaced already: it is no bearer token.
            raise Conflict("that receipt is not your current vote on this ballot", field="receipt", code="bad_receipt")
        where = "digest = ?" if secret else "digest = ? AND member_id = ?"
        args: tuple[Any, ...] = (vote.ballot_id, vote.replaces) if secret else (vote.ballot_id, vote.replaces,
                                                                                 vote.member_id)  # fmt: skip
        deleted = await conn.execute(f"DELETE FROM ballot_votes WHERE ballot_id = ? AND {where}", args)
        if deleted.rowcount != 1:
            raise Conflict("that receipt is not your current vote on this ballot", field="receipt", code="bad_receipt")
        await conn.execute(
            "UPDATE ballot_voters SET change_tag = ? WHERE ballot_id = ? AND member_id = ?",
            (vote.tag, vote.ballot_id, vote.member_id),
        )
    else:
        try:
            await conn.execute(
                "INSERT INTO ballot_voters (ballot_id, member_id, change_tag) VALUES (?, ?, ?)",
                (vote.ballot_id, vote.member_id, vote.tag),
            )
        except sqlite3.IntegrityError:
            raise Conflict("you have already voted on this ballot", code="already_voted") from None
    await conn.execute(
        "INSERT INTO ballot_votes (ballot_id, digest, choice, member_id) VALUES (?, ?, ?, ?)",
        (vote.ballot_id, vote.digest, vote.choice, None if secret else vote.member_id),
    )
    if vote.participated is not None:
        await conn.execute(_REGISTER, _entry(vote))
        await _counters(conn, [vote])


async def take_votes(conn: Any, votes: list[Vote]) -> list[BaseException | None]:
    """A batch of votes in one transaction: the checks read with one query each for the
    whole batch, then every vote taken in order (a second vote by one member in the same
    batch is refused as any second vote is), then the accepted ones written together. A
    vote that replaces another goes through :func:`take_vote` in a savepoint of its own."""
    outcomes: list[BaseException | None] = [None] * len(votes)
    plain = [i for i, v in enumerate(votes) if v.replaces is None]
    ballot_ids = sorted({votes[i].ballot_id for i in plain})
    marks = ",".join("?" * len(ballot_ids))
    async with conn.execute(
        f"SELECT id, state, opens, closes, secrecy FROM ballots WHERE id IN ({marks})", ballot_ids
    ) as cursor:
        ballots = {r["id"]: r for r in await cursor.fetchall()}
    pairs = sorted({(votes[i].ballot_id, votes[i].member_id) for i in plain})
    electors: set[tuple[int, int]] = set()
    voted: set[tuple[int, int]] = set()
    for start in range(0, len(pairs), 400):  # at most 800 parameters a query
        chunk = pairs[start : start + 400]
        where = " OR ".join("(ballot_id = ? AND member_id = ?)" for _ in chunk)
        flat = [x for pair in chunk for x in pair]
        for table, found in (("ballot_electors", electors), ("ballot_voters", voted)):
            async with conn.execute(f"SELECT ballot_id, member_id FROM {table} WHERE {where}", flat) as cursor:
                found.update((int(r[0]), int(r[1])) for r in await cursor.fetchall())
    keys = await _keys_in_force(conn, [votes[i] for i in plain])
    voters, rows, taken = [], [], []
    for i in plain:
        vote = votes[i]
        ballot = ballots.get(vote.ballot_id)
        pair = (vote.ballot_id, vote.member_id)
        if ballot is None:
            outcomes[i] = NotFound(f"no ballot {vote.ballot_id}")
        elif ballot["state"] != "open" or (ballot["closes"] is not None and vote.now_ms >= ballot["closes"]):
            outcomes[i] = Conflict("this ballot is closed", code="ballot_closed")
        elif vote.now_ms < ballot["opens"]:
            outcomes[i] = Conflict("this ballot is not open for votes yet", code="ballot_not_open")
        elif pair not in electors:
            outcomes[i] = Forbidden("only members in good standing when the ballot opened may vote on it",
                                    code="not_an_elector")  # fmt: skip
        elif pair in voted:
            outcomes[i] = Conflict("you have already voted on this ballot", code="already_voted")
        elif (refused := _key_refused(vote, keys)) is not None:
            outcomes[i] = refused
        else:
            voted.add(pair)
            taken.append(i)
            voters.append((*pair, vote.tag))
            secret = ballot["secrecy"] == "secret"
            rows.append((vote.ballot_id, vote.digest, vote.choice, None if secret else vote.member_id))
    if voters:
        await conn.executemany("INSERT INTO ballot_voters (ballot_id, member_id, change_tag) VALUES (?, ?, ?)", voters)
        await conn.executemany(
            "INSERT INTO ballot_votes (ballot_id, digest, choice, member_id) VALUES (?, ?, ?, ?)", rows
        )
        entries = [_entry(votes[i]) for i in taken if votes[i].participated is not None]
        if entries:
            await conn.executemany(_REGISTER, entries)
            await _counters(conn, [votes[i] for i in taken])
    for n, i in enumerate(i for i, v in enumerate(votes) if v.replaces is not None):
        await conn.execute(f"SAVEPOINT change_{n}")
        try:
            await take_vote(conn, votes[i])
        except (NodeError, sqlite3.IntegrityError) as exc:
            await conn.execute(f"ROLLBACK TO change_{n}")
            outcomes[i] = exc
        await conn.execute(f"RELEASE change_{n}")
    return outcomes
