"""Join requests from strangers, and `branchnet join` on the joining side.

A join request comes from any fresh key, so its fields are checked as a charter's are,
pending requests are capped per address and in total, they expire, and the officers' list
is paged. `branchnet join` pins a federation only after the parent served its genesis.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from node.cli.setup import init_node
from node.gossip.client import HttpTransport
from node.service import Node
from node.storage.joins import JoinLimits
from protocol import SigningKey
from tests.factories import profile
from tests.node.conftest import Live, new_node_dir


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    """The parent is a national body: it charters regions."""
    return await new_node_dir(tmp_path, "National Committee", level="national")


async def ask(live: Live, fields: dict[str, str], key: SigningKey | None = None, address: str = "") -> None:
    """A signed join request from ``key`` (a fresh one by default), as if from ``address``
    (through the trusted proxy 127.0.0.1); raises AskFailed with the status if refused."""
    transport = HttpTransport(key or SigningKey.generate(), allow_private=True, timeout_s=10)
    body = msgspec.msgpack.encode(fields)
    headers = transport.signed_headers("POST", f"{live.url}/fed/v1/join", body)
    headers["Content-Type"] = "application/msgpack"
    if address:
        headers["X-Forwarded-For"] = address
    async with live.http.post("/fed/v1/join", data=body, headers=headers) as r:
        if r.status != 200:
            raise AskFailed(f"HTTP {r.status} {(await r.json())['error']}")


class AskFailed(Exception):
    pass


GOOD = {"name": "East Region", "level": "region", "url": "https://east.example.org"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"level": "r" * 60_000}, "level"),
        ({"level": "region\n"}, "level"),
        ({"level": "branch"}, "level"),  # a national body does not charter branches
        ({"level": "county"}, "level"),  # not a level of this federation
        ({"name": "x" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"url": "ftp://east.example.org"}, "url"),
        ({"url": "https://east.example.org\n"}, "url"),
    ],
)
async def test_join_fields_are_checked_as_a_charters(live: Live, change: dict[str, str], field: str) -> None:
    with pytest.raises(AskFailed, match=r"HTTP 40[03]"):
        await ask(live, {**GOOD, **change})
    assert await live.node.joins.list() == []  # nothing stored


async def test_pending_requests_are_capped_per_address_and_in_total(live: Live) -> None:
    live.node.config.http.trusted_proxies = ["127.0.0.1"]
    live.node.joins.limits = JoinLimits(pending_max=8, per_address=3)
    for _ in range(3):
        await ask(live, GOOD, address="198.51.100.1")
    with pytest.raises(AskFailed, match="429"):
        await ask(live, GOOD, address="198.51.100.1")
    repeat = SigningKey.generate()
    for i in range(5):  # other addresses, up to the total of 8
        await ask(live, GOOD, repeat if i == 0 else None, address=f"198.51.100.{10 + i}")
    with pytest.raises(AskFailed, match="429"):
        await ask(live, GOOD, address="198.51.100.99")
    await ask(live, GOOD, repeat, address="198.51.100.10")  # asking again is not a new request
    assert len(await live.node.joins.list("pending")) == 8


async def test_a_node_the_officers_expect_gets_past_a_full_queue_with_a_join_code(live: Live) -> None:
    """Issue 21, item 14: a stranger filling the join queue (100 requests from 40 addresses)
    shut out a genuine node for 7 days. A one-time code an officer hands out passes the caps;
    the request still waits for an officer's approval, and the code works once."""
    admin = await live.member("admin")
    live.node.config.http.trusted_proxies = ["127.0.0.1"]
    live.node.joins.limits = JoinLimits(pending_max=100, per_address=5)
    for i in range(100):  # the stranger, from 40 addresses
        await ask(live, GOOD, address=f"198.51.100.{i % 40}")
    genuine = SigningKey.generate()
    with pytest.raises(AskFailed, match="429"):
        await ask(live, {**GOOD, "name": "West Region"}, genuine, address="203.0.113.5")
    async with live.http.post("/api/v1/joins/codes", headers=admin.headers) as r:
        assert r.status == 201
        code = (await r.json())["code"]
    with pytest.raises(AskFailed, match="bad_join_code"):  # a wrong code is said, not queued
        await ask(live, {**GOOD, "name": "West Region", "code": "aaaaaa-bbbbbb-cccccc-dddddd"}, genuine)
    await ask(live, {**GOOD, "name": "West Region", "code": code}, genuine, address="203.0.113.5")
    await ask(live, {**GOOD, "name": "West Region", "code": code}, genuine, address="203.0.113.5")  # a repeat: fine
    with pytest.raises(AskFailed, match="bad_join_code"):  # used: another node cannot ride on it
        await ask(live, {**GOOD, "code": code}, address="203.0.113.6")
    expected = [j for j in await live.node.joins.list("pending") if j.expected]
    assert [j.name for j in expected] == ["West Region"]
    assert live.node.federation_state.body(genuine.public) is None  # waiting for an officer, as any request
    async with live.http.post(f"/api/v1/joins/{expected[0].id}/approve", headers=admin.headers) as r:
        assert r.status == 201
    assert live.node.federation_state.body(genuine.public) is not None


