"""Connection limits in front of aiohttp: per-address and total connections, request-head size.

aiohttp bounds each header line and the number of lines, and (with a short keep-alive
timeout) closes connections that sit idle or trickle a request head. What it does not bound
is how many connections one client holds, how many the process holds in all (each is a file
descriptor), or the bytes of request head a connection may send before its request starts.
:class:`ConnectionGuard` does, by wrapping each connection's protocol:

* **per address**: at most ``per_address`` connections from one client address (addresses of
  trusted reverse proxies are exempt: everyone behind a proxy shares its address);
* **in all**: at most ``total`` connections, kept below the process's open-file limit. When
  full, a new connection takes the place of the longest-idle one (no request in progress),
  so a flood of idle connections cannot keep a health check out; if none is idle, the new
  connection is answered 503 and closed;
* **request head**: a request line and its headers may take at most ``head_bytes`` (counted
  up to the blank line that ends them); beyond that the connection is answered 431 and closed.

"In progress" is marked by :func:`connection_middleware` around every request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import resource
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

# Descriptors kept free for everything else the process opens: the database (three
# connections, each with its WAL and shared-memory files), verification threads, outgoing
# gossip connections (at most 64), log files, and the listening socket.
RESERVED_DESCRIPTORS = 160
_BUSY_ANSWER = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
LINGER_S = 2.0  # how long a refused connection's remaining bytes are read and discarded
_HEAD_ANSWER = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def descriptor_limit() -> int:
    """The open-file limit, raised to the hard limit when the soft one is lower (as servers do)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def connection_cap(configured: int, limit: int | None = None) -> int:
    """At most ``configured`` connections, and always below the descriptor limit."""
    limit = descriptor_limit() if limit is None else limit
    return max(16, min(configured, limit - RESERVED_DESCRIPTORS))


def parse_networks(texts: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(t, strict=False) for t in texts]


def address_in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks)


@dataclass(eq=False)
class _Connection:
    address: str
    transport: asyncio.Transport
    idle_since: float
    busy: int = 0  # requests in progress on this connection
    head_bytes: int = 0  # bytes of request head received since the connection last became idle
    head_done: bool = False  # the head's blank line has arrived: what follows is its body
    tail: bytes = b""  # the last bytes seen while looking for that blank line
    draining: bool = False  # a request ended with its body unread: aiohttp discards the rest, then closes


@dataclass
class ConnectionGuard:
    total: int
    per_address: int
    head_bytes: int
    trusted: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    refused: Counter[str] = field(default_factory=Counter)  # "per_address", "total", "head"
    _open: dict[asyncio.BaseTransport, _Connection] = field(default_factory=dict)
    _by_address: Counter[str] = field(default_factory=Counter)

    @property
    def open(self) -> int:
        return len(self._open)

    def factory(self, inner: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _GuardedProtocol(self, inner())

    # --- called by the protocol wrapper -----------------------------------------------------
    def admit(self, transport: asyncio.Transport) -> _Connection | None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        exempt = address_in(address, self.trusted)
        if not exempt and self._by_address[address] >= self.per_address:
            self.refused["per_address"] += 1
            return None
        if len(self._open) >= self.total and not self._evict_idle():
            self.refused["total"] += 1
            return None
        connection = _Connection(address, transport, self.clock())
        self._open[transport] = connection
        self._by_address[address] += 1
        return connection

    def release(self, connection: _Connection) -> None:
        if self._open.pop(connection.transport, None) is not None:
            self._by_address[connection.address] -= 1
            if self._by_address[connection.address] <= 0:
                del self._by_address[connection.address]

    def _evict_idle(self) -> bool:
        idle = [c for c in self._open.values() if not c.busy]
        if not idle:
            return False
        oldest = min(idle, key=lambda c: c.idle_since)
        self.release(oldest)
        oldest.transport.abort()
        return True

    # --- called around each request ---------------------------------------------------------
    def request_started(self, transport: asyncio.BaseTransport | None) -> _Connection | None:
        connection = self._open.get(transport) if transport is not None else None
        if connection is not None:
            connection.busy += 1
        return connection

    def request_ended(self, connection: _Connection, body_read: bool) -> None:
        connection.busy -= 1
        if connection.busy == 0:
            connection.head_bytes, connection.head_done, connection.tail = 0, False, b""
            connection.idle_since = self.clock()
            connection.draining = not body_read  # what still arrives is that body, not a new head


class _GuardedProtocol(asyncio.Protocol):
    """Forwards everything to aiohttp's protocol, after the guard's checks."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.connection: _Connection | None = None
        self.refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.connection = self.guard.admit(transport)
        if self.connection is None:
            transport.write(_BUSY_ANSWER)
            transport.close()
            return
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.connection is None:
            return
        self.guard.release(self.connection)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        connection = self.connection
        if connection is None or self.refused:
            return  # refused: what the client still sends is discarded
        if not (connection.busy or connection.draining or connection.head_done):
            # Count the request head: the bytes up to its blank line (CRLF CRLF).
            window = connection.tail + data
            end = window.find(b"\r\n\r\n")
            if end >= 0:
                connection.head_bytes += end + 4 - len(connection.tail)
                connection.head_done = True
            else:
                connection.head_bytes += len(data)
                connection.tail = window[-3:]
            if connection.head_bytes > self.guard.head_bytes:
                self.guard.refused["head"] += 1
                self._refuse(connection.transport, _HEAD_ANSWER)
                return
        self.inner.data_received(data)

    def _refuse(self, transport: asyncio.Transport, answer: bytes) -> None:
        """Answer and close the way servers do (a lingering close): end our side, then discard
        what the client still sends for up to LINGER_S. Closing at once with its bytes unread
        would reset the connection, and the client might never read the answer."""
        self.refused = True
        transport.write(answer)
        if transport.can_write_eof():
            transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_S, transport.abort)

    def eof_received(self) -> bool | None:
        if self.refused:
            return False  # the client is done too: close now
        return self.inner.eof_received() if self.connection is not None else None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


GUARD = web.AppKey("connection_guard", ConnectionGuard)


@web.middleware
async def connection_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Mark the request's connection busy while the request is handled (see ConnectionGuard)."""
    guard = request.app.get(GUARD)
    connection = guard.request_started(request.transport) if guard is not None else None
    try:
        return await handler(request)
    finally:
        if connection is not None and guard is not None:
            guard.request_ended(connection, body_read=request.content.at_eof())


class GuardedSite(web.SockSite):
    """A site on a socket bound beforehand, whose connections pass through a
    :class:`ConnectionGuard`."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(runner, sock, **kwargs)
        self.guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.guard.factory(server), sock=self._sock, backlog=self._backlog)
