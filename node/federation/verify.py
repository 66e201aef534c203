"""Opening envelopes off the event loop: in worker processes for large batches, else in threads.

libsodium checks a signature in about 56 µs and releases the GIL while it does, but each check
must take the GIL back afterwards, and the event loop holds it for tens of microseconds per
envelope of its own (HTTP, dedupe, chain rules, outcomes). A verify thread waits for it after
every signature, so two threads reached only 1.3-1.6 times one core's raw rate
(docs/performance.md, "Ingest through HTTP"). A worker process has an interpreter of its own:
it opens its share of a batch at full speed and sends back one verdict per envelope; the
event loop then decodes the good ones again without their signatures (:func:`reopen`, about
3 µs), which costs far less than the waiting it saves.

Processes start on the first batch of at least :data:`PROCESS_MIN` envelopes (a sync, a
large push), in the background: until they are up, and for small batches (most gossip
pushes), threads do the work. Workers left idle for :data:`IDLE_S` are stopped (each holds an
interpreter); a worker whose node process is gone (killed) exits within a second. A worker
that dies (killed for memory, say) breaks the pool: the batch is opened in threads instead,
and processes are tried again after :data:`RETRY_S`. The main module must be guarded
(``if __name__ == "__main__"``, as ``python -m node`` and the ``branchnet`` script are): a
spawned worker imports it again.

Verdicts are the same either way: both call :func:`protocol.open_envelope` on the same bytes.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from protocol import Code, Envelope, ProtocolError, open_envelope
from protocol.envelope import reopen

log = logging.getLogger("branchnet.verify")

PROCESS_MIN = 64  # envelopes in a batch before worker processes are worth their hand-off
IDLE_S = 120.0  # processes unused this long are stopped
RETRY_S = 30.0  # after a worker died, threads only for this long
START_TIMEOUT_S = 60.0  # for every worker to answer once (they import the node's code)
PARENT_CHECK_S = 1.0  # how often a worker looks whether the node's process still runs

Verdict = tuple[str, str, str | None] | None  # (code, message, field) of a rejection; None: it opens


def open_all(raws: list[bytes]) -> list[Envelope | ProtocolError]:
    """In a thread: each envelope opened, or the reason it is refused."""
    out: list[Envelope | ProtocolError] = []
    for raw in raws:
        try:
            out.append(open_envelope(raw))
        except ProtocolError as exc:
            out.append(exc)
    return out


def check_all(raws: list[bytes]) -> list[Verdict]:
    """In a worker process: the verdict on each envelope (nothing but these crosses back)."""
    out: list[Verdict] = []
    for raw in raws:
        try:
            open_envelope(raw)
            out.append(None)
        except ProtocolError as exc:
            out.append((str(exc.code), exc.message, exc.field))
    return out


def _watch_parent(parent: int) -> None:
    """In a worker process, at start: exit when the node's process is gone (killed, say:
    its pool never tells the workers, who would otherwise wait for work forever)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class Verifier:
    """``workers`` threads always; as many worker processes too when ``processes``."""

    def __init__(self, workers: int, processes: bool) -> None:
        self.workers = max(1, workers)
        self.use_processes = processes
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="verify")
        self._procs: ProcessPoolExecutor | None = None  # set once its workers have answered
        self._starting = False
        self._closed = False
        self._not_before = 0.0
        self._last_use = 0.0
        self._idle: asyncio.TimerHandle | None = None
        self.process_batches = 0  # batches opened in worker processes (for tests and metrics)

    async def open(self, raws: list[bytes]) -> list[Envelope | ProtocolError]:
        """Each envelope of ``raws`` opened (checked in full, signature included), in order."""
        if not raws:
            return []
        loop = asyncio.get_running_loop()
        chunks = self._chunks(raws)
        if self.use_processes and len(raws) >= PROCESS_MIN:
            pool = self._process_pool(loop)
            if pool is not None:
                try:
                    parts = await asyncio.gather(*(loop.run_in_executor(pool, check_all, c) for c in chunks))
                except BrokenProcessPool:
                    log.warning("a verify worker process died; verifying in threads for %.0f s", RETRY_S)
                    self._drop(pool, retry_after=RETRY_S)
                else:
                    self.process_batches += 1
                    return [
                        reopen(raw) if verdict is None else ProtocolError(Code(verdict[0]), verdict[1], verdict[2])
                        for raw, verdict in zip(raws, (v for part in parts for v in part), strict=True)
                    ]
        threaded = await asyncio.gather(*(loop.run_in_executor(self._threads, open_all, c) for c in chunks))
        return [item for part in threaded for item in part]

    def _chunks(self, raws: list[bytes]) -> list[list[bytes]]:
        size = -(-len(raws) // self.workers)
        return [raws[i : i + size] for i in range(0, len(raws), size)]

    def _process_pool(self, loop: asyncio.AbstractEventLoop) -> ProcessPoolExecutor | None:
        """The worker pool if it is up; otherwise start it (in the background) and say None."""
        self._last_use = time.monotonic()
        self.start(loop)
        return self._procs

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the worker processes in the background, unless they run, are starting, are
        not wanted, or failed less than :data:`RETRY_S` ago (the first large batch calls
        this). Starting them (a fork and exec each, then their imports) happens in a thread:
        the event loop goes on serving meanwhile."""
        now = time.monotonic()
        if not self.use_processes or self._procs is not None or self._starting or now < self._not_before:
            return
        self._starting = True
        self._last_use = max(self._last_use, now)
        started = loop.run_in_executor(None, self._new_pool)
        started.add_done_callback(self._started)
        if self._idle is None:
            self._idle = loop.call_later(IDLE_S, self._check_idle, loop)

    def _new_pool(self) -> ProcessPoolExecutor:
        """In a thread: a pool whose workers have all answered once."""
        # spawn, not fork: the server has threads (SQLite's, the verify threads) whose locks
        # a forked child would inherit held.
        pool = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_watch_parent,
            initargs=(os.getpid(),),
        )
        try:
            for future in [pool.submit(check_all, []) for _ in range(self.workers)]:
                future.result(timeout=START_TIMEOUT_S)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        return pool

    def _started(self, started: asyncio.Future[ProcessPoolExecutor]) -> None:
        self._starting = False
        if started.cancelled():
            return
        problem = started.exception()
        if problem is not None:
            # No /dev/shm in a container, a process limit, a worker that cannot import: threads.
            log.warning("verify worker processes did not start (%s); verifying in threads for %.0f s",
                        problem, RETRY_S)  # fmt: skip
            self._not_before = time.monotonic() + RETRY_S
            return
        pool = started.result()
        if self._closed:
            pool.shutdown(wait=False, cancel_futures=True)
            return
        self._procs = pool

    def _check_idle(self, loop: asyncio.AbstractEventLoop) -> None:
        self._idle = None
        if self._procs is None:
            if self._starting:  # still starting (a loaded machine): look again once they are up
                self._idle = loop.call_later(IDLE_S, self._check_idle, loop)
            return
        waited = time.monotonic() - self._last_use
        if waited >= IDLE_S:
            self._drop(self._procs, retry_after=0.0)
        else:
            self._idle = loop.call_later(IDLE_S - waited, self._check_idle, loop)

    def _drop(self, pool: ProcessPoolExecutor, retry_after: float) -> None:
        if pool is self._procs:
            self._procs = None
            self._not_before = time.monotonic() + retry_after
        pool.shutdown(wait=False, cancel_futures=True)

    @property
    def processes_running(self) -> bool:
        return self._procs is not None

    def close(self) -> None:
        self._closed = True
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self._procs is not None:
            pool, self._procs = self._procs, None
            pool.shutdown(wait=True, cancel_futures=True)
