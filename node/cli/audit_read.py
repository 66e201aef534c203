"""Reading an audit's sources, on every core, into the index on disk (`branchnet audit`).

A source is a bundle file, or a node's URL pulled into a bundle file in the audit's temporary
folder (streamed: never held in memory). Each file is mapped, cut into pieces of whole records
(:func:`protocol.bundle.records`) and each piece opened in a worker process: every envelope's
encoding, limits, signature and kind rules (:func:`protocol.open_envelope`, as a node opens
what it takes in), sending back one :class:`~protocol.audit_index.Fact` per envelope that
opens and a problem for each that does not. The main process only writes the facts into the
:class:`~node.storage.audit_index.DiskIndex`, with at most :data:`IN_FLIGHT` pieces per worker
under way, so memory stays bounded whatever the size of the sources. Small sources (under
:data:`POOL_MIN_BYTES` in all) are opened in the main process: workers would cost more than
they save.
"""

from __future__ import annotations

import mmap
import multiprocessing
import os
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from node.errors import ConfigError
from node.storage.audit_index import DiskIndex
from protocol import Code, ForkProof, ProtocolError, open_envelope, read_bundle
from protocol.audit import Problem, Report, bad_source, check, finish, later, unopened, walk
from protocol.audit_index import fact_of
from protocol.bundle import MAGIC, record, records
from protocol.errors import DecodeFailure

PIECE_BYTES = 1 << 20  # one task for a worker: about 3,000 envelopes
IN_FLIGHT = 3  # pieces under way per worker: enough to keep each busy, few enough to bound memory
POOL_MIN_BYTES = 4 << 20
MAX_PULL_BYTES = 16 << 30  # what one node's URL may give; its bundle is written to disk, not memory
KEEP_FREE_BYTES = 1 << 30  # a pull stops before the temporary folder's disk has less than this free

Piece = tuple[list[tuple[object, ...]], list[Problem]]


def open_piece(path: str, start: int, end: int, name: str = "") -> Piece:
    """In a worker: every envelope of the whole records in ``path``'s bytes [start, end)
    (``name``: the source as the report names it)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, end - start, start)
    finally:
        os.close(fd)
    facts: list[tuple[object, ...]] = []
    problems: list[Problem] = []
    view = memoryview(data)
    try:
        for offset, size in records(view, start=0):
            raw = bytes(view[offset : offset + size])
            try:
                facts.append(tuple(fact_of(open_envelope(raw), start + offset)))
            except ProtocolError as exc:
                problems.append(unopened(raw, exc))
    except ProtocolError as exc:  # the file changed since it was cut into pieces
        changed = DecodeFailure(Code.BAD_BUNDLE, f"changed while it was read: {exc.message}")
        problems.append(bad_source(name or path, changed))
    return facts, problems


def pieces(name: str, path: Path, report: Report) -> Iterator[tuple[int, int]]:
    """``path`` cut into pieces of whole records, [start, end) each; a fault in the bundle is a
    problem of this source, and the records before it are still read."""
    with open(path, "rb") as file:
        if os.fstat(file.fileno()).st_size < len(MAGIC):
            too_short = DecodeFailure(Code.BAD_BUNDLE, "not a branchnet bundle (too short)")
            report.problems.append(bad_source(name, too_short))
            return
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                start = end = len(MAGIC)
                try:
                    for offset, size in records(view):
                        if offset + size - start > PIECE_BYTES and end > start:
                            yield start, end
                            done = start - start % mmap.PAGESIZE  # its pages need not count as this process's
                            mapped.madvise(mmap.MADV_DONTNEED, done, end - done)
                            start = end
                        end = offset + size
                except ProtocolError as exc:
                    report.problems.append(bad_source(name, exc))
                if end > start:
                    yield start, end
            finally:
                view.release()


def audit_files(sources: list[tuple[str, Path]], folder: Path, now_ms: int, workers: int | None,
                opened: Callable[[int], object], walked: Callable[[int], object]) -> Report:  # fmt: skip
    """The whole audit of ``sources`` (name, bundle file), its index in ``folder``: every
    envelope opened (:func:`load`), then checked (:func:`check_all`). ``workers``: processes
    to work in (None: one per core, and none for small sources); ``opened`` is told of the
    bytes opened, ``walked`` of the envelopes walked."""
    report = Report([name for name, _ in sources])
    index = DiskIndex(folder, [path for _, path in sources])
    try:
        if workers is None:
            total = sum(path.stat().st_size for _, path in sources)
            workers = (os.cpu_count() or 1) if total >= POOL_MIN_BYTES else 0
        if workers == 0:
            load(sources, index, report, None, opened)
            index.seal()
            check(index, now_ms, report, walked)
            return report
        context = multiprocessing.get_context("forkserver" if "forkserver" in multiprocessing.get_all_start_methods()
                                              else "spawn")  # fmt: skip
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            load(sources, index, report, pool, opened, workers)
            index.seal()
            check_all(index, report, now_ms, pool, workers, walked)
        return report
    finally:
        index.close()


def load(sources: list[tuple[str, Path]], index: DiskIndex, report: Report, pool: ProcessPoolExecutor | None,
         progress: Callable[[int], object], workers: int = 1) -> None:  # fmt: skip
    """Open every envelope of every source and write its fact into ``index`` (see the module's
    text): in ``pool``'s ``workers`` processes, or in this one."""
    if pool is None:
        for number, (name, path) in enumerate(sources):
            for start, end in pieces(name, path, report):
                _take(index, number, open_piece(str(path), start, end, name), report)
                progress(end - start)
        return
    pending: deque[tuple[int, Future[Piece], int]] = deque()
    for number, (name, path) in enumerate(sources):
        for start, end in pieces(name, path, report):
            pending.append((number, pool.submit(open_piece, str(path), start, end, name), end - start))
            while len(pending) >= workers * IN_FLIGHT:
                _next(index, pending, report, progress)
    while pending:
        _next(index, pending, report, progress)


