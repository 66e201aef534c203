"""`branchnet audit SOURCE...`: what several sources published about one federation, merged
and checked offline (:mod:`protocol.audit`). Exit 0 when everything holds, 1 when a check
fails, 2 when it could not run (an unreadable source)."""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import jinja2

from node.cli.common import fail
from node.errors import ConfigError
from node.keyfile import create_file
from protocol import ProtocolError, node_id_text, read_bundle, write_bundle
from protocol.audit import Report, audit


def _name(report: Report, key: bytes | None) -> str:
    if key is None:
        return "?"
    body = report.trust.bodies.get(key) if report.trust is not None else None
    return body.name if body is not None else node_id_text(key)[:20] + "…"


def as_json(report: Report) -> dict[str, Any]:
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


def write_html(report: Report, target: Path) -> None:
    """One self-contained file a person can open and share: the summary, every problem, the
    forks, the sources behind others, and the trust tree."""
    data = as_json(report)
    tree: dict[str | None, list[dict[str, Any]]] = {}
    for body in data["bodies"]:
        tree.setdefault(body["parent"], []).append(body)
    founder = next((b["name"] for b in tree.get(None, [])), "an unknown federation")
    env = jinja2.Environment(loader=jinja2.PackageLoader("node.cli", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)  # fmt: skip
    made = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    html = env.get_template("audit.html").render(r=data, tree=tree, federation=founder, made=made)
    try:
        create_file(target, html.encode(), 0o644)  # made to be shared: no personal data in it
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


MAX_PULL_BYTES = 512 * 2**20  # what one node's URL may give (until the audit streams: docs/auditing.md)


async def pull(url: str, timeout_s: float = 30.0) -> bytes:
    """Everything a node at ``url`` holds, as one bundle, through its public read API: its
    heads (``GET /api/v1/node``), then each author's log a page at a time (``GET
    /api/v1/log/{author}``). ConfigError when it does not answer as a node does."""
    base = url.rstrip("/")
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    raws: list[bytes] = []
    size = 0
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            async with http.get(f"{base}/api/v1/node") as r:
                if r.status != 200:
                    raise ConfigError(f"{url} answered {r.status} to /api/v1/node: is it a branchnet node?")
                heads: dict[str, int] = (await r.json())["heads"]
            for author, head in sorted(heads.items()):
                after = 0
                while after < head:
                    async with http.get(f"{base}/api/v1/log/{author}", params={"after": str(after)}) as r:
                        if r.status != 200:
                            raise ConfigError(f"{url} answered {r.status} for {author}'s log")
                        page = list(read_bundle(await r.read()))
                    if not page:
                        break  # it holds less than it said (reported by the audit as behind)
                    raws.extend(page)
                    after += len(page)
                    size += sum(len(raw) for raw in page)
                    if size > MAX_PULL_BYTES:
                        raise ConfigError(f"{url} holds over {MAX_PULL_BYTES // 2**20} MiB of envelopes, more than "
                                          "this audit reads from a URL: audit its export instead")  # fmt: skip
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, ProtocolError) as exc:
        raise ConfigError(f"{url} did not answer as a node does: {exc or type(exc).__name__}") from None
    return write_bundle(raws)


def _read(name: str) -> bytes:
    if name.startswith(("http://", "https://")):
        return asyncio.run(pull(name))
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    sources = []
    for name in args.source:
        try:
            sources.append((name, _read(name)))
        except ConfigError as exc:
            return fail("audit", exc.message)
    now_ms = args.now_ms if args.now_ms is not None else int(time.time() * 1000)
    report = audit(sources, now_ms)
    if args.html:
        try:
            write_html(report, Path(args.html))
        except (ConfigError, OSError) as exc:
            return fail("audit", str(getattr(exc, "message", exc)))
    if args.json:
        print(json.dumps(as_json(report), indent=2))
    else:
        print_summary(report)
    return 0 if report.holds else 1


def add_arguments(c: argparse.ArgumentParser) -> None:
    c.add_argument(
        "source",
        nargs="+",
        help="an export (`branchnet export`) of a node, or a node's URL "
        "(https://...: pulled through its public read API); several are merged",
    )
    c.add_argument("--json", action="store_true", help="one JSON object for machines")
    c.add_argument("--html", default=None, metavar="FILE", help="also write one self-contained HTML report to FILE")
    c.add_argument("--now-ms", type=int, default=None, help="the clock for the future-timestamp rule")
