"""Members CSV import: every bad row named with its line, nothing imported unless all good
(or --skip-bad, which says what it skipped); through the parser, the CLI and the API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from node.rules.members_csv import parse_members_csv
from tests.node.conftest import Live

GOOD = (
    "name,email,role,youth,status,joined,consent_contact\n"
    "Ann Lee,ann@example.org,secretary,no,active,2024-03-01,yes\n"
    "Bo Chan,BO@Example.org,,yes,,,\n"
    "\n"
    '"Smith, Jo",jo@example.org,member,0,lapsed,2020-01-31,0\n'
)


def problems(data: bytes) -> list[str]:
    return [str(p) for p in parse_members_csv(data).problems]


def test_good_file() -> None:
    parsed = parse_members_csv(GOOD.encode())
    assert parsed.problems == []
    assert [(line, m.name, m.email, m.role, m.youth, m.status) for line, m in parsed.rows] == [
        (2, "Ann Lee", "ann@example.org", "secretary", False, "active"),
        (3, "Bo Chan", "bo@example.org", "member", True, "active"),
        (5, "Smith, Jo", "jo@example.org", "member", False, "lapsed"),
    ]


def test_byte_order_mark_and_crlf_are_fine() -> None:
    parsed = parse_members_csv(b"\xef\xbb\xbfName,Email\r\nAnn,ann@example.org\r\n")
    assert parsed.problems == [] and parsed.rows[0][1].email == "ann@example.org"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", ["file: the file is empty; expected a header row: name,email,..."]),
        (b"  \n\n", ["file: the file is empty; expected a header row: name,email,..."]),
        (b"name,email\n", ["file: the file has a header but no members"]),
        (
            b"name,mail\nAnn,ann@example.org\n",
            ["line 1: unknown columns ['mail']", "line 1: missing required columns ['email']"],
        ),
        (b"name,email,email\nAnn,a@b.org,a@b.org\n", ["line 1: repeated columns ['email']"]),
        (
            b"name;email\nAnn;ann@example.org\n",
            ["line 1: cells are separated by semicolons; save the file with commas"],
        ),
    ],
    ids=["empty", "blank", "header-only", "wrong-columns", "repeated-column", "semicolons"],
)
def test_file_level_problems(data: bytes, expected: list[str]) -> None:
    found = problems(data)
    assert len(found) == len(expected)
    for got, want in zip(found, expected, strict=True):
        assert got.startswith(want), (got, want)


def test_every_bad_row_is_named_with_its_line() -> None:
    data = (
        b"name,email,role,youth,joined\n"
        b"Ann,ann@example.org,member,no,2024-01-01\n"  # 2 fine
        b"Bad Email,not-an-email,member,no,\n"  # 3
        b"Dup,ANN@example.org,,,\n"  # 4 duplicate of line 2
        b"Role,role@example.org,king,,\n"  # 5
        b"Youth,youth@example.org,,maybe,\n"  # 6
        b"Date,date@example.org,,,31/01/2024\n"  # 7
        b",blank@example.org,,,\n"  # 8
        b"Short,short@example.org\n"  # 9
    )
    found = problems(data)
    assert found == [
        "line 3: not a valid email address (column email)",
        "line 4: ann@example.org already on line 2 (column email)",
        "line 5: 'king' is not one of member, secretary, chair, treasurer, officer, admin (column role)",
        "line 6: 'maybe' is not yes/no (column youth)",
        "line 7: not a date (YYYY-MM-DD) (column joined)",
        "line 8: must not be empty (column name)",
        "line 9: has 2 cells, the header has 5",
    ]


def test_wrong_encoding_names_the_line_and_keeps_the_others() -> None:
    latin1 = "name,email\nAnn,ann@example.org\nJosé,jose@example.org\nBo,bo@example.org\n".encode("latin-1")
    parsed = parse_members_csv(latin1)
    assert [str(p) for p in parsed.problems] == ["line 3: not UTF-8 (byte 4 of the line); save the file as UTF-8"]
    assert [line for line, _ in parsed.rows] == [2, 4]


def test_a_row_spanning_lines_is_reported_line_by_line() -> None:
    # No member field holds a line break: each line is read on its own and reported.
    data = b'name,email\n"Ann\nLee",ann@example.org\nBad,bad\n'
    assert problems(data) == [
        "line 2: unreadable CSV: unexpected end of data (a stray or unclosed quote?)",
        'line 3: a stray " at character 4: quote a whole cell, and double quotes in it',
        "line 4: not a valid email address (column email)",
    ]


def test_every_row_is_imported_or_reported_with_its_line() -> None:
    """The report's three files: a stray quote on row 11 of 200, a 10 MB line, one byte
    that is not UTF-8. Each bad line is reported alone; every other row is taken."""
    rows = [f"Person {i},p{i}@example.org".encode() for i in range(200)]
    stray = rows.copy()
    stray[10] = b'"Person 10,p10@example.org'
    huge = rows.copy()
    huge[50] = b"Big," + b"x" * 10_000_000 + b"@example.org"
    latin = rows.copy()
    latin[120] = "Zoë,zoe@example.org".encode("latin-1")
    for data, bad_line in ((stray, 12), (huge, 52), (latin, 122)):
        parsed = parse_members_csv(b"name,email\n" + b"\n".join(data) + b"\n")
        assert [p.line for p in parsed.problems] == [bad_line]
        assert len(parsed.rows) == 199 and parsed.data_rows == 200
        assert {line for line, _ in parsed.rows} | {bad_line} == set(range(2, 202))


# --- the CLI: all or nothing, or --skip-bad ----------------------------------------------
def branchnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=60)


def member_emails(directory: Path) -> list[str]:
    result = branchnet("member", "list", "--dir", str(directory), "--json")
    assert result.returncode == 0, result.stderr
    import json

    return sorted(m["email"] for m in json.loads(result.stdout))


def test_cli_import_is_all_or_nothing(node_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,email\nAnn,ann@example.org\nBob,bob-at-example\n")
    result = branchnet("member", "import", "--dir", str(node_dir), str(bad))
    assert result.returncode == 1
    assert f"{bad}: line 3: not a valid email address (column email)" in result.stdout
    assert "nothing imported" in result.stdout and "Traceback" not in result.stderr
    assert member_emails(node_dir) == []

    result = branchnet("member", "import", "--dir", str(node_dir), str(bad), "--skip-bad")
    assert result.returncode == 0, result.stderr
    assert "imported 1 of 2 rows; skipped 1 (listed above)" in result.stdout
    assert member_emails(node_dir) == ["ann@example.org"]

    # A row clashing with a stored member stops a strict import, naming the line...
    again = tmp_path / "again.csv"
    again.write_text("name,email\nCy,cy@example.org\nAnn Again,ann@example.org\n")
    result = branchnet("member", "import", "--dir", str(node_dir), str(again))
    assert result.returncode == 1 and "line 3: ann@example.org is already a member" in result.stderr
    assert member_emails(node_dir) == ["ann@example.org"]
    # ...and is listed as skipped with --skip-bad.
    result = branchnet("member", "import", "--dir", str(node_dir), str(again), "--skip-bad")
    assert result.returncode == 0 and "line 3: ann@example.org is already a member" in result.stdout
    assert member_emails(node_dir) == ["ann@example.org", "cy@example.org"]


def test_cli_import_missing_file(node_dir: Path) -> None:
    result = branchnet("member", "import", "--dir", str(node_dir), "/nonexistent/members.csv")
    assert result.returncode != 0 and "cannot read /nonexistent/members.csv" in result.stderr
    assert "Traceback" not in result.stderr


# --- the API ------------------------------------------------------------------------------
async def test_api_import(live: Live) -> None:
    officer = await live.member("secretary")
    headers = {**officer.headers, "Content-Type": "text/csv"}
    data = b"name,email\nAnn,ann@example.org\nBob,bob-at-example\n"
    async with live.http.post("/api/v1/members/import", data=data, headers=headers) as response:
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["code"] == "bad_csv" and "line 3: not a valid email address" in error["message"]
    assert await live.node.members.count() == 1
    async with live.http.post("/api/v1/members/import?skip_bad=1", data=data, headers=headers) as response:
        assert response.status == 200
        assert await response.json() == {
            "imported": 1,
            "skipped": ["line 3: not a valid email address (column email)"],
        }
    assert await live.node.members.count() == 2


def test_cli_and_api_skip_only_the_bad_line(node_dir: Path, tmp_path: Path) -> None:
    rows = [f"Person {i},p{i}@example.org".encode() for i in range(200)]
    rows[10] = b'"Person 10,p10@example.org'
    path = tmp_path / "stray.csv"
    path.write_bytes(b"name,email\n" + b"\n".join(rows) + b"\n")
    result = branchnet("member", "import", "--dir", str(node_dir), str(path), "--skip-bad")
    assert result.returncode == 0, result.stderr
    assert f"{path}: line 12: unreadable CSV" in result.stdout
    assert "imported 199 of 200 rows; skipped 1 (listed above)" in result.stdout
    assert len(member_emails(node_dir)) == 199


async def test_api_skip_bad_keeps_every_good_row(live: Live) -> None:
    officer = await live.member("secretary")
    rows = [f"Person {i},p{i}@example.org".encode() for i in range(200)]
    rows[120] = "Zoë,zoe@example.org".encode("latin-1")
    data = b"name,email\n" + b"\n".join(rows)
    headers = {**officer.headers, "Content-Type": "text/csv"}
    async with live.http.post("/api/v1/members/import?skip_bad=1", data=data, headers=headers) as response:
        answer = await response.json()
    assert answer == {"imported": 199, "skipped": ["line 122: not UTF-8 (byte 3 of the line); save the file as UTF-8"]}
    assert await live.node.members.count() == 200  # the officer and 199 imported
