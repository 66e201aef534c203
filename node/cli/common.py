"""What every command shares: running an async command with one-line errors, reading a
password, printing JSON. (Separate from main, so that command modules never import it.)"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import msgspec

from node.errors import ConfigError, DatabaseError, KeyFileError, NodeError
from protocol import ProtocolError

if TYPE_CHECKING:
    from node.storage.ballots import BallotRow

# Exit 2: the node cannot be used as it is (configuration, key file, storage) or bad input
# to the protocol; exit 1: what was asked was refused or failed.
SETUP_ERRORS = (ConfigError, KeyFileError, DatabaseError)


def fail(command: str, message: str, code: int = 2) -> int:
    print(f"branchnet {command}: {message}", file=sys.stderr)
    return code


def run_async(command: str, work: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run an async command; expected errors become one line on stderr."""
    try:
        return asyncio.run(work())
    except (NodeError, ProtocolError) as exc:  # the two error trees: node's, and the protocol's
        message = exc.diagnostics() if isinstance(exc, ProtocolError) else str(exc)
        code = 2 if isinstance(exc, (ProtocolError, *SETUP_ERRORS)) else 1
        return fail(command, message, code)


def add_dir(parser: argparse.ArgumentParser, help_text: str = "the node folder") -> None:
    """``--dir``, the node folder: every command that works on a node takes it, and the
    environment variable BRANCHNET_DIR gives a default (a server set up once for one node)."""
    default = os.environ.get("BRANCHNET_DIR") or None
    now = f", now {default}" if default else ""
    parser.add_argument("--dir", required=default is None, default=default,
                        help=f"{help_text} (default: $BRANCHNET_DIR{now})")  # fmt: skip


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 problem``, ``2 problems``."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def print_json(value: Any) -> None:
    print(msgspec.json.encode(value).decode())


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass("password: ")


def proposed(row: BallotRow) -> int:
    """An act put to the members (`--propose`): what was opened, and what happens next."""
    print(f"ballot {row.id} opened for the members on: {row.text}")
    print("once it is carried (`branchnet ballot close`), this node signs the act citing the decision")
    return 0
