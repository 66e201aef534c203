"""Protocol decode + verify + chain-check rate against the raw Ed25519 verify rate.

One core, one process. Both rates are measured in the same run, interleaved, best of
ROUNDS, on the same ~300-byte envelopes, so the ratio is robust on a noisy machine:
the raw rate verifies each envelope's signing input with a pre-loaded public key; the
protocol rate runs ``open_envelope`` (size, decoding, canonical check, header rules,
key policy, signature) and ``check_next`` (chain rules) on the envelope bytes.

    .venv/bin/python bench/verify.py [--count N] [--rounds R]

The last line is JSON: {"raw_per_s", "protocol_per_s", "ratio", "envelope_bytes", ...}.
Target: ratio >= 0.85.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from protocol import Head, NodeProfile, Payload, SigningKey, check_next, open_envelope, seal
from protocol.encoding import decode_wire
from protocol.envelope import signing_input


def make_log(count: int) -> list[bytes]:
    author = SigningKey.from_seed(hashlib.sha256(b"bench author").digest())
    federation = hashlib.sha256(b"bench federation").digest()
    log: list[bytes] = []
    prev = None
    for seq in range(1, count + 1):
        body = NodeProfile(
            name=f"Branch {seq}",
            endpoints=[f"https://b{seq}.north.example.org"],
            contact="secretary@example.org",
        )
        env = seal(
            author,
            Payload(
                author=author.public,
                seq=seq,
                created=1_767_225_600_000 + seq,
                body=body,
                federation=federation,
                prev=prev,
            ),
        )
        prev = env.id
        log.append(env.raw)
    return log


def raw_rate(items: list[tuple[bytes, bytes]], key: Ed25519PublicKey) -> float:
    start = time.perf_counter()
    for message, signature in items:
        key.verify(signature, message)
    return len(items) / (time.perf_counter() - start)


def protocol_rate(log: list[bytes], now_ms: int) -> float:
    start = time.perf_counter()
    head: Head | None = None
    for data in log:
        head = check_next(head, open_envelope(data), now_ms)
    return len(log) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    log = make_log(args.count)
    split = [decode_wire(data) for data in log]
    items = [(signing_input(payload), sig) for _, payload, sig in split]
    author = open_envelope(log[0]).author
    key = Ed25519PublicKey.from_public_bytes(author)
    now_ms = 1_767_225_600_000 + args.count + 1
    raws, protos = [], []
    for _ in range(args.rounds):
        raws.append(raw_rate(items, key))
        protos.append(protocol_rate(log, now_ms))
    raw, proto = max(raws), max(protos)
    size = statistics.mean(len(d) for d in log)
    print(f"envelopes: {args.count} x {size:.0f} bytes, best of {args.rounds} rounds")
    print(f"raw Ed25519 verify:            {raw:10.0f}/s")
    print(f"open_envelope + check_next:    {proto:10.0f}/s")
    print(
        json.dumps(
            {
                "raw_per_s": round(raw),
                "protocol_per_s": round(proto),
                "ratio": round(proto / raw, 3),
                "envelope_bytes": round(size),
                "count": args.count,
                "rounds": args.rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