async def test_requests_expire_and_the_list_is_paged(live: Live) -> None:
    admin = await live.member("admin")
    live.node.config.http.trusted_proxies = ["127.0.0.1"]
    for i in range(12):
        await ask(live, GOOD, address=f"198.51.100.{i}")
    seen: list[int] = []
    after = 0
    for _ in range(5):  # bounded
        async with live.http.get(f"/api/v1/joins?after={after}&limit=5", headers=admin.headers) as r:
            page = await r.json()
        if not page:
            break
        seen += [j["id"] for j in page]
        after = page[-1]["id"]
    assert len(seen) == len(set(seen)) == 12
    async with live.http.get("/api/v1/joins?limit=100000", headers=admin.headers) as r:
        assert r.status == 400 and (await r.json())["error"]["field"] == "limit"
    first = seen[0]
    await live.node.joins.expire(now=int(time.time()) + live.node.joins.limits.ttl_s + 1)
    async with live.http.get("/api/v1/joins?status=pending", headers=admin.headers) as r:
        assert await r.json() == []
    async with live.http.post(f"/api/v1/joins/{first}/approve", headers=admin.headers) as r:
        assert r.status == 409  # an expired request cannot be approved
    assert live.node.federation_state.heads[live.node.key.public].seq == 1  # nothing was signed


async def test_a_refusal_refuses_and_an_approval_charters(live: Live) -> None:
    admin = await live.member("admin")
    keys = [SigningKey.generate(), SigningKey.generate()]
    for key in keys:
        await ask(live, GOOD, key)
    pending = await live.node.joins.list("pending")
    async with live.http.post(f"/api/v1/joins/{pending[0].id}/refuse", headers=admin.headers) as r:
        assert r.status == 204
    async with live.http.post(f"/api/v1/joins/{pending[1].id}/approve", headers=admin.headers) as r:
        assert r.status == 201
    refused, approved = (await live.node.joins.get(pending[0].id), await live.node.joins.get(pending[1].id))
    assert (refused.status, approved.status) == ("refused", "approved")
    assert live.node.federation_state.body(keys[0].public) is None
    assert live.node.federation_state.body(keys[1].public) is not None  # chartered
    async with live.http.post(f"/api/v1/joins/{pending[0].id}/approve", headers=admin.headers) as r:
        assert r.status == 409  # a refusal stands


async def test_decisions_at_once_on_one_request_sign_at_most_one_charter(live: Live) -> None:
    """Two officers (or a double click) approving, and one refusing, the same request at
    the same moment: one decision wins, the others are told it is no longer pending."""
    admin = await live.member("admin")
    key = SigningKey.generate()
    await ask(live, GOOD, key)
    (join,) = await live.node.joins.list("pending")

    async def decide(action: str) -> int:
        async with live.http.post(f"/api/v1/joins/{join.id}/{action}", headers=admin.headers) as r:
            return r.status

    statuses = await asyncio.gather(decide("approve"), decide("approve"), decide("refuse"), decide("approve"))
    assert sorted(statuses).count(409) == 3
    decided = await live.node.joins.get(join.id)
    charters = live.node.federation_state.heads[live.node.key.public].seq - 1  # after the node's profile
    if decided.status == "approved":
        assert statuses.count(201) == 1 and charters == 1 and decided.charter is not None
    else:
        assert decided.status == "refused" and statuses[2] == 204 and charters == 0


# --- `branchnet join` -------------------------------------------------------------------------
def branchnet(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})  # fmt: skip


@pytest.fixture
async def joiner(tmp_path: Path) -> AsyncIterator[Path]:
    directory = tmp_path / "east"
    await init_node(directory, "East Region", "region", "127.0.0.1:0", "http://127.0.0.1:9", allow_private_peers=True)
    yield directory


async def federation_of(directory: Path) -> bytes | None:
    async with Node.opened(directory) as node:
        return node.federation_state.federation


async def test_join_pins_only_what_the_parent_serves(live: Live, joiner: Path) -> None:
    federation = live.node.federation_state.federation
    assert federation is not None
    d, url = str(joiner), live.url
    wrong = [(live.url, "ab" * 32), ("ftp://127.0.0.1/", federation.hex()), ("http://127.0.0.1:9", federation.hex())]
    for peer, fed in wrong:  # a mistyped id, a peer that is not http, a peer that is not there
        result = await asyncio.to_thread(branchnet, "join", "--dir", d, "--federation", fed, "--peer", peer)
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert await federation_of(joiner) is None  # nothing pinned
    result = await asyncio.to_thread(branchnet, "join", "--dir", d, "--federation", federation.hex(), "--peer", url)
    assert result.returncode == 0, result.stderr
    async with Node.opened(joiner) as node:
        assert node.federation_state.federation == federation and node.federation_state.trust is not None
    undone = await asyncio.to_thread(branchnet, "join", "--undo", "--dir", d)
    assert undone.returncode == 0, undone.stderr
    assert await federation_of(joiner) is None
    result = await asyncio.to_thread(branchnet, "join", "--dir", d, "--federation", federation.hex(), "--peer", url)
    assert result.returncode == 0, result.stderr
    await live.node.own_log.append(profile("National"))
    async with Node.opened(joiner) as node:  # once something else was accepted, the pin stays
        outcomes = await node.federation_state.ingest(await live.node.envelopes.range(live.node.key.public, 1, 10))
        assert [o.status for o in outcomes] == ["accepted"]
    refused = await asyncio.to_thread(branchnet, "join", "--undo", "--dir", d)
    assert refused.returncode == 1 and "cannot leave" in refused.stderr
    assert await federation_of(joiner) == federation


async def test_join_request_wait_exits_non_zero_on_time_out(live: Live, joiner: Path) -> None:
    federation = live.node.federation_state.federation
    assert federation is not None
    result = await asyncio.to_thread(branchnet, "join", "--dir", str(joiner), "--federation", federation.hex(),
                                     "--peer", live.url, "--request", "--wait", "1")  # fmt: skip
    assert result.returncode == 1 and "still pending" in result.stderr, result.stderr
    assert [j.name for j in await live.node.joins.list("pending")] == ["East Region"]
