"""A node syncs a federation of 2,000+ authors and 50,000 envelopes over real HTTP.

The report: with 2,002 authors, 20 of 20 syncs failed ("truncated" answers, and a fetch per
author ran into the per-peer rate limit), and a restarted node stayed 200 envelopes behind.
Here a national node holding 2,001 authors (itself and 2,000 chartered regions) and 50,001
envelopes serves one of those regions, freshly joined: it must end with identical heads.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from node.cli.demo import start_serve
from node.cli.setup import found_federation, init_node
from node.config import KEY_FILE
from node.federation.acts import join_federation
from node.keyfile import read_key
from node.service import Node
from protocol import Charter, Envelope, NodeProfile, Payload, SigningKey, seal

REGIONS = 2000
PER_REGION = 24  # 2,000 charters + 48,000 profiles + the genesis = 50,001 envelopes
BOUND_S = 120.0


def log_of(
    author: SigningKey, federation: bytes, bodies: list[object], after: Envelope | None, now: int
) -> list[Envelope]:
    out = []
    for body in bodies:
        after = seal(author, Payload(author=author.public, seq=after.seq + 1 if after else 1, created=now, body=body,  # type: ignore[arg-type]
                                     federation=federation, prev=after.id if after else None))  # fmt: skip
        out.append(after)
    return out


async def heads(url: str) -> dict[str, int]:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/api/v1/node") as r:
        return dict((await r.json())["heads"])


@pytest.mark.slow  # ~30 s: `make test-slow`, which CI runs after `make test`
async def test_a_fresh_node_syncs_2000_authors_and_50000_envelopes(tmp_path: Path) -> None:
    source_dir, fresh_dir = tmp_path / "national", tmp_path / "fresh"
    await init_node(source_dir, "National Committee", "national", "127.0.0.1:0", None, allow_private_peers=True)
    await init_node(fresh_dir, "Region 0", "region", "127.0.0.1:0", None, allow_private_peers=True)
    await found_federation(source_dir, "Big Federation")
    national, fresh_key = read_key(source_dir / KEY_FILE), read_key(fresh_dir / KEY_FILE)
    regions = [fresh_key] + [SigningKey.generate() for _ in range(REGIONS - 1)]
    now = int(time.time() * 1000)
    async with Node.opened(source_dir) as node:
        federation = node.federation_state.federation
        assert federation is not None
        gen_raw = await node.envelopes.get(federation)
        genesis = node.federation_state._genesis
        assert gen_raw is not None and genesis is not None
        charters = log_of(national, federation, [Charter(key=r.public, name=f"Region {i}", level="region")
                                                 for i, r in enumerate(regions)], genesis, now)  # fmt: skip
        for start in range(0, len(charters), 1000):
            assert {
                o.status for o in await node.federation_state.ingest([e.raw for e in charters[start : start + 1000]])
            } == {"accepted"}
        batch: list[bytes] = []
        for i, region in enumerate(regions[1:], start=1):
            bodies = [NodeProfile(name=f"Region {i}", endpoints=[f"http://127.0.0.1:9/r{i}"], contact=f"#{n}")
                      for n in range(PER_REGION)]  # fmt: skip
            batch += [e.raw for e in log_of(region, federation, bodies, None, now)]
            if len(batch) >= 2000:
                assert {o.status for o in await node.federation_state.ingest(batch)} == {"accepted"}
                batch = []
        if batch:
            assert {o.status for o in await node.federation_state.ingest(batch)} == {"accepted"}
        held = sum(h.seq for h in node.federation_state.heads.values())
    assert held == 1 + REGIONS + (REGIONS - 1) * PER_REGION
    processes = []
    try:
        source, source_url, _ = await start_serve(source_dir, {})
        processes.append(source)
        async with Node.opened(fresh_dir) as node:
            await join_federation(node, gen_raw, source_url)
        fresh, fresh_url, _ = await start_serve(fresh_dir, {"BRANCHNET_FEDERATION_SYNC_INTERVAL_MS": "300"})
        processes.append(fresh)
        started = time.monotonic()
        want = await heads(source_url)
        assert len(want) == REGIONS
        while time.monotonic() - started < BOUND_S:
            if await heads(fresh_url) == want:
                break
            await asyncio.sleep(1)
        got = await heads(fresh_url)
        assert got == want, (len(got), sum(got.values()), sum(want.values()))
    finally:
        for process in processes:
            process.terminate()
        await asyncio.gather(*(p.wait() for p in processes))
