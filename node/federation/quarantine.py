"""The quarantine's bounds, kept in memory beside its table.

Quarantined envelopes are signed and well formed but cannot be judged yet: their author is
not chartered here (yet), or their predecessors are missing. Anyone who can push can send
envelopes of keys nobody chartered, so the quarantine is bounded:

* in count and in bytes (``federation.quarantine_max``, ``quarantine_max_bytes``);
* envelopes of **unknown authors** may take only a share of it
  (``quarantine_unknown_percent``): the rest is kept for chartered authors whose envelopes
  arrive out of order, so a flood of strangers never makes a legitimate envelope wait
  outside;
* entries expire (``quarantine_hours``): a charter that never comes is not waited for
  forever;
* the table is the store: in memory there are only the ids (for deduplication) and a cache
  of already-verified envelopes bounded in bytes; an envelope missing from the cache is
  verified again when it is taken up.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from protocol import Envelope

CACHE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class QuarantineLimits:
    max_count: int = 10_000
    max_bytes: int = 256 * 1024 * 1024
    unknown_percent: int = 50
    ttl_s: int = 7 * 86400


@dataclass
class QuarantineBook:
    """Counts and bytes of the quarantine table, and what may still go in."""

    limits: QuarantineLimits = field(default_factory=QuarantineLimits)
    ids: dict[bytes, tuple[int, bool]] = field(default_factory=dict)  # id -> (size, unknown author)
    total_bytes: int = 0
    unknown_count: int = 0
    unknown_bytes: int = 0
    cache: OrderedDict[bytes, Envelope] = field(default_factory=OrderedDict)
    cache_bytes: int = 0

    def __len__(self) -> int:
        return len(self.ids)

    def __contains__(self, envelope_id: object) -> bool:
        return envelope_id in self.ids

    def clear(self) -> None:
        self.ids.clear()
        self.total_bytes = self.unknown_count = self.unknown_bytes = 0
        self.cache.clear()
        self.cache_bytes = 0

    def refusal(self, size: int, unknown: bool) -> str | None:
        """Why an envelope of ``size`` bytes (of an ``unknown`` author) may not go in (None: it may)."""
        limits = self.limits
        if len(self.ids) >= limits.max_count or self.total_bytes + size > limits.max_bytes:
            return "the quarantine here is full; send it again later"
        if unknown:
            share = limits.unknown_percent / 100
            if self.unknown_count >= limits.max_count * share or self.unknown_bytes + size > limits.max_bytes * share:
                return "the room for envelopes of unknown authors is full here; send it again later"
        return None

    def add(self, envelope_id: bytes, size: int, unknown: bool, envelope: Envelope | None = None) -> None:
        if envelope_id in self.ids:
            return
        self.ids[envelope_id] = (size, unknown)
        self.total_bytes += size
        if unknown:
            self.unknown_count += 1
            self.unknown_bytes += size
        if envelope is not None:
            self.cache[envelope_id] = envelope
            self.cache_bytes += size
            while self.cache_bytes > min(CACHE_BYTES, self.limits.max_bytes) and self.cache:
                _, old = self.cache.popitem(last=False)
                self.cache_bytes -= len(old.raw)

    def remove(self, envelope_id: bytes) -> None:
        found = self.ids.pop(envelope_id, None)
        if found is None:
            return
        size, unknown = found
        self.total_bytes -= size
        if unknown:
            self.unknown_count -= 1
            self.unknown_bytes -= size
        cached = self.cache.pop(envelope_id, None)
        if cached is not None:
            self.cache_bytes -= len(cached.raw)

    def verified(self, envelope_id: bytes) -> Envelope | None:
        return self.cache.get(envelope_id)
