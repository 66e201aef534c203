"""`branchnet member key add|list|revoke`: a member's own key file, from a terminal (issue 25;
docs/decisions.md, "Members' own keys"). The member acts for themselves, with their own
password, as `branchnet ballot vote` does; the key file is theirs to keep (only its public
half is held by the node)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from node.cli.common import add_dir
from node.cli.decisions import as_member
from node.errors import BadInput
from node.keyfile import read_key, write_new_key
from node.rules import member_keys as rules
from node.service import Node
from protocol import SigningKey


def add_key_arguments(sub: Any) -> None:
    c = sub.add_parser("key", help="a member's own keys: add a key file, list, revoke (with their own password)")
    add_dir(c)
    c.add_argument("action", choices=["add", "list", "revoke"], help="add: make (if need be) and add a key file; "
                   "list: your keys; revoke: one of them, by number")  # fmt: skip
    c.add_argument("id", type=int, nargs="?", default=None, help="revoke: the key's number, as `list` shows it")
    c.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the member, acting for themselves")
    c.add_argument("--password-stdin", action="store_true", help="read the member's password from standard input")
    c.add_argument("--key-file", default=None, metavar="PATH",
                   help="add: the key file (made, readable by you alone, if it does not exist)")  # fmt: skip
    c.add_argument("--label", default="", help="add: your name for it (\"my laptop\")")


async def key(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        who = await as_member(node, args.as_email, args.password_stdin)
        if args.action == "list":
            for row in await rules.keys(node, who):
                kind = "passkey" if row.key.passkey else "key file"
                state = "in force" if row.revoked_at is None else "revoked " + _when(row.revoked_at)
                print(f"{row.id:4}  {kind:<8}  {row.key.alg:<7}  {row.label or '-'}  added {_when(row.added_at)}"
                      f"  {state}  {row.key_id.hex()[:16]}")  # fmt: skip
            return 0
        if args.action == "revoke":
            if args.id is None:
                raise BadInput("revoke: give the key's number (`branchnet member key list`)", field="id")
            row = await rules.revoke(node, who, args.id)
            print(f"key {row.id} revoked: it signs nothing more here")
            return 0
        if not args.key_file:
            raise BadInput("add: --key-file PATH (a new one is made there if none exists)", field="key-file")
        row = await rules.add_key_file(node, who, _key_file(Path(args.key_file)), args.label)
    print(f"key {row.id} added: it signs your participation in ballots (key id {row.key_id.hex()[:16]})")
    return 0


def _key_file(path: Path) -> bytes:
    """The public key of the key file at ``path``, made there first if there is none."""
    if not path.exists():
        write_new_key(path, SigningKey.generate())
        print(f"made a new key file at {path}: keep it, and let nobody else read it")
    return read_key(path).public


def _when(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))
