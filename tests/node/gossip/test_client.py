"""Outgoing requests: refused schemes, addresses and redirects; timeouts on slow peers."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from node.federation.acts import issue_charter
from node.gossip.client import BlockedAddress, GuardedResolver, HttpTransport, address_allowed, check_url
from node.gossip.engine import Peer, PeerError
from protocol import SigningKey
from protocol.wire import SyncRequest
from tests.node.conftest import Live, new_node_dir


@pytest.mark.parametrize(
    ("ip", "public_only", "with_private"),
    [
        ("93.184.215.14", True, True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True, True),
        ("127.0.0.1", False, True),
        ("10.1.2.3", False, True),
        ("192.168.1.1", False, True),
        ("172.16.0.1", False, True),
        ("169.254.169.254", False, True),  # cloud metadata
        ("::1", False, True),
        ("fe80::1", False, True),
        ("::ffff:127.0.0.1", False, True),  # IPv4-mapped loopback
        ("0.0.0.0", False, False),
        ("224.0.0.1", False, False),
    ],
)
def test_address_policy(ip: str, public_only: bool, with_private: bool) -> None:
    assert address_allowed(ip, allow_private=False) is public_only
    assert address_allowed(ip, allow_private=True) is with_private


@pytest.mark.parametrize(
    "url", ["ftp://example.org/", "file:///etc/passwd", "http://127.0.0.1:8470/", "http://[::1]/", "http://10.0.0.1/"]
)
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(PeerError):
        check_url(url, allow_private=False)


async def test_resolver_refuses_names_of_private_addresses() -> None:
    resolver = GuardedResolver(allow_private=False)
    try:
        with pytest.raises(BlockedAddress):
            await resolver.resolve("localhost", 80, socket.AF_INET)
    finally:
        await resolver.close()
    allowing = GuardedResolver(allow_private=True)
    try:
        assert (await allowing.resolve("localhost", 80, socket.AF_INET))[0]["host"] == "127.0.0.1"
    finally:
        await allowing.close()


async def test_transport_refuses_names_resolving_to_loopback() -> None:
    transport = HttpTransport(SigningKey.generate(), allow_private=False, timeout_s=5)
    try:
        with pytest.raises(PeerError, match="private or reserved"):
            await transport.sync(Peer("http://localhost:9"), SyncRequest(b"\0" * 32))
    finally:
        await transport.close()


async def serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def test_redirects_and_slow_peers_fail() -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response()

    app = web.Application()
    app.router.add_post("/redirect/fed/v1/sync", redirect)
    app.router.add_post("/slow/fed/v1/sync", slow)
    runner, url = await serve(app)
    transport = HttpTransport(SigningKey.generate(), allow_private=True, timeout_s=0.5)
    try:
        with pytest.raises(PeerError, match="HTTP 302"):
            await transport.sync(Peer(f"{url}/redirect"), SyncRequest(b"\0" * 32))
        started = asyncio.get_running_loop().time()
        with pytest.raises(PeerError, match="Timeout"):
            await transport.sync(Peer(f"{url}/slow"), SyncRequest(b"\0" * 32))
        assert asyncio.get_running_loop().time() - started < 5
    finally:
        await transport.close()
        await runner.cleanup()


class EverythingIsHere(AbstractResolver):
    """A name lookup that answers 127.0.0.1 for every name: no query leaves the machine."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST}]  # fmt: skip

    async def close(self) -> None:
        return None


async def test_a_peer_with_a_non_ascii_host_is_reached_and_signed_as_sent(live: Live) -> None:
    """`https://bücher.example.org` travels as IDNA (`xn--bcher-kva.example.org`): the request
    is signed over what is sent, so the node checks it (the report: signing failed, with
    tracebacks every 30 s, and the peer was never backed off)."""
    key = SigningKey.generate()
    await issue_charter(live.node, key.public, "Bücher Region", "region", None)
    port = live.url.rsplit(":", 1)[1]
    transport = HttpTransport(key, allow_private=True, timeout_s=5, resolver=EverythingIsHere())
    try:
        reply = await transport.sync(Peer(f"http://bücher.example.org:{port}"), SyncRequest(b"\0" * 32))
        assert reply.equal is False and reply.heads
        for bad in ("http://exa mple.org", "http://[::1", "http://bücher..example.org"):  # cannot be requested
            with pytest.raises(PeerError):
                await transport.sync(Peer(bad), SyncRequest(b"\0" * 32))
    finally:
        await transport.close()


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    """A national node (it charters regions)."""
    return await new_node_dir(tmp_path, "National Committee", level="national")
