"""`branchnet serve`: run the node's HTTP server until SIGTERM or SIGINT, then stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from node.config import ConfigError, HttpSection
from node.logs import setup_logging
from node.serve_lock import ServeLock
from node.service import Node
from node.web.app import make_app
from node.web.common import GOSSIP
from node.web.connguard import GUARD, ConnectionGuard, GuardedSite, connection_cap, parse_networks

log = logging.getLogger("branchnet.server")


SWITCH_INTERVAL_S = 0.0001


MAX_LINE_BYTES = 8190  # one request line or header line (aiohttp's default)


async def start_site(app: web.Application, http: HttpSection, host: str, port: int) -> web.AppRunner:
    """Set up ``app`` behind a :class:`ConnectionGuard` with the configured limits and listen.

    Raises ConfigError (one line naming the address) when the address cannot be bound."""
    try:  # bound first: an address in use is said in one line, before anything starts
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=512)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ConfigError(f"http.listen: cannot listen on {host}:{port}: {reason}") from None
    guard = ConnectionGuard(
        total=connection_cap(http.max_connections),
        per_address=http.max_connections_per_address,
        head_bytes=http.max_head_bytes,
        trusted=parse_networks(http.trusted_proxies),
    )
    app[GUARD] = guard
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=10,
        keepalive_timeout=http.idle_timeout_s,  # also the time allowed to send a request head
        max_headers=http.max_header_lines,
        max_line_size=MAX_LINE_BYTES,
        max_field_size=MAX_LINE_BYTES,
    )
    await runner.setup()
    await GuardedSite(runner, sock, guard).start()
    return runner


async def serve(directory: Path, ready: asyncio.Event | None = None, *, trust_local_log: bool = False) -> None:
    # Verification threads spend ~100 µs outside the GIL per signature, then need it back for
    # ~10 µs; with the default 5 ms switch interval they queue behind the event loop's
    # bursts. A short interval measured 0.86 -> 1.08 x the raw verify rate (bench/ingest.py).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    lock = ServeLock(directory)
    if not lock.acquire():
        raise ConfigError(f"{directory}: another `branchnet serve` is running on this node folder")
    try:
        await _serve(directory, ready, trust_local_log)
    finally:
        lock.release()


async def _serve(directory: Path, ready: asyncio.Event | None, trust_local_log: bool) -> None:
    node = await Node.open(directory, serving=True)
    setup_logging(node.config.log.format, node.config.log.level)
    host, port = node.config.http.host_port()
    app = make_app(node, trust_local_log=trust_local_log)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        runner = await start_site(app, node.config.http, host, port)
    except BaseException:
        await node.close()
        raise
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        bound = runner.addresses[0]
        url = f"http://{bound[0]}:{bound[1]}" if ":" not in bound[0] else f"http://[{bound[0]}]:{bound[1]}"
        if port == 0 and node.config.http.public_url.rstrip("/") == f"http://{node.config.http.listen}":
            # Port chosen by the OS and no public URL configured: the bound address is the URL.
            node.config.http.public_url = url
            app[GOSSIP].peers.exclude.add(url)
        # The first stdout line says where we listen (tests and the demo read it).
        print(f"branchnet: listening on {url} as {node.key.node_id}", flush=True)
        log.info("started", extra={"fields": {"url": url, "node_id": node.key.node_id}})
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
        await node.close()
