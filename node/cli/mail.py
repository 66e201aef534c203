"""`branchnet mail …`: try the mail settings, see the outbox, invite everyone by mail.

``mail test --to ADDRESS`` sends one message through the ``[mail]`` server and prints what the
server answered (or what went wrong, and exit 1). ``mail outbox`` lists mail to members as
officers see it on /outbox. ``mail invite-everyone --as EMAIL`` queues an invite to each member
never invited who has no password; the running server sends it."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from node.cli.common import add_dir, print_json, run_async
from node.config import ConfigError, load_config
from node.errors import BadInput
from node.mail.sender import NotNow, Refused, send_test, smtp_password
from node.rules import members as member_rules
from node.service import Node
from node.storage.outbox import STATES


def add_arguments(command: Any) -> None:
    c = command("mail", run, "mail to members: test the settings, see the outbox, invite everyone")
    sub = c.add_subparsers(dest="mail_command", required=True, metavar="ACTION")
    a = sub.add_parser("test", help="send one test message and print what the server answered")
    add_dir(a)
    a.add_argument("--to", required=True, metavar="ADDRESS", help="where to send it")
    a = sub.add_parser("outbox", help="mail to members, newest first: queued, sending, sent, failed")
    add_dir(a)
    a.add_argument("--state", choices=STATES, help="only mail in this state")
    a.add_argument("--limit", type=int, default=50, help="at most this many (default 50, most 1000)")
    a.add_argument("--json", action="store_true", help="one JSON object per line")
    a = sub.add_parser("invite-everyone", help="queue an invite by mail to each member never invited")
    add_dir(a)
    a.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the officer acting")


def run(args: argparse.Namespace) -> int:
    return run_async(f"mail {args.mail_command}", lambda: ACTIONS[args.mail_command](args))


async def test(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    config = load_config(directory)
    if not config.mail.enabled:
        raise ConfigError(f"no [mail] smtp_host in {directory / 'node.toml'} (or BRANCHNET_MAIL_SMTP_HOST): "
                          "nothing to test")  # fmt: skip
    if "@" not in args.to or len(args.to) > 320 or any(c.isspace() for c in args.to):
        raise BadInput(f"--to: {args.to!r} is not an email address")
    try:
        answer = await send_test(config, smtp_password(config.mail, directory), args.to)
    except (Refused, NotNow) as exc:
        print(f"not sent: {config.mail.smtp_host}:{config.mail.smtp_port} ({config.mail.security}) said: {exc}")
        return 1
    print(f"sent to {args.to} through {config.mail.smtp_host}:{config.mail.smtp_port}; the server answered: {answer}")
    return 0


def _when(seconds: int | None) -> str:
    return "" if seconds is None else dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M")


async def outbox(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= 1000:
        raise BadInput("--limit is a whole number from 1 to 1000")
    async with Node.opened(Path(args.dir)) as node:
        mails = await node.outbox.page(args.state, limit=args.limit)
        counts = await node.outbox.counts()
        on = node.config.mail.enabled
    if args.json:
        for m in mails:
            print_json(dataclasses.asdict(m))
        return 0
    print(("mail is on" if on else "mail is off (no [mail] smtp_host)") + ": " +
          ", ".join(f"{n} {state}" for state, n in counts.items()))  # fmt: skip
    for m in mails:
        sent = f" sent {_when(m.sent_at)}" if m.sent_at else ""
        error = f"  {m.error}" if m.error else ""
        print(f"{m.id:>7}  {m.state:<8} {m.kind:<16} {m.email:<32} tries {m.attempts}{sent}{error}")
    return 0


async def invite_everyone(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        record = await node.members.login_record(args.as_email)
        if record is None:
            raise BadInput(f"--as: no member with email {args.as_email}")
        count = await member_rules.invite_everyone(node, record[0])
    print(f"{count} invite{'' if count == 1 else 's'} queued; the running server sends them (see `mail outbox`)")
    return 0


ACTIONS = {"test": test, "outbox": outbox, "invite-everyone": invite_everyone}
