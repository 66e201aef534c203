"""The one place that knows HTTP statuses: each error class of node.errors, and its subclasses.

The API answers them as JSON (:mod:`node.web.app`), the pages as HTML (:mod:`node.web.pages`).
"""

from __future__ import annotations

from node.errors import (
    BadInput,
    Conflict,
    Forbidden,
    NodeError,
    NotFound,
    PeerError,
    Throttled,
    TooLarge,
    Unauthorized,
    Unavailable,
)

STATUS: dict[type[NodeError], int] = {
    BadInput: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    Throttled: 429,
    Unavailable: 503,
    PeerError: 502,
}


def status_of(exc: NodeError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400
