"""The house rules that a reader of docs/architecture.md relies on, checked on the source.

* SQL lives only in ``node/storage/``: no other module runs a query or holds SQL text.
* (The import layers are checked by import-linter in ``make lint``; see pyproject.toml.)
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

NODE = Path(__file__).resolve().parents[2] / "node"
# Statements as this code writes them (upper-case keywords), not English words in help text.
SQL = re.compile(
    r"\b(SELECT\b.*\bFROM\b|SELECT \d|INSERT (OR \w+ )?INTO\b|UPDATE \w+ SET\b|DELETE FROM\b|CREATE (TABLE|INDEX)\b"
    r"|ALTER TABLE\b|DROP (TABLE|INDEX)\b|PRAGMA \w+|BEGIN IMMEDIATE\b|WITH \w+\(.*\bAS\b)",
    re.S,
)
QUERY_CALLS = {"execute", "executemany", "executescript", "fetchall", "fetchone", "execute_fetchall"}


def offences(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text())
    docstrings = {
        id(body[0].value)
        for holder in ast.walk(tree)
        if isinstance(holder, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and (body := holder.body)
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
    }  # prose about SQL is fine
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
            found.append(f"{path.relative_to(NODE.parent)}:{node.lineno}: SQL text {node.value[:40]!r}")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in QUERY_CALLS:
            found.append(f"{path.relative_to(NODE.parent)}:{node.lineno}: calls .{node.func.attr}()")
    return found


def test_no_sql_outside_storage() -> None:
    outside = [p for p in NODE.rglob("*.py") if "storage" not in p.relative_to(NODE).parts]
    assert len(outside) > 20
    problems = [o for p in outside for o in offences(p)]
    assert problems == [], "\n".join(problems)


def test_the_check_finds_sql(tmp_path: Path) -> None:
    """The scan itself: it sees a query, a call and a statement in a string."""
    sample = tmp_path / "sample.py"
    sample.write_text('async def f(db):\n    """SELECT x FROM t, in prose."""\n    await db.fetchall("SELECT 1")\n'
                      '    x = "DELETE FROM t"\n    y = "delete this"\n')
    global NODE
    saved, NODE = NODE, tmp_path  # relative paths are taken from NODE's parent
    try:
        assert len(offences(sample)) == 3
    finally:
        NODE = saved
