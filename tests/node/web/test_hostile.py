"""A hostile peer that speaks the protocol, against a real node on 127.0.0.1.

Each attack is refused with its reason code, and nothing the node already held is lost.
The equivocation attack (different envelopes at one sequence, sent to different nodes)
runs against three `branchnet serve` processes: after gossip every node holds the proof.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from node.cli.demo import RunningNode, wait_until_converged
from node.federation.acts import issue_charter, revoke
from node.gossip.client import HttpTransport
from node.gossip.engine import Peer, PeerError
from node.service import Node
from protocol import Envelope, NodeProfile, Payload, SigningKey, seal, write_bundle
from protocol.httpsig import content_digest, request_components, sign_request
from tests.factories import genesis, profile
from tests.node.conftest import Live, new_node_dir
from tests.node.processes import running

Outcomes = list[dict[str, str]]


@dataclass
class Hostile:
    """A peer with its own key, chartered (or not) by the node under attack."""

    key: SigningKey
    transport: HttpTransport
    live: Live
    last: Envelope | None = None

    async def post(self, path: str, body: bytes, content_type: str = "application/msgpack") -> bytes:
        return await self.transport.request("POST", self.live.url, path, body, content_type)

    async def push(self, raws: list[bytes]) -> Outcomes:
        answer = await self.post("/fed/v1/envelopes", write_bundle(raws), "application/vnd.branchnet.bundle")
        return [dict(o) for o in msgspec.msgpack.decode(answer)["outcomes"]]

    def envelope(self, body: object = None, author: SigningKey | None = None, after: Envelope | None = None,
                 federation: bytes | None = None, created: int | None = None) -> Envelope:  # fmt: skip
        author = author or self.key
        prev = after if after is not None else (self.last if author is self.key else None)
        payload = Payload(author=author.public, seq=prev.seq + 1 if prev else 1, prev=prev.id if prev else None,
                          created=created or int(time.time() * 1000), body=body or profile("Hostile"),  # type: ignore[arg-type]
                          federation=federation or self.live.node.federation_state.federation)  # fmt: skip
        return seal(author, payload)


async def stored(live: Live) -> list[bytes]:
    return await live.node.envelopes.all_raw()


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    """The node under attack founded its federation as a national body (it charters regions)."""
    return await new_node_dir(tmp_path, "National Committee", level="national")


@pytest.fixture
async def hostile(live: Live) -> AsyncIterator[Hostile]:
    key = SigningKey.generate()
    await issue_charter(live.node, key.public, "Hostile Region", "region", "http://127.0.0.1:9")
    transport = HttpTransport(key, allow_private=True, timeout_s=10)
    try:
        yield Hostile(key, transport, live)
    finally:
        await transport.close()


def codes(outcomes: Outcomes) -> list[tuple[str, str | None]]:
    return [(o["status"], o.get("code")) for o in outcomes]


async def test_a_push_answer_says_what_was_news(hostile: Hostile) -> None:
    """What gossip's feedback reads (node/gossip/client.py): accepted or quarantined is news to
    the peer; held already, or refused, is not."""
    first = hostile.envelope()
    hostile.last = first
    second = hostile.envelope()
    hostile.last = second
    after_gap = hostile.envelope(after=hostile.envelope(after=second))  # seq 4: waits for seq 3
    peer = Peer(hostile.live.url)
    assert await hostile.transport.push(peer, [first.raw, second.raw]) == [True, True]
    assert await hostile.transport.push(peer, [second.raw, after_gap.raw, b"not an envelope"]) == [False, True, False]


async def test_large_pushes_are_checked_in_worker_processes(hostile: Hostile) -> None:
    """A push of 64 envelopes or more starts the node's verify workers (node/federation/verify.py);
    the next is checked there, with the same outcomes a thread gives, a forgery among them."""

    def chain(count: int) -> list[Envelope]:
        out = []
        for _ in range(count):
            hostile.last = hostile.envelope()
            out.append(hostile.last)
        return out

    first = chain(70)
    assert codes(await hostile.push([e.raw for e in first])) == [("accepted", None)] * 70
    for _ in range(600):  # two interpreters starting on a busy machine: at most 60 s
        async with hostile.live.http.get("/metrics") as r:
            metrics = await r.text()
        if "branchnet_verify_processes 2.0" in metrics:
            break
        await asyncio.sleep(0.1)
    assert "branchnet_verify_processes 2.0" in metrics, metrics
    second = chain(70)
    forged = bytearray(second[40].raw)
    forged[-1] ^= 1
    outcomes = await hostile.push([e.raw for e in second[:40]] + [bytes(forged)] + [e.raw for e in second[40:]])
    assert codes(outcomes) == [("accepted", None)] * 40 + [("rejected", "bad_signature")] + [("accepted", None)] * 30
    async with hostile.live.http.get("/metrics") as r:
        assert "branchnet_verify_process_batches_total 1.0" in await r.text()
    assert set(await stored(hostile.live)) >= {e.raw for e in first + second}


async def test_envelope_attacks_get_their_codes(hostile: Hostile) -> None:
    live = hostile.live
    good = hostile.envelope()
    assert codes(await hostile.push([good.raw])) == [("accepted", None)]
    hostile.last = good
    before = await stored(live)

    forged = bytearray(hostile.envelope(NodeProfile(name="Forged", endpoints=["http://127.0.0.1:9"])).raw)
    forged[-3] ^= 0x40
    stranger = SigningKey.generate()
    unchartered = hostile.envelope(author=stranger)
    elsewhere = genesis(SigningKey.generate())
    foreign = hostile.envelope(federation=elsewhere.id)
    future = hostile.envelope(created=int(time.time() * 1000) + 3_600_000)
    gap = hostile.envelope(after=hostile.envelope(after=good))
    replayed_old = good.raw
    outcomes = await hostile.push([bytes(forged), unchartered.raw, elsewhere.raw, foreign.raw, future.raw, gap.raw,
                                   replayed_old, b"\x00garbage"])  # fmt: skip
    assert codes(outcomes) == [
        ("rejected", "bad_signature"),
        ("quarantined", "unknown_author"),  # held, not trusted; accepted if a charter comes
        ("rejected", "wrong_federation"),
        ("rejected", "wrong_federation"),
        ("rejected", "future_timestamp"),
        ("quarantined", "waiting"),
        ("duplicate", None),
        ("rejected", "malformed"),
    ]
    after = await stored(live)
    assert set(before) <= set(after) and len(after) == len(before)  # nothing lost, nothing forged added
    async with live.http.get("/metrics") as r:  # counted by reason, for Prometheus
        metrics = await r.text()
    for line in ('branchnet_envelopes_total{code="bad_signature",outcome="rejected"} 1.0',
                 'branchnet_envelopes_total{code="wrong_federation",outcome="rejected"} 2.0',
                 "branchnet_quarantine 2.0"):  # fmt: skip
        assert line in metrics, metrics


async def test_revoked_authors_and_revoked_peers(hostile: Hostile) -> None:
    live = hostile.live
    first = hostile.envelope()
    assert codes(await hostile.push([first.raw])) == [("accepted", None)]
    hostile.last = first
    await revoke(live.node, hostile.key.public, after_seq=1, reason="test")
    second = hostile.envelope()
    # The revoked peer cannot even talk to the node any more...
    with pytest.raises(PeerError, match="403 revoked_node"):
        await hostile.push([second.raw])
    # ...and its envelopes, relayed by someone else, are refused with their code.
    relay = SigningKey.generate()
    await issue_charter(live.node, relay.public, "Relay Region", "region", "http://127.0.0.1:9")
    relayer = HttpTransport(relay, allow_private=True, timeout_s=10)
    try:
        answer = await relayer.request("POST", live.url, "/fed/v1/envelopes", write_bundle([second.raw]),
                                       "application/vnd.branchnet.bundle")  # fmt: skip
    finally:
        await relayer.close()
    assert codes([dict(o) for o in msgspec.msgpack.decode(answer)["outcomes"]]) == [("rejected", "revoked")]
    assert first.raw in await stored(live)  # what came before the cut stays


async def test_request_attacks(hostile: Hostile) -> None:
    live = hostile.live
    url = f"{live.url}/fed/v1/sync"
    body = msgspec.msgpack.encode({"digest": b"\x00" * 32})
    http = live.http

    async def send(headers: dict[str, str], data: bytes = body) -> tuple[int, str]:
        async with http.post(url, data=data, headers={"Content-Type": "application/msgpack", **headers}) as r:
            answer = await r.read()
            return r.status, (msgspec.json.decode(answer)["error"]["code"] if r.status >= 400 else "")

    signed = hostile.transport.signed_headers("POST", url, body)
    assert (await send(signed))[0] == 200
    assert await send(signed) == (401, "replay")  # the same signed request again
    assert await send({}) == (401, "unsigned")
    # stale: a valid signature made an hour ago
    components = request_components("POST", url.split("/")[2], "/fed/v1/sync", "?", content_digest(body))
    stale = sign_request(hostile.key.sign, hostile.key.node_id, int(time.time()) - 3600, "old-nonce", components)
    assert await send({**stale, "Content-Digest": content_digest(body)}) == (401, "stale_signature")
    # body swapped under a valid signature
    fresh = hostile.transport.signed_headers("POST", url, body)
    assert await send(fresh, data=msgspec.msgpack.encode({"digest": b"\x01" * 32})) == (401, "bad_digest")
    # signed by a key the federation does not know
    stranger = HttpTransport(SigningKey.generate(), allow_private=True, timeout_s=10)
    try:
        with pytest.raises(PeerError, match="403 unknown_node"):
            await stranger.request("POST", live.url, "/fed/v1/sync", body)
    finally:
        await stranger.close()
    # a signature by one key claiming another's keyid
    forged = hostile.transport.signed_headers("POST", url, body)
    other = SigningKey.generate().node_id
    forged["Signature-Input"] = forged["Signature-Input"].replace(hostile.key.node_id, other)
    assert (await send(forged))[0] in (401, 403)


async def test_oversized_and_malformed_bodies(hostile: Hostile) -> None:
    live = hostile.live
    config = live.node.config.federation
    before = await stored(live)
    # Declared too large: refused before the body is read (nothing of it is ever sent).
    url = f"{live.url}/fed/v1/envelopes"
    headers = hostile.transport.signed_headers("POST", url, b"")
    status_line = await raw_request(live.url, "/fed/v1/envelopes", headers, config.max_push_bytes + 1, b"")
    assert b" 413 " in status_line
    # Too many envelopes in one batch.
    many = [hostile.envelope().raw] * (config.max_batch + 1)
    with pytest.raises(PeerError, match="413 too_large"):
        await hostile.post("/fed/v1/envelopes", write_bundle(many), "application/vnd.branchnet.bundle")
    # Not a bundle; not a sync request; a bad log query.
    with pytest.raises(PeerError, match="400 bad_bundle"):
        await hostile.post("/fed/v1/envelopes", b"this is not a bundle", "application/vnd.branchnet.bundle")
    with pytest.raises(PeerError, match="400 malformed"):
        await hostile.post("/fed/v1/sync", b"\xc1")
    with pytest.raises(PeerError, match="400"):
        await hostile.transport.request("GET", live.url, "/fed/v1/log/zz", params={"after": -1})
    assert await stored(live) == before


async def raw_request(base: str, path: str, headers: dict[str, str], length: int, body: bytes) -> bytes:
    """Send a request head declaring ``length`` body bytes, then only ``body``; return the status line."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {length}",
                 *(f"{k}: {v}" for k, v in headers.items())]  # fmt: skip
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), 10)
    finally:
        writer.close()


