"""Per-author quotas along a log: exact integer buckets, the same verdict in any order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol import ChainFailure, Code, Quota, check_next
from protocol.quota import DAY_MS, DEFAULT_QUOTA, charge
from tests.factories import T0, genesis, key, next_envelope, profile

Q = Quota(envelopes_per_day=4, bytes_per_day=200_000)


def test_a_full_bucket_then_refusal_then_exact_refill() -> None:
    levels = None
    for _ in range(4):  # a day's allowance at once
        levels = charge(Q, levels, T0, T0, 100)
    with pytest.raises(ChainFailure) as refused:
        charge(Q, levels, T0, T0, 100)
    assert refused.value.code == Code.OVER_QUOTA and "4 envelopes" in refused.value.message
    # one envelope refills in a quarter of a day, to the millisecond
    with pytest.raises(ChainFailure):
        charge(Q, levels, T0, T0 + DAY_MS // 4 - 1, 100)
    # (the bytes bucket, capped at a full day, was already full again)
    assert charge(Q, levels, T0, T0 + DAY_MS // 4, 100) == (0, (200_000 - 100) * DAY_MS)


def test_bytes_are_counted_too() -> None:
    levels = charge(Q, None, T0, T0, 150_000)
    with pytest.raises(ChainFailure) as refused:
        charge(Q, levels, T0, T0 + 1000, 60_000)
    assert "200000 bytes" in refused.value.message


def test_the_bucket_never_holds_more_than_a_day() -> None:
    levels = charge(Q, None, T0, T0, 1)
    later = charge(Q, levels, T0, T0 + 365 * DAY_MS, 1)  # a year of silence: still one day's allowance
    assert later[0] == 3 * DAY_MS


def test_check_next_applies_the_quota_along_the_log() -> None:
    author = key("quota author")
    gen = genesis(key("national"))
    head = None
    envelopes = []
    for i in range(6):
        envelopes.append(next_envelope(author, envelopes[-1] if envelopes else None, profile(f"p{i}"), gen.id, T0))
    for envelope in envelopes[:4]:
        head = check_next(head, envelope, T0, quota=Q)
    with pytest.raises(ChainFailure) as refused:
        check_next(head, envelopes[4], T0, quota=Q)
    assert refused.value.code == Code.OVER_QUOTA
    assert DEFAULT_QUOTA.envelopes_per_day == 10_000 and DEFAULT_QUOTA.bytes_per_day == 64 * 1024 * 1024


@given(st.lists(st.tuples(st.integers(0, DAY_MS), st.integers(1, 150_000)), max_size=40))
def test_accepted_logs_never_exceed_the_allowance(steps: list[tuple[int, int]]) -> None:
    """Whatever the times and sizes, what a log is allowed over any stretch never exceeds a
    day's allowance plus what the stretch refills: the bound that protects every node's disk."""
    levels, last, t = None, T0, T0
    accepted: list[tuple[int, int]] = []
    for gap, size in steps:
        t += gap
        try:
            levels = charge(Q, levels, last, t, size)
        except ChainFailure:
            continue
        last = t
        accepted.append((t, size))
    for i in range(len(accepted)):
        for j in range(i, len(accepted)):
            span = accepted[j][0] - accepted[i][0]
            count = j - i + 1
            size = sum(s for _, s in accepted[i : j + 1])
            assert count * DAY_MS <= Q.envelopes_per_day * (DAY_MS + span)
            assert size * DAY_MS <= Q.bytes_per_day * (DAY_MS + span)