def check_all(index: DiskIndex, report: Report, now_ms: int, pool: ProcessPoolExecutor, shares: int,
              progress: Callable[[int], object]) -> None:  # fmt: skip
    """:func:`protocol.audit.check` on several cores: every log walked in ``shares`` ranges of
    authors at once (each log is walked alone), what the walks rejected taken out, then the
    checks between envelopes, trust, aggregates and selections in ``shares`` parts at once.
    The parts' problems together are what one process finds (the tests hold this)."""
    folder, sources = str(index.folder), [str(path) for path in index.sources]
    walks = [pool.submit(walk_share, folder, sources, now_ms, authors) for authors in index.shares(shares)]
    for future in walks:
        walked, found = future.result()
        report.problems += walked.problems
        report.heads.update(walked.heads)
        report.forks += walked.forks
        index.take(found)
        progress(found[2])
    index.settle()
    parts = [pool.submit(later_share, folder, sources, report.forks, share, shares, now_ms) for share in range(shares)]
    done = [part.result() for part in parts]
    report.trust = done[0].trust
    for part in done:
        report.problems += part.problems
        report.recounts += part.recounts
        report.unchecked += part.unchecked
    finish(index, report)


def walk_share(folder: str, sources: list[str], now_ms: int, authors: tuple[bytes, bytes]
               ) -> tuple[Report, tuple[list[bytes], Counter[str], int]]:  # fmt: skip
    """In a worker: the logs of the authors in range ``authors``, on the index as sealed."""
    index = DiskIndex(Path(folder), [Path(source) for source in sources], reader=True)
    try:
        report = Report([])
        walk(index, now_ms, report, None, authors)
        return report, index.walked()
    finally:
        index.close()


def later_share(folder: str, sources: list[str], forks: list[ForkProof], share: int, shares: int,
                now_ms: int | None = None) -> Report:  # fmt: skip
    """In a worker: one share of :func:`protocol.audit.later`, on the index as settled."""
    index = DiskIndex(Path(folder), [Path(source) for source in sources], reader=True)
    try:
        report = Report([], forks=forks, now_ms=now_ms)
        later(index, report, (share, shares))
        return report
    finally:
        index.close()


def _next(index: DiskIndex, pending: deque[tuple[int, Future[Piece], int]], report: Report,
          progress: Callable[[int], object]) -> None:  # fmt: skip
    number, future, size = pending.popleft()
    _take(index, number, future.result(), report)
    progress(size)


def _take(index: DiskIndex, number: int, piece: Piece, report: Report) -> None:
    facts, problems = piece
    index.add(number, facts)
    report.problems.extend(problems)


async def pull(url: str, target: Path, timeout_s: float = 30.0) -> None:
    """Everything a node at ``url`` holds, written to ``target`` as one bundle, through its
    public read API: its heads (``GET /api/v1/node``), then each author's log a page at a time
    (``GET /api/v1/log/{author}``). ConfigError when it does not answer as a node does."""
    import aiohttp  # here, not above: the worker processes import this module and need none of it

    base = url.rstrip("/")
    # Each request (heads, or a page of at most 1,000 envelopes) answers within its own bound,
    # so a node that drips its answer cannot hold the audit forever; the whole pull may take
    # as long as its pages do (MAX_PULL_BYTES bounds how many).
    timeout = aiohttp.ClientTimeout(total=4 * timeout_s, sock_connect=timeout_s, sock_read=timeout_s)
    size = 0
    try:
        with open(target, "xb") as out:  # noqa: ASYNC230 (a local file, written a page at a time)
            out.write(MAGIC)
            async with aiohttp.ClientSession(timeout=timeout) as http:
                async with http.get(f"{base}/api/v1/node") as r:
                    if r.status != 200:
                        raise ConfigError(f"{url} answered {r.status} to /api/v1/node: is it a branchnet node?")
                    heads: dict[str, int] = (await r.json())["heads"]
                for author, head in sorted(heads.items()):
                    after = 0
                    while after < head:
                        async with http.get(f"{base}/api/v1/log/{author}", params={"after": str(after)}) as r:
                            if r.status != 200:
                                raise ConfigError(f"{url} answered {r.status} for {author}'s log")
                            page = list(read_bundle(await r.read()))
                        if not page:
                            break  # it holds less than it said (reported by the audit as behind)
                        after += len(page)
                        size += sum(len(raw) for raw in page)
                        if size > MAX_PULL_BYTES or shutil.disk_usage(target.parent).free < KEEP_FREE_BYTES:
                            raise ConfigError(f"{url} holds more than this audit will pull to {target.parent} "
                                              f"({size // 2**20} MiB so far): audit its export instead")  # fmt: skip
                        out.write(b"".join(record(raw) for raw in page))
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, ProtocolError) as exc:
        raise ConfigError(f"{url} did not answer as a node does: {exc or type(exc).__name__}") from None
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}") from None
