"""What an audit holds of the envelopes it read, and the questions its checks ask of them.

An audit of a million envelopes cannot keep them all opened in memory. It keeps, for each
envelope, a :class:`Fact` (its place in its author's log, its kind, the one object it points
at, and where its bytes are) and reopens an envelope only when a check needs its body. The
checks (:mod:`protocol.audit`) ask an :class:`Index` for what they need; two answer the same
questions the same way: :class:`MemoryIndex` here (everything in memory, for tests and small
sets), and the node's index on disk (``node/storage/audit_index.py``) for exports of any size.

Every answer is over the envelopes the chain walk accepted (:meth:`Index.reject` takes the
rest out), each envelope once however many sources held it, in author and sequence order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import NamedTuple, Protocol

from .chain import Link
from .models import (
    Aggregate,
    BallotPaper,
    Body,
    Decision,
    Delegates,
    Envelope,
    Mandate,
    Nomination,
    SelectionResult,
)
from .parts import places


class Fact(NamedTuple):
    """One envelope as an audit keeps it: opened and its signature checked once, then kept as
    these few fields; ``where`` is the position of its bytes in its source."""

    id: bytes
    author: bytes
    seq: int
    prev: bytes | None
    created: int
    federation: bytes | None
    kind: str
    size: int
    ref: bytes | None  # the object it is looked up by: see :func:`ref_of`
    where: int


def ref_of(body: Body) -> bytes | None:
    """The one object the checks look an envelope up by: a mandate's or aggregate's agenda
    item, a delegates record's parent body, the selection of a ballot paper, a nomination, a
    result or a branch's decision for a selection."""
    if isinstance(body, Mandate | Aggregate):
        return body.item
    if isinstance(body, Delegates):
        return body.to
    if isinstance(body, BallotPaper | Nomination | SelectionResult | Decision):
        return body.selection
    return None


def fact_of(envelope: Envelope, where: int = 0) -> Fact:
    p = envelope.payload
    return Fact(envelope.id, p.author, p.seq, p.prev, p.created, p.federation, envelope.kind, len(envelope.raw),
                ref_of(p.body), where)  # fmt: skip


def link_of(fact: Fact) -> Link:
    return Link(fact.author, fact.seq, fact.id, fact.prev, fact.created, fact.federation, fact.size)


class Index(Protocol):
    """The questions the audit's checks ask (see the module's text)."""

    def links(self, authors: tuple[bytes, bytes] | None = None) -> Iterator[Fact]:
        """Every envelope held, accepted or not yet judged, in (author, seq, id) order; the
        same envelope from several sources may come more than once, one after the other.
        ``authors`` (low, high): only authors from low up to, not including, high."""
        ...

    def raw(self, id: bytes) -> bytes:
        """The bytes of an envelope held (accepted or not)."""
        ...

    def reject(self, id: bytes) -> None:
        """Take an envelope out of every answer once the index settles (its log does not hold it)."""
        ...

    def settle(self) -> None:
        """Every rejection made: from now on the answers leave them out."""
        ...

    def envelope(self, id: bytes) -> Envelope | None:
        """An accepted envelope, reopened; None when the set does not hold it."""
        ...

    def envelopes(self, ids: list[bytes]) -> dict[bytes, Envelope]:
        """The accepted envelopes among ``ids``, reopened, in one question."""
        ...

    def accepted(self, kinds: tuple[str, ...], *, ref: bytes | None = None, author: bytes | None = None,
                 newest: int | None = None) -> Iterator[Envelope]:  # fmt: skip
        """The accepted envelopes of ``kinds`` (by ``ref``, by ``author``), reopened, in author
        and sequence order; with ``newest``, only an author's last so many, newest first."""
        ...

    def facts(self, author: bytes, above: int = 0) -> Iterator[Fact]:
        """An author's accepted envelopes after sequence ``above``, in order."""
        ...

    def authors(self, kind: str | None = None) -> list[bytes]:
        """Every author with an accepted envelope (of ``kind``), in order."""
        ...

    def foreign(self, federation: bytes) -> Iterator[Fact]:
        """Accepted envelopes that name another federation than ``federation``."""
        ...

    def kinds(self) -> Counter[str]:
        """How many accepted envelopes of each kind."""
        ...

    def held(self) -> int:
        """How many different envelopes were read and opened, accepted or not."""
        ...

    def tops(self) -> dict[int, dict[bytes, int]]:
        """For each source (by number), its highest accepted sequence of each author."""
        ...


