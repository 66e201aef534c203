"""Real `branchnet serve` processes for tests: start, read the bound URL, stop or kill."""

from __future__ import annotations

import asyncio
import contextlib
import resource
import signal
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from node.cli import demo
from node.cli.demo import DEMO_ENV, RunningNode, poll, release
from node.service import Node
from protocol import NodeProfile
from protocol.authority import AUTHORITY_ACTS


@dataclass
class ServeProcess:
    process: asyncio.subprocess.Process
    url: str
    node_id: str
    stderr_path: Path

    async def stop(self, grace_s: float = 15.0) -> int:
        """SIGTERM, then wait for a clean exit (SIGKILL if it does not come)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace_s)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        release(self.process)
        return self.process.returncode if self.process.returncode is not None else -1

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        release(self.process)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def rss_peak_mb(self) -> float:
        """The process's peak resident memory (VmHWM), in MB."""
        return _status_kb(self.process.pid, "VmHWM") / 1024

    def rss_mb(self) -> float:
        return _status_kb(self.process.pid, "VmRSS") / 1024


async def start_serve(directory: Path, env: dict[str, str] | None = None, *, args: tuple[str, ...] = (),
                      nofile: int | None = None, log_path: Path | None = None) -> ServeProcess:  # fmt: skip
    """Start `branchnet serve --dir DIRECTORY` (as the demo does) and wait for its first line;
    ``nofile``: the child's open-file limit (soft and hard), as on a host with that limit."""

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    log_path = log_path or directory / "serve.log"
    process, url, node_id = await demo.start_serve(directory, env or {}, args, limit if nofile else None, log_path)
    return ServeProcess(process, url, node_id, log_path)


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


async def write_profile(running: RunningNode, text: str) -> int:
    """Append to a node's own log (as `branchnet` would, beside the running server); the seq."""
    async with Node.opened(running.directory) as node:
        envelope = await node.own_log.append(NodeProfile(name=running.name, endpoints=[running.url], contact=text))
    return envelope.seq


async def restart(running: RunningNode) -> None:
    """Start the node again at the address the others know (a real node keeps its address)."""
    address = running.url.removeprefix("http://")
    env = {**DEMO_ENV, "BRANCHNET_HTTP_LISTEN": address, "BRANCHNET_HTTP_PUBLIC_URL": running.url}
    running.process, url, _ = await demo.start_serve(running.directory, env)
    assert url == running.url


async def held_everywhere(nodes: list[RunningNode], author: str, seq: int, bound_s: float = 60.0) -> float:
    """Seconds until every node holds ``author``'s log up to ``seq`` (AssertionError past the bound).

    A write beside a running server reaches it within a watch interval; "all heads equal"
    alone can hold before that, so tests that wrote wait for the write itself."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while time.monotonic() - started < bound_s:
            await poll(nodes, http)
            if all(n.info.get("heads", {}).get(author, 0) >= seq for n in nodes):
                return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise AssertionError([(n.name, n.info.get("heads", {}).get(author)) for n in nodes])


TRIO = [
    ("National Committee", "national", None),
    ("North Region", "region", "National Committee"),
    ("South Region", "region", "National Committee"),
]


@contextlib.asynccontextmanager
async def running(
    directory: Path, layout: list[tuple[str, str, str | None]] = TRIO, authority: Sequence[str] | None = AUTHORITY_ACTS
) -> AsyncIterator[list[RunningNode]]:
    """A federation of real `branchnet serve` processes (the demo's way), stopped afterwards
    (``authority``: as :func:`node.cli.demo.build`)."""
    nodes = await demo.build(directory, DEMO_ENV, layout, authority=authority)
    try:
        yield nodes
    finally:
        await demo.stop_all(nodes)


async def envelope_from(url: str, envelope_id: str, bound_s: float = 30.0) -> bytes:
    """The envelope's bytes from the node at ``url``, asking until it holds it (bounded): a node
    reports its heads as its ingest takes a batch in, a moment before the batch commits."""
    started = time.monotonic()
    async with aiohttp.ClientSession(url) as http:
        while True:
            async with http.get(f"/api/v1/envelopes/{envelope_id}") as r:
                if r.status == 200:
                    return await r.read()
                assert r.status == 404 and time.monotonic() - started < bound_s, (url, r.status)
            await asyncio.sleep(0.05)
