"""What a route of the HTTP API is: method, path, handler, who may call it, its types.

Each module of :mod:`node.web.routes` ends with its own ``ROUTES`` table of these;
:mod:`node.web.api` joins them into the one table that the router, the authorisation check
and the OpenAPI document all read, so they cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from node.web.common import Handler

Access = Literal["public", "member", "officer", "admin"]
LEVEL: dict[str, int] = {"public": -1, "member": 0, "officer": 1, "admin": 2}


@dataclass(frozen=True)
class Query:
    """One query parameter as the handler enforces it: the OpenAPI document says the same."""

    name: str
    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    access: Access
    summary: str
    request: type | None = None
    response: Any = None
    status: int = 200
    request_type: str = "application/json"
    query: tuple[Query, ...] = ()  # what the handler reads from the query string, as it checks it
    body_optional: bool = False  # every field of ``request`` has a default: an empty body is all defaults


LIMIT_200 = {"type": "string", "pattern": r"^[0-9]{1,3}$", "description": "a whole number from 1 to 200"}