async def test_slow_peers_time_out(hostile: Hostile) -> None:
    live = hostile.live
    live.node.config.federation.request_timeout_ms = 300
    body = msgspec.msgpack.encode({"digest": b"\x00" * 32})
    headers = hostile.transport.signed_headers("POST", f"{live.url}/fed/v1/sync", body)
    started = time.monotonic()
    status_line = await raw_request(live.url, "/fed/v1/sync", headers, len(body), body[:5])  # then stall
    assert b" 400 " in status_line
    assert time.monotonic() - started < 5


async def test_rate_limit_answers_429_with_retry_after(hostile: Hostile) -> None:
    live = hostile.live
    live.node.config.federation.peer_burst = 5
    live.node.config.federation.peer_rate = 1
    statuses = []
    body = msgspec.msgpack.encode({"digest": b"\x00" * 32})
    url = f"{live.url}/fed/v1/sync"
    for _ in range(20):  # bounded
        async with live.http.post(url, data=body, headers=hostile.transport.signed_headers("POST", url, body)) as r:
            statuses.append(r.status)
            if r.status == 429:
                assert int(r.headers["Retry-After"]) >= 1
                assert (await r.json())["error"]["code"] == "throttled"
                break
    assert statuses == [200] * 5 + [429]


async def test_nobody_spends_another_nodes_allowance(hostile: Hostile) -> None:
    live = hostile.live
    live.node.config.federation.peer_burst = 5
    live.node.config.federation.peer_rate = 1
    body = msgspec.msgpack.encode({"digest": b"\x00" * 32})
    url = f"{live.url}/fed/v1/sync"
    impostor = HttpTransport(SigningKey.generate(), allow_private=True, timeout_s=10)
    try:
        for _ in range(10):  # requests naming the hostile peer's key, signed by another key
            headers = impostor.signed_headers("POST", url, body)
            headers["Signature-Input"] = headers["Signature-Input"].replace(impostor.key.node_id, hostile.key.node_id)
            async with live.http.post(url, data=body, headers=headers) as r:
                assert r.status == 401
    finally:
        await impostor.close()
    async with live.http.post(url, data=body, headers=hostile.transport.signed_headers("POST", url, body)) as r:
        assert r.status == 200  # the real node's allowance is untouched


