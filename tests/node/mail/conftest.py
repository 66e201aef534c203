"""A real SMTP server (aiosmtpd) on 127.0.0.1 with an OS-chosen port, in the test's loop, and
nodes whose ``[mail]`` points at it."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from node.service import Node
from tests.node.conftest import Live, serve_node


@dataclass
class Received:
    """One message as the server accepted it."""

    sender: str
    to: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.message.get_body(("html",))
        assert part is not None
        return str(part.get_content())


@dataclass
class Recorder:
    """The server's handler: what it received, in order; it can refuse or stall on command."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # addresses answered 550
    hold_at: int | None = None  # this RCPT (1 = the first) waits for ``release``; ``held`` says it came
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    rcpts: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          options: list[str]) -> str:  # fmt: skip
        self.rcpts += 1
        if self.rcpts == self.hold_at:
            self.held.set()
            await self.release.wait()
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        self.arrived.set()
        return "250 2.0.0 queued as test"

    async def until(self, count: int, seconds: float = 60.0) -> list[Received]:
        """Wait (bounded) until ``count`` messages have arrived."""
        async with asyncio.timeout(seconds):
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.received


@dataclass
class Smtp:
    host: str
    port: int
    recorder: Recorder
    server: asyncio.Server

    def config(self, **more: Any) -> str:
        """The ``[mail]`` section of node.toml for a node that sends here."""
        lines = [f'smtp_host = "{self.host}"', f"smtp_port = {self.port}", 'security = "none"',
                 'from = "Test Branch <branch@example.org>"', *(f"{k} = {v}" for k, v in more.items())]  # fmt: skip
        return "\n[mail]\n" + "\n".join(lines) + "\n"

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def restart(self) -> None:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: SMTP(self.recorder, enable_SMTPUTF8=True),
                                               self.host, self.port)  # fmt: skip


async def start_smtp(recorder: Recorder | None = None) -> Smtp:
    recorder = recorder or Recorder()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(recorder, enable_SMTPUTF8=True), "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    return Smtp(host, port, recorder, server)


@pytest.fixture
async def smtp() -> AsyncIterator[Smtp]:
    server = await start_smtp()
    try:
        yield server
    finally:
        await server.stop()


def with_mail(node_dir: Path, smtp: Smtp, **more: Any) -> None:
    path = node_dir / "node.toml"
    path.write_text(path.read_text() + smtp.config(**more))


@pytest.fixture
async def mail_live(node_dir: Path, password_hash: str, smtp: Smtp) -> AsyncIterator[Live]:
    """A node served on 127.0.0.1 whose mail goes to ``smtp`` (retries after 1 s)."""
    async for live in serve_with_mail(node_dir, password_hash, smtp):
        yield live


async def serve_with_mail(node_dir: Path, password_hash: str, smtp: Smtp) -> AsyncIterator[Live]:
    with_mail(node_dir, smtp, retry_s=1, per_minute=6000)  # (the rate limit has its own test)
    node = await Node.open(node_dir, serving=True)
    runner, url = await serve_node(node)
    try:
        async with aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            yield Live(node, url, http, password_hash, {"smtp": smtp, "app": runner.app})
    finally:
        await runner.cleanup()
        await node.close()
