"""Every number from outside is range-checked: a sweep of every route with out-of-range numbers.

Path parameters, query parameters and every integer field of every request body get numbers
far outside what they allow (10^23, 2^63, 2^64, -1, 2^53 + 1, non-ASCII digits). Every answer
must be a 4xx with the error shape (or a success where the number is allowed): never a 500.
The other fields of each body are valid, so the number reaches the code behind the parsing.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from node.federation.acts import issue_charter
from node.gossip.client import HttpTransport
from node.gossip.engine import PeerError
from node.web.api import ROUTES
from protocol import SigningKey
from tests.node.conftest import PASSWORD, Live, new_node_dir

HUGE = [10**23, 2**63, 2**64, -1, -(2**63) - 1, 2**53 + 1]
HUGE_TEXT = ["100000000000000000000000", "18446744073709551616", "-1", "9007199254740993", "٣", "1e9"]


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    return await new_node_dir(tmp_path, "National Committee", level="national")


@pytest.fixture
async def child(live: Live) -> AsyncIterator[SigningKey]:
    key = SigningKey.generate()
    await issue_charter(live.node, key.public, "North Region", "region", "http://127.0.0.1:9")
    yield key


def sample_bodies(child: SigningKey) -> dict[str, dict[str, Any]]:
    """A valid body for every route that takes one (keyed by "METHOD path")."""
    return {
        "POST /api/v1/auth/login": {"email": "nobody@example.org", "password": PASSWORD},
        "POST /api/v1/auth/invite": {"token": "bni_x", "password": PASSWORD},
        "PATCH /api/v1/me": {"name": "Someone"},
        "POST /api/v1/me/password": {"current": "wrong password", "new": "a new password"},
        "POST /api/v1/tokens": {"name": "t", "expires_days": 30},
        "POST /api/v1/members": {"name": "Ann", "email": "ann@example.org"},
        "PATCH /api/v1/members/{member_id}": {"name": "Ann"},
        "POST /api/v1/charters": {"node_id": SigningKey.generate().node_id, "name": "South", "level": "region"},
        "POST /api/v1/revocations": {"node_id": child.node_id, "after_seq": 1},
        "POST /api/v1/revocations/proposals": {"node_id": child.node_id, "after_seq": 1},
        "POST /api/v1/rules/proposals": {"changes": {"quorum": {"num": 1, "den": 3}}, "closes": 4_102_444_800_000},
        "POST /api/v1/freezes": {"node_id": child.node_id, "days": 3, "reason": "lost key"},
        "POST /api/v1/log/profile": {"name": "National", "endpoints": ["https://n.example.org"]},
        "POST /api/v1/ballots": {"motion": "m1", "subject": "s", "text": "t"},
        "POST /api/v1/ballots/{ballot_id}/votes": {"choice": "for"},
        "POST /api/v1/ballots/{ballot_id}/receipt-check": {"receipt": "r-aaaaaaaaaaaaaaaaaaaaaaaaaa"},
        "POST /api/v1/motions": {"title": "t", "text": "x", "deadline": 10},
        "POST /api/v1/motions/{motion_id}/rule-out": {"reason": "r"},
        "POST /api/v1/motions/{motion_id}/refer": {"reason": "r"},
        "POST /api/v1/motions/{motion_id}/amendments": {"paragraph": 1, "start": 0, "end": 1, "text": "y"},
        "POST /api/v1/motions/{motion_id}/comments": {"text": "c"},
        "POST /api/v1/motions/{motion_id}/ballot": {},
        "POST /api/v1/amendments/{amendment_id}/ballot": {},
        "POST /api/v1/submissions": {"motion": 1},
        "POST /api/v1/submissions/{submission_id}/ruling": {"reason": "r"},
        "POST /api/v1/composites": {"title": "t", "text": "x", "sources": ["00" * 32, "11" * 32]},
        "POST /api/v1/composites/{composite_id}/answer": {"answer": "consent"},
        "POST /api/v1/agenda": {"title": "t", "text": "x", "opens": 10, "closes": 20},
        "POST /api/v1/agenda/{item_id}/mandate": {},
        "POST /api/v1/agenda/{item_id}/ballot": {"closes": 20},
        "POST /api/v1/delegates": {"count": 2},
        "POST /api/v1/delegates/proposals": {"count": 2},
        "POST /api/v1/campaigns": {"title": "t", "text": "x", "starts": 10, "ends": 20},
        "POST /api/v1/campaigns/{campaign_id}/pledges": {"text": "p"},
        "POST /api/v1/campaigns/{campaign_id}/withdrawal": {"reason": "r"},
        "POST /api/v1/pledges/{pledge_id}/withdrawal": {"reason": "r"},
        "POST /api/v1/elections/delegates": {"seats": 2},
        "POST /api/v1/selections": {"office": "o", "seats": 2, "nominations_close": 10, "voting_close": 20},
        "POST /api/v1/selections/{selection_id}/nominations": {"member": 1},
        "POST /api/v1/scrutineers": {"member_id": 1},
    }


def int_fields(route: Any) -> list[str]:
    """The integer fields of a route's request type (from its schema)."""
    if route.request is None:
        return []
    schema = msgspec.json.schema(route.request)
    name = schema["$ref"].rsplit("/", 1)[-1]
    properties = schema["$defs"][name]["properties"]

    def is_int(spec: dict[str, Any]) -> bool:
        return spec.get("type") == "integer" or any(is_int(s) for s in spec.get("anyOf", []))

    return [field for field, spec in properties.items() if is_int(spec)]


