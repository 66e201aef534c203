"""How long a verify thread takes per envelope while another thread holds the GIL part of the time.

One thread opens ``--count`` envelopes (``open_envelope``: libsodium checks the signature
without the GIL, the rest needs it); another thread spins in Python for a share of each
millisecond (0, 30, 60 and 100 %), as the event loop does between its awaits. Printed: the
verify thread's CPU and wall time per envelope, at the default switch interval (5 ms) and at
the one ``branchnet serve`` sets (0.1 ms). This is why ingest checks large batches in worker
processes (node/federation/verify.py, docs/performance.md "Ingest through HTTP").

    .venv/bin/python bench/gil_wait.py [--count 4000]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from verify import make_log  # bench/verify.py: a log of real envelopes

from protocol import open_envelope


def verify_all(log: list[bytes], out: list[float]) -> None:
    started = time.thread_time()
    for raw in log:
        open_envelope(raw)
    out.append(time.thread_time() - started)


def hold(stop: threading.Event, share: float) -> None:
    """Hold the GIL (spin in Python) for ``share`` of every millisecond until ``stop``."""
    while not stop.is_set():
        began = time.perf_counter()
        while time.perf_counter() - began < 0.001 * share:
            pass
        if share < 1:
            time.sleep(0.001 * (1 - share))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=4000)
    args = parser.parse_args()
    log = make_log(args.count)
    for interval in (0.005, 0.0001):
        sys.setswitchinterval(interval)
        for share in (0.0, 0.3, 0.6, 1.0):
            cpu: list[float] = []
            stop = threading.Event()
            holder = threading.Thread(target=hold, args=(stop, share))
            if share:
                holder.start()
            started = time.perf_counter()
            worker = threading.Thread(target=verify_all, args=(log, cpu))
            worker.start()
            worker.join()
            wall = time.perf_counter() - started
            stop.set()
            if share:
                holder.join()
            per_cpu, per_wall = cpu[0] / len(log) * 1e6, wall / len(log) * 1e6
            print(f"switch interval {interval * 1e6:5.0f} us, GIL held {share:4.0%} by another thread: "
                  f"{per_cpu:6.1f} us CPU, {per_wall:7.1f} us wall per envelope")  # fmt: skip


if __name__ == "__main__":
    main()
