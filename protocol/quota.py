"""Per-author quotas: how much one author may sign, judged along its own log.

The federation's genesis may set ``rules.quota`` (:class:`~protocol.models.Quota`);
without it, :data:`DEFAULT_QUOTA` holds. Each author has two buckets, one counting
envelopes and one counting bytes. Each holds one day's allowance, starts full at the
author's first envelope, and refills continuously with the ``created`` time of the author's
envelopes; an envelope takes one envelope and its size in bytes. An envelope that would
take more than its bucket holds is refused, ``over_quota``.

Because the buckets follow the log itself (sizes and ``created`` times, which are signed),
every node reaches the same verdict on the same log, in any order of arrival: an author
cannot fill every node's disk faster than the federation allows, and nobody is refused on
one node and accepted on another. (``created`` cannot run ahead: the chain rules refuse
times more than five minutes in the future; an author that backdates its envelopes only
spends its allowance sooner.)

Arithmetic is exact integers: levels are kept in units of 1/86,400,000 of an envelope (or
byte), so that one millisecond of a day refills exactly ``per_day`` units.
"""

from __future__ import annotations

from .errors import ChainFailure, Code
from .models import Quota

DAY_MS = 86_400_000
DEFAULT_QUOTA = Quota(envelopes_per_day=10_000, bytes_per_day=64 * 1024 * 1024)


def charge(quota: Quota, levels: tuple[int, int] | None, last_created: int, created: int, size: int) -> tuple[int, int]:
    """The buckets after an envelope of ``size`` bytes created at ``created`` (ms), given the
    levels after the previous envelope of the log (created at ``last_created``), or None for
    an author's first envelope. Raises ChainFailure ``over_quota`` when it does not fit."""
    full_n, full_b = quota.envelopes_per_day * DAY_MS, quota.bytes_per_day * DAY_MS
    if levels is None:
        n, b = full_n, full_b
    else:
        elapsed = max(0, created - last_created)
        n = min(full_n, levels[0] + quota.envelopes_per_day * elapsed)
        b = min(full_b, levels[1] + quota.bytes_per_day * elapsed)
    n -= DAY_MS
    b -= size * DAY_MS
    if n < 0:
        raise _over(f"{quota.envelopes_per_day} envelopes", n, quota.envelopes_per_day)
    if b < 0:
        raise _over(f"{quota.bytes_per_day} bytes", b, quota.bytes_per_day)
    return n, b


def _over(allowance: str, level: int, per_day: int) -> ChainFailure:
    wait_ms = (-level + per_day - 1) // per_day  # until the bucket holds this envelope
    return ChainFailure(
        Code.OVER_QUOTA,
        f"over the author's quota of {allowance} a day (room again {wait_ms // 1000 + 1} s after this one)",
        "payload.created",
    )
