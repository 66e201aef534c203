"""The ``branchnet`` command line.

Each sub-command is a small function returning an exit code: 0 success, 1 the thing
checked or asked for failed, 2 bad usage or configuration. Errors are one line naming what
is wrong, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from node.cli.common import add_dir, fail, run_async
from node.keyfile import KeyFileError, write_new_key
from protocol import ProtocolError, SigningKey, check_logs, node_id_text, read_bundle
from protocol.authority import AUTHORITY_ACTS
from protocol.member_keys import BALLOT_KINDS


# --- keys and bundles ---------------------------------------------------------------------
def _keygen(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    try:
        write_new_key(Path(args.out), key)
    except KeyFileError as exc:
        return fail("keygen", str(exc))
    print(key.node_id)
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        data = Path(args.bundle).read_bytes()
    except OSError as exc:
        return fail("verify", f"cannot read {args.bundle}: {exc.strerror}")
    now_ms = args.now_ms if args.now_ms is not None else int(time.time() * 1000)
    try:
        items = list(read_bundle(data))
    except ProtocolError as exc:
        print(f"{args.bundle}: {exc.diagnostics()}")
        return 1
    report = check_logs(items, now_ms)
    for failure in report.failures:
        where = f"envelope {failure.index + 1}" + (f" ({failure.id.hex()[:16]})" if failure.id else "")
        print(f"{where}: {failure.error.diagnostics()}")
    if report.failures:
        print(f"{len(report.failures)} of {len(items)} envelopes failed", file=sys.stderr)
        return 1
    print(f"ok: {len(items)} envelopes from {len(report.heads)} authors; every signature and chain holds")
    for author, head in sorted(report.heads.items()):
        print(f"  {node_id_text(author)} seq {head.seq}")
    return 0


# --- node set-up and running --------------------------------------------------------------
def _init(args: argparse.Namespace) -> int:
    from node.cli.setup import init_node

    return run_async(
        "init",
        lambda: init_node(
            Path(args.dir), args.name, args.level, args.listen, args.public_url, args.allow_private_peers
        ),
    )




def _genesis(args: argparse.Namespace) -> int:
    from node.cli.setup import found_federation

    given = args.authority.strip()
    acts = [] if given == "none" else [a.strip() for a in given.split(",") if a.strip()]
    wrong = [a for a in acts if a not in AUTHORITY_ACTS]
    if wrong or (not acts and given != "none"):
        known = ", ".join(AUTHORITY_ACTS)
        what = f"{', '.join(wrong)} is not an act" if wrong else "no act given"
        return fail("genesis", f"--authority: {what} (give any of {known}, or none)")
    kinds = [k.strip() for k in args.signed_votes.split(",") if k.strip()] if args.signed_votes else []
    wrong = [k for k in kinds if k not in BALLOT_KINDS]
    if wrong or len(set(kinds)) != len(kinds):
        return fail("genesis", f"--signed-votes: name each of {', '.join(BALLOT_KINDS)} at most once")
    signed = {"signed_participation": kinds or None, "signed_consent": args.signed_consent}
    return run_async("genesis", lambda: found_federation(Path(args.dir), args.federation, acts, signed))


def _serve(args: argparse.Namespace) -> int:
    from node.web.server import serve

    async def work() -> int:
        await serve(Path(args.dir), trust_local_log=args.trust_local_log)
        return 0

    return run_async("serve", work)


def _status(args: argparse.Namespace) -> int:
    from node.cli.setup import node_status

    async def work() -> int:
        status = await node_status(Path(args.dir))
        if args.json:
            print(json.dumps(status, indent=2))
        else:
            print(f"node       {status['node_id']}")
            print(f"name       {status['name']} ({status['level']})")
            chartered = "chartered" if status["chartered"] else "not chartered (yet)"
            print(
                f"federation {status['federation'] or '(none yet)'}"
                + (f", {chartered}" if status["federation"] else "")
            )
            print(
                f"objects    {status['objects']} from {len(status['heads'])} authors; {status['bodies']} bodies known"
            )
            print(f"members    {status['members']}")
            lag = status["lag_s"]
            print(f"peers      {len(status['peers'])}" + (f"; last exchange {lag} s ago" if lag is not None else ""))
            for peer in status["peers"]:
                health = "ok" if not peer["failures"] else f"{peer['failures']} failures: {peer['last_error']}"
                print(f"  {peer['url']} ({peer['source']}) {health}")
            received = ", ".join(f"{k} {v}" for k, v in status["received"].items()) or "nothing yet"
            print(f"received   {received}")
            print(f"quarantine {status['quarantine']}; forks {status['forks']}; set aside {status['set_aside']}")
            flagged = status["findings"]
            total = status["findings_total"]
            print(f"findings   {total}" + (" (the newest 1,000 below)" if total > len(flagged) else "")
                  if flagged else "findings   none: everything held here adds up")  # fmt: skip
            for f in flagged:
                print(f"  {f['code']}: {f['kind']} {f['object'][:16]}… by {f['by']}: {f['message']}")
            for author, seq in status["heads"].items():
                print(f"head       {author} seq {seq}")
        return 0

    return run_async("status", work)


def _backup(args: argparse.Namespace) -> int:
    from node.cli.setup import backup_node

    return run_async("backup", lambda: backup_node(Path(args.dir), Path(args.out), args.to, plain=args.plain))


def _privacy(args: argparse.Namespace) -> int:
    from node.rules import members_data
    from node.service import Node

    async def work() -> int:
        async with Node.opened(Path(args.dir)) as node:
            fields = await members_data.privacy_notice(node)
            given = {k: getattr(args, k) for k in members_data.NOTICE_FIELDS if getattr(args, k) is not None}
            if given:
                fields = await members_data.write_privacy_notice(node, None, {**fields, **given})
        for key in members_data.NOTICE_FIELDS:
            print(f"{key}: {fields[key] or '(not written)'}")
        return 0

    return run_async("privacy", work)


def _backup_key(args: argparse.Namespace) -> int:
    from node.cli.backup_crypt import new_identity

    async def work() -> int:
        recipient = new_identity(Path(args.out))
        print(f"wrote an age identity to {args.out}: move it off this server and keep it safe")
        print(f"its recipient: {recipient}")
        print(f"next: branchnet backup --to {recipient} ... (or put it in node.toml: [backup] recipients)")
        return 0

    return run_async("backup-key", work)


def _export(args: argparse.Namespace) -> int:
    from node.cli.setup import export_node

    return run_async("export", lambda: export_node(Path(args.dir), Path(args.out)))


def _restore(args: argparse.Namespace) -> int:
    from node.cli.setup import restore_node

    source = Path(getattr(args, "from"))
    identity = Path(args.identity) if args.identity else None
    return run_async("restore", lambda: restore_node(Path(args.dir), source, any_node=args.any_node,
                                                     identity=identity))  # fmt: skip


def _demo(args: argparse.Namespace) -> int:
    from node.cli.demo import run_demo

    return run_async("demo", lambda: run_demo(args.dir, args.once, args.timeout))


def _id(args: argparse.Namespace) -> int:
    from node.config import KEY_FILE
    from node.keyfile import read_key

    try:
        print(read_key(Path(args.dir) / KEY_FILE).node_id)
    except KeyFileError as exc:
        return fail("id", str(exc))
    return 0


# --- members ------------------------------------------------------------------------------
def _member(args: argparse.Namespace) -> int:
    from node.cli import members as member_cli

    handler: Callable[[argparse.Namespace], Coroutine[Any, Any, int]] = getattr(member_cli, args.member_command)
    return run_async(f"member {args.member_command}", lambda: handler(args))


def _decisions(args: argparse.Namespace) -> int:
    from node.cli import decisions

    handler = {"motion": decisions.motion, "ballot": decisions.ballot, "roll": decisions.roll}[args.command]
    return run_async(args.command, lambda: handler(args))


def _admin_create(args: argparse.Namespace) -> int:
    from node.cli import members as member_cli

    return run_async("admin create", lambda: member_cli.admin_create(args))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="branchnet", description="A federated branch network node.")
    p.add_argument("--version", action="version", version=f"branchnet {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], int], help_text: str) -> argparse.ArgumentParser:
        c = sub.add_parser(name, help=help_text, description=help_text)
        c.set_defaults(run=run)
        return c

    c = command("keygen", _keygen, "create an Ed25519 node key file and print its node id")
    c.add_argument("--out", required=True, help="where to write the key (PKCS#8 PEM, mode 0600)")

    c = command("verify", _verify, "check every envelope in a bundle: signatures, encoding, chains")
    c.add_argument("bundle", help="a bundle file (docs/protocol.md, Bundles)")
    c.add_argument("--now-ms", type=int, default=None, help="the clock for the future-timestamp rule")

    from node.cli import audit as audit_cli

    c = command("audit", audit_cli.run, "merge what several nodes published and check all of it, offline")
    audit_cli.add_arguments(c)

    c = command("init", _init, "create a node: key, config and database in DIR")
    add_dir(c)
    c.add_argument("--name", required=True, help="the body's name, e.g. 'Riverside Branch'")
    c.add_argument("--level", required=True, choices=["branch", "region", "national", "youth"],
                   help="the body's level in its federation")  # fmt: skip
    c.add_argument("--listen", default="127.0.0.1:8470", help="HOST:PORT to listen on (port 0: any free port)")
    c.add_argument("--public-url", default=None, help="the URL others reach this node at")
    c.add_argument(
        "--allow-private-peers",
        action="store_true",
        help="let gossip fetch from private and loopback addresses (tests, demos, closed networks)",
    )

    c = command("genesis", _genesis, "found a federation: this node signs its genesis")
    add_dir(c)
    c.add_argument("--federation", required=True, help="the federation's name")
    c.add_argument("--authority", default=",".join(AUTHORITY_ACTS), metavar="ACTS",
                   help="acts a body signs only with its members' carried decision on them, comma-separated, or "
                        "none (default: all of charter,revocation,rules_change,officers_delegates; docs/federation.md, "
                        "Authority); a change of the rules always needs its children's vote")  # fmt: skip
    c.add_argument("--signed-votes", default="", metavar="KINDS",
                   help="kinds of ballot on which every vote is signed by its voter's own key, comma-separated: "
                        "selection, election, motion (default: none; docs/decisions.md)")  # fmt: skip
    c.add_argument("--signed-consent", action="store_true",
                   help="every nomination carries its candidate's own signed consent")

    c = command("serve", _serve, "run the node until SIGTERM or Ctrl-C")
    add_dir(c)
    c.add_argument(
        "--trust-local-log",
        action="store_true",
        help="sign without first learning this node's latest sequence from its peers (only when no newer"
        " envelope of it can exist anywhere: signing over one forks the node and freezes its key)",
    )

    c = command("status", _status, "show the node's id, objects, heads, peers and members")
    add_dir(c)
    c.add_argument("--json", action="store_true", help="one JSON object instead of lines")

    c = command("backup", _backup, "copy the node's database to a new file, encrypted (safe while serving)")
    add_dir(c)
    c.add_argument("--out", required=True, help="the backup file to create")
    c.add_argument("--to", action="append", default=[], metavar="RECIPIENT",
                   help="an age recipient (age1...) who can read it; repeat for more ([backup] recipients adds)")
    c.add_argument("--plain", action="store_true", help="write it unencrypted (it holds every member's details)")

    c = command("privacy", _privacy, "show or write who the privacy notice names as controller, and how to reach them")
    add_dir(c)
    c.add_argument("--controller", default=None, help="the branch (or party) that decides what is done with the data")
    c.add_argument("--contact", default=None, help="how members reach them about their data")
    c.add_argument("--dpo", default=None, help="a data protection officer, if there is one")

    c = command("backup-key", _backup_key, "make an age identity for backups, and print its recipient")
    c.add_argument("--out", required=True, help="the identity file to create (then keep it off the server)")

    c = command("export", _export, "write every envelope the node holds to a bundle (never member data)")
    add_dir(c)
    c.add_argument("--out", required=True, help="the bundle file to create")

    c = command("restore", _restore, "put a backup in place of the node's database (the node stopped)")
    add_dir(c)
    c.add_argument("--from", required=True, metavar="BACKUP", help="a file made by `branchnet backup`")
    c.add_argument("--identity", default=None, metavar="FILE", help="the age identity an encrypted backup was made for")
    c.add_argument("--any-node", action="store_true",
                   help="restore a backup made by another node (a deliberate move), or by a version that did not "
                        "say which node made it")  # fmt: skip

    c = command(
        "demo",
        _demo,
        "run eight nodes on 127.0.0.1: a national node, two regions, four branches and a youth "
        "section, through a motion, decisions going up and elections",
    )
    c.add_argument("--dir", default=None, help="keep the node folders here (default: a temporary folder)")
    c.add_argument("--once", action="store_true", help="exit 0 as soon as every node converged")
    c.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for convergence")

    c = command("id", _id, "print the node id")
    add_dir(c)

    from node.cli.federation import add_arguments as add_federation_commands

    add_federation_commands(command)

    from node.cli.decisions import add_ballot_arguments, add_motion_arguments

    c = command("motion", _decisions, "an officer's steps with motions: list, admit, rule out, open the ballot")
    add_motion_arguments(c.add_subparsers(dest="motion_command", required=True, metavar="ACTION"))
    c = command("ballot", _decisions, "list ballots; close one (count, sign and publish its decision)")
    add_ballot_arguments(c.add_subparsers(dest="ballot_command", required=True, metavar="ACTION"))
    c = command("roll", _decisions, "sign a roll of the members in good standing now (a count, no names)")
    rsub = c.add_subparsers(dest="roll_command", required=True, metavar="ACTION")
    r = rsub.add_parser("publish", help="sign and publish the roll")
    add_dir(r)
    r.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the officer acting")

    from node.cli.count import add_arguments as add_count_command

    add_count_command(command)

    from node.cli.upward import add_arguments as add_upward_commands

    add_upward_commands(command)

    from node.cli.elections import add_arguments as add_election_commands

    add_election_commands(command)

    from node.cli.mail import add_arguments as add_mail_commands

    add_mail_commands(command)

    member = command("member", _member, "manage the branch's members (local data)")
    msub = member.add_subparsers(dest="member_command", required=True, metavar="ACTION")
    from node.cli.members import add_member_arguments

    add_member_arguments(msub)

    admin = sub.add_parser("admin", help="administrators")
    asub = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    c = asub.add_parser("create", help="create an admin and print an invite link (or set a password)")
    c.set_defaults(run=_admin_create)
    add_dir(c)
    c.add_argument("--name", required=True, help="the admin's name")
    c.add_argument("--email", required=True, help="the admin's email (their login)")
    c.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    return p


def _version() -> str:
    try:
        return importlib.metadata.version("branchnet")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        result: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`branchnet member list | head`): nothing is wrong. Point stdout at
        # /dev/null so that the interpreter's last flush does not fail again (Python's own advice).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return result
