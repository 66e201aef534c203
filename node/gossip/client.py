"""Gossip over HTTP, client side: signed requests to peers, with guarded outgoing connections.

Every request carries an RFC 9421 signature by this node's key (:mod:`protocol.httpsig`)
and an RFC 9530 ``Content-Digest``. Outgoing connections refuse, unless the node allows
private peers:

* schemes other than http and https, and redirects (a peer answering 3xx has failed);
* hosts that are, or resolve to, private, loopback, link-local, multicast, reserved or
  unspecified addresses. Names are checked by the resolver the connector uses, so the
  address checked is the address connected to; IP literals (which aiohttp does not
  resolve) are checked before the request.

Timeouts bound every request in both connect and read; answers are size-capped.
"""

from __future__ import annotations

import hashlib
import io
import ipaddress
import secrets
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from node.gossip.engine import Peer, PeerError
from protocol import ProtocolError, SigningKey, read_bundle, write_bundle
from protocol.httpsig import content_digest, request_components, sign_request
from protocol.wire import RangesReply, RangesRequest, SyncReply, SyncRequest, Want

MAX_ANSWER_BYTES = 64 * 1024 * 1024
USER_AGENT = "branchnet/1"
BUNDLE_TYPE = "application/vnd.branchnet.bundle"
MSGPACK_TYPE = "application/msgpack"
_ENCODER = msgspec.msgpack.Encoder()
_SYNC_REPLY = msgspec.msgpack.Decoder(SyncReply)
_RANGES_REPLY = msgspec.msgpack.Decoder(RangesReply)


class _Outcome(msgspec.Struct):
    status: str  # accepted, duplicate, quarantined, rejected (docs/federation.md, 3.1)


class _PushReply(msgspec.Struct):
    outcomes: list[_Outcome]


_PUSH_REPLY = msgspec.msgpack.Decoder(_PushReply)
_NEWS = frozenset({"accepted", "quarantined"})  # the peer did not hold it before


class BlockedAddress(OSError):
    """An outgoing connection to a refused address."""


def address_allowed(ip: str, allow_private: bool) -> bool:
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if allow_private:
        return not (address.is_multicast or address.is_unspecified)
    return address.is_global and not (address.is_multicast or address.is_reserved)


