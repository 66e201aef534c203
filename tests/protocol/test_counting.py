"""Counting ranked ballots (protocol/counting.py, protocol/blt.py): worked examples kept as
ballot files with their expected winners and stages (tests/protocol/counts/: each file says
how it was worked out by hand, or where it was published), properties, and bad files."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from protocol.blt import BltError, parse_blt
from protocol.counting import (
    RON,
    UNIT,
    CountError,
    Election,
    balance,
    count,
    irv,
    meek_stv,
    ordered_list,
    schulze,
    scottish_stv,
)

COUNTS = Path(__file__).parent / "counts"
EXAMPLES = sorted(p.stem for p in COUNTS.glob("*.blt"))


@pytest.mark.parametrize("name", EXAMPLES)
def test_worked_example(name: str) -> None:
    expected: dict[str, Any] = json.loads((COUNTS / f"{name}.json").read_text())
    election = parse_blt((COUNTS / f"{name}.blt").read_text())
    if "seats" in expected:
        election = replace(election, seats=expected["seats"])
    report = count(expected["method"], election).as_json(election)
    assert report["winners"] == expected["winners"]
    assert report["reopen_nominations"] == expected.get("reopen_nominations", False)
    if "quota" in expected:
        assert report["quota"] == expected["quota"]
    rounds: list[dict[str, Any]] = report["rounds"]  # type: ignore[assignment]
    tolerance = expected.get("tolerance")  # values worked by hand to so many places (Meek's)
    if "rounds" in expected:
        assert len(rounds) == len(expected["rounds"])
        for got, want in zip(rounds, expected["rounds"], strict=True):
            for key, value in want.items():
                assert close(got[key], value, tolerance), (got["round"], key, got[key])


def close(got: Any, want: Any, tolerance: float | None) -> bool:
    if tolerance is None or isinstance(want, list):
        return bool(got == want)
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(close(got[k], want[k], tolerance) for k in want)
    if isinstance(want, str) and want[:1].isdigit():
        return abs(float(got) - float(want)) <= tolerance
    return bool(got == want)


def election(candidates: int, seats: int, ballots: list[tuple[tuple[int, ...], int]]) -> Election:
    return Election(tuple(f"C{i}" for i in range(candidates)), seats, tuple(ballots))


rankings = st.integers(2, 6).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.permutations(range(n)).flatmap(lambda p: st.integers(1, n).map(lambda k: tuple(p[:k]))),
                           st.integers(1, 5)), min_size=1, max_size=30),
    )
)  # fmt: skip


@given(rankings)
@settings(max_examples=200, deadline=None)
def test_stv_with_one_seat_elects_the_instant_runoff_winner(case: tuple[int, list[Any]]) -> None:
    n, ballots = case
    e = election(n, 1, ballots)
    assert scottish_stv(e).winners == irv(e).winners


@given(rankings, st.integers(1, 3), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_the_count_does_not_depend_on_the_order_of_the_ballots(case: tuple[int, list[Any]], seats: int,
                                                              rng: random.Random) -> None:  # fmt: skip
    n, ballots = case
    seats = min(seats, n)
    shuffled = list(ballots)
    rng.shuffle(shuffled)
    for method in ("stv", "schulze", "approval"):
        assert count(method, election(n, seats, ballots)).winners == count(method, election(n, seats, shuffled)).winners
    # Identical ballots written one by one count as one weighted line.
    spread = [(r, 1) for r, w in ballots for _ in range(w)]
    assert scottish_stv(election(n, seats, spread)).winners == scottish_stv(election(n, seats, ballots)).winners


@given(rankings, st.integers(1, 3))
@example((4, [((0, 1), 3)]), 3)  # a paper passed on by two surpluses loses at each
@settings(max_examples=150, deadline=None)
def test_stv_conserves_the_vote_up_to_the_documented_truncation(case: tuple[int, list[Any]], seats: int) -> None:
    n, ballots = case
    result = scottish_stv(election(n, min(seats, n), ballots))
    total = sum(w for _, w in ballots)
    lost = sum((s.loss for s in result.stages), start=0)
    for stage in result.stages:
        assert (
            sum(stage.votes.values())
            + stage.exhausted
            + sum((s.loss for s in result.stages if s.number <= stage.number), start=0)
            == total
        )
    # Each paper loses less than 0.00001 at each surplus transfer it is part of.
    surpluses = sum(1 for s in result.stages if s.action == "surplus")
    assert 0 <= lost * UNIT <= total * surpluses


@given(rankings)
@settings(max_examples=150, deadline=None)
def test_a_condorcet_winner_wins_schulze(case: tuple[int, list[Any]]) -> None:
    n, ballots = case
    e = election(n, 1, ballots)

    def prefers(a: int, b: int) -> int:
        total = 0
        for ranking, weight in ballots:
            ra = ranking.index(a) if a in ranking else len(ranking)
            rb = ranking.index(b) if b in ranking else len(ranking)
            total += weight if ra < rb else -weight if rb < ra else 0
        return total

    winners = [c for c in range(n) if all(prefers(c, o) > 0 for o in range(n) if o != c)]
    if winners:
        assert schulze(e).winners == winners


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('3 1\n1 1 4 0\n0\n"A"\n"B"\n"C"\n', 2, "candidate 4 does not exist"),
        ('3 1\n1 1 2 1 0\n0\n"A"\n"B"\n"C"\n', 2, "candidate 1 is ranked twice"),
        ('3 1\n1 1 2 0\n0\n"A"\n"B"\n', 6, "3 candidate names are needed"),
        ('3 1\n1 1 2 0\n0\n"A"\nB\n"C"\n', 5, "candidate 2's name is missing"),
        ("3 1\n1 1 2 0\n2 3 1", 3, "ends with 0"),
        ("3 1\n1 1 2 0\n", 3, "truncated"),
        ('3 1\n-4\n1 1 2 0\n0\n"A"\n"B"\n"C"\n', 2, "not a withdrawn candidate"),
        ('3 1\n1 1 = 2 0\n0\n"A"\n"B"\n"C"\n', 2, "equal or skipped"),
        ("three 1\n", 1, "number of candidates"),
        ("", 1, "empty"),
    ],
)
def test_bad_files_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(BltError) as caught:
        parse_blt(text)
    assert caught.value.line == line and words in str(caught.value), str(caught.value)


def test_withdrawn_candidates_are_skipped_in_rankings() -> None:
    e = parse_blt('3 1\n-1\n4 1 2 0\n3 3 0\n0\n"A"\n"B"\n"C"\n')
    assert e.withdrawn == {0}
    assert [e.candidates[w] for w in scottish_stv(e).winners] == ["B"]


def test_impossible_elections_are_refused() -> None:
    with pytest.raises(CountError, match="2 seats and only 1 candidates"):
        scottish_stv(election(1, 2, [((0,), 1)]))
    with pytest.raises(CountError, match="no valid ballot"):
        scottish_stv(election(2, 1, [((), 3)]))
    with pytest.raises(CountError, match="ranks a candidate twice"):
        scottish_stv(election(2, 1, [((0, 0), 1)]))
    with pytest.raises(CountError, match="one seat"):
        irv(election(3, 2, [((0,), 1)]))
    with pytest.raises(CountError, match="not a method"):
        count("borda", election(2, 1, [((0,), 1)]))


def test_an_ordered_list_comes_from_successive_counts() -> None:
    # 20 ballots: 9 Ann then Bob, 6 Bob then Ann, 3 Dee, 2 Cal then Dee. One seat (quota 11):
    # Cal, then Dee are excluded, and Ann (9) has more than Bob (6): Ann. Two seats (quota 7):
    # Ann, and Bob with Ann's surplus. Three (quota 6): Ann, Bob (6), then Dee (3) over Cal (2)
    # for the last vacancy. The list: Ann, Bob, Dee.
    e = parse_blt('4 3\n9 1 2 0\n6 2 1 0\n3 4 0\n2 3 4 0\n0\n"Ann"\n"Bob"\n"Cal"\n"Dee"\n')
    order, counts = ordered_list(e)
    assert [e.candidates[c] for c in order] == ["Ann", "Bob", "Dee"]
    assert [len(c.winners) for c in counts] == [1, 2, 3]
    assert order[0] == irv(replace(e, seats=1)).winners[0]


@given(rankings, st.integers(1, 3))
@settings(max_examples=100, deadline=None)
def test_a_list_is_led_by_the_one_seat_winner_and_names_each_candidate_once(case: tuple[int, list[Any]],
                                                                            length: int) -> None:  # fmt: skip
    n, ballots = case
    length = min(length, n)
    order, _ = ordered_list(election(n, length, ballots))
    assert len(set(order)) == len(order) == length and order[0] == irv(election(n, 1, ballots)).winners[0]


@given(rankings)
@settings(max_examples=150, deadline=None)
def test_meek_with_one_seat_elects_the_instant_runoff_winner(case: tuple[int, list[Any]]) -> None:
    # With one seat no candidate is elected before the last round, so no keep factor ever
    # falls below one: Meek is then instant runoff (ties by the same rules).
    n, ballots = case
    assert meek_stv(election(n, 1, ballots)).winners == irv(election(n, 1, ballots)).winners


@given(rankings, st.integers(1, 3), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_meek_does_not_depend_on_the_order_of_the_ballots(case: tuple[int, list[Any]], seats: int,
                                                          rng: random.Random) -> None:  # fmt: skip
    n, ballots = case
    if seats > n:
        return
    shuffled = list(ballots)
    rng.shuffle(shuffled)
    assert meek_stv(election(n, seats, ballots)).winners == meek_stv(election(n, seats, shuffled)).winners


@given(rankings, st.integers(1, 3))
@settings(max_examples=150, deadline=None)
def test_meek_conserves_the_vote(case: tuple[int, list[Any]], seats: int) -> None:
    # Each ballot's whole value goes to candidates or to the excess, exactly: keep shares
    # are rounded up and the last one takes at most what is left.
    n, ballots = case
    if seats > n:
        return
    total = sum(w for _, w in ballots)
    for stage in meek_stv(election(n, seats, ballots)).stages:
        assert sum(stage.votes.values()) + stage.exhausted == total


def test_balancing_alternates_declared_categories_keeping_each_ones_order() -> None:
    # Worked by hand: the count's order A B C D E, with A, B, D women and C, E men. Places:
    # A (first); then the best not a woman, C; then B; then E; then D, the only one left.
    categories = ["woman", "woman", "man", "woman", "man"]
    assert balance([0, 1, 2, 3, 4], categories, "alternate") == [0, 2, 1, 4, 3]
    assert balance([0, 1, 2, 3, 4], categories, "") == [0, 1, 2, 3, 4]
    with pytest.raises(CountError, match="balancing rule"):
        balance([0], ["x"], "quota")


@given(st.lists(st.sampled_from("ab"), min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_balancing_only_moves_candidates_between_categories(categories: list[str], rng: random.Random) -> None:
    order = list(range(len(categories)))
    rng.shuffle(order)
    out = balance(order, categories, "alternate")
    assert sorted(out) == sorted(order)
    for category in set(categories):
        assert [c for c in out if categories[c] == category] == [c for c in order if categories[c] == category]
    # never two of a category in a row while the other still has someone to place
    for i, (a, b) in enumerate(itertools.pairwise(out)):
        if categories[a] == categories[b]:
            assert all(categories[c] == categories[a] for c in out[i + 1 :])


def test_re_open_nominations_is_a_candidate_whose_seat_stays_empty() -> None:
    won = irv(Election(("Pat", RON), 1, (((1,), 3), ((0,), 2))))
    assert won.reopened(Election(("Pat", RON), 1, ()))
