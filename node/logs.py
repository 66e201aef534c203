"""Structured logs: text or JSON lines, one event per line, with a ``fields`` dict.

Nothing personal is ever logged: requests are logged by route template (never the URL, whose
query could hold a secret), status, duration and numeric member id; no names, no emails."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        event.update(getattr(record, "fields", {}))
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        return json.dumps(event, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        extra = " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{self.formatTime(record)} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        line = f"{line} {extra}" if extra else line
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


EACH_ONE = {("request", "branchnet.http"), ("mail sent", "branchnet.mail")}  # logged every time


class RepeatFilter(logging.Filter):
    """Lets through at most ``burst`` records of one kind (logger, level, message template)
    per ``window_s``; the first record after a quiet window says how many were dropped.

    A flood (thousands of refused connections, a peer failing every round) then costs a few
    lines a minute instead of filling the disk. Request log lines (``request``) and sent mail
    (``mail sent``) pass as they are: each is a different request or mail, and the mail's
    rate is bounded by ``mail.per_minute``."""

    def __init__(self, burst: int = 10, window_s: float = 60.0, clock: Any = time.monotonic,
                 max_kinds: int = 10_000) -> None:  # fmt: skip
        super().__init__()
        self.burst = burst
        self.window_s = window_s
        self.clock = clock
        self.max_kinds = max_kinds
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # kind -> [window start, count, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.msg, record.name) in EACH_ONE:
            return True
        kind = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        state = self._seen.get(kind)
        if state is None or now - state[0] >= self.window_s:
            if len(self._seen) >= self.max_kinds:
                self._seen.clear()
            dropped = int(state[2]) if state is not None else 0
            self._seen[kind] = [now, 1, 0]
            if dropped:
                record.fields = {**getattr(record, "fields", {}), "suppressed_before": dropped}
            return True
        state[1] += 1
        if state[1] <= self.burst:
            return True
        state[2] += 1
        return False


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs a request it cannot parse (a NUL in a header, a broken request line) as an
    error with a traceback; it has already answered 400, and the fault is the client's. Such a
    record becomes one warning line naming what was wrong, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = "malformed request refused (400): %s", (str(exc).strip().splitlines()[0][:200],)
            record.exc_info, record.exc_text = None, None
        return True


def setup_logging(fmt: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(MalformedRequestFilter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger("branchnet")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
    # The libraries' own complaints (refused connections, bad requests, accept errors) go
    # through the same handler, so they are rate-limited too.
    for name in ("aiohttp", "asyncio"):
        library = logging.getLogger(name)
        library.handlers[:] = [handler]
        library.setLevel(logging.WARNING)
        library.propagate = False
