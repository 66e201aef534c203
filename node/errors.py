"""The node's error tree: every failure the API or CLI reports, with a stable code.

    NodeError                       (code, message, field, status)
     ├── BadInput        400        bad_request, invalid_field, bad_csv, ...
     ├── Unauthorized    401        unauthorized
     ├── Forbidden       403        forbidden
     ├── NotFound        404        not_found
     ├── Conflict        409        conflict, not_federated
     ├── TooLarge        413        too_large
     ├── Throttled       429        throttled (with retry_after seconds)
     └── Unavailable     503        catching_up, ... (try again shortly)

The HTTP layer renders any of them as ``{"error": {"code", "message", "field"}}`` with the
status; the CLI prints ``message`` and exits non-zero. Protocol errors (bad envelopes) are
mapped to BadInput keeping their protocol code.
"""

from __future__ import annotations

from typing import ClassVar


class NodeError(Exception):
    status: ClassVar[int] = 400
    default_code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code


class BadInput(NodeError):
    status = 400
    default_code = "invalid_field"


class Unauthorized(NodeError):
    status = 401
    default_code = "unauthorized"


class Forbidden(NodeError):
    status = 403
    default_code = "forbidden"


class NotFound(NodeError):
    status = 404
    default_code = "not_found"


class Conflict(NodeError):
    status = 409
    default_code = "conflict"


class TooLarge(NodeError):
    status = 413
    default_code = "too_large"


class Throttled(NodeError):
    status = 429
    default_code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(NodeError):
    status = 503
    default_code = "unavailable"
