"""protocol/ is pure: importing it pulls in no server, storage, asyncio or node code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PROTOCOL = Path(__file__).resolve().parents[2] / "protocol"
FORBIDDEN = {"aiohttp", "aiosqlite", "asyncio", "node", "sqlite3", "socket", "http", "urllib", "requests", "os"}


def test_import_protocol_pulls_in_no_io_library() -> None:
    code = (
        "import sys, protocol\n"
        "bad = sorted(m for m in ('aiohttp', 'aiosqlite', 'asyncio', 'node', 'sqlite3') if m in sys.modules)\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_protocol_sources_import_nothing_forbidden() -> None:
    for path in PROTOCOL.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", f"{path.name} opens a file"
