"""The HTTP API under /api/v1: one table of routes, each with its access rule and types.

The table (:data:`ROUTES`) is the single source for the router, the authorisation check
and the OpenAPI document, so they cannot drift apart. Each resource's module in
:mod:`node.web.routes` holds its part of it, beside its handlers. Access levels:

* ``public``: anyone;
* ``member``: any signed-in member (a handler may further limit to the member's own data);
* ``officer``: secretary, chair, treasurer, officer or admin;
* ``admin``: admins only.

Handlers receive the request and the signed-in member (or None) and trust their types:
bodies are parsed by :func:`read_json` into msgspec Structs at the boundary.
"""

from __future__ import annotations

from node.web.routes import (
    ballots,
    campaigns,
    elections,
    federation,
    findings,
    keys,
    logins,
    mail,
    members,
    motions,
    node,
    privacy,
    rules,
    upward,
)
from node.web.routing import LEVEL as LEVEL  # re-exported: the app checks access with it
from node.web.routing import Query as Query
from node.web.routing import Route as Route

ROUTES: tuple[Route, ...] = (
    node.ROUTES
    + logins.ROUTES
    + members.ROUTES
    + keys.ROUTES
    + federation.ROUTES
    + rules.ROUTES
    + motions.ROUTES
    + ballots.ROUTES
    + upward.ROUTES
    + campaigns.ROUTES
    + findings.ROUTES
    + mail.ROUTES
    + elections.ROUTES
    + privacy.ROUTES
)
