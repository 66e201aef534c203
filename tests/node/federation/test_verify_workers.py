"""Opening envelopes in worker processes (node/federation/verify.py): the same verdicts as in
threads, a dead worker costs no batch, idle workers stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest

import node.federation.verify as verify_module
from node.federation.verify import PROCESS_MIN, Verifier, open_all
from protocol import Envelope, ProtocolError
from tests.factories import genesis, key, next_envelope, profile

AUTHOR = key("verify workers")
GEN = genesis(key("verify national"))


def batch() -> list[bytes]:
    """A log of good envelopes with bad ones among them: a flipped signature bit, a flipped
    payload byte, a cut envelope, bytes that are no envelope, one too large."""
    good: list[Envelope] = []
    after: Envelope | None = None
    for i in range(PROCESS_MIN + 16):
        after = next_envelope(AUTHOR, after, profile(f"Branch {i}"), GEN.id)
        good.append(after)
    raws = [e.raw for e in good]
    raws[3] = raws[3][:-1] + bytes([raws[3][-1] ^ 1])
    raws[7] = raws[7][:40] + bytes([raws[7][40] ^ 0x20]) + raws[7][41:]
    raws[11] = raws[11][:-10]
    raws[13] = b"\x93\x01\x02\x03"
    raws[17] = b"\x00" * 70_000
    return raws


def verdicts(opened: list[Envelope | ProtocolError]) -> list[tuple[str, str] | bytes]:
    return [(str(o.code), o.message) if isinstance(o, ProtocolError) else o.raw for o in opened]


async def until_running(verifier: Verifier) -> None:
    for _ in range(600):  # at most 60 s for two interpreters to start on a busy machine
        if verifier.processes_running:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the verify worker processes did not start within 60 s")


async def test_processes_give_the_verdicts_threads_give() -> None:
    raws = batch()
    expected = verdicts(open_all(raws))
    assert sum(isinstance(v, tuple) for v in expected) == 5  # the five bad ones, each refused
    verifier = Verifier(2, processes=True)
    try:
        first = await verifier.open(raws)  # starts the workers; this batch is opened in threads
        assert verdicts(first) == expected and verifier.process_batches == 0
        await until_running(verifier)
        second = await verifier.open(raws)
        assert verifier.process_batches == 1
        assert verdicts(second) == expected
        opened = [o for o in second if isinstance(o, Envelope)]
        assert [o.payload for o in opened] == [o.payload for o in first if isinstance(o, Envelope)]
        small = await verifier.open(raws[: PROCESS_MIN - 1])  # small batches stay in threads
        assert verifier.process_batches == 1 and verdicts(small) == expected[: PROCESS_MIN - 1]
    finally:
        verifier.close()


async def test_a_dead_worker_costs_no_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "RETRY_S", 0.0)
    raws = batch()
    expected = verdicts(open_all(raws))
    verifier = Verifier(1, processes=True)
    try:
        await verifier.open(raws)
        await until_running(verifier)
        pool = verifier._procs
        assert pool is not None
        for pid in list(pool._processes):  # type: ignore[union-attr]
            os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
        await asyncio.sleep(0.5)
        assert verdicts(await verifier.open(raws)) == expected  # opened in threads instead
        assert verifier._procs is not pool
        await verifier.open(raws)  # RETRY_S later (0 here): new workers start
        await until_running(verifier)
        assert verdicts(await verifier.open(raws)) == expected
        assert verifier.process_batches == 1  # the batch after the death went to threads; this one to the new workers
    finally:
        verifier.close()


async def test_idle_workers_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify_module, "IDLE_S", 0.3)
    verifier = Verifier(1, processes=True)
    pools: list[list[Any]] = []  # each pool's processes as it starts: a loaded machine may stop it before a look
    started = verifier._started

    def noting(future: asyncio.Future) -> None:  # type: ignore[type-arg]
        started(future)
        if verifier._procs is not None:
            pools.append(list(verifier._procs._processes.values()))  # type: ignore[union-attr]

    monkeypatch.setattr(verifier, "_started", noting)
    try:
        await verifier.open(batch())
        for _ in range(1200):  # bounded, generous: a loaded machine starts workers slowly
            if pools and verifier._procs is None:
                break
            await asyncio.sleep(0.1)
        assert pools, "the verify worker processes did not start within 120 s"
        assert verifier._procs is None  # stopped, idle
        for process in pools[0]:
            # The pool's own thread reaps its workers; a join here can race it (its waitpid then
            # fails, and is_alive says True until that thread records the exit): look, bounded.
            for _ in range(1200):  # generous: a loaded machine reaps slowly
                if not process.is_alive():
                    break
                await asyncio.sleep(0.1)
            assert not process.is_alive()
    finally:
        verifier.close()


WORKERS_THEN_WAIT = """
import asyncio, sys
from node.federation.verify import Verifier
from tests.node.federation.test_verify_workers import batch, until_running

async def main():
    verifier = Verifier(2, processes=True)
    await verifier.open(batch())
    await until_running(verifier)
    print(" ".join(str(pid) for pid in verifier._procs._processes), flush=True)
    await asyncio.sleep(120)

if __name__ == "__main__":
    asyncio.run(main())
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


async def test_workers_leave_with_a_killed_node(tmp_path: Path) -> None:
    """The node's process killed outright (no shutdown): its workers do not linger."""
    script = tmp_path / "node_with_workers.py"
    script.write_text(WORKERS_THEN_WAIT)
    root = Path(__file__).resolve().parents[3]
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), cwd=root, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 90)
        workers = [int(pid) for pid in line.split()]
        assert len(workers) == 2 and all(alive(pid) for pid in workers)
    finally:
        process.kill()
        await asyncio.wait_for(process.wait(), 30)
    for _ in range(100):  # each looks for its parent every second
        if not any(alive(pid) for pid in workers):
            break
        await asyncio.sleep(0.1)
    assert not any(alive(pid) for pid in workers)


async def test_a_machine_that_cannot_start_processes_verifies_in_threads(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def no_processes(*args: object, **kwargs: object) -> None:
        raise OSError("[Errno 38] Function not implemented (no /dev/shm here)")

    monkeypatch.setattr(verify_module, "ProcessPoolExecutor", no_processes)
    raws = batch()
    expected = verdicts(open_all(raws))
    verifier = Verifier(2, processes=True)
    try:
        assert verdicts(await verifier.open(raws)) == expected
        for _ in range(100):
            if "did not start" in caplog.text:
                break
            await asyncio.sleep(0.05)
        assert "did not start" in caplog.text and "/dev/shm" in caplog.text
        assert verdicts(await verifier.open(raws)) == expected  # threads, and no second attempt yet
        assert not verifier.processes_running and verifier.process_batches == 0
        assert caplog.text.count("did not start") == 1
    finally:
        verifier.close()
