"""The node's one error tree: every failure the node reports, with a stable code.

    NodeError                       (code, message, field)
     ├── BadInput                   invalid_field, bad_request, bad_csv, timeout, ...
     ├── Unauthorized               unauthorized, bad_signature, replay, ...
     ├── Forbidden                  forbidden, not_allowed, key_cut, ...
     ├── NotFound                   not_found
     ├── Conflict                   conflict, not_federated, over_quota, ...
     ├── TooLarge                   too_large
     ├── Throttled                  throttled (with retry_after seconds)
     ├── Unavailable                catching_up (try again shortly)
     │    └── DatabaseError         storage_unavailable: full disk, I/O error, a database that will not open
     ├── ConfigError                config: the configuration is unusable
     ├── KeyFileError               key_file: a key file cannot be read or written
     └── PeerError                  peer_failed: another node refused, timed out or answered nonsense

Codes are what callers match on. Nothing here knows HTTP: the web layer maps these classes
to statuses (:mod:`node.web.app`), and the CLI prints ``message`` and exits 1, or 2 for
configuration, key file and storage errors (:mod:`node.cli.common`). Protocol errors (bad
envelopes) have their own tree in :mod:`protocol.errors`.
"""

from __future__ import annotations

from typing import ClassVar


class NodeError(Exception):
    default_code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.default_code


class BadInput(NodeError):
    default_code = "invalid_field"


class Unauthorized(NodeError):
    default_code = "unauthorized"


class Forbidden(NodeError):
    default_code = "forbidden"


class NotFound(NodeError):
    default_code = "not_found"


class Conflict(NodeError):
    default_code = "conflict"


class TooLarge(NodeError):
    default_code = "too_large"


class Throttled(NodeError):
    default_code = "throttled"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(NodeError):
    default_code = "unavailable"


class DatabaseError(Unavailable):
    """The database cannot be opened, migrated or written; the message says which and why."""

    default_code = "storage_unavailable"


class ConfigError(NodeError):
    """The configuration is unusable; the message names the key and the reason."""

    default_code = "config"


class KeyFileError(NodeError):
    """A key file cannot be written or read; the message names the file and why."""

    default_code = "key_file"


class PeerError(NodeError):
    """A peer failed (refused, timed out, answered nonsense); the message says how."""

    default_code = "peer_failed"
