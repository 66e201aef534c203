"""A full disk: the node answers 503, keeps memory equal to its database, and recovers.

The node's folder is a small tmpfs mounted by the test (root only: skipped where it cannot
mount, and never skipped in CI, which runs as root). A chartered peer pushes large envelopes
one at a time until the disk is full; then the test checks that the head the node claims is
the head its database holds, that the next envelope is refused with 503 (not accepted past
a gap), and that once the filesystem grows the log goes on from exactly there.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import msgspec
import pytest

from node.cli.setup import found_federation, init_node
from node.federation.acts import issue_charter
from node.gossip.client import HttpTransport
from node.gossip.engine import PeerError
from node.service import Node
from protocol import Envelope, NodeProfile, Payload, SigningKey, seal, write_bundle
from tests.node.conftest import Live, new_node_dir
from tests.node.processes import start_serve


@pytest.fixture
def small_disk(tmp_path: Path) -> AsyncIterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    except FileNotFoundError:
        pytest.skip("no mount command here")
    if done.returncode != 0:  # (the next test covers the same on any machine)
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def big_profile(author: SigningKey, federation: bytes, after: Envelope | None) -> Envelope:
    """A ~24 KB envelope: eight long endpoints and a contact text of four-byte characters."""
    body = NodeProfile(name="Filler", endpoints=[f"http://127.0.0.1:9/e{i}/" + "p" * 2000 for i in range(8)],
                       contact="🙂" * 2000)  # fmt: skip
    seq = after.seq + 1 if after else 1
    payload = Payload(author=author.public, seq=seq, created=int(time.time() * 1000), body=body,
                      federation=federation, prev=after.id if after else None)  # fmt: skip
    return seal(author, payload)


async def push(transport: HttpTransport, url: str, envelope: Envelope) -> str:
    """The envelope's outcome status, or the HTTP error."""
    try:
        answer = await transport.request("POST", url, "/fed/v1/envelopes", write_bundle([envelope.raw]),
                                         "application/vnd.branchnet.bundle")  # fmt: skip
    except PeerError as exc:
        return str(exc).split(": ", 1)[-1]
    return str(msgspec.msgpack.decode(answer)["outcomes"][0]["status"])


async def claimed_head(url: str, author: SigningKey) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/v1/node") as r:
        return int((await r.json())["heads"].get(author.node_id, 0))


async def test_a_full_disk_answers_503_and_leaves_no_hole(small_disk: Path, tmp_path: Path) -> None:
    directory = small_disk / "node"
    await init_node(directory, "National Committee", "national", "127.0.0.1:0", None, allow_private_peers=True)
    await found_federation(directory, "Test Federation")
    peer = SigningKey.generate()
    async with Node.opened(directory) as node:
        await issue_charter(node, peer.public, "Filler Region", "region", "http://127.0.0.1:9")
        federation = node.federation_state.federation
    assert federation is not None
    serve = await start_serve(directory, log_path=tmp_path / "serve.log")
    transport = HttpTransport(peer, allow_private=True, timeout_s=30)
    try:
        last: Envelope | None = None
        outcome = ""
        for _ in range(400):  # 3 MB fills within ~130 envelopes of 24 KB
            envelope = big_profile(peer, federation, last)
            outcome = await push(transport, serve.url, envelope)
            if outcome != "accepted":
                break
            last = envelope
        assert outcome == "HTTP 503 storage_unavailable", outcome
        assert last is not None and last.seq > 10
        # The node claims the head it stored, and refuses the next envelope while full...
        assert await claimed_head(serve.url, peer) == last.seq
        following = big_profile(peer, federation, last)
        assert await push(transport, serve.url, following) == "HTTP 503 storage_unavailable"
        assert await claimed_head(serve.url, peer) == last.seq
        # ...and takes it up once there is room again, without a restart.
        remount = ["mount", "-o", "remount,size=64m", str(small_disk)]
        grown = await asyncio.to_thread(subprocess.run, remount, capture_output=True)
        assert grown.returncode == 0, grown.stderr
        assert await push(transport, serve.url, following) == "accepted"
        assert await push(transport, serve.url, big_profile(peer, federation, following)) == "accepted"
        assert await claimed_head(serve.url, peer) == following.seq + 1
        async with aiohttp.ClientSession() as http, http.get(f"{serve.url}/healthz") as r:
            assert r.status == 200
    finally:
        await transport.close()
        await serve.stop()
    async with Node.opened(directory) as node:  # after a restart: the log is whole, no gap
        seqs = [int(r[0]) for r in await node.db.fetchall(
            "SELECT seq FROM envelopes WHERE author = ? ORDER BY seq", (peer.public,))]  # fmt: skip
        assert seqs == list(range(1, following.seq + 2))
        assert await node.db.integrity_check() == "ok"


async def test_a_full_database_in_process_answers_503_and_recovers(live: Live) -> None:
    """The same without mounting anything: SQLite's page limit makes the database "full"
    (SQLITE_FULL, as a full disk does) under the running app."""
    peer = SigningKey.generate()
    await issue_charter(live.node, peer.public, "Filler Region", "region", "http://127.0.0.1:9")
    federation = live.node.federation_state.federation
    assert federation is not None
    writer = live.node.db._writer  # the one writer connection (test only)
    pages = (await (await writer.execute("PRAGMA page_count")).fetchone())[0]
    await writer.execute(f"PRAGMA max_page_count = {pages + 40}")
    transport = HttpTransport(peer, allow_private=True, timeout_s=30)
    try:
        last: Envelope | None = None
        outcome = ""
        for _ in range(100):
            envelope = big_profile(peer, federation, last)
            outcome = await push(transport, live.url, envelope)
            if outcome != "accepted":
                break
            last = envelope
        assert outcome == "HTTP 503 storage_unavailable" and last is not None
        assert await claimed_head(live.url, peer) == last.seq == live.node.federation_state.heads[peer.public].seq
        following = big_profile(peer, federation, last)
        assert await push(transport, live.url, following) == "HTTP 503 storage_unavailable"
        await writer.execute("PRAGMA max_page_count = 1073741823")
        assert await push(transport, live.url, following) == "accepted"
        assert await claimed_head(live.url, peer) == following.seq
    finally:
        await transport.close()
    rows = await live.node.db.fetchall("SELECT seq FROM envelopes WHERE author = ? ORDER BY seq", (peer.public,))
    assert [int(r[0]) for r in rows] == list(range(1, following.seq + 1))


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    return await new_node_dir(tmp_path, "National Committee", level="national")
