"""`branchnet audit SOURCE...`: what several sources published about one federation, merged
and checked offline (:mod:`protocol.audit`). Exit 0 when everything holds, 1 when a check
fails, 2 when it could not run (an unreadable source)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import jinja2
import msgspec
from tqdm import tqdm

from node.cli.audit_read import audit_files, pull
from node.cli.common import fail
from node.errors import ConfigError
from node.keyfile import create_file
from protocol import node_id_text
from protocol.audit import Report


def _name(report: Report, key: bytes | None) -> str:
    if key is None:
        return "?"
    body = report.trust.bodies.get(key) if report.trust is not None else None
    return body.name if body is not None else node_id_text(key)[:20] + "…"


def as_json(report: Report) -> dict[str, Any]:
    """Everything but the recounts (:func:`recounts_json`: one at a time, for their number)."""
    return {
        "holds": report.holds,
        "sources": report.sources,
        "envelopes": report.envelopes,
        "authors": len(report.heads),
        "kinds": dict(sorted(report.kinds.items())),
        "problems": [{"code": p.code, "object": p.object.hex() if p.object else None,
                      "author": node_id_text(p.author) if p.author else None, "author_name": _name(report, p.author),
                      "kind": p.kind, "source": p.source, "message": p.message} for p in report.problems],
        "forks": [{"a": p.a.hex(), "b": p.b.hex()} for p in report.forks],
        "unchecked": [i.hex() for i in report.unchecked],
        "behind": [{"source": b.source, "author": node_id_text(b.author), "author_name": _name(report, b.author),
                    "holds": b.holds, "highest": b.highest} for b in report.behind],
        "bodies": sorted(({"key": node_id_text(k), "name": b.name, "level": b.level, "cut": b.cut,
                           "parent": node_id_text(b.parent) if b.parent else None}
                          for k, b in (report.trust.bodies.items() if report.trust else [])),
                         key=lambda b: (b["level"], b["name"])),
    }  # fmt: skip


def recounts_json(report: Report) -> Iterator[dict[str, Any]]:
    """Each aggregate recounted: its totals, outcome, problems, and each child's weight and
    the mandate of it that counts."""
    known: dict[bytes, tuple[str, str]] = {}  # each body's node id and name, worked out once

    def body(key: bytes) -> tuple[str, str]:
        if key not in known:
            known[key] = (node_id_text(key), _name(report, key))
        return known[key]

    for c in report.recounts:
        yield {"aggregate": c.aggregate.hex(), "author": body(c.author)[0], "author_name": body(c.author)[1],
               "item": c.item.hex(), "title": c.title, "weighting": c.weighting, "totals": c.totals,
               "outcome": c.outcome, "holds": not c.problems, "problems": list(c.problems),
               "children": [{"key": body(k)[0], "name": body(k)[1], "weight": w,
                             "counted": counted.hex() if counted else None}
                            for k, w, counted in sorted(c.children, key=lambda kw: body(kw[0])[1])]}  # fmt: skip


def write_json(report: Report, out: TextIO) -> None:
    """:func:`as_json` with ``"recounts"``, written a recount at a time: a federation's
    thousands of aggregates never stand in memory as one text."""
    head = json.dumps(as_json(report), indent=2)
    out.write(head[: -len("\n}")] + ',\n  "recounts": [')
    for number, recount in enumerate(recounts_json(report)):
        out.write(("," if number else "") + "\n    " + json.dumps(recount))
    out.write("\n  ]\n}\n")


def write_html(report: Report, target: Path) -> None:
    """One self-contained file a person can open and share: the summary, every problem, the
    forks, the sources behind others, each aggregate's recount and the trust tree (written as
    it is made)."""
    data = as_json(report)
    data["recounts"] = recounts_json(report)
    data["recount_count"] = len(report.recounts)
    tree: dict[str | None, list[dict[str, Any]]] = {}
    for body in data["bodies"]:
        tree.setdefault(body["parent"], []).append(body)
    founder = next((b["name"] for b in tree.get(None, [])), "an unknown federation")
    env = jinja2.Environment(loader=jinja2.PackageLoader("node.cli", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)  # fmt: skip
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    html = env.get_template("audit.html").generate(r=data, tree=tree, federation=founder, made=made)
    try:
        create_file(target, (piece.encode() for piece in html), 0o644)  # made to be shared: no personal data
    except FileExistsError:
        raise ConfigError(f"{target} already exists; refusing to overwrite it") from None


def print_summary(report: Report) -> None:
    print(f"audited {report.envelopes} envelopes from {len(report.sources)} source"
          f"{'' if len(report.sources) == 1 else 's'}, {len(report.heads)} authors")  # fmt: skip
    if report.kinds:
        print("  " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(report.kinds.items())))
    bodies = len(report.trust.bodies) if report.trust else 0
    print(f"trust from the genesis: {bodies} bodies chartered" if report.trust else "trust: not computed")
    for p in report.problems:
        kind = p.kind.replace("_", " ") or "envelope"
        what = f"{kind} {p.object.hex()[:16]}" if p.object else (p.source or "the set")
        by = f" by {_name(report, p.author)}" if p.author else ""
        print(f"FAIL {p.code}: {what}{by}: {p.message}")
    for proof in report.forks:
        print(f"FORK: two envelopes at one author and sequence (proof: {len(proof.a) + len(proof.b)} bytes in --json)")
    for b in report.behind:
        print(f"BEHIND: {b.source} holds {_name(report, b.author)} up to seq {b.holds}; another source holds "
              f"{b.highest} (behind, or withholding)")  # fmt: skip
    print("everything holds" if report.holds else f"{len(report.problems)} problems")


def check_a_register(path: str, as_json: bool) -> int:
    """`branchnet audit --register FILE`: a ballot's marked register, as a scrutineer downloaded
    it, checked offline (protocol/register.py). Exit 0 when it holds (an unsigned vote by a
    keyholder is listed to look into, not a failure), 1 when anything else does not hold."""
    from protocol import ProtocolError
    from protocol.register import MarkedRegister, check_register

    try:
        with open(path, "rb") as file:
            register = msgspec.json.decode(file.read(), type=MarkedRegister)
        findings = check_register(register)
    except OSError as exc:
        return fail("audit", f"cannot read {path}: {exc.strerror}")
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return fail("audit", f"{path} is not a marked register: {exc}")
    except ProtocolError as exc:
        return fail("audit", f"{path}: its roll or decision does not open: {exc.message}")
    failing = [f for f in findings if f.code != "unsigned_keyholder"]
    if as_json:
        print(json.dumps({"holds": not failing, "findings": [vars(f) for f in findings]}, indent=2))
    else:
        signed = sum(1 for e in register.participations if e.signature is not None)
        print(f"{len(register.electors)} electors, {len(register.participations)} took part, {signed} signed")
        for f in findings:
            print(f"{'LOOK INTO' if f.code == 'unsigned_keyholder' else 'PROBLEM'}: {f.code}: {f.message}"
                  + (f" (member {f.member})" if f.member is not None else ""))  # fmt: skip
        print("the register holds: every signature checked against the roll" if not failing
              else f"{len(failing)} problems")  # fmt: skip
    return 0 if not failing else 1


def run(args: argparse.Namespace) -> int:
    if args.register:
        if args.source:
            return fail("audit", "--register checks one ballot's register alone: give no other source")
        return check_a_register(args.register, args.json)
    if not args.source:
        return fail("audit", "give an export or a node's URL to audit (or --register FILE)")
    if args.workers is not None and not 0 <= args.workers <= 256:
        return fail("audit", f"--workers {args.workers}: give 0 (none: check in this process) to 256")
    now_ms = args.now_ms if args.now_ms is not None else int(time.time() * 1000)
    try:
        with tempfile.TemporaryDirectory(prefix="branchnet-audit-") as folder:
            paths = [_source(name, Path(folder), number) for number, name in enumerate(args.source)]
            total = sum(path.stat().st_size for path in paths)
            with _bar(total, "opening", "B") as opening, _bar(None, "checking", " envelopes") as checking:
                report = audit_files(list(zip(args.source, paths, strict=True)), Path(folder), now_ms, args.workers,
                                     opening.update, checking.update)  # fmt: skip
    except ConfigError as exc:
        return fail("audit", exc.message)
    except OSError as exc:
        return fail("audit", f"{getattr(exc, 'filename', None) or 'the audit'}: {exc.strerror or exc}")
    if args.html:
        try:
            write_html(report, Path(args.html))
        except (ConfigError, OSError) as exc:
            return fail("audit", str(getattr(exc, "message", exc)))
    if args.json:
        write_json(report, sys.stdout)
    else:
        print_summary(report)
    return 0 if report.holds else 1


def _source(name: str, folder: Path, number: int) -> Path:
    """A file to read ``name`` from: itself, or a node's URL pulled into ``folder``."""
    if name.startswith(("http://", "https://")):
        target = folder / f"source-{number}.bundle"
        asyncio.run(pull(name, target))
        return target
    path = Path(name)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror}") from None
    if not path.is_file():
        raise ConfigError(f"cannot read {name}: not a file")
    return path


def _bar(total: int | None, what: str, unit: str) -> tqdm[Any]:
    """A progress bar on a terminal (stderr), nothing otherwise."""
    return tqdm(total=total, desc=what, unit=unit, unit_scale=True, leave=False, file=sys.stderr,
                disable=not sys.stderr.isatty())  # fmt: skip


def add_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "source",
        nargs="*",
        help="an export (`branchnet export`) of a node, or a node's URL "
        "(https://...: pulled through its public read API); several are merged",
    )
    c.add_argument("--json", action="store_true", help="one JSON object for machines")
    c.add_argument("--register", default=None, metavar="FILE",
                   help="check a ballot's marked register, as a scrutineer downloads it (GET /api/v1/ballots/{id}/"
                        "register), against its roll and decision, every signature too")  # fmt: skip
    c.add_argument("--html", default=None, metavar="FILE", help="also write one self-contained HTML report to FILE")
    c.add_argument("--now-ms", type=int, default=None, help="the clock for the future-timestamp rule")
    c.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes to check signatures in (default: one per core; none for small sources)")
