"""One `branchnet serve` per node folder: a lock file held for the server's lifetime.

The lock (``DIR/serve.lock``, an advisory ``flock``) goes with the process: a crash or
SIGKILL releases it. `branchnet restore` refuses to replace the database while it is held,
and commands that sign wait briefly for a running server to finish catching up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = "serve.lock"


class ServeLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False when another process holds it. (No folder: nothing to lock;
        opening the node then says what is missing.)"""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def serving(directory: Path) -> bool:
    """Whether a `branchnet serve` holds ``directory`` now."""
    lock = ServeLock(directory)
    if not lock.path.exists():
        return False
    if lock.acquire():
        lock.release()
        return False
    return True
