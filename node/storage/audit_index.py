"""The audit's index on disk: a :class:`protocol.audit_index.Index` for exports of any size.

``branchnet audit`` opens every envelope once (in worker processes) and keeps here only its
:class:`~protocol.audit_index.Fact`: a row in a throw-away SQLite database in a temporary
folder. An envelope's bytes stay in its source file, read again (``pread``) at the offset the
row records when a check needs its body. So memory stays bounded whatever the size of the
set: SQLite sorts and looks up on disk, within its page cache.

Nothing here is durable (no journal, no fsync): the file is deleted with its folder when the
audit ends, and a crash loses nothing but the audit's own work.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from itertools import pairwise
from pathlib import Path

from protocol import Envelope
from protocol.audit_index import Fact
from protocol.envelope import reopen

CACHE_KIB = 32 * 1024  # SQLite's page cache in the process that builds the index (its sorts)
READER_CACHE_KIB = 8 * 1024  # in each worker that reads it
_FACT = "id, author, seq, prev, created, federation, kind, size, ref, pos"
_GOOD = "NOT EXISTS (SELECT 1 FROM rejected r WHERE r.id = env.id)"


class DiskIndex:
    """Facts in SQLite, bytes in the source files (see the module's text). Load with
    :meth:`add` for each source's facts, then :meth:`seal` once before any question."""

    def __init__(self, folder: Path, sources: list[Path], *, reader: bool = False) -> None:
        """A new index in ``folder``; ``reader``: the one already there, to read only (from
        another process, once it is sealed)."""
        path = folder / "audit-index.sqlite"
        self.folder, self.sources = folder, sources
        if reader:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        else:
            self._db = sqlite3.connect(path, isolation_level=None)
        cache = READER_CACHE_KIB if reader else CACHE_KIB
        for pragma in ("journal_mode = OFF", "synchronous = OFF", f"cache_size = -{cache}", "temp_store = FILE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._files = [os.open(source, os.O_RDONLY) for source in sources]
        self._rejecting: list[bytes] = []
        self._kinds: Counter[str] = Counter()
        self._held = 0
        if not reader:
            self._db.execute(
                "CREATE TABLE env (id BLOB, author BLOB, seq INTEGER, prev BLOB, created INTEGER, federation BLOB, "
                "kind TEXT, size INTEGER, ref BLOB, pos INTEGER, src INTEGER)"
            )
            self._db.execute("CREATE TABLE rejected (id BLOB PRIMARY KEY) WITHOUT ROWID")
            self._db.execute("BEGIN")

    def close(self) -> None:
        self._db.close()
        for fd in self._files:
            os.close(fd)

    def add(self, source: int, facts: Iterable[tuple[object, ...]]) -> None:
        """Rows as :class:`~protocol.audit_index.Fact` orders them, all from source ``source``."""
        self._db.executemany(f"INSERT INTO env VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {int(source)})", facts)

    def seal(self) -> None:
        """Every fact is in: index them for the questions."""
        self._db.execute("COMMIT")
        self._db.execute("CREATE INDEX env_log ON env (author, seq, id)")
        self._db.execute("CREATE INDEX env_id ON env (id)")
        self._db.execute("CREATE INDEX env_kind ON env (kind, author, seq)")
        self._db.execute("CREATE INDEX env_ref ON env (ref, kind) WHERE ref IS NOT NULL")
        self._db.execute("ANALYZE")

    def _read(self, src: int, pos: int, size: int) -> bytes:
        return os.pread(self._files[src], size, pos)

    def links(self, authors: tuple[bytes, bytes] | None = None) -> Iterator[Fact]:
        last = None
        low, high = authors or (b"", b"\xff" * 33)
        rows = self._db.execute(f"SELECT {_FACT} FROM env WHERE author >= ? AND author < ? ORDER BY author, seq, id",
                                (low, high))  # fmt: skip
        for row in rows:
            fact = Fact._make(row)
            if fact.id != last:
                self._kinds[fact.kind] += 1
                self._held += 1
                last = fact.id
            yield fact

    def raw(self, id: bytes) -> bytes:
        row = self._db.execute("SELECT src, pos, size FROM env WHERE id = ? LIMIT 1", (id,)).fetchone()
        if row is None:
            raise KeyError(id)
        return self._read(*row)

    def reject(self, id: bytes) -> None:
        self._rejecting.append(id)
        row = self._db.execute("SELECT kind FROM env WHERE id = ? LIMIT 1", (id,)).fetchone()
        self._kinds[row[0]] -= 1

    def settle(self) -> None:
        self._db.executemany("INSERT OR IGNORE INTO rejected VALUES (?)", ((i,) for i in self._rejecting))
        self._rejecting.clear()

    def walked(self) -> tuple[list[bytes], Counter[str], int]:
        """What a walk over this index found: the envelopes it rejected, the kinds and the
        number of the different envelopes it passed (to hand to :meth:`take`)."""
        return list(self._rejecting), self._kinds, self._held

    def take(self, walked: tuple[list[bytes], Counter[str], int]) -> None:
        """What a walk over a share of the authors found, in another process."""
        rejected, kinds, held = walked
        self._rejecting += rejected
        self._kinds.update(kinds)
        self._held += held

    def shares(self, count: int) -> list[tuple[bytes, bytes]]:
        """The authors cut into ``count`` ranges (low, high) of about as many envelopes each."""
        sizes = self._db.execute("SELECT author, COUNT(*) FROM env GROUP BY author ORDER BY author").fetchall()
        total = sum(n for _, n in sizes)
        cuts, running = [b""], 0
        for author, n in sizes:
            if running >= total * len(cuts) / count and len(cuts) < count:
                cuts.append(author)
            running += n
        cuts.append(b"\xff" * 33)
        return list(pairwise(cuts))

    def envelopes(self, ids: list[bytes]) -> dict[bytes, Envelope]:
        """The accepted envelopes among ``ids``, reopened, in one question."""
        out: dict[bytes, Envelope] = {}
        for at in range(0, len(ids), 500):
            batch = ids[at : at + 500]
            rows = self._db.execute(f"SELECT id, src, pos, size FROM env WHERE id IN ({', '.join('?' * len(batch))}) "
                                    f"AND {_GOOD}", batch)  # fmt: skip
            for id, src, pos, size in rows:
                if id not in out:
                    out[id] = reopen(self._read(src, pos, size), id)
        return out

    def envelope(self, id: bytes) -> Envelope | None:
        row = self._db.execute(f"SELECT src, pos, size FROM env WHERE id = ? AND {_GOOD} LIMIT 1", (id,)).fetchone()
        return None if row is None else reopen(self._read(*row), id)

    def accepted(self, kinds: tuple[str, ...], *, ref: bytes | None = None, author: bytes | None = None,
                 newest: int | None = None) -> Iterator[Envelope]:  # fmt: skip
        where, args = [f"kind IN ({', '.join('?' * len(kinds))})", _GOOD], list[object](kinds)
        if ref is not None:
            where.append("ref = ?")
            args.append(ref)
        if author is not None:
            where.append("author = ?")
            args.append(author)
        order = "author, seq, id"
        if newest is not None:  # a copy per source at most: enough rows for ``newest`` different ones
            order = f"author DESC, seq DESC, id LIMIT {int(newest) * max(1, len(self._files))}"
        rows = self._db.execute(f"SELECT id, src, pos, size FROM env WHERE {' AND '.join(where)} ORDER BY {order}",
                                args)  # fmt: skip
        return self._opened(rows, newest)

    def _opened(self, rows: Iterable[tuple[bytes, int, int, int]], limit: int | None) -> Iterator[Envelope]:
        last, given = None, 0
        for id, src, pos, size in rows:
            if id != last and (limit is None or given < limit):
                last, given = id, given + 1
                yield reopen(self._read(src, pos, size), id)

    def facts(self, author: bytes, above: int = 0) -> Iterator[Fact]:
        rows = self._db.execute(f"SELECT {_FACT} FROM env WHERE author = ? AND seq > ? AND {_GOOD} "
                                "ORDER BY author, seq, id", (author, above))  # fmt: skip
        return _distinct(map(Fact._make, rows))

    def authors(self, kind: str | None = None) -> list[bytes]:
        if kind is None:
            rows = self._db.execute(f"SELECT DISTINCT author FROM env WHERE {_GOOD} ORDER BY author")
        else:
            rows = self._db.execute(f"SELECT DISTINCT author FROM env WHERE kind = ? AND {_GOOD} ORDER BY author",
                                    (kind,))  # fmt: skip
        return [a for (a,) in rows]

    def foreign(self, federation: bytes) -> Iterator[Fact]:
        rows = self._db.execute(f"SELECT {_FACT} FROM env WHERE federation IS NOT NULL AND federation != ? AND "
                                f"{_GOOD} ORDER BY author, seq, id", (federation,))  # fmt: skip
        return _distinct(map(Fact._make, rows))

    def kinds(self) -> Counter[str]:
        return +self._kinds  # known once the walk passed every link

    def held(self) -> int:
        return self._held

    def tops(self) -> dict[int, dict[bytes, int]]:
        out: dict[int, dict[bytes, int]] = {}
        for src, author, top in self._db.execute(f"SELECT src, author, MAX(seq) FROM env WHERE {_GOOD} "
                                                 "GROUP BY src, author"):  # fmt: skip
            out.setdefault(src, {})[author] = top
        return out


def _distinct(facts: Iterator[Fact]) -> Iterator[Fact]:
    last = None
    for fact in facts:
        if fact.id != last:
            last = fact.id
            yield fact
