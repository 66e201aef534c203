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

from .members import MemberIn
from .validation import describe

REQUIRED = ("name", "email")
OPTIONAL = ("role", "youth", "status", "joined", "consent_contact", "consent_publish_name")
BOOLEAN = frozenset({"youth", "consent_contact", "consent_publish_name"})
_TRUE = frozenset({"yes", "y", "true", "1"})
_FALSE = frozenset({"no", "n", "false", "0", ""})
MAX_ROWS = 100_000


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
    """Parse the whole file; collect every problem rather than stopping at the first."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return ParsedCsv([], [RowProblem(line, f"not UTF-8 (byte {exc.start + 1} of the file); save as UTF-8")])
    if not text.strip():
        return ParsedCsv([], [RowProblem(0, "the file is empty; expected a header row: name,email,...")])
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error as exc:
        return ParsedCsv([], [RowProblem(1, f"unreadable header: {exc}")])
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
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue  # blank lines are allowed
            if len(rows) + len(problems) >= MAX_ROWS:
                problems.append(RowProblem(line, f"more than {MAX_ROWS} rows; split the file"))
                break
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
                problems.append(
                    RowProblem(line, f"{member.email} already on line {first_line_of[member.email]}", "email")
                )
                continue
            first_line_of[member.email] = line
            rows.append((line, member))
    except csv.Error as exc:
        problems.append(RowProblem(reader.line_num, f"unreadable CSV: {exc}"))
    if not rows and not problems:
        problems.append(RowProblem(0, "the file has a header but no members"))
    return ParsedCsv(rows, problems)
