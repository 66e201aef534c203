"""Authorisation matrix: anonymous / member / officer / admin x own / another member's data x every route.

Each cell starts from fresh people (the caller and an ordinary member who is "the other"),
sends one request and checks the status. ``EXPECTED`` is written by hand from the rules in
docs/operating.md; a test checks it names every route in ``node.web.api.ROUTES``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from node.web.api import ROUTES
from tests.node.conftest import Live, new_node_dir
from tests.node.web.authz_builders import ROLE_OF, ROLES, Cell, snapshot
from tests.node.web.authz_expected import EXPECTED


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    """A national node, so that charters and revocations are within the federation's rules."""
    return await new_node_dir(tmp_path, "National Committee", level="national")


# Allowed, yet nothing to change: signing out with an API token (it ends a browser session;
# test_api checks that with a cookie), and checking a receipt (posted only to keep it out of
# addresses and logs).
WITHOUT_STATE = {
    ("POST", "/api/v1/auth/logout"),
    ("POST", "/api/v1/ballots/{ballot_id}/receipt-check"),
    ("POST", "/api/v1/auth/forgot"),
}  # (no mail set up here: the same answer, nothing sent)


def test_matrix_names_every_route() -> None:
    assert set(EXPECTED) == {(r.method, r.path) for r in ROUTES}
    for builder, by_role in EXPECTED.values():
        assert set(by_role) == set(ROLES), builder


CASES = [
    pytest.param(method, path, role, own, id=f"{role}-{'own' if own else 'other'}-{method} {path}")
    for (method, path) in EXPECTED
    for role in ROLES
    for own in (True, False)
]


@pytest.mark.parametrize(("method", "path", "role", "own"), CASES)
async def test_matrix(live: Live, method: str, path: str, role: str, own: bool) -> None:
    await live.member("admin")  # someone else is always an admin, so no cell removes the last one
    me = None if role == "anonymous" else await live.member(ROLE_OF[role])
    other = await live.member("member")
    cell = Cell(live, me, other, own)
    builder, by_role = EXPECTED[(method, path)]
    url_path, kwargs = await builder(cell)
    snapshots = [await snapshot(live)]  # after the builder made what the request needs
    headers = {**cell.headers, **kwargs.pop("headers", {})}
    async with live.http.request(method, url_path, headers=headers, **kwargs) as response:
        body = await response.read()
    expected = by_role[role][0 if own else 1]
    assert response.status == expected, body
    if expected >= 400:
        assert b'"error"' in body  # every refusal is the documented error shape
    if method != "GET":
        # The state says what happened, not only the status: a refused write changed nothing
        # at all, and an allowed one changed something.
        before_builder = snapshots.pop()
        after = await snapshot(live)
        if expected >= 400:
            assert after == before_builder, (method, path)
        elif (method, path) not in WITHOUT_STATE:
            assert after != before_builder, (method, path)
