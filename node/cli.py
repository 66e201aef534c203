"""The ``branchnet`` command line. Each sub-command is a small function; errors are
printed as one line naming what is wrong, never as a traceback."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from protocol import ProtocolError, SigningKey, check_logs, node_id_text, read_bundle

from .keyfile import KeyFileError, write_new_key


def _keygen(args: argparse.Namespace) -> int:
    key = SigningKey.generate()
    try:
        write_new_key(Path(args.out), key)
    except KeyFileError as exc:
        print(f"branchnet keygen: {exc}", file=sys.stderr)
        return 2
    print(key.node_id)
    return 0


def _verify(args: argparse.Namespace) -> int:
    try:
        data = Path(args.bundle).read_bytes()
    except OSError as exc:
        print(f"branchnet verify: cannot read {args.bundle}: {exc.strerror}", file=sys.stderr)
        return 2
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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="branchnet", description="A federated branch network node.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    keygen = sub.add_parser("keygen", help="create an Ed25519 node key file and print its node id")
    keygen.add_argument("--out", required=True, help="where to write the key (PKCS#8 PEM, mode 0600)")
    keygen.set_defaults(run=_keygen)

    verify = sub.add_parser("verify", help="check every envelope in a bundle: signatures, encoding, chains")
    verify.add_argument("bundle", help="a bundle file (docs/protocol.md, Bundles)")
    verify.add_argument("--now-ms", type=int, default=None, help="the clock for the future-timestamp rule")
    verify.set_defaults(run=_verify)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result: int = args.run(args)
    return result
