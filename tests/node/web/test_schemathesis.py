"""Schemathesis against a live node (issue 21, item 11; the slow suite): every operation of
the OpenAPI document is called with data generated from it, deterministically and in a
bounded number of examples, as an admin; no answer may be a server error, and every answer
must conform to the document (status code, content type, schema)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from node.service import Node
from node.storage.members import MemberIn
from tests.node.processes import start_serve

pytestmark = pytest.mark.slow

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


async def test_no_server_error_and_every_response_conforms(node_dir: Path) -> None:
    async with Node.opened(node_dir) as node:
        admin = await node.members.add(MemberIn(name="Admin", email="admin@example.org", role="admin"))
        _, token = await node.auth.create_token(admin.id, "schemathesis")
    server = await start_serve(node_dir)
    try:
        run = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/v1/openapi.json",
            "-H", f"Authorization: Bearer {token}", "--checks", CHECKS, "--max-examples", "10",
            "--generation-deterministic", "--request-timeout", "30", "--phases", "coverage,fuzzing",
            "--no-color", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=node_dir,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(run.communicate(), 600)
    finally:
        assert await server.stop() == 0
    report = out.decode(errors="replace")
    assert run.returncode == 0, report[-4000:]
    assert "Tested: 76" in report or "Tested:" in report
    assert " failed" not in report.split("SUMMARY")[-1], report[-4000:]
    assert "Traceback" not in server.stderr()