class GuardedResolver(AbstractResolver):
    """Resolves names, then keeps only the addresses this node may connect to."""

    def __init__(self, allow_private: bool, inner: AbstractResolver | None = None) -> None:
        self.allow_private = allow_private
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if address_allowed(r["host"], self.allow_private)]
        if not allowed:
            raise BlockedAddress(f"{host} resolves only to private or reserved addresses (refused)")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def check_url(url: str, allow_private: bool) -> None:
    """Refuse non-http(s) URLs and IP-literal hosts this node may not reach."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PeerError(f"{url}: only http and https peer URLs are used")
    try:
        ipaddress.ip_address(parts.hostname)
    except ValueError:
        return  # a name: the resolver checks what it resolves to
    if not address_allowed(parts.hostname, allow_private):
        raise PeerError(f"{url}: private or reserved address refused (allow_private_peers is off)")


class HttpTransport:
    """The engine's transport over HTTP, signing every request with the node key."""

    def __init__(
        self,
        key: SigningKey,
        *,
        allow_private: bool,
        timeout_s: float,
        max_batch: int = 1000,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.key = key
        self.allow_private = allow_private
        self.resolver = resolver  # the name lookup behind the guard (tests give their own)
        self.max_batch = max_batch
        self.timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(5.0, timeout_s), sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(self.allow_private, self.resolver),
                limit=64,
                limit_per_host=4,
                ttl_dns_cache=60,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self.timeout, headers={"User-Agent": USER_AGENT}
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def signed_headers(self, method: str, url: str | URL, body: bytes) -> dict[str, str]:
        target = url if isinstance(url, URL) else URL(url)
        digest = content_digest(body)
        # What is signed is what is sent: the host as IDNA (`bücher.example.org` travels as
        # `xn--bcher-kva.example.org`), the port only when not the scheme's default, and the
        # path and query percent-encoded, as aiohttp writes the request line and Host header.
        query = target.raw_query_string
        components = request_components(
            method, target.host_port_subcomponent or "", target.raw_path or "/", f"?{query}" if query else "?", digest
        )
        headers = sign_request(self.key.sign, self.key.node_id, int(time.time()), secrets.token_urlsafe(12), components)
        headers["Content-Digest"] = digest
        return headers

    async def request(
        self,
        method: str,
        base: str,
        path: str,
        body: bytes = b"",
        content_type: str = MSGPACK_TYPE,
        params: dict[str, Any] | None = None,
    ) -> bytes:
        try:
            url = URL(base.rstrip("/") + path)
            if params:
                url = url.with_query({k: str(v) for k, v in params.items()})
            check_url(str(url), self.allow_private)
            headers = self.signed_headers(method, url, body)
        except (ValueError, UnicodeError, ProtocolError) as exc:  # a URL that cannot be requested
            raise PeerError(f"{base}{path}: not a usable URL: {exc}") from None
        if body:
            headers["Content-Type"] = content_type
        try:
            # Large bodies as a stream: aiohttp writes them in chunks instead of in one call.
            data = (io.BytesIO(body) if len(body) > 1 << 20 else body) if body else None
            request = self.session().request(method, url, data=data, headers=headers, allow_redirects=False)
            async with request as response:
                if response.content_length is not None and response.content_length > MAX_ANSWER_BYTES:
                    raise PeerError(f"{url}: answer of {response.content_length} bytes is too large")
                data = await read_all(response.content, MAX_ANSWER_BYTES)
                if response.status != 200:
                    raise PeerError(f"{url}: HTTP {response.status} {_error_code(data)}".rstrip())
                return data
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            if isinstance(exc.__cause__, BlockedAddress):  # the resolver refused: say so plainly
                raise PeerError(f"{url}: {exc.__cause__}") from None
            raise PeerError(f"{url}: {type(exc).__name__}: {exc}") from None

    # --- the engine's transport ------------------------------------------------------------
    async def push(self, peer: Peer, raws: list[bytes]) -> list[bool] | None:
        """Push ``raws``; for each, whether the peer took it as news (its outcome accepted or
        quarantined), or None if an answer did not say in a form we read."""
        taken: list[bool] | None = []
        for start in range(0, len(raws), self.max_batch):
            part = raws[start : start + self.max_batch]
            data = await self.request("POST", peer.address, "/fed/v1/envelopes", write_bundle(part), BUNDLE_TYPE)
            try:
                outcomes = _PUSH_REPLY.decode(data).outcomes
            except msgspec.DecodeError:
                taken = None
                continue
            if taken is not None and len(outcomes) == len(part):
                taken += [o.status in _NEWS for o in outcomes]
            else:
                taken = None
        return taken

    async def genesis(self, base: str, federation: bytes) -> bytes:
        """The genesis envelope ``base`` serves for ``federation`` (its id), as bytes; PeerError
        if it serves none, or something else under that id."""
        data = await self.request("GET", base, f"/api/v1/envelopes/{federation.hex()}")
        if hashlib.sha256(data).digest() != federation:
            raise PeerError(f"{base}: what it serves as {federation.hex()} is not that envelope")
        return data

    async def sync(self, peer: Peer, request: SyncRequest) -> SyncReply:
        data = await self.request("POST", peer.address, "/fed/v1/sync", _ENCODER.encode(request))
        try:
            return _SYNC_REPLY.decode(data)
        except msgspec.DecodeError as exc:
            raise PeerError(f"{peer.address}: bad sync answer: {exc}") from None

    async def fetch_ranges(self, peer: Peer, wants: list[Want]) -> RangesReply:
        data = await self.request("POST", peer.address, "/fed/v1/ranges", _ENCODER.encode(RangesRequest(wants)))
        try:
            return _RANGES_REPLY.decode(data)
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise PeerError(f"{peer.address}: bad ranges answer: {exc}") from None

    async def fetch(self, peer: Peer, author: bytes, after: int, limit: int) -> list[bytes]:
        data = await self.request(
            "GET", peer.address, f"/fed/v1/log/{author.hex()}", params={"after": after, "limit": limit}
        )
        try:
            return list(read_bundle(data))
        except ProtocolError as exc:
            raise PeerError(f"{peer.address}: bad log answer: {exc.message}") from None


async def read_all(content: aiohttp.StreamReader, cap: int) -> bytes:
    """The whole answer body, however it arrives in pieces (``read(n)`` alone returns only
    what is buffered); PeerError past ``cap`` bytes."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > cap:
            raise PeerError(f"the answer is over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _error_code(data: bytes) -> str:
    try:
        answer = msgspec.json.decode(data)
        return str(answer["error"]["code"])
    except (msgspec.DecodeError, UnicodeDecodeError, KeyError, TypeError):
        return ""
