"""`branchnet agenda …`, `submission …`, `composite …`, `delegates`, `campaign …`: decisions going
up, from the command line. ``--as EMAIL`` names the officer acting; the same functions as the
API and the pages decide what they may do (node/federation/upward.py). Ids are envelope ids
in hex (a unique prefix of 8 or more digits is enough)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from node.cli.common import add_dir, print_json, proposed, run_async
from node.cli.decisions import _officer
from node.errors import BadInput, NotFound
from node.federation import authority, rules_change
from node.federation import campaigns as camp
from node.federation import items as on_item
from node.federation import submissions as subm
from node.federation import upward as steps
from node.federation.upward import NewItem
from node.service import Node
from protocol import AgendaItem, Aggregate, Campaign, Mandate, Pledge, node_id_text
from protocol import upward as up


def _as(c: argparse.ArgumentParser) -> None:
    c.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the officer acting")


def _when(text: str) -> int:
    """A time as ms: ISO 8601 (``2026-12-01T18:00``, UTC unless it says) or ``+2h`` / ``+30m`` / ``+3d`` from now."""
    text = text.strip()
    now = dt.datetime.now(dt.UTC)
    units = {"m": 60, "h": 3600, "d": 86400}
    if text.startswith("+") and text[-1:] in units and text[1:-1].isdigit():
        return int((now.timestamp() + int(text[1:-1]) * units[text[-1]]) * 1000)
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time (2026-12-01T18:00, or +2h, +30m, +3d)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return int(parsed.timestamp() * 1000)


def _stamp(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _action(sub: Any, name: str, helptext: str, *, of: str | None = None, officer: bool = True
            ) -> argparse.ArgumentParser:  # fmt: skip
    """One ``ACTION`` of a command: ``--dir``; the id of ``of`` (an item, a submission ...) as
    its argument; ``--as EMAIL`` when an officer signs it."""
    a: argparse.ArgumentParser = sub.add_parser(name, help=helptext)
    add_dir(a)
    if of is not None:
        a.add_argument("id", help=f"the {of}'s id")
    if officer:
        _as(a)
    return a


def add_arguments(command: Any) -> None:
    c = command("agenda", run, "agenda items: table one, vote on a parent's, send the mandate, aggregate")
    sub = c.add_subparsers(dest="agenda_command", required=True, metavar="ACTION")
    _action(sub, "list", "items of this body and the bodies above it", officer=False)
    a = _action(sub, "show", "an item: children, weights, every mandate judged, each aggregate recounted", of="item",
                officer=False)  # fmt: skip
    a.add_argument("--json", action="store_true", help="one JSON object")
    a = _action(sub, "table", "put a question to this body's children (signed)")
    a.add_argument("--title", default="", help="its title (a composite's own when omitted)")
    a.add_argument("--text", default="", help="the exact text (a composite's own when omitted)")
    a.add_argument("--text-file", type=Path, help="read the text from this file")
    a.add_argument("--closes", required=True, type=_when, help="the deadline for mandates (ISO time, or +2h, +3d)")
    a.add_argument("--opens", type=_when, help="when mandates open (default: now)")
    a.add_argument("--weighting", choices=["card_vote", "one_branch_one_vote", "delegates"],
                   help="how children weigh (default: the federation's rule)")  # fmt: skip
    a.add_argument("--source", action="append", default=[], help="a submission it comes from (repeat)")
    a.add_argument("--composite", help="a composite every source consented to")
    _action(sub, "ballot", "open this body's ballot on the exact text of its parent's item", of="item")
    _action(sub, "aggregate", "after the deadline: count the children's mandates, sign the aggregate", of="item")
    a = _action(sub, "mandate", "send this body's mandate, following its decision (signed)", of="item")
    group = a.add_mutually_exclusive_group()
    group.add_argument("--split", action="store_true", help="a split card vote, as the body's ballot came out")
    group.add_argument("--free", action="store_true", help="a free vote: delegates vote as they wish")

    c = command("submission", run, "motions going up: submit one this body carried; list or rule out those to it")
    sub = c.add_subparsers(dest="submission_command", required=True, metavar="ACTION")
    _action(sub, "list", "submissions to this body and where each stands", officer=False)
    a = _action(sub, "submit", "submit a motion this body carried to the body it was meant for")
    a.add_argument("motion", type=int, help="the motion's number, as `motion list` shows it")
    a = _action(sub, "rule-out", "rule a submission out, saying why", of="submission")
    a.add_argument("--reason", required=True, help="why")

    c = command("composite", run, "merge submissions into one text; answer a composite of this body's motion")
    sub = c.add_subparsers(dest="composite_command", required=True, metavar="ACTION")
    a = _action(sub, "propose", "propose a composite of two or more submissions (signed)")
    a.add_argument("--title", required=True, help="the composite's title")
    a.add_argument("--text", required=True, help="the one text in place of the sources'")
    a.add_argument("--source", action="append", required=True, help="a submission (two or more)")
    a = _action(sub, "answer", "consent, refuse, or withdraw this body's motion (signed)", of="composite")
    a.add_argument("answer", choices=["consent", "refuse", "withdraw"], help="consent, refuse, or withdraw the motion")

    c = command("delegates", run, "record this body's delegates to the body above it (signed)")
    add_dir(c)
    c.add_argument("--count", type=int, required=True, help="how many delegates")
    c.add_argument("--name", action="append", default=[], help="a delegate who consented to be named (repeat)")
    c.add_argument("--propose", action="store_true",
                   help="put the record to this body's members (where the rules make it their decision): the node "
                        "signs it once their ballot is carried")  # fmt: skip
    _as(c)

    c = command("campaign", run, "campaign notices across the federation, and pledges of support")
    sub = c.add_subparsers(dest="campaign_command", required=True, metavar="ACTION")
    _action(sub, "list", "notices and their pledges", officer=False)
    a = _action(sub, "publish", "publish this body's campaign notice (signed)")
    a.add_argument("--title", required=True, help="what the campaign is")
    a.add_argument("--text", required=True, help="what is happening, and why")
    a.add_argument("--asks", default="", help="what it asks of others")
    a.add_argument("--ends", type=_when, help="when it ends")
    a.add_argument("--contact", default="", help="how to reach the body about it (never a member's own address)")
    a = _action(sub, "pledge", "pledge this body's support to a campaign (signed)", of="campaign")
    a.add_argument("--text", required=True, help="what this body pledges")
    a = _action(sub, "withdraw", "withdraw this body's own campaign or pledge (signed; cannot be undone)",
                of="campaign or pledge")
    a.add_argument("--reason", default="", help="why (shown on every node)")


async def _resolve(node: Node, text: str, kind: str) -> bytes:
    """An envelope id from hex, or from a unique prefix of at least 8 hex digits (of an envelope
    of ``kind``: one kind, or several joined by " or ")."""
    cleaned = text.strip().lower()
    if len(cleaned) == 64:
        try:
            return bytes.fromhex(cleaned)
        except ValueError:
            pass
    if len(cleaned) < 8 or any(ch not in "0123456789abcdef" for ch in cleaned):
        raise BadInput(f"{text!r} is not an id (64 hex digits, or a unique prefix of 8 or more)", field="id")
    found = [i for k in kind.split(" or ") for i in await node.envelopes.ids_starting(k, cleaned)]
    if len(found) != 1:
        raise NotFound(f"no single {kind.replace('_', ' ')} has an id starting {cleaned}")
    return found[0]


def run(args: argparse.Namespace) -> int:
    return run_async(args.command, lambda: _run(args))


async def _run(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        if args.command == "agenda":
            return await _agenda(node, args)
        if args.command == "submission":
            if args.submission_command == "list":
                for s in await subm.submissions(node):
                    note = f"  ({s.note})" if s.note and s.state != "on_agenda" else ""
                    print(f"{s.envelope.id.hex()[:16]}  {s.state:<10} {steps.name_of(node, s.envelope.author)}: "
                          f"{s.body.title}{note}")  # fmt: skip
                return 0
            who = await _officer(node, args.as_email)
            if args.submission_command == "submit":
                envelope = await subm.submit(node, who, args.motion)
            else:
                envelope = await subm.rule_out(node, who, await _resolve(node, args.id, "submission"), args.reason)
        elif args.command == "composite":
            who = await _officer(node, args.as_email)
            if args.composite_command == "propose":
                sources = [await _resolve(node, s, "submission") for s in args.source]
                envelope = await subm.propose_composite(node, who, args.title, args.text, sources)
            else:
                envelope = await subm.answer_composite(node, who, await _resolve(node, args.id, "composite"),
                                                        args.answer)  # fmt: skip
        elif args.command == "delegates":
            who = await _officer(node, args.as_email)
            if args.propose:
                return proposed(await authority.propose_delegates(node, who, args.count, args.name))
            envelope = await camp.record_delegates(node, who, args.count, args.name)
        else:
            if args.campaign_command == "list":
                for entry in await camp.campaigns(node):
                    c = entry.campaign.payload.body
                    assert isinstance(c, Campaign)
                    gone = entry.withdrawn.get(entry.campaign.id)
                    print(f"{entry.campaign.id.hex()[:16]}  {steps.name_of(node, entry.campaign.author)}: {c.title}"
                          + ("" if gone is None else f"  (withdrawn: {gone.reason or 'no reason given'})"))
                    if c.asks:
                        print(f"    asks: {c.asks}")
                    for p in entry.pledges:
                        assert isinstance(p.payload.body, Pledge)
                        gone = entry.withdrawn.get(p.id)
                        by = steps.name_of(node, p.author)
                        print(f"    {p.id.hex()[:16]}  pledge from {by}: {p.payload.body.text}"
                              + ("" if gone is None else "  (withdrawn)"))
                return 0
            who = await _officer(node, args.as_email)
            if args.campaign_command == "publish":
                envelope = await camp.publish_campaign(node, who, args.title, args.text, args.asks, ends=args.ends,
                                                        contact=args.contact)  # fmt: skip
            elif args.campaign_command == "pledge":
                envelope = await camp.pledge(node, who, await _resolve(node, args.id, "campaign"), args.text)
            else:
                notice = await _resolve(node, args.id, "campaign or pledge")
                envelope = await camp.withdraw(node, who, notice, args.reason)
    print(f"{envelope.kind.replace('_', ' ')} signed: {envelope.id.hex()} (seq {envelope.seq})")
    return 0


async def _agenda(node: Node, args: argparse.Namespace) -> int:
    action = args.agenda_command
    if action == "list":
        for envelope in await steps.agenda(node):
            b = envelope.payload.body
            assert isinstance(b, AgendaItem)
            print(f"{envelope.id.hex()[:16]}  {steps.name_of(node, envelope.author)}: {b.title}  "
                  f"(mandates until {_stamp(b.closes)}, {b.weighting})")  # fmt: skip
        return 0
    item_id = await _resolve(node, args.id, "agenda_item") if action != "table" else b""
    if action == "show":
        return await _show(node, item_id, args.json)
    who = await _officer(node, args.as_email)
    if action == "table":
        text = args.text_file.read_text(encoding="utf-8") if args.text_file else args.text
        sources = tuple([await _resolve(node, s, "submission") for s in args.source])
        composite = await _resolve(node, args.composite, "composite") if args.composite else None
        envelope = await steps.table_item(node, who, NewItem(title=args.title, text=text, opens=args.opens,
                                                             closes=args.closes, weighting=args.weighting,
                                                             sources=sources, composite=composite))  # fmt: skip
    elif action == "ballot":
        row = await on_item.ballot_on_item(node, who, item_id)
        print(f"ballot {row.id} open on the item: {row.electorate} members on its roll")
        return 0
    elif action == "mandate":
        envelope = await steps.issue_mandate(node, who, item_id, position="free" if args.free else None,
                                             split=args.split)  # fmt: skip
        m = envelope.payload.body
        assert isinstance(m, Mandate)
        print(f"mandate: {m.position}" + (f" {list(m.split)}" if m.split else "")
              + (" (replaces the earlier one)" if m.replaces else ""))  # fmt: skip
    else:
        envelope = await rules_change.aggregate(node, who, item_id)
        a = envelope.payload.body
        assert isinstance(a, Aggregate)
        print(f"aggregate: {a.outcome}; for {a.votes[0]}, against {a.votes[1]}, abstain {a.votes[2]}; "
              f"weight {a.weight_sent} of {a.weight_all} took part")  # fmt: skip
    print(f"{envelope.kind.replace('_', ' ')} signed: {envelope.id.hex()} (seq {envelope.seq})")
    return 0


async def _show(node: Node, item_id: bytes, as_json: bool) -> int:
    report = await on_item.report(node, item_id)
    judged = report.judged
    assert judged is not None
    b = report.item.payload.body
    assert isinstance(b, AgendaItem)
    if as_json:
        from node.web.routes.upward import report_view

        print_json(await report_view(node, item_id))
        return 0
    print(f"{b.title} — tabled by {steps.name_of(node, report.item.author)}")
    print(f"mandates from {_stamp(b.opens)} until {_stamp(b.closes)}; weighting {b.weighting}")
    for f in report.findings:
        print(f"  the item itself: {f.code}: {f.message}")
    for key, weight in judged.weights.items():
        mandate = judged.latest.get(key)
        said = "no mandate" if mandate is None else mandate.payload.body.position  # type: ignore[union-attr]
        print(f"  {judged.names.get(key, node_id_text(key)):<30} weight {weight:>7}  {said}")
    for envelope, problem in judged.mandates.values():
        if problem is not None:
            print(f"  not counted: mandate {envelope.id.hex()[:16]} from {steps.name_of(node, envelope.author)}: "
                  f"{problem}")  # fmt: skip
    for aggregate, findings in report.aggregates:
        a = aggregate.payload.body
        assert isinstance(a, Aggregate)
        sent, absent = len(a.counted) // up.RECORD, len(a.absent) // up.RECORD
        print(f"aggregate {aggregate.id.hex()[:16]} by {steps.name_of(node, aggregate.author)}: {a.outcome}; "
              f"for {a.votes[0]}, against {a.votes[1]}, abstain {a.votes[2]}; {sent} of {sent + absent} children, "
              f"weight {a.weight_sent} of {a.weight_all}")  # fmt: skip
        print("  recount here: adds up" if not findings else f"  recount here: {len(findings)} findings")
        for f in findings:
            print(f"    {f.code}: {f.message}")
    return 0