class MemoryIndex:
    """An :class:`Index` holding every envelope opened in memory: for tests and small sets."""

    def __init__(self) -> None:
        self._held: dict[bytes, Envelope] = {}
        self._sources: dict[bytes, set[int]] = {}
        self._rejected: set[bytes] = set()
        self._rejecting: list[bytes] = []
        self._ordered: list[Envelope] | None = None

    def add(self, source: int, envelope: Envelope) -> None:
        self._held.setdefault(envelope.id, envelope)
        self._sources.setdefault(envelope.id, set()).add(source)
        self._ordered = None

    def _all(self) -> list[Envelope]:
        if self._ordered is None:
            self._ordered = sorted(self._held.values(), key=lambda e: (e.author, e.seq, e.id))
        return self._ordered

    def _good(self) -> Iterator[Envelope]:
        return (e for e in self._all() if e.id not in self._rejected)

    def links(self, authors: tuple[bytes, bytes] | None = None) -> Iterator[Fact]:
        low, high = authors or (b"", b"\xff" * 33)
        return (fact_of(e) for e in self._all() if low <= e.author < high)

    def raw(self, id: bytes) -> bytes:
        return self._held[id].raw

    def reject(self, id: bytes) -> None:
        self._rejecting.append(id)

    def settle(self) -> None:
        self._rejected.update(self._rejecting)
        self._rejecting.clear()

    def envelope(self, id: bytes) -> Envelope | None:
        return None if id in self._rejected else self._held.get(id)

    def envelopes(self, ids: list[bytes]) -> dict[bytes, Envelope]:
        return {i: e for i in ids if (e := self.envelope(i)) is not None}

    def accepted(self, kinds: tuple[str, ...], *, ref: bytes | None = None, author: bytes | None = None,
                 newest: int | None = None) -> Iterator[Envelope]:  # fmt: skip
        found = [e for e in self._good() if e.kind in kinds and (ref is None or ref_of(e.payload.body) == ref)
                 and (author is None or e.author == author)]  # fmt: skip
        return iter(found if newest is None else found[::-1][:newest])

    def facts(self, author: bytes, above: int = 0) -> Iterator[Fact]:
        return (fact_of(e) for e in self._good() if e.author == author and e.seq > above)

    def authors(self, kind: str | None = None) -> list[bytes]:
        return sorted({e.author for e in self._good() if kind is None or e.kind == kind})

    def foreign(self, federation: bytes) -> Iterator[Fact]:
        return (fact_of(e) for e in self._good() if e.payload.federation not in (None, federation))

    def kinds(self) -> Counter[str]:
        return Counter(e.kind for e in self._good())

    def held(self) -> int:
        return len(self._held)

    def tops(self) -> dict[int, dict[bytes, int]]:
        out: dict[int, dict[bytes, int]] = {}
        for e in self._good():
            for source in self._sources[e.id]:
                tops = out.setdefault(source, {})
                tops[e.author] = max(tops.get(e.author, 0), e.seq)
        return out


def shared(index: Index, kind: str, part: tuple[int, int], kinds: tuple[str, ...] = ()) -> Iterator[Envelope]:
    """The accepted envelopes of ``kinds`` (default: ``kind``) by the authors of envelopes of
    ``kind`` that fall to share ``part`` (i, n): every n-th of those authors, from the i-th."""
    share, shares = part
    if shares == 1:
        return index.accepted(kinds or (kind,))
    return (e for author in index.authors(kind)[share::shares] for e in index.accepted(kinds or (kind,), author=author))


def held_parts(index: Index, decision: Envelope) -> list[Envelope | None]:
    """What the set holds at each place of a decision's parts (:func:`protocol.parts.places`)."""
    where = places(decision)
    found: dict[int, bytes] = {}
    for fact in index.facts(decision.author, where.start - 1):
        if fact.seq >= where.stop:
            break
        found[fact.seq] = fact.id
    opened = index.envelopes(list(found.values()))
    return [opened.get(found[seq]) if seq in found else None for seq in where]
