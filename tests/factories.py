"""Fixed-seed keys and ready-made envelopes for tests (deterministic: Ed25519 signing is)."""

from __future__ import annotations

import hashlib

from protocol import (
    VERSION,
    Body,
    Charter,
    CharterRule,
    Envelope,
    Genesis,
    NodeProfile,
    Payload,
    Quota,
    Ratio,
    Rules,
    SigningKey,
    encode,
    seal,
    signing_input,
)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms


def key(label: str) -> SigningKey:
    """The key whose RFC 8032 seed is SHA-256 of ``branchnet test key: <label>``."""
    return SigningKey.from_seed(hashlib.sha256(f"branchnet test key: {label}".encode()).digest())


def rules(quota: Quota | None = None) -> Rules:
    return Rules(
        levels=["national", "region", "branch", "youth"],
        charter_rules=[
            CharterRule(parent="national", child="region"),
            CharterRule(parent="region", child="branch"),
            CharterRule(parent="national", child="youth"),
        ],
        weighting="card_vote",
        quorum=Ratio(num=1, den=4),
        threshold=Ratio(num=1, den=2),
        quota=quota,
    )


def genesis(founder: SigningKey | None = None, created: int = T0, quota: Quota | None = None) -> Envelope:
    return seal_genesis(founder or key("national"), rules(quota), created)


def seal_genesis(founder: SigningKey, federation_rules: Rules, created: int = T0) -> Envelope:
    """A genesis by ``founder`` with these rules."""
    body = Genesis(name="Test Federation", founder_name="National Committee", founder_level="national",
                   rules=federation_rules)  # fmt: skip
    return seal(founder, Payload(author=founder.public, seq=1, created=created, body=body))


def next_envelope(
    author: SigningKey, after: Envelope | None, body: Body, federation: bytes, created: int | None = None
) -> Envelope:
    """The author's envelope following ``after`` (or its first, when None)."""
    seq = 1 if after is None else after.seq + 1
    prev = None if after is None else after.id
    when = created if created is not None else T0 + 1000 * seq
    return seal(
        author, Payload(author=author.public, seq=seq, created=when, body=body, federation=federation, prev=prev)
    )


def charter(child: SigningKey, name: str = "North Region", level: str = "region") -> Charter:
    return Charter(key=child.public, name=name, level=level, url="https://north.example.org")


def profile(name: str = "North Region") -> NodeProfile:
    return NodeProfile(name=name, endpoints=["https://north.example.org"], contact="secretary@north.example.org")


def signed_raw(author: SigningKey, payload: Payload) -> bytes:
    """An envelope's bytes, signed but not checked: what a faulty or hostile peer could send."""
    payload_bytes = encode(payload)
    return encode((VERSION, payload_bytes, author.sign(signing_input(payload_bytes))))
