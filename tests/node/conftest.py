"""Fixtures for node tests: real node directories in tmp, real servers on 127.0.0.1:0."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from node.cli.setup import found_federation, init_node
from node.rules.passwords import hash_password_sync
from node.service import Node
from node.storage.members import Member, MemberIn
from node.web.app import make_app
from node.web.server import start_site

PASSWORD = "correct horse battery staple"
_emails = itertools.count(1)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One scrypt hash, computed once: scrypt is slow on purpose."""
    return hash_password_sync(PASSWORD)


async def new_node_dir(parent: Path, name: str = "Test Branch", federation: bool = True, level: str = "branch",
                       authority: list[str] | None = None) -> Path:  # fmt: skip
    directory = parent / "node"
    await init_node(directory, name, level, "127.0.0.1:0", None)
    if federation:
        await found_federation(directory, "Test Federation", authority)
    return directory


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    return await new_node_dir(tmp_path)


@pytest.fixture
async def node(node_dir: Path) -> AsyncIterator[Node]:
    """The node of ``node_dir`` opened in this process (no server), closed after the test."""
    opened = await Node.open(node_dir)
    try:
        yield opened
    finally:
        await opened.close()


@dataclass
class Principal:
    member: Member
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Live:
    """A node served over real HTTP on 127.0.0.1 with an OS-chosen port."""

    node: Node
    url: str
    http: aiohttp.ClientSession
    password_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    async def member(self, role: str = "member", *, status: str = "active", with_password: bool = True) -> Principal:
        """A new member with this role, an API token and (by default) the test password."""
        n = next(_emails)
        member = await self.node.members.add(
            MemberIn(name=f"Person {n}", email=f"person{n}@example.org", role=role, status=status)  # type: ignore[arg-type]
        )
        if with_password:
            await self.node.auth.change_password(member.id, self.password_hash)
            member = await self.node.members.require(member.id)
        _, token = await self.node.auth.create_token(member.id, "tests")
        return Principal(member, token)


async def serve_node(node: Node) -> tuple[web.AppRunner, str]:
    """Serve as `branchnet serve` does (the same connection limits), on 127.0.0.1:0."""
    runner = await start_site(make_app(node), node.config.http, "127.0.0.1", 0)
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.fixture
async def live(node_dir: Path, password_hash: str) -> AsyncIterator[Live]:
    node = await Node.open(node_dir, serving=True)
    runner, url = await serve_node(node)
    try:
        async with aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            yield Live(node, url, http, password_hash)
    finally:
        await runner.cleanup()
        await node.close()
