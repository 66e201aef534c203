"""Where other nodes are reached: seeds added by an operator or by `join`, and the health the
running node saves every few seconds (for `branchnet status`)."""

from __future__ import annotations

from dataclasses import dataclass

from node.storage.db import Database


@dataclass(frozen=True)
class PeerRow:
    url: str
    node_id: bytes | None
    source: str  # seed (configured), profile, charter
    last_ok: int | None  # Unix seconds
    failures: int
    last_error: str | None


class PeerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def all(self) -> list[PeerRow]:
        rows = await self.db.fetchall(
            "SELECT url, node_id, source, last_ok, failures, last_error FROM peers ORDER BY url"
        )
        return [PeerRow(r[0], bytes(r[1]) if r[1] else None, r[2], r[3], int(r[4]), r[5]) for r in rows]

    async def add_seed(self, url: str, now: int) -> None:
        async with self.db.write("peers.add") as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO peers (url, node_id, source, added_at) VALUES (?, NULL, 'seed', ?)",
                (url.rstrip("/"), now),
            )

    async def remove(self, url: str) -> bool:
        """Forget a peer; False if there was none at that URL."""
        async with self.db.write("peers.remove") as conn:
            cursor = await conn.execute("DELETE FROM peers WHERE url = ?", (url.rstrip("/"),))
            return cursor.rowcount > 0

    async def save_health(self, rows: list[tuple[str, bytes | None, str, int, int | None, int, str | None]]) -> None:
        """(url, node_id, source, added_at, last_ok, failures, last_error) of every peer known."""
        async with self.db.write("peers.health") as conn:
            await conn.executemany(
                "INSERT INTO peers (url, node_id, source, added_at, last_ok, failures, last_error)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO UPDATE SET node_id = COALESCE(excluded.node_id,"
                " node_id), last_ok = excluded.last_ok, failures = excluded.failures, last_error = excluded.last_error",
                rows,
            )
