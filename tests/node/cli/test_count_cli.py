"""`branchnet count`: a ballot file counted from the command line; bad files named by line,
never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.node.cli.test_node_cli import branchnet

COUNTS = Path(__file__).resolve().parents[2] / "protocol" / "counts"


def test_count_prints_the_winners_and_every_stage() -> None:
    shown = branchnet("count", str(COUNTS / "stv_truncation.blt"))
    assert shown.returncode == 0, shown.stderr
    assert "quota 6" in shown.stdout and "surplus Amy (transfer value 0.33333)" in shown.stdout
    assert "lost to fractions 0.00003" in shown.stdout and shown.stdout.strip().endswith("winners, in order: Amy, Cat")
    as_json = branchnet("count", "--method", "irv", "--json", str(COUNTS / "irv_ties_exhausted.blt"))
    report = json.loads(as_json.stdout)
    assert report["winners"] == ["Cal"] and [r["excluded"] for r in report["rounds"]] == [["Dee"], ["Ben"], []]
    ranked = branchnet("count", "--method", "schulze", "--seats", "5", "--json", str(COUNTS / "schulze_wikipedia.blt"))
    assert json.loads(ranked.stdout)["winners"] == ["E", "A", "C", "B", "D"]
    listed = branchnet("count", "--ordered", "--json", str(COUNTS / "stv_truncation.blt"))
    assert json.loads(listed.stdout)["order"] == ["Amy", "Cat"], listed.stderr
    meek = branchnet("count", "--method", "meek", str(COUNTS / "meek_keep_factor.blt"))
    assert "keep factors, A 0.394039" in meek.stdout and meek.stdout.strip().endswith("winners, in order: A, C")
    ron = branchnet("count", "--method", "irv", str(COUNTS / "ron_single_office.blt"))
    assert "re-open nominations won a seat" in ron.stdout


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ('2 1\n1 1 3 0\n0\n"A"\n"B"\n', "line 2: candidate 3 does not exist"),
        ('2 1\n1 2 2 0\n0\n"A"\n"B"\n', "line 2: candidate 2 is ranked twice"),
        ('2 1\n1 1 0\n0\n"A"\n', "line 5: 2 candidate names are needed"),
        ("2 1\n1 1 0\n", "line 3: the file ends before the 0"),
        ('2 1\n-3\n1 1 0\n0\n"A"\n"B"\n', "line 2: '-3' is not a withdrawn candidate"),
    ],
)
def test_bad_files_are_named_by_line(tmp_path: Path, content: str, words: str) -> None:
    bad = tmp_path / "bad.blt"
    bad.write_text(content)
    result = branchnet("count", str(bad))
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_impossible_counts_say_why(tmp_path: Path) -> None:
    ok = tmp_path / "ok.blt"
    ok.write_text('2 1\n3 1 0\n0\n"A"\n"B"\n')
    result = branchnet("count", "--seats", "3", str(ok))
    assert result.returncode == 1 and "3 seats and only 2 candidates" in result.stderr
    missing = branchnet("count", str(tmp_path / "none.blt"))
    assert missing.returncode == 2 and "cannot read it" in missing.stderr


def test_the_shared_cases_print_what_the_docs_say() -> None:
    """Issue 21, items 7 and 8 (shared/cases): B elected before F on the earlier stage's votes,
    and a last seat decided by lot says so; another seed draws the lot anew."""
    tie = branchnet("count", str(COUNTS / "stv_tie_order_of_election.blt"))
    assert "elected: B, F" in tie.stdout and tie.stdout.strip().endswith("winners, in order: B, F, E"), tie.stdout
    lot = branchnet("count", str(COUNTS / "stv_unannounced_lot.blt"))
    assert "tie decided by lot" in lot.stdout and lot.stdout.strip().endswith("winners, in order: A, C")
    assert "rule 51" not in tie.stdout + lot.stdout
    # Another seed draws anew: with the byte 01, SHA-256 puts B before C (docs/elections.md, Lot).
    seeded = branchnet("count", "--lot-seed", "01", "--json", str(COUNTS / "stv_unannounced_lot.blt"))
    assert json.loads(seeded.stdout)["winners"] == ["A", "B"]
    bad = branchnet("count", "--lot-seed", "xyz", str(COUNTS / "stv_unannounced_lot.blt"))
    assert bad.returncode == 2 and "--lot-seed is hex" in bad.stderr
