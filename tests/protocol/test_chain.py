"""Chain rules and log checking."""

from __future__ import annotations

import hashlib

import pytest

from protocol import Code, Envelope, Head, ProtocolError, check_logs, check_next, verify_fork_proof
from tests.factories import T0, charter, genesis, key, next_envelope, profile

NOW = T0 + 10_000_000


@pytest.fixture(scope="module")
def gen() -> Envelope:
    return genesis()


def _log(gen: Envelope, n: int, label: str = "north") -> list[Envelope]:
    author = key(label)
    log: list[Envelope] = []
    for i in range(n):
        log.append(next_envelope(author, log[-1] if log else None, profile(f"North {i}"), gen.id))
    return log


def _fails(head: Head | None, env: Envelope, now: int = NOW) -> Code:
    with pytest.raises(ProtocolError) as info:
        check_next(head, env, now)
    return info.value.code


def test_valid_log_advances_head(gen: Envelope) -> None:
    log = _log(gen, 4)
    head = None
    for env in log:
        head = check_next(head, env, NOW)
    assert head == Head(log[-1].author, 4, log[-1].id, log[-1].payload.created, gen.id)


def test_first_envelope_must_be_seq_1(gen: Envelope) -> None:
    assert _fails(None, _log(gen, 2)[1]) == Code.BAD_CHAIN


def test_gap_and_replay_and_wrong_prev(gen: Envelope) -> None:
    log = _log(gen, 3)
    h1 = Head.of(log[0])
    assert _fails(h1, log[2]) == Code.BAD_CHAIN  # gap
    assert _fails(Head.of(log[1]), log[1]) == Code.BAD_CHAIN  # the same again is not "next"
    assert _fails(Head.of(log[1]), log[0]) == Code.BAD_CHAIN  # older
    other_two = next_envelope(key("north"), _log(gen, 1, "north")[0], profile("x"), gen.id)
    lie = Head(h1.author, 1, hashlib.sha256(b"something else").digest(), h1.created, gen.id)
    assert _fails(lie, other_two) == Code.BAD_CHAIN  # prev does not match


def test_same_seq_different_id_is_fork(gen: Envelope) -> None:
    a = _log(gen, 1)[0]
    b = next_envelope(key("north"), None, profile("North, again"), gen.id)
    assert _fails(Head.of(a), b) == Code.FORK


def test_future_timestamp(gen: Envelope) -> None:
    env = next_envelope(key("north"), None, profile(), gen.id, created=NOW + 5 * 60 * 1000 + 1)
    assert _fails(None, env) == Code.FUTURE_TIMESTAMP
    ok = next_envelope(key("north"), None, profile(), gen.id, created=NOW + 5 * 60 * 1000)
    assert check_next(None, ok, NOW).seq == 1


def test_time_goes_forward(gen: Envelope) -> None:
    first = next_envelope(key("north"), None, profile(), gen.id, created=T0 + 5000)
    second = next_envelope(key("north"), first, profile("b"), gen.id, created=T0 + 4999)
    assert _fails(Head.of(first), second) == Code.BAD_CHAIN
    same_ms = next_envelope(key("north"), first, profile("c"), gen.id, created=T0 + 5000)
    assert check_next(Head.of(first), same_ms, NOW).seq == 2


def test_other_federation_in_log(gen: Envelope) -> None:
    first = _log(gen, 1)[0]
    other = next_envelope(key("north"), first, profile(), hashlib.sha256(b"other").digest())
    assert _fails(Head.of(first), other) == Code.WRONG_FEDERATION


def test_check_logs_any_order_with_fork_and_junk(gen: Envelope) -> None:
    north = _log(gen, 3)
    south = _log(gen, 2, "south")
    national = next_envelope(key("national"), gen, charter(key("north")), gen.id)
    forked = next_envelope(key("south"), south[0], profile("South, the other story"), gen.id)
    items = [south[1].raw, national.raw, north[2].raw, b"junk", gen.raw, north[0].raw, forked.raw, north[1].raw]
    items += [north[1].raw, south[0].raw]  # a duplicate is harmless
    report = check_logs(items, NOW)
    # whichever side of the fork sorts first by id is kept; the other is the reported fork
    fork_index = 6 if forked.id > south[1].id else 0
    assert [(f.index, f.error.code) for f in report.failures] == sorted([(3, Code.MALFORMED), (fork_index, Code.FORK)])
    assert len(report.forks) == 1
    a, b = verify_fork_proof(report.forks[0])
    assert {a.id, b.id} == {south[1].id, forked.id}
    assert report.heads[key("north").public].seq == 3
    assert report.heads[key("national").public].seq == 2
    assert len(report.accepted) == 3 + 2 + 2


def test_check_logs_gap_fails_the_rest(gen: Envelope) -> None:
    log = _log(gen, 4)
    report = check_logs([log[0].raw, log[2].raw, log[3].raw], NOW)
    assert [f.error.code for f in report.failures] == [Code.BAD_CHAIN, Code.BAD_CHAIN]
    assert report.heads[log[0].author].seq == 1
