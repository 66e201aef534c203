"""Protocol decode + verify + chain-check rate against the fastest raw Ed25519 verify rate.

One core, one process. Every rate is measured in the same run, interleaved, best of ROUNDS, on
the same ~300-byte envelopes, so the ratio is robust on a noisy machine: the raw rates verify
each envelope's signing input with a pre-loaded public key, with libsodium (PyNaCl's
``crypto_sign_open``) and with OpenSSL (``cryptography``); the protocol rate runs
``open_envelope`` (size, decoding, canonical check, header rules, key policy, signature) and
``check_next`` (chain rules) on the envelope bytes.

    .venv/bin/python bench/verify.py [--count N] [--rounds R]

The last line is JSON: {"raw_per_s" (the fastest library's), "raw_sodium_per_s",
"raw_cryptography_per_s", "protocol_per_s", "ratio" (protocol / fastest raw), ...}.
Target: ratio >= 0.95.
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
from nacl.bindings import crypto_sign_open

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


def sodium_rate(items: list[tuple[bytes, bytes]], key: bytes) -> float:
    start = time.perf_counter()
    for message, signature in items:
        crypto_sign_open(signature + message, key)
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
    raws, sodiums, protos = [], [], []
    for _ in range(args.rounds):
        raws.append(raw_rate(items, key))
        sodiums.append(sodium_rate(items, author))
        protos.append(protocol_rate(log, now_ms))
    openssl, sodium, proto = max(raws), max(sodiums), max(protos)
    fastest = max(openssl, sodium)
    size = statistics.mean(len(d) for d in log)
    print(f"envelopes: {args.count} x {size:.0f} bytes, best of {args.rounds} rounds")
    print(f"raw Ed25519 verify, libsodium:     {sodium:10.0f}/s")
    print(f"raw Ed25519 verify, cryptography:  {openssl:10.0f}/s")
    print(f"open_envelope + check_next:        {proto:10.0f}/s  ({proto / fastest:.3f} x the fastest raw)")
    print(
        json.dumps(
            {
                "raw_per_s": round(fastest),
                "raw_sodium_per_s": round(sodium),
                "raw_cryptography_per_s": round(openssl),
                "protocol_per_s": round(proto),
                "ratio": round(proto / fastest, 3),
                "ratio_to_cryptography": round(proto / openssl, 3),
                "envelope_bytes": round(size),
                "count": args.count,
                "rounds": args.rounds,
            }
        )
    )


if __name__ == "__main__":
    main()
