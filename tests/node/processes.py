"""Real `branchnet serve` processes for tests: start, read the bound URL, stop or kill."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

STARTUP_TIMEOUT_S = 30.0


@dataclass
class ServeProcess:
    process: asyncio.subprocess.Process
    url: str
    node_id: str
    stderr_path: Path

    async def stop(self, grace_s: float = 15.0) -> int:
        """SIGTERM, then wait for a clean exit (SIGKILL if it does not come)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), grace_s)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        return self.process.returncode if self.process.returncode is not None else -1

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


async def start_serve(directory: Path, env: dict[str, str] | None = None) -> ServeProcess:
    """Start `branchnet serve --dir DIRECTORY` and wait for its "listening on URL as ID" line."""
    stderr_path = directory / f"serve-{os.getpid()}-{id(directory)}.log"
    with open(stderr_path, "ab") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "node", "serve", "--dir", str(directory),
            stdout=asyncio.subprocess.PIPE, stderr=stderr, env={**os.environ, **(env or {})},
        )  # fmt: skip
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_S)).decode()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"branchnet serve did not start: {stderr_path.read_text()}") from None
    if not line.startswith("branchnet: listening on "):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise AssertionError(f"unexpected first line {line!r}: {stderr_path.read_text()}")
    _, _, _, url, _, node_id = line.split()
    return ServeProcess(process, url, node_id, stderr_path)
