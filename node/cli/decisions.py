"""`branchnet motion …`, `branchnet ballot …` and `branchnet roll publish`: an officer's steps
from the command line. ``--as EMAIL`` names the officer acting: the same rules as the API
and the pages decide what they may do (node/federation/motions.py, ballots.py)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from node.cli.common import add_dir, read_password
from node.errors import BadInput
from node.federation import ballots as ballot_steps
from node.federation import motions as motion_steps
from node.federation.participations import SignedIn, statement_of
from node.keyfile import read_key
from node.rules.accounts import authenticate
from node.service import Node
from node.storage.members import Member
from protocol.member_keys import MemberKey, MemberSignature, key_id


def add_motion_arguments(sub: Any) -> None:
    c = sub.add_parser("list", help="list motions")
    add_dir(c)
    for action, helptext in [
        ("admit", "admit a submitted motion"),
        ("ballot", "open the ballot on an admitted motion"),
    ]:
        c = sub.add_parser(action, help=helptext)
        add_dir(c)
        c.add_argument("id", type=int, help="the motion's number, as `motion list` shows it")
        c.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the officer acting")
    c = sub.add_parser("rule-out", help="rule a submitted motion out, saying why")
    add_dir(c)
    c.add_argument("id", type=int, help="the motion's number")
    c.add_argument("--reason", required=True, help="why (members see it)")
    c.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the officer acting")


def add_ballot_arguments(sub: Any) -> None:
    c = sub.add_parser("list", help="list ballots")
    add_dir(c)
    c = sub.add_parser("close", help="close a ballot: count, sign and publish its decision")
    add_dir(c)
    c.add_argument("id", type=int, help="the ballot's number, as `ballot list` shows it")
    c.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the officer acting")
    c = sub.add_parser("vote", help="a member votes, with their own password (prints the receipt, for them alone)")
    add_dir(c)
    c.add_argument("id", type=int, help="the ballot's number, as `ballot list` shows it")
    c.add_argument("choice", nargs="*", help="for, against or abstain; approval: the options chosen; ranked: the "
                   "candidates in order of preference (none: a blank ballot)")  # fmt: skip
    c.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the member voting")
    c.add_argument("--password-stdin", action="store_true", help="read the member's password from standard input")
    c.add_argument("--key-file", default=None, metavar="PATH",
                   help="sign your participation with your own key file (`branchnet member key add`)")  # fmt: skip


async def as_member(node: Node, email: str, password_stdin: bool) -> Member:
    """The member acting for themselves: their email and their own password."""
    return await authenticate(node, email, read_password(password_stdin), "command line")


def key_file_signs(path: Path, statement: bytes) -> SignedIn:
    """The member's key file's signature of ``statement`` (their participation, their consent)."""
    if not path.is_file():
        raise BadInput(f"no key file at {path} (make one with `branchnet member key add --key-file {path}`)",
                       field="key-file")  # fmt: skip
    key = read_key(path)
    return SignedIn(MemberSignature(signature=key.sign(statement)), key_id(MemberKey(alg="ed25519", public=key.public)))


async def _officer(node: Node, email: str) -> Member:
    record = await node.members.login_record(email)
    if record is None:
        raise BadInput(f"no member with email {email}", field="as")
    return record[0]


async def motion(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        if args.motion_command == "list":
            rows = await node.motions.recent(1000)
            for m in rows:
                print(f"{m.id:5}  {m.state:<19} {m.title}")
            print(f"{len(rows)} motions")
            return 0
        who = await _officer(node, args.as_email)
        if args.motion_command == "admit":
            row = await motion_steps.admit(node, who, args.id)
            print(f"motion {row.id} admitted")
        elif args.motion_command == "rule-out":
            row = await motion_steps.rule_out(node, who, args.id, args.reason)
            print(f"motion {row.id} ruled out: {row.reason}")
        else:
            ballot = await motion_steps.ballot_on_motion(node, who, args.id)
            print(f"ballot {ballot.id} open on motion {args.id}: {ballot.electorate} members on its roll")
    return 0


async def ballot(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        if args.ballot_command == "list":
            rows = await node.ballots.recent(1000)
            for b in rows:
                opened = dt.datetime.fromtimestamp(b.opened / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")
                print(f"{b.id:5}  {b.state:<8} {b.secrecy:<6} opened {opened}  {b.electorate:5} on roll  {b.subject}")
            print(f"{len(rows)} ballots")
            return 0
        if args.ballot_command == "vote":
            who = await as_member(node, args.as_email, args.password_stdin)
            row = await node.ballots.require(args.id)
            single = row.method == "for_against_abstain" and args.choice
            choice: str | list[str] = args.choice[0] if single else args.choice
            signed = key_file_signs(Path(args.key_file), statement_of(node, row)) if args.key_file else None
            receipt = await ballot_steps.vote(node, who, args.id, choice, signed=signed)
            how = "signed with your key" if signed is not None else "unsigned"
            print(f"vote cast on ballot {args.id} ({how}); your receipt (keep it, it is shown once): {receipt}")
            return 0
        who = await _officer(node, args.as_email)
        envelope = await motion_steps.close_ballot(node, who, args.id)
    body = envelope.payload.body
    print(f"ballot {args.id} closed: {getattr(body, 'outcome', '?')} {list(getattr(body, 'counts', []))}; "
          f"decision {envelope.id.hex()} (seq {envelope.seq})")  # fmt: skip
    return 0


async def roll(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        envelope = await ballot_steps.publish_roll(node, await _officer(node, args.as_email))
    print(f"roll signed: {getattr(envelope.payload.body, 'count', '?')} members; envelope {envelope.id.hex()}")
    return 0
