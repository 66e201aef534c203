"""`branchnet election …` and `branchnet selection …`: delegate elections and a body's
selections from the command line. ``--as EMAIL`` names the officer acting; the same
functions as the API and the pages decide what they may do (node/federation/elections.py).
Standing and voting are a member's own acts: on the pages, with their own API token, or here
with their own password (``election stand --as EMAIL``, ``ballot vote --as EMAIL``), never an
officer's."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from node.cli.common import print_json, run_async
from node.cli.decisions import _officer, as_member, key_file_signs
from node.cli.upward import _action, _resolve, _stamp, _when
from node.federation import consents
from node.federation import elections as el
from node.federation.upward import ancestors, name_of
from node.service import Node
from node.web.routes.elections import report
from protocol import Selection


def add_arguments(command: Any) -> None:
    c = command("election", run, "a branch's delegate election: who stands, and open the ranked ballot")
    sub = c.add_subparsers(dest="election_command", required=True, metavar="ACTION")
    a = _action(sub, "candidates", "who stands in a contest, with their statements", officer=False)
    a.add_argument("--contest", help="delegates:<body id> or selection:<id> (default: delegates to the body above)")
    for action, helptext in (
        ("stand", "a member stands, with their own password (their consent)"),
        ("withdraw", "a member stops standing (before a nomination is signed)"),
    ):
        a = _action(sub, action, helptext, officer=False)
        a.add_argument("--contest", help="delegates:<body id> or selection:<id> (default: delegates to the body above)")
        a.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the member, for themselves")
        a.add_argument("--password-stdin", action="store_true", help="read the member's password from standard input")
        if action == "stand":
            a.add_argument("--name", required=True, help="your name on the ballot")
            a.add_argument("--statement", default="", help="what members will read")
            a.add_argument("--category", default="", help="your declared category, for a balanced list")
            a.add_argument("--key-file", default=None, metavar="PATH",
                           help="a selection: sign your consent with your own key file (`branchnet member key add`); "
                                "your nomination carries it to every node")  # fmt: skip
    a = _action(sub, "delegates", "open a ranked ballot of the members standing as delegates to the body above")
    a.add_argument("--seats", type=int, required=True, help="how many delegates")
    a.add_argument("--counting", choices=["stv", "meek", "irv", "schulze"], default="stv", help="default stv")
    a.add_argument("--closes", type=_when, help="when voting closes (ISO time, or +2h, +3d)")
    a.add_argument("--ron", choices=["on", "off"], help="re-open nominations on the ballot (default: on for one seat)")

    c = command("selection", run, "a body's selection across its branches: nominations, paper, ballots, result")
    sub = c.add_subparsers(dest="selection_command", required=True, metavar="ACTION")
    _action(sub, "list", "selections held here", officer=False)
    a = _action(sub, "show", "nominations, paper, bundles, each result with its rounds and this node's recount",
                of="selection", officer=False)  # fmt: skip
    a.add_argument("--json", action="store_true", help="one JSON object")
    a = _action(sub, "publish", "publish this body's selection (signed)")
    a.add_argument("--office", required=True, help="what is being chosen")
    a.add_argument("--seats", type=int, required=True, help="how many")
    a.add_argument("--method", choices=["stv", "meek"], default="stv", help="Scottish STV (default) or Meek")
    a.add_argument("--nominations-close", type=_when, required=True, help="ISO time, or +2h, +3d")
    a.add_argument("--voting-close", type=_when, required=True, help="ISO time, or +2h, +3d")
    a.add_argument("--ron", choices=["on", "off"], help="re-open nominations on the ballot (default: on for one seat)")
    a.add_argument("--balancing", choices=["alternate"], help="balance the ordered list by declared categories")
    a.add_argument("--text", default="", help="a description")
    a = _action(sub, "nominate", "nominate a member who stands for the selection (signed)", of="selection")
    a.add_argument("--member", type=int, required=True, help="the member's number (see `election candidates`)")
    _action(sub, "paper", "after nominations close: fix the ballot paper (signed)", of="selection")
    _action(sub, "ballot", "open this branch's ranked ballot on the selection's paper", of="selection")
    _action(sub, "result", "after voting closes: count every bundle and sign the result", of="selection")


def run(args: argparse.Namespace) -> int:
    return run_async(args.command, lambda: _run(args))


def _ron(value: str | None) -> bool | None:
    return None if value is None else value == "on"


async def _run(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        if args.command == "election":
            return await _election(node, args)
        action = args.selection_command
        if action == "list":
            for e in await el.selections(node):
                s = e.payload.body
                assert isinstance(s, Selection)
                when = f"nominations until {_stamp(s.nominations_close)}, voting until {_stamp(s.voting_close)}"
                what = f"{s.office}, {s.seats} seat(s), {s.method}"
                print(f"{e.id.hex()[:16]}  {name_of(node, e.author)}: {what}; {when}")
            return 0
        if action == "show":
            shown = await report(node, await _resolve(node, args.id, "selection"))
            if args.json:
                print_json(shown)
                return 0
            _print_report(shown)
            return 0
        who = await _officer(node, args.as_email)
        if action == "publish":
            envelope = await el.publish_selection(node, who, args.office, args.seats, method=args.method,
                                                  nominations_close=args.nominations_close,
                                                  voting_close=args.voting_close, reopen_nominations=_ron(args.ron),
                                                  balancing=args.balancing or "", text=args.text)  # fmt: skip
        else:
            selection_id = await _resolve(node, args.id, "selection")
            if action == "nominate":
                envelope = await el.nominate(node, who, selection_id, args.member)
            elif action == "paper":
                envelope = await el.publish_paper(node, who, selection_id)
            elif action == "result":
                envelope = await el.publish_result(node, who, selection_id)
            else:
                row = await el.open_selection_ballot(node, who, selection_id)
                print(f"ballot {row.id} open: {', '.join(row.options)}; voting until {_stamp(row.closes or 0)}")
                return 0
    print(f"{envelope.kind.replace('_', ' ')} signed: {envelope.id.hex()} (seq {envelope.seq})")
    return 0


async def _election(node: Node, args: argparse.Namespace) -> int:
    above = ancestors(node, node.own_log.key.public)
    if args.election_command in ("candidates", "stand", "withdraw"):
        contest = el.normal_contest(args.contest) if args.contest else (el.DELEGATES + above[0].hex() if above else "")
        if not contest:
            print("branchnet election: this body has no body above it: say --contest")
            return 1
    if args.election_command in ("stand", "withdraw"):
        member = await as_member(node, args.as_email, args.password_stdin)
        if args.election_command == "withdraw":
            await el.withdraw(node, member, contest)
            print(f"{member.name} no longer stands in {contest}")
            return 0
        consent = None
        if args.key_file:
            consent = key_file_signs(Path(args.key_file), consents.statement(node, contest, args.name))
        stood = await el.stand(node, member, contest, args.name, args.statement, args.category, consent=consent)
        signed = ", your consent signed with your key" if stood.consent_key else ""
        print(f"{stood.name} stands in {contest} (member {stood.member_id}){signed}")
        return 0
    if args.election_command == "candidates":
        standing = await node.candidacies.of(contest)
        for c in standing:
            nominated = ("  (consent signed)" if c.consent_key else "") + ("  (nominated)" if c.nomination else "")
            print(f"{c.member_id:5}  {c.name}{f' [{c.category}]' if c.category else ''}{nominated}")
            if c.statement:
                print(f"       {c.statement}")
        print(f"{len(standing)} standing in {contest}")
        return 0
    if not above:
        print("branchnet election: this body has no body above it to send delegates to")
        return 1
    who = await _officer(node, args.as_email)
    row = await el.open_delegate_election(node, who, above[0], args.seats, counting=args.counting,
                                          reopen_nominations=_ron(args.ron), closes=args.closes)  # fmt: skip
    print(f"ballot {row.id} open: delegates to {name_of(node, above[0])}, {args.seats} seat(s) by {args.counting}: "
          f"{', '.join(row.options)}")  # fmt: skip
    return 0


def _print_report(shown: Any) -> None:
    s = shown.selection
    print(f"{s.office} ({s.by_name}): {s.seats} seat(s) by {s.method}; nominations until "
          f"{_stamp(s.nominations_close)}, voting until {_stamp(s.voting_close)}")  # fmt: skip
    for n in shown.nominations:
        print(f"  nominated by {n.by_name}: {n.candidate}{f' [{n.category}]' if n.category else ''}")
    if shown.paper is not None:
        print("ballot paper: " + ", ".join(shown.paper))
    for f in shown.paper_findings:
        print(f"  ! {f}")
    for b in shown.bundles:
        print(f"  bundle from {b.by_name}: {b.ballots} ballots" + ("" if b.counts else f" (not counted: {b.problem})"))
    for r in shown.results:
        print(f"result {r.id[:16]}: {r.ballots} ballots, quota {r.quota}")
        for x in r.rounds:
            what = x.action + (f" {x.candidate}" if x.candidate else "")
            print(f"  round {x.round}: {what}: " + ", ".join(f"{c} {v}" for c, v in x.votes.items()))
        print("  elected, in order: " + ", ".join(r.winners))
        if r.balanced and r.balanced != r.order:
            print("  list: " + ", ".join(r.order) + "; balanced: " + ", ".join(r.balanced))
        print("  recount here: " + ("agrees" if not r.findings else "; ".join(r.findings)))
