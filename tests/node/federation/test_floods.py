"""Floods from a chartered peer against a real `branchnet serve` process on 127.0.0.1.

* Envelopes of unknown authors (relayed by a chartered peer) fill only their share of the
  quarantine, the node's memory stays bounded, and a chartered author's out-of-order
  envelope still finds room.
* A chartered key pushing large envelopes as fast as it can is held to the federation's
  default quota (64 MiB a day): the rest is refused with ``over_quota`` and not stored.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
import pytest

from node.cli.setup import found_federation, init_node
from node.federation.acts import issue_charter
from node.gossip.client import HttpTransport
from node.service import Node
from protocol import Envelope, NodeProfile, Payload, SigningKey, seal, write_bundle
from protocol.quota import DEFAULT_QUOTA
from tests.node.processes import start_serve

MB = 1024 * 1024


def big(author: SigningKey, federation: bytes, after: Envelope | None, created: int | None = None) -> Envelope:
    """A ~24 KB envelope (eight long endpoints, a contact of four-byte characters)."""
    body = NodeProfile(name="Flood", endpoints=[f"http://127.0.0.1:9/e{i}/" + "p" * 2000 for i in range(8)],
                       contact="🙂" * 2000)  # fmt: skip
    payload = Payload(author=author.public, seq=after.seq + 1 if after else 1, prev=after.id if after else None,
                      created=created or int(time.time() * 1000), body=body, federation=federation)  # fmt: skip
    return seal(author, payload)


async def push(transport: HttpTransport, url: str, raws: list[bytes]) -> list[tuple[str, str | None]]:
    answer = await transport.request("POST", url, "/fed/v1/envelopes", write_bundle(raws),
                                     "application/vnd.branchnet.bundle")  # fmt: skip
    return [(o["status"], o.get("code")) for o in msgspec.msgpack.decode(answer)["outcomes"]]


@pytest.fixture
async def national(tmp_path: Path) -> Path:
    directory = tmp_path / "national"
    await init_node(directory, "National Committee", "national", "127.0.0.1:0", None, allow_private_peers=True)
    await found_federation(directory, "Test Federation")
    return directory


async def charter_peers(directory: Path, *keys: SigningKey) -> bytes:
    async with Node.opened(directory) as node:
        for i, k in enumerate(keys):
            await issue_charter(node, k.public, f"Region {i}", "region", "http://127.0.0.1:9")
        federation = node.federation_state.federation
    assert federation is not None
    return federation


@pytest.mark.slow  # ~20 s of flooding: `make test-slow`, which CI runs after `make test`
async def test_strangers_fill_only_their_share_of_the_quarantine(national: Path) -> None:
    relay, honest = SigningKey.generate(), SigningKey.generate()
    federation = await charter_peers(national, relay, honest)
    serve = await start_serve(national)
    transport = HttpTransport(relay, allow_private=True, timeout_s=60)
    try:
        resting = serve.rss_mb()
        strangers = [SigningKey.generate() for _ in range(104)]
        outcomes: list[tuple[str, str | None]] = []
        for stranger in strangers:  # 104 unknown authors x 100 envelopes of ~24 KB = 10,400
            log: list[Envelope] = []
            for _ in range(100):
                log.append(big(stranger, federation, log[-1] if log else None))
            outcomes += await push(transport, serve.url, [e.raw for e in log])
        quarantined = sum(1 for s, _ in outcomes if s == "quarantined")
        full = sum(1 for s, c in outcomes if (s, c) == ("rejected", "quarantine_full"))
        assert quarantined + full == 10_400 and full > 0
        assert quarantined * 24_000 <= 128 * MB + 24_000  # half of the 256 MiB quarantine, no more
        peak = serve.rss_peak_mb()
        assert peak - resting < 200, (resting, peak)  # the report: 170 MB -> 2 GB
        # The honest region's second envelope arrives before its first: there is room for it.
        first = big(honest, federation, None)
        second = big(honest, federation, first)
        honest_transport = HttpTransport(honest, allow_private=True, timeout_s=60)
        try:
            assert await push(honest_transport, serve.url, [second.raw]) == [("quarantined", "waiting")]
            assert await push(honest_transport, serve.url, [first.raw]) == [("accepted", None)]
        finally:
            await honest_transport.close()
    finally:
        await transport.close()
        await serve.stop()
    async with Node.opened(national) as node:
        assert node.federation_state.heads[honest.public].seq == 2  # the waiting one moved on


@pytest.mark.slow  # ~10 s of flooding: `make test-slow`, which CI runs after `make test`
async def test_a_chartered_flood_is_held_to_the_default_quota(national: Path) -> None:
    flooder = SigningKey.generate()
    federation = await charter_peers(national, flooder)
    serve = await start_serve(national)
    transport = HttpTransport(flooder, allow_private=True, timeout_s=60)
    allowed = DEFAULT_QUOTA.bytes_per_day // len(big(flooder, federation, None).raw)
    try:
        started = time.monotonic()
        log: list[Envelope] = []
        outcomes: list[tuple[str, str | None]] = []
        while len(log) < allowed + 200 and time.monotonic() - started < 120:  # bounded
            batch = []
            for _ in range(250):
                batch.append(big(flooder, federation, batch[-1] if batch else (log[-1] if log else None)))
            outcomes += await push(transport, serve.url, [e.raw for e in batch])
            log += batch
        accepted = sum(1 for s, _ in outcomes if s == "accepted")
        assert outcomes[:accepted] == [("accepted", None)] * accepted
        # A day's bytes, to the envelope (what the test's seconds refill is a few KB more).
        took_bytes = sum(len(e.raw) for e in log[:accepted])
        refill = DEFAULT_QUOTA.bytes_per_day * (time.monotonic() - started + 1) / 86_400
        assert took_bytes <= DEFAULT_QUOTA.bytes_per_day + refill
        assert took_bytes + len(log[accepted].raw) > DEFAULT_QUOTA.bytes_per_day
        assert set(outcomes[accepted:]) <= {("rejected", "over_quota"), ("quarantined", "waiting")}
        assert ("rejected", "over_quota") in outcomes
    finally:
        await transport.close()
        await serve.stop()
    async with Node.opened(national) as node:
        stored = await node.db.fetchall("SELECT SUM(length(raw)) FROM envelopes WHERE author = ?", (flooder.public,))
        assert int(stored[0][0]) <= DEFAULT_QUOTA.bytes_per_day + 200_000
