"""Ballot files in the `.blt` format (as OpenSTV, OpaVote and others read them).

The subset read here, line by line (blank lines and text after ``#`` are ignored):

1. ``C S``: the number of candidates and of seats;
2. optionally ``-a -b ...``: withdrawn candidates (numbered from 1); their names stay on the
   list, and rankings skip them;
3. ballot lines ``W c1 c2 ... 0``: a weight (how many identical ballots), the candidates
   numbered from 1 in order of preference, and a closing ``0``; an optional ballot id in
   parentheses first (``(b17) 1 2 3 0``) is allowed and ignored;
4. ``0``: the end of the ballots;
5. ``C`` candidate names, each in double quotes;
6. the election's title, in double quotes (optional).

Equal rankings (``=``) and skipped ranks (``-``) are refused, as is anything else not in
this list: every error names the line and what is wrong.
"""

from __future__ import annotations

import re

from .counting import Election

MAX_CANDIDATES = 1000
MAX_LINES = 5_000_000


class BltError(ValueError):
    """A ballot file that cannot be read, naming the line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"$')


def _content(lines: list[str]) -> list[tuple[int, str]]:
    out = []
    for number, raw in enumerate(lines, 1):
        text = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith('"') else raw.strip()
        if text:
            out.append((number, text))
    return out


def parse_blt(text: str, lot_seed: bytes = b"") -> Election:
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise BltError(MAX_LINES, f"more than {MAX_LINES:,} lines")
    content = _content(lines)
    if not content:
        raise BltError(1, "the file is empty: it starts with the number of candidates and of seats")
    at = 0
    number, head = content[at]
    parts = head.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise BltError(number, "the first line is the number of candidates and the number of seats")
    candidates, seats = int(parts[0]), int(parts[1])
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise BltError(number, f"1 to {MAX_CANDIDATES} candidates")
    at += 1
    withdrawn: set[int] = set()
    if at < len(content) and content[at][1].startswith("-"):
        number, line = content[at]
        for token in line.split():
            if not re.fullmatch(r"-\d+", token) or not 1 <= -int(token) <= candidates:
                raise BltError(number, f"{token!r} is not a withdrawn candidate (-1 to -{candidates})")
            withdrawn.add(-int(token) - 1)
        at += 1
    ballots: list[tuple[tuple[int, ...], int]] = []
    while True:
        if at >= len(content):
            raise BltError(len(lines) + 1, "the file ends before the 0 that closes the ballots (truncated?)")
        number, line = content[at]
        at += 1
        if line == "0":
            break
        tokens = line.split()
        if tokens and tokens[0].startswith("("):
            tokens = tokens[1:]
        if any(t in ("=", "-") or "=" in t for t in tokens):
            raise BltError(number, "equal or skipped rankings are not supported")
        if not tokens or not all(t.isdigit() for t in tokens):
            raise BltError(number, "a ballot is a weight, candidate numbers and a closing 0")
        if tokens[-1] != "0" or len(tokens) < 2:
            raise BltError(number, "a ballot ends with 0 (truncated?)")
        weight, ranking = int(tokens[0]), [int(t) for t in tokens[1:-1]]
        for c in ranking:
            if not 1 <= c <= candidates:
                raise BltError(number, f"candidate {c} does not exist (there are {candidates})")
        if len(set(ranking)) != len(ranking):
            repeated = next(c for c in ranking if ranking.count(c) > 1)
            raise BltError(number, f"candidate {repeated} is ranked twice")
        if weight > 10**9:
            raise BltError(number, "a ballot weight above 1,000,000,000")
        ballots.append((tuple(c - 1 for c in ranking), weight))
    names: list[str] = []
    while len(names) < candidates:
        if at >= len(content):
            raise BltError(len(lines) + 1, f"{candidates} candidate names are needed; the file has {len(names)}")
        number, line = content[at]
        at += 1
        match = _QUOTED.match(line)
        if match is None:
            raise BltError(number, f"candidate {len(names) + 1}'s name is missing (a name is in double quotes)")
        name = match.group(1).replace('\\"', '"').strip()
        if not name:
            raise BltError(number, f"candidate {len(names) + 1} has an empty name")
        if name in names:
            raise BltError(number, f"two candidates are called {name!r}")
        names.append(name)
    title = ""
    if at < len(content):
        number, line = content[at]
        match = _QUOTED.match(line)
        if match is None:
            raise BltError(number, "after the names comes only the title, in double quotes")
        title = match.group(1)
        at += 1
    if at < len(content):
        raise BltError(content[at][0], "more than the names and the title after the ballots")
    return Election(candidates=tuple(names), seats=seats, ballots=tuple(ballots), withdrawn=frozenset(withdrawn),
                    title=title, lot_seed=lot_seed)  # fmt: skip
