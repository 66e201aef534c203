"""Crash safety of the node's own log: SIGKILL a `branchnet serve` process at random moments
while clients append through the API; after every kill the database is intact, every
acknowledged append is stored exactly as acknowledged, and the log has no gap and no fork."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp

from protocol import check_logs, parse_node_id
from tests.node.conftest import PASSWORD
from tests.node.processes import start_serve

KILLS = 22
WRITERS = 6
SEED = 20261124


def check_database(path: Path, author: bytes, acked: dict[int, str]) -> int:
    """Integrity, acknowledged appends present, one gapless chain; returns the head sequence."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("SELECT seq, id, raw FROM envelopes WHERE author = ? ORDER BY seq", (author,)).fetchall()
    conn.close()
    seqs = [r[0] for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)), "gap in our own log"
    stored = {seq: bytes(envelope_id).hex() for seq, envelope_id, _ in rows}
    for seq, envelope_id in acked.items():
        assert stored.get(seq) == envelope_id, f"acknowledged seq {seq} lost or replaced by another envelope"
    report = check_logs([bytes(r[2]) for r in rows], now_ms=int(time.time() * 1000) + 60_000)
    assert report.failures == [], report.failures[:3]  # every signature and every prev link holds
    return len(seqs)


async def writer(
    http: aiohttp.ClientSession, headers: dict[str, str], name: str, deadline: float, acked: dict[int, str]
) -> None:
    """Append profiles until the server dies (or the bound is reached); record what was acknowledged."""
    for i in range(10_000):  # bounded in count and time
        if time.monotonic() > deadline:
            return
        body = {"name": "Crash Branch", "endpoints": ["http://127.0.0.1:9/"], "contact": f"writer {name} #{i}"}
        try:
            async with http.post("/api/v1/log/profile", json=body, headers=headers) as r:
                if r.status == 201:
                    answer = await r.json()
                    acked[answer["seq"]] = answer["id"]
                else:
                    assert r.status < 500, await r.text()
        except (aiohttp.ClientError, ConnectionError):
            return  # the server died under us: that request was never acknowledged


async def test_sigkill_never_loses_an_acknowledged_append(node_dir: Path) -> None:
    rng = random.Random(SEED)
    author_text = ""
    acked: dict[int, str] = {}
    token = ""
    head = 1
    setup = await start_serve(node_dir)
    try:
        author_text = setup.node_id
        await setup.stop()
    finally:
        await setup.kill()
    # The first admin, from the CLI, as a secretary would.
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node", "admin", "create", "--dir", str(node_dir), "--name", "Ada",
        "--email", "ada@example.org", "--password-stdin", stdin=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await process.communicate(PASSWORD.encode())
    assert process.returncode == 0
    author = parse_node_id(author_text)

    for round_no in range(KILLS):
        server = await start_serve(node_dir)
        deadline = time.monotonic() + 30
        try:
            async with aiohttp.ClientSession(server.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                if not token:
                    async with http.post("/api/v1/auth/login", json={"email": "ada@example.org",
                                                                     "password": PASSWORD}) as r:  # fmt: skip
                        assert r.status == 200
                    async with http.post("/api/v1/tokens", json={"name": "crash test"}) as r:
                        token = (await r.json())["token"]
                headers = {"Authorization": f"Bearer {token}"}

                writers = [asyncio.create_task(writer(http, headers, f"{round_no}.{n}", deadline, acked))
                           for n in range(WRITERS)]  # fmt: skip
                await asyncio.sleep(rng.uniform(0.05, 0.8))
                await server.kill()
                await asyncio.wait_for(asyncio.gather(*writers), timeout=30)
        finally:
            await server.kill()
        new_head = check_database(node_dir / "node.db", author, acked)
        assert new_head >= head
        head = new_head
    assert len(acked) > KILLS, "the test appended too little to mean anything"
    # And the node still starts and serves after all that.
    server = await start_serve(node_dir)
    try:
        async with aiohttp.ClientSession(server.url) as http, http.get("/api/v1/node") as r:
            info = await r.json()
        assert info["heads"][author_text] == head
    finally:
        assert await server.stop() == 0
