"""What every command shares: running an async command with one-line errors, reading a
password, printing JSON. (Separate from main, so that command modules never import it.)"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec

from node.config import ConfigError
from node.errors import NodeError
from node.keyfile import KeyFileError
from node.storage.db import DatabaseError
from protocol import ProtocolError

EXPECTED = (ConfigError, KeyFileError, DatabaseError, NodeError, ProtocolError)


def fail(command: str, message: str, code: int = 2) -> int:
    print(f"branchnet {command}: {message}", file=sys.stderr)
    return code


def run_async(command: str, work: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run an async command; expected errors become one line on stderr."""
    try:
        return asyncio.run(work())
    except EXPECTED as exc:
        message = exc.diagnostics() if isinstance(exc, ProtocolError) else str(exc)
        code = 1 if isinstance(exc, NodeError) else 2
        return fail(command, message, code)


def print_json(value: Any) -> None:
    print(msgspec.json.encode(value).decode())


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("password: ")
