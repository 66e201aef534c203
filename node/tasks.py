"""A long-running task of `branchnet serve` (the ballot closer, the retention keeper): started
once with the server, cancelled and awaited when it stops."""

from __future__ import annotations

import asyncio
import contextlib


class Background:
    """Subclasses give ``name`` and :meth:`_run` (which loops until cancelled)."""

    name = "background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        raise NotImplementedError
