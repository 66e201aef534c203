"""`branchnet member …` and `branchnet admin create`: member records from the command line.

These write to the database directly (WAL lets them run beside a serving node)."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import msgspec

from node.cli.common import add_dir, plural
from node.cli.member_keys import add_key_arguments
from node.cli.member_keys import key as key  # `branchnet member key`
from node.errors import BadInput
from node.keyfile import create_file
from node.rules import members as member_rules
from node.rules import members_data
from node.rules import retention as retention_rules
from node.rules.accounts import invite_url
from node.rules.members_csv import MAX_FILE_BYTES, parse_members_csv
from node.rules.passwords import hash_password
from node.service import Node
from node.storage.members import ROLES, STATUSES, MemberIn, MemberPatch


def add_member_arguments(sub: Any) -> None:
    c = sub.add_parser("add", help="add a member")
    add_dir(c)
    c.add_argument("--name", required=True, help="the member's name (1-200 characters, no control characters)")
    c.add_argument("--email", required=True, help="the member's email (their login; one member each)")
    c.add_argument("--role", default="member", choices=ROLES, help="member, an officer role, or admin")
    c.add_argument("--youth", action="store_true", help="a member of the youth section")
    c.add_argument("--joined", default=None, help="YYYY-MM-DD (default today)")

    c = sub.add_parser("list", help="list members")
    add_dir(c)
    c.add_argument("--status", choices=STATUSES, default=None, help="only members with this status")
    c.add_argument("--json", action="store_true", help="one JSON list instead of lines")

    c = sub.add_parser("edit", help="change a member (what is not given stays)")
    add_dir(c)
    c.add_argument("id", type=int, help="the member's number, as `member list` shows it")
    c.add_argument("--name", help="a new name")
    c.add_argument("--email", help="a new email")
    c.add_argument("--role", choices=ROLES, help="a new role (the last active admin keeps theirs)")
    c.add_argument("--status", choices=STATUSES, help="a new status (suspended members cannot sign in)")
    c.add_argument("--youth", choices=["yes", "no"], help="a member of the youth section or not")

    c = sub.add_parser("remove", help="remove a member (not the last active admin)")
    add_dir(c)
    c.add_argument("id", type=int, help="the member's number, as `member list` shows it")

    c = sub.add_parser("import", help="import members from a CSV file (all or nothing)")
    add_dir(c)
    c.add_argument("file", help="a UTF-8 CSV file with a header row (docs/operating.md, Importing a CSV)")
    c.add_argument("--skip-bad", action="store_true", help="import the good rows and list the bad ones")

    c = sub.add_parser("invite", help="print a one-time invite link for a member")
    add_dir(c)
    c.add_argument("--email", required=True, help="the member's email")

    c = sub.add_parser("data", help="everything the node holds about a member, as JSON (a request by letter)")
    add_dir(c)
    c.add_argument("id", type=int, help="the member's number, as `member list` shows it")
    c.add_argument("--out", default=None, help="write it to this new file (default: print it)")

    c = sub.add_parser("erase", help="forget a member now: their details and all that hangs from them (no undo)")
    add_dir(c)
    c.add_argument("id", type=int, help="the member's number, as `member list` shows it")

    c = sub.add_parser("erasures", help="requests to be forgotten: list, or refuse one with a reason")
    add_dir(c)
    c.add_argument("--refuse", type=int, default=None, metavar="REQUEST", help="refuse this request")
    c.add_argument("--answer", default="", help="why it is refused (the member reads it)")

    c = sub.add_parser("retention", help="the retention rule: who it will forget and when; --run applies it now")
    add_dir(c)
    c.add_argument("--run", action="store_true", help="apply the rule now (serve applies it every hour)")

    add_key_arguments(sub)

    c = sub.add_parser("access-log", help="who looked at members' data: views, searches, exports, imports")
    add_dir(c)
    c.add_argument("--member", type=int, default=None, help="only the accesses to this member's record")
    c.add_argument("--limit", type=int, default=100, help="how many, newest first (1-500)")
    c.add_argument("--json", action="store_true", help="one JSON list instead of lines")


def _parse(values: dict[str, Any], kind: type[Any]) -> Any:
    return member_rules.parse(values, kind, flag_prefix="--")


async def add(args: argparse.Namespace) -> int:
    member_in = _parse(
        {"name": args.name, "email": args.email, "role": args.role, "youth": args.youth, "joined": args.joined},
        MemberIn,
    )
    async with Node.opened(Path(args.dir)) as node:
        member = await node.members.add(member_in)
    print(f"added member {member.id}: {member.name} <{member.email}> ({member.role})")
    return 0


async def list(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        members = await member_rules.listing(node, None, args.status, "cli")
    if args.json:
        print(msgspec.json.encode(members).decode())
        return 0
    for m in members:
        flags = " youth" if m.youth else ""
        print(f"{m.id:5}  {m.name}  <{m.email}>  {m.role}  {m.status}{flags}  joined {m.joined}")
    print(f"{len(members)} members")
    return 0


async def edit(args: argparse.Namespace) -> int:
    youth = None if args.youth is None else args.youth == "yes"
    patch = _parse({"name": args.name, "email": args.email, "role": args.role, "status": args.status,
                      "youth": youth}, MemberPatch)  # fmt: skip
    async with Node.opened(Path(args.dir)) as node:
        member = await node.members.update(args.id, patch)
    print(f"member {member.id}: {member.name} <{member.email}> ({member.role}, {member.status})")
    return 0


async def remove(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        await node.members.remove(args.id)
    print(f"removed member {args.id}")
    return 0


async def import_(args: argparse.Namespace) -> int:
    try:
        with Path(args.file).open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"cannot read {args.file}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise BadInput(f"{args.file} is over {MAX_FILE_BYTES // 2**20} MiB; split it into smaller files")
    parsed = parse_members_csv(data)
    for problem in parsed.problems:
        print(f"{args.file}: {problem}")
    if parsed.problems and not args.skip_bad:
        print(f"nothing imported: {plural(len(parsed.problems), 'problem')} (fix them, or use --skip-bad)")
        return 1
    async with Node.opened(Path(args.dir)) as node:
        imported, existing = await member_rules.import_rows(node, None, parsed.rows, skip_existing=args.skip_bad,
                                                            via="cli")  # fmt: skip
    for note in existing:
        print(f"{args.file}: {note}")
    skipped = parsed.data_rows - imported
    told = f"; skipped {skipped} (listed above)" if skipped else ""
    print(f"imported {imported} of {parsed.data_rows} rows{told}")
    return 0


globals()["import"] = import_  # `branchnet member import` looks the action up by name


async def data(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        copy = await members_data.data_of(node, None, args.id, "cli")
    text = json.dumps(copy, indent=2, ensure_ascii=False)
    if args.out is None:
        print(text)
        return 0
    try:
        create_file(Path(args.out), (text + "\n").encode())  # a member's personal data: owner only
    except FileExistsError:
        raise BadInput(f"{args.out} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise BadInput(f"cannot write {args.out}: {exc.strerror}") from None
    print(f"wrote member {args.id}'s data to {args.out}")
    return 0


async def erase(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        changed = await members_data.erase(node, None, args.id, "cli")
    print(f"member {args.id} forgotten ({changed} rows deleted or changed)")
    return 0


async def erasures(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        if args.refuse is not None:
            await members_data.refuse(node, None, args.refuse, args.answer)
            print(f"request {args.refuse} refused")
            return 0
        rows = await members_data.erasure_requests(node, None)
    for r in rows:
        when = dt.datetime.fromtimestamp(r.asked_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        whose = f"member {r.member_id}" if r.member_id is not None else "a member since forgotten"
        print(f"{r.id:5}  {when}  {whose}: {r.state}{': ' + r.answer if r.answer else ''}")
    print(f"{len(rows)} requests")
    return 0


async def retention(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        if args.run:
            done = await retention_rules.run(node)
            print(f"forgot {plural(len(done.members), 'member')}; removed {done.sessions} sessions, {done.invites} "
                  f"invites, {done.resets} reset links, {done.mail_bodies} mail bodies, {done.access} access rows, "
                  f"the signatures of {plural(done.registers, 'ballot register')}")
            return 0
        going = await retention_rules.plan(node, None)
    rule = node.config.retention
    print(f"lapsed members are forgotten after {rule.lapsed_months} months; sign-ins, invites and reset links after "
          f"{rule.secrets_days} days; mail bodies after {rule.mail_days} days; who looked after "
          f"{rule.access_months} months; a counted ballot's register's signatures after {rule.register_months} months")
    for g in going:
        day = dt.datetime.fromtimestamp(g.at, dt.UTC).strftime("%Y-%m-%d")
        print(f"{g.member.id:5}  {g.member.name}: forgotten on {day}")
    return 0


async def access_log(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        rows = await member_rules.who_looked(node, None, member_id=args.member, limit=args.limit)
        names = await member_rules.actors(node, rows)
    if args.json:
        print(msgspec.json.encode([{**dataclasses.asdict(r), "actor": n} for r, n in zip(rows, names, strict=True)]
                                  ).decode())  # fmt: skip
        return 0
    for a, name in zip(rows, names, strict=True):
        when = dt.datetime.fromtimestamp(a.at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        record = f" member {a.member_id}" if a.member_id is not None else ""
        print(f"{when}  {name}: {a.action}{record}, {a.rows} row{'' if a.rows == 1 else 's'} ({a.via})")
    print(f"{len(rows)} accesses shown")
    return 0


globals()["access-log"] = access_log


async def invite(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        record = await node.members.login_record(args.email)
        if record is None:
            raise BadInput(f"no member with email {args.email}")
        token = await node.auth.create_invite(record[0].id, node.config.auth.invite_hours * 3600)
        url = invite_url(node.config, token)
    print(url)
    return 0


async def admin_create(args: argparse.Namespace) -> int:
    from node.cli.common import read_password

    member_in = _parse({"name": args.name, "email": args.email, "role": "admin",
                          "joined": dt.date.today().isoformat()}, MemberIn)  # fmt: skip
    password_hash = await hash_password(read_password(True)) if args.password_stdin else None
    async with Node.opened(Path(args.dir)) as node:
        member = await node.members.add(member_in)
        if password_hash is not None:
            await node.auth.change_password(member.id, password_hash)
            print(f"admin {member.id} created: {member.email} can sign in")
        else:
            token = await node.auth.create_invite(member.id, node.config.auth.invite_hours * 3600)
            print(f"admin {member.id} created; to set a password open:")
            print(invite_url(node.config, token))
    return 0
