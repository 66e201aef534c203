"""Crash safety: SIGKILL a `branchnet serve` process at random moments while clients append
to its own log through the API, and while peers push their logs to it; after every kill the
database is intact, everything acknowledged is stored as acknowledged (or still waiting in
quarantine, if that was the answer), and no log has a gap or a fork."""

from __future__ import annotations

import asyncio
import hashlib
import random
import sqlite3
import sys
import time
from pathlib import Path

import aiohttp
import msgspec
import pytest

from node.federation.acts import issue_charter
from node.gossip.client import HttpTransport
from node.gossip.engine import PeerError
from node.service import Node
from protocol import NodeProfile, Payload, SigningKey, check_logs, parse_node_id, seal, write_bundle
from tests.node.conftest import PASSWORD, new_node_dir
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


@pytest.mark.slow  # ~30 s of SIGKILLs: `make test-slow`, which CI runs after `make test`
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


# --- peer ingest --------------------------------------------------------------------------
PEER_KILLS = 6


async def test_sigkill_during_peer_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """Chartered peers push their logs in shuffled batches (so some envelopes wait in
    quarantine for their predecessors) and a stranger's envelopes wait for a charter; the node
    is killed at random moments. After every kill: the database is intact, every envelope
    answered "accepted" is stored, every one answered "quarantined" is still waiting or was
    accepted since, and no author's log has a gap."""
    rng = random.Random(SEED + 1)
    directory = await new_node_dir(tmp_path, "National Committee", level="national")
    regions = [SigningKey.generate() for _ in range(3)]
    stranger = SigningKey.generate()
    async with Node.opened(directory) as node:
        for i, region in enumerate(regions):
            await issue_charter(node, region.public, f"Region {i}", "region", "http://127.0.0.1:9")
        federation = node.federation_state.federation
    assert federation is not None
    logs = {k.public: chain_of(k, federation, 300) for k in [*regions, stranger]}
    acked: dict[bytes, str] = {}  # envelope id -> the outcome the node answered

    async def sender(url: str, key: SigningKey, batches: list[list[bytes]]) -> None:
        transport = HttpTransport(key, allow_private=True, timeout_s=30)
        try:
            for batch in batches:
                try:
                    answer = await transport.request("POST", url, "/fed/v1/envelopes", write_bundle(batch),
                                                     "application/vnd.branchnet.bundle")  # fmt: skip
                except PeerError:
                    return  # killed under us: this batch was never acknowledged
                for raw, outcome in zip(batch, msgspec.msgpack.decode(answer)["outcomes"], strict=True):
                    if outcome["status"] in ("accepted", "quarantined"):
                        acked[hashlib.sha256(raw).digest()] = outcome["status"]
        finally:
            await transport.close()

    for _round_no in range(PEER_KILLS):
        server = await start_serve(directory)
        try:
            tasks = []
            for region in regions:  # each region pushes its own log and the stranger's, shuffled in batches
                raws = logs[region.public] + logs[stranger.public][:50]
                batches = [raws[i : i + 40] for i in range(0, len(raws), 40)]
                rng.shuffle(batches)
                tasks.append(asyncio.create_task(sender(server.url, region, batches)))
            await asyncio.sleep(rng.uniform(0.1, 1.0))
            await server.kill()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
        finally:
            await server.kill()
        check_ingest(directory / "node.db", acked)
    accepted = sum(1 for s in acked.values() if s == "accepted")
    assert accepted > 100 and "quarantined" in acked.values(), "the test pushed too little to mean anything"


def chain_of(author: SigningKey, federation: bytes, count: int) -> list[bytes]:
    raws: list[bytes] = []
    prev = None
    now = int(time.time() * 1000)
    for seq in range(1, count + 1):
        body = NodeProfile(name="Crash Region", endpoints=["http://127.0.0.1:9/"], contact=f"#{seq}")
        envelope = seal(author, Payload(author=author.public, seq=seq, created=now, body=body,
                                        federation=federation, prev=prev))  # fmt: skip
        prev = envelope.id
        raws.append(envelope.raw)
    return raws


def check_ingest(path: Path, acked: dict[bytes, str]) -> None:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {bytes(r[0]) for r in conn.execute("SELECT id FROM envelopes")}
        waiting = {bytes(r[0]) for r in conn.execute("SELECT id FROM quarantine")}
        by_author: dict[bytes, list[int]] = {}
        for author, seq in conn.execute("SELECT author, seq FROM envelopes ORDER BY author, seq"):
            by_author.setdefault(bytes(author), []).append(int(seq))
    conn.close()
    for envelope_id, status in acked.items():
        if status == "accepted":
            assert envelope_id in stored, "an acknowledged envelope was lost"
        else:
            assert envelope_id in stored | waiting, "a quarantined envelope was lost"
    for author, seqs in by_author.items():
        assert seqs == list(range(1, len(seqs) + 1)), f"gap in the log of {author.hex()[:16]}"