# --- equivocation across real processes ---------------------------------------------------


async def wait_for(nodes: list[RunningNode], ready: Callable[[dict[str, Any]], bool],
                   bound_s: float = 60) -> list[dict[str, Any]]:  # fmt: skip
    """Poll every node's /api/v1/node until ``ready`` holds for all (bounded)."""
    deadline = time.monotonic() + bound_s
    infos: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            infos = []
            for n in nodes:
                async with http.get(f"{n.url}/api/v1/node") as r:
                    infos.append(await r.json())
            if all(ready(i) for i in infos):
                return infos
            await asyncio.sleep(0.2)
    return infos


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    async with running(tmp_path, authority=None) as nodes:  # an officer charters the liar alone
        yield nodes


async def test_equivocation_is_proven_on_every_node(trio: list[RunningNode]) -> None:
    assert await wait_until_converged(trio, 60) is not None
    national, north, south = trio
    liar = SigningKey.generate()
    async with Node.opened(national.directory) as node:
        charter = await issue_charter(node, liar.public, "Liar Youth", "youth", "http://127.0.0.1:9")
        federation = node.federation_state.federation
    assert federation is not None
    await wait_for(trio, lambda info: info["heads"].get(national.node_id) == charter.seq)  # the charter is everywhere
    now = int(time.time() * 1000)

    def first_envelope(says: str) -> Envelope:
        body = NodeProfile(name="Liar", endpoints=["http://127.0.0.1:9"], contact=says)
        return seal(liar, Payload(author=liar.public, seq=1, created=now, federation=federation, body=body))

    side_a, side_b = first_envelope("to the north"), first_envelope("to the south")
    liar_id = liar.node_id
    transport = HttpTransport(liar, allow_private=True, timeout_s=10)
    try:
        for target, side in ((north, side_a), (south, side_b)):
            await transport.push(Peer(target.url), [side.raw])
    finally:
        await transport.close()
    infos = await wait_for(trio, lambda info: info["forks"] == 1)
    assert [i["forks"] for i in infos] == [1, 1, 1], infos
    # The liar is frozen everywhere: nothing of it is held past the cut, and heads agree.
    assert await wait_until_converged(trio, 60) is not None
    assert all(liar_id not in n.info["heads"] for n in trio)
    for n in trio:
        async with Node.opened(n.directory) as node:
            body = node.federation_state.body(liar.public)
            assert body is not None and (body.cut, body.cut_reason) == (0, "frozen"), n.name
            rows = await node.db.fetchall("SELECT a, b FROM forks")
            assert {bytes(rows[0][0]), bytes(rows[0][1])} == {side_a.raw, side_b.raw}