async def test_no_route_answers_500_to_out_of_range_numbers(live: Live, child: SigningKey) -> None:
    admin = await live.member("admin")
    bodies = sample_bodies(child)
    calls = 0
    for route in ROUTES:
        key = f"{route.method} {route.path}"
        params = re.findall(r"{(\w+)}", route.path)
        paths = [route.path]
        for text in HUGE_TEXT:
            path = route.path
            for p in params:
                path = path.replace("{" + p + "}", text)
            if params:
                paths.append(path)
        concrete = route.path.replace("{member_id}", str(admin.member.id)).replace("{token_id}", "1")
        concrete = concrete.replace("{join_id}", "1").replace("{id}", "00" * 32)
        queries = [f"?{q}={t}" for q in ("after", "limit", "status", "skip_bad", "format") for t in HUGE_TEXT]
        requests: list[tuple[str, Any]] = [(p, bodies.get(key)) for p in paths[1:]]
        requests += [(concrete + q, bodies.get(key)) for q in queries]
        for field in int_fields(route):
            requests += [(concrete, {**bodies[key], field: n}) for n in HUGE]
        for path, body in requests:
            async with live.http.request(route.method, path, json=body, headers=admin.headers) as r:
                calls += 1
                answer = await r.read()
                assert r.status < 500, (route.method, path, body, r.status, answer[:200])
                if r.status >= 400:
                    assert set(msgspec.json.decode(answer)["error"]) == {"code", "message", "field"}
    assert calls > 300
    assert live.node.federation_state.body(child.public).cut is None  # no revocation slipped through


async def test_federation_routes_range_check_their_numbers(live: Live, child: SigningKey) -> None:
    transport = HttpTransport(child, allow_private=True, timeout_s=10)
    try:
        for after in HUGE_TEXT:
            with pytest.raises(PeerError, match="HTTP 400"):
                await transport.request("GET", live.url, f"/fed/v1/log/{child.public.hex()}", params={"after": after})
            with pytest.raises(PeerError, match="HTTP 400"):
                await transport.request("GET", live.url, f"/fed/v1/log/{child.public.hex()}", params={"limit": after})
        for body in (msgspec.msgpack.encode({"digest": 2**64 - 1}), msgspec.msgpack.encode({"digest": -(2**63)})):
            with pytest.raises(PeerError, match="HTTP 400"):
                await transport.request("POST", live.url, "/fed/v1/sync", body)
    finally:
        await transport.close()
