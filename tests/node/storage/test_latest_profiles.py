"""Each author's latest node profile, kept as envelopes are stored and taken away (migration
0019): what the gossip reads for its peers at start and every few seconds, without reading
every profile ever stored."""

from __future__ import annotations

import os
from pathlib import Path

from node.storage.db import Database
from node.storage.envelopes import INSERT_ENVELOPE
from node.storage.federation import FederationStore

A, B = b"A" * 32, b"B" * 32


def row(author: bytes, seq: int, kind: str = "node_profile") -> tuple[object, ...]:
    raw = author[:1] + seq.to_bytes(4, "big") + kind.encode() + os.urandom(8)
    return (os.urandom(32), author, seq, kind, 1, 1, raw, 1, 1)


async def latest(db: Database) -> dict[bytes, int]:
    return {bytes(r[0]): int(r[1]) for r in await db.fetchall("SELECT author, seq FROM latest_profiles")}


async def test_the_latest_profile_follows_what_is_stored_and_set_aside(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "n.db", create=True)
    try:
        async with db.write("test") as conn:
            await conn.executemany(INSERT_ENVELOPE, [row(A, 1), row(A, 2), row(A, 3, "pledge"), row(A, 4),
                                                     row(A, 5, "pledge"), row(B, 1, "pledge")])  # fmt: skip
        assert await latest(db) == {A: 4}
        raws = await FederationStore(db).latest_profiles()
        assert [r[:5] for r in raws] == [A[:1] + (4).to_bytes(4, "big")]
        async with db.write("test") as conn:
            await FederationStore.set_aside(conn, A, 3, "cut", 1)  # profile 4 taken away: 2 is the latest left
        assert await latest(db) == {A: 2}
        async with db.write("test") as conn:
            await FederationStore.set_aside(conn, A, 0, "cut", 1)  # all of A's
            await conn.executemany(INSERT_ENVELOPE, [row(B, 2), row(B, 3)])
        assert await latest(db) == {B: 3}
    finally:
        await db.close()
