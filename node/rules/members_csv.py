"""Parse a members CSV file into validated rows, or a list of every problem in it.

The file is UTF-8 (a byte-order mark is allowed), comma-separated, with a header row.
Columns: ``name`` and ``email`` are required; ``role``, ``youth``, ``status``, ``joined``
(YYYY-MM-DD), ``consent_contact`` and ``consent_publish_name`` are optional. Booleans
are ``yes/no``, ``true/false`` or ``1/0`` (empty means no). An empty optional cell takes
its default. Line numbers in problems are the file's own (the header is line 1).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import msgspec

from node.storage.members import Member, MemberIn
from node.validation import describe

REQUIRED = ("name", "email")
OPTIONAL = ("role", "youth", "status", "joined", "consent_contact", "consent_publish_name")
BOOLEAN = frozenset({"youth", "consent_contact", "consent_publish_name"})
_TRUE = frozenset({"yes", "y", "true", "1"})
_FALSE = frozenset({"no", "n", "false", "0", ""})
MAX_ROWS = 100_000
MAX_LINE_BYTES = 16 * 1024
MAX_FILE_BYTES = 64 * 1024 * 1024  # (the API's bodies are capped lower, by http.max_body_bytes)


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        return f"{where}: {self.message}" + (f" (column {self.field})" if self.field else "")


@dataclass(frozen=True)
class ParsedCsv:
    rows: list[tuple[int, MemberIn]]
    problems: list[RowProblem]
    data_rows: int = 0  # non-blank lines after the header: each is in ``rows`` or has a problem


def _cell_value(column: str, cell: str) -> Any:
    if column in BOOLEAN:
        lowered = cell.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(f"{cell!r} is not yes/no")
    return cell


def parse_members_csv(data: bytes) -> ParsedCsv:
    """Parse the whole file; collect every problem rather than stopping at the first.

    Each member is one line, read on its own: a stray quote, an overlong line or a byte that
    is not UTF-8 is reported on its own line and the next line is read as usual, so every row
    is either taken or reported with its line number. (No member field may hold a line
    break, so a quoted field spanning lines is a mistake, reported as such.)"""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines = data.split(b"\n")
    if lines and lines[-1] in (b"", b"\r"):
        lines.pop()
    if not any(line.strip() for line in lines):
        return ParsedCsv([], [RowProblem(0, "the file is empty; expected a header row: name,email,...")])
    header_cells, problem = _read_line(lines[0], 1)
    if problem is not None:
        return ParsedCsv([], [problem])
    header = [h.strip().lower() for h in header_cells]
    problems: list[RowProblem] = []
    if len(header) == 1 and (sep := next((c for c in ";\t|" if c in header[0]), None)):
        named = {";": "semicolons", "\t": "tabs", "|": "bars"}[sep]
        return ParsedCsv([], [RowProblem(1, f"cells are separated by {named}; save the file with commas")])
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    missing = [c for c in REQUIRED if c not in header]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if unknown:
        problems.append(RowProblem(1, f"unknown columns {unknown}; allowed: {list(REQUIRED + OPTIONAL)}"))
    if missing:
        problems.append(RowProblem(1, f"missing required columns {missing}"))
    if repeated:
        problems.append(RowProblem(1, f"repeated columns {repeated}"))
    if problems:
        return ParsedCsv([], problems)

    rows: list[tuple[int, MemberIn]] = []
    first_line_of: dict[str, int] = {}
    data_rows = 0
    for line, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue  # blank lines are allowed
        data_rows += 1
        if data_rows > MAX_ROWS:
            problems.append(RowProblem(line, f"more than {MAX_ROWS} rows; split the file (this line and the rest)"))
            break
        record, problem = _read_line(raw, line)
        if problem is not None:
            problems.append(problem)
            continue
        if len(record) != len(header):
            problems.append(RowProblem(line, f"has {len(record)} cells, the header has {len(header)}"))
            continue
        values: dict[str, Any] = {}
        bad = False
        for column, cell in zip(header, record, strict=True):
            cell = cell.strip()
            if column in OPTIONAL and cell == "" and column not in BOOLEAN:
                continue
            try:
                values[column] = _cell_value(column, cell)
            except ValueError as exc:
                problems.append(RowProblem(line, str(exc), column))
                bad = True
        if bad:
            continue
        try:
            member = msgspec.convert(values, MemberIn, str_keys=True)
        except msgspec.ValidationError as exc:
            message, field = describe(exc)
            problems.append(RowProblem(line, message, field))
            continue
        if member.email in first_line_of:
            problems.append(RowProblem(line, f"{member.email} already on line {first_line_of[member.email]}", "email"))
            continue
        first_line_of[member.email] = line
        rows.append((line, member))
    if not rows and not problems:
        problems.append(RowProblem(0, "the file has a header but no members"))
    return ParsedCsv(rows, problems, data_rows)


def _read_line(raw: bytes, line: int) -> tuple[list[str], RowProblem | None]:
    """One line's cells, or the problem with it."""
    raw = raw.removesuffix(b"\r")
    if len(raw) > MAX_LINE_BYTES:
        return [], RowProblem(line, f"the line is {len(raw)} bytes; a row is at most {MAX_LINE_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], RowProblem(line, f"not UTF-8 (byte {exc.start + 1} of the line); save the file as UTF-8")
    stray = _stray_quote(text)
    if stray is not None:
        return [], RowProblem(line, f'a stray " at character {stray + 1}: quote a whole cell, and double quotes in it')
    try:
        return next(csv.reader([text], strict=True), []), None
    except csv.Error as exc:
        return [], RowProblem(line, f"unreadable CSV: {exc} (a stray or unclosed quote?)")


def _stray_quote(text: str) -> int | None:
    """The position of a quote inside a cell that does not start with one (RFC 4180 allows
    quotes only around a whole cell); Python's csv module would keep it as text."""
    quoted = False
    cell_start = True
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == '"':
                if text[i + 1 : i + 2] == '"':
                    i += 1  # a doubled quote inside a quoted cell
                else:
                    quoted = False
        elif c == ",":
            cell_start = True
        elif c == '"':
            if not cell_start:
                return i
            quoted = True
            cell_start = False
        else:
            cell_start = False
        i += 1
    return None


COLUMNS = (*REQUIRED, *OPTIONAL)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A spreadsheet runs a cell that starts like a formula: quote it (OWASP "CSV injection").
    return "'" + text if text.startswith(_FORMULA_START) else text


def write_members_csv(members: list[Member]) -> bytes:
    """The members as a CSV file this module reads back (same columns, UTF-8 with a BOM so
    spreadsheets take it as UTF-8). Cells a spreadsheet would run as formulas start with '."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for m in members:
        writer.writerow([_cell(getattr(m, c)) for c in COLUMNS])
    return b"\xef\xbb\xbf" + out.getvalue().encode()
