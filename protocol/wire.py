"""The node-to-node messages of the gossip protocol (docs/federation.md, "Messages").

msgpack Structs, beside the envelope formats, so that a simulator or another implementation
needs only this package: the anti-entropy exchange (heads digest, heads, ranges) and the
join request. Envelopes themselves travel as bundles (:mod:`protocol.bundle`).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from typing import Annotated

import msgspec

from .models import Level, Name, Url

HeadEntry = tuple[bytes, int, bytes]  # author, seq, head id
Want = tuple[bytes, int, int]  # author, after (the seq we hold), until (the seq they hold)
MAX_WANTS = 1000  # wants in one ranges request


def heads_digest(heads: Iterable[HeadEntry]) -> bytes:
    """SHA-256 over the (author, seq as u64 big-endian, head id) triples sorted by author:
    two nodes have equal digests exactly when they hold the same logs."""
    h = hashlib.sha256()
    for author, seq, head_id in sorted(heads):
        h.update(author + struct.pack(">Q", seq) + head_id)
    return h.digest()


class SyncRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /fed/v1/sync``: our heads digest."""

    digest: bytes


class SyncReply(msgspec.Struct, omit_defaults=True):
    """Equal digests end the round; otherwise the peer's heads."""

    equal: bool
    heads: list[HeadEntry] | None = None


class RangesRequest(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /fed/v1/ranges``: the envelopes of many authors' logs in one request, for each
    ``(author, after, until)`` those with ``after < seq <= until``, in that order."""

    wants: Annotated[list[Want], msgspec.Meta(max_length=MAX_WANTS)]


class RangesReply(msgspec.Struct):
    """The envelopes, want by want, in sequence order, up to the peer's size caps;
    ``served``: how many wants (from the first) are answered in full."""

    envelopes: list[bytes]
    served: int


class JoinRequest(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """``POST /fed/v1/join``: the fields of the charter a node asks its parent for, and the
    one-time join code the parent's officers gave it, if any (left out when empty, so a
    request without one is the bytes it always was)."""

    name: Name
    level: Level
    url: Url
    code: Annotated[str, msgspec.Meta(max_length=64, pattern=r"^[a-z2-7-]*\Z")] = ""


class JoinState(msgspec.Struct):
    """What the asking node is told about its join request."""

    id: int
    status: str
    charter: str | None = None
