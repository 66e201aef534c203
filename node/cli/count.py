"""`branchnet count`: count a ballot file (`.blt`) by Scottish STV, IRV, Schulze or approval,
and print the winners in order of election and every stage; ``--json`` prints
``{"winners": [...], "rounds": [...]}`` (and the method, seats and quota). Errors name the
line of the file; never a traceback."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from node.cli.common import fail
from protocol.blt import BltError, parse_blt
from protocol.counting import METHODS, CountError, count, ordered_list

MAX_FILE_BYTES = 512 * 1024 * 1024


def add_arguments(command: object) -> None:
    c = command("count", run, "count a .blt ballot file: winners in order and every stage")  # type: ignore[operator]
    c.add_argument("file", help="the ballot file (.blt; '-' reads standard input)")
    c.add_argument("--method", choices=METHODS, default="stv",
                   help="stv (Scottish STV, SSI 2007/42), meek (Meek STV, Algorithm 123), irv, schulze or "
                        "approval (default stv)")  # fmt: skip
    c.add_argument("--seats", type=int, help="seats to fill (default: as the file says)")
    c.add_argument("--json", action="store_true", help='print {"winners": [...], "rounds": [...]} as JSON')
    c.add_argument("--ordered", action="store_true",
                   help="stv, meek: also order a list by successive counts for 1, 2, ... seats")  # fmt: skip
    c.add_argument("--lot-seed", default="", metavar="HEX",
                   help="the lot's seed, as hex bytes (default: empty; docs/elections.md, Lot)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    name = "stdin" if args.file == "-" else args.file
    try:
        if args.file == "-":
            text = sys.stdin.read(MAX_FILE_BYTES + 1)
        else:
            path = Path(args.file)
            if path.stat().st_size > MAX_FILE_BYTES:
                return fail("count", f"{name}: larger than {MAX_FILE_BYTES // 2**20} MiB")
            text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return fail("count", f"{name}: cannot read it: {exc}")
    try:
        seed = bytes.fromhex(args.lot_seed)
    except ValueError:
        return fail("count", "--lot-seed is hex bytes (an even number of 0-9 and a-f)", 2)
    if len(seed) > 64:
        return fail("count", "--lot-seed is at most 64 bytes", 2)
    try:
        election = parse_blt(text, lot_seed=seed)
        if args.seats is not None:
            election = replace(election, seats=args.seats)
        result = count(args.method, election)
        if args.ordered and args.method not in ("stv", "meek"):
            return fail("count", "--ordered orders a list by STV counts: use --method stv or meek", 2)
        order = ([election.candidates[c] for c in ordered_list(election, method=args.method)[0]]
                 if args.ordered else None)  # fmt: skip
    except BltError as exc:
        return fail("count", f"{name}: {exc}")
    except CountError as exc:
        return fail("count", f"{name}: {exc}", 1)
    report = result.as_json(election)
    if order is not None:
        report["order"] = order
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    title = f"{election.title}: " if election.title else ""
    quota = f"; quota {report['quota']}" if report["quota"] is not None else ""
    print(f"{title}{args.method}, {result.seats} seat{'s' if result.seats != 1 else ''}{quota}")
    for stage in report["rounds"]:  # type: ignore[attr-defined]
        what = stage["action"] + (f" {stage['candidate']}" if stage["candidate"] else "")
        if stage["transfer_value"]:
            what += f" (transfer value {stage['transfer_value']})"
        print(f"stage {stage['round']}: {what}")
        print("  " + ", ".join(f"{c} {v}" for c, v in stage["votes"].items()))
        if "quota" in stage:
            keep = "".join(f", {c} {v}" for c, v in stage["keep"].items())
            print(f"  quota {stage['quota']}" + (f"; keep factors{keep}" if keep else ""))
        extra = [f"exhausted {stage['exhausted']}"] if stage["exhausted"] not in ("0", None) else []
        if stage["loss_by_fractions"] not in ("0", None):
            extra.append(f"lost to fractions {stage['loss_by_fractions']}")
        if stage["elected"]:
            extra.append("elected: " + ", ".join(stage["elected"]))
        if stage["excluded"]:
            extra.append("excluded: " + ", ".join(stage["excluded"]))
        if stage["note"]:
            extra.append(stage["note"])
        if extra:
            print("  " + "; ".join(extra))
    print("winners, in order: " + ", ".join(report["winners"]))  # type: ignore[arg-type]
    if report["reopen_nominations"]:
        print("re-open nominations won a seat: it stays empty and nominations open again")
    if order is not None:
        print("list, by successive counts: " + ", ".join(order))
    return 0
