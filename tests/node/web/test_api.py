"""The HTTP API against a real server: errors, limits, logins, invites, roles, concurrency, OpenAPI."""

from __future__ import annotations

import asyncio
import io
import json
import time
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from node.errors import Conflict
from node.rules.throttle import SigningThrottle
from node.web.api import ROUTES
from protocol import NodeProfile, Quota
from tests.node.conftest import PASSWORD, Live

ROUTES_WITH_BODY = [r for r in ROUTES if r.method in ("POST", "PATCH")]


async def call(live: Live, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with live.http.request(method, path, **kwargs) as response:
        body = await response.read()
        return response.status, (json.loads(body) if body and response.content_type == "application/json" else body)


# --- bad input: 4xx with the error shape, never a 500 ------------------------------------
NASTY_BODIES = [
    b"",
    b"null",
    b"[]",
    b"{}",
    b"{",
    b'{"name": 1, "email": []}',
    b'{"email": "a@b.cd", "password": "x", "extra": true}',
    b"\xff\xfe\x00garbage",
    b"[" * 5000 + b"]" * 5000,
    b'{"name": "' + b"x" * 10_000 + b'"}',
    b'{"n": 1e999999}',
    b"name,email\n",
    b'{"motion": 9223372036854775808}',  # issue 21, item 10: past SQLite's integers, a 500 on submissions
    b'{"member": 9223372036854775808}',
]


@pytest.mark.parametrize("route", ROUTES_WITH_BODY, ids=lambda r: f"{r.method} {r.path}")
async def test_nasty_bodies_get_4xx_never_500(live: Live, route: Any) -> None:
    admin = await live.member("admin")
    target = await live.member("member")
    path = route.path.replace("{member_id}", str(target.member.id)).replace("{token_id}", "1")
    for body in NASTY_BODIES:
        status, answer = await call(live, route.method, path, data=body, headers=admin.headers)
        assert 400 <= status < 500 or status in (200, 201, 204), (body[:40], status, answer)
        if status >= 400:
            assert set(answer["error"]) == {"code", "message", "field"}
            assert answer["error"]["message"]


async def test_errors_name_the_field(live: Live) -> None:
    admin = await live.member("admin")
    status, answer = await call(
        live, "POST", "/api/v1/members", json={"name": "Ann", "email": "nope"}, headers=admin.headers
    )
    assert status == 400
    assert answer["error"]["field"] == "email"
    status, answer = await call(
        live, "POST", "/api/v1/members", json={"name": "Ann", "email": "a@b.org", "rank": 1}, headers=admin.headers
    )
    assert status == 400 and answer["error"]["field"] == "rank"
    status, answer = await call(
        live, "POST", "/api/v1/members", json={"name": "Ann", "email": "a@b.org", "role": "king"}, headers=admin.headers
    )
    assert status == 400 and answer["error"]["field"] == "role"
    status, answer = await call(live, "GET", "/api/v1/members?status=gone", headers=admin.headers)
    assert status == 400 and answer["error"]["field"] == "status"
    status, answer = await call(live, "GET", "/api/v1/members/abc", headers=admin.headers)
    assert status == 404 and answer["error"]["code"] == "not_found"
    status, answer = await call(live, "GET", "/api/v1/envelopes/zz", headers=admin.headers)
    assert status == 404
    status, answer = await call(live, "GET", "/api/v1/nowhere")
    assert status == 404 and answer["error"]["code"] == "not_found"
    async with live.http.put("/api/v1/me", headers=admin.headers) as response:
        answer = await response.json()
        assert response.status == 405 and answer["error"]["code"] == "method_not_allowed"
        assert response.headers["Allow"] == "GET, PATCH"  # RFC 9110 section 15.5.6 (issue 21, item 11)
    async with live.http.delete("/members", headers={"Accept": "text/html"}) as response:
        assert response.status == 405 and response.headers["Allow"] == "GET"


async def test_body_limit_refuses_before_reading(live: Live) -> None:
    admin = await live.member("admin")
    limit = live.node.config.http.max_body_bytes
    big = b"name,email\n" + b"A,a@b.org\n" * (limit // 10 + 10)
    status, answer = await call(live, "POST", "/api/v1/members/import", data=io.BytesIO(big), headers=admin.headers)
    assert status == 413 and answer["error"]["code"] == "too_large"

    async def chunks() -> Any:  # no Content-Length: the limit still holds while streaming
        for _ in range(limit // 65536 + 4):
            yield b"x" * 65536

    status, answer = await call(live, "POST", "/api/v1/members/import", data=chunks(), headers=admin.headers)
    assert status == 413
    assert await live.node.members.count() == 1  # only the admin; nothing half-imported


# --- logins, sessions, invites ------------------------------------------------------------
async def test_login_sets_lax_httponly_cookie_and_logout_ends_it(live: Live) -> None:
    person = await live.member("member")
    async with live.http.post(
        "/api/v1/auth/login", json={"email": person.member.email.upper(), "password": PASSWORD}
    ) as response:
        assert response.status == 200
        cookie = response.cookies["bn_session"]
        assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
        assert "password" not in (await response.text())
    status, me = await call(live, "GET", "/api/v1/me")
    assert status == 200 and me["id"] == person.member.id
    status, _ = await call(live, "POST", "/api/v1/auth/logout")
    assert status == 204
    live.http.cookie_jar.update_cookies({"bn_session": cookie.value})  # a stolen old cookie
    status, _ = await call(live, "GET", "/api/v1/me")
    assert status == 401


async def test_no_user_enumeration(live: Live) -> None:
    person = await live.member("member")
    a = await call(live, "POST", "/api/v1/auth/login", json={"email": person.member.email, "password": "wrong one!"})
    b = await call(live, "POST", "/api/v1/auth/login", json={"email": "nobody@example.org", "password": "wrong one!"})
    assert a == b == (401, {"error": {"code": "unauthorized", "message": "wrong email or password", "field": None}})


async def test_login_throttling(live: Live) -> None:
    person = await live.member("member")
    wrong = {"email": person.member.email, "password": "guess guess guess"}
    statuses = [(await call(live, "POST", "/api/v1/auth/login", json=wrong))[0] for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    async with live.http.post("/api/v1/auth/login", json={**wrong, "password": PASSWORD}) as response:
        assert response.status == 429  # even the right password waits: the guesser can't tell
        assert int(response.headers["Retry-After"]) > 0


async def test_cookie_writes_refuse_other_origins(live: Live) -> None:
    person = await live.member("member")
    await call(live, "POST", "/api/v1/auth/login", json={"email": person.member.email, "password": PASSWORD})
    status, answer = await call(
        live, "PATCH", "/api/v1/me", json={"name": "Mallory"}, headers={"Origin": "https://evil.example"}
    )
    assert status == 403 and answer["error"]["code"] == "forbidden"
    # An origin that only starts with this node's address is another site (issue 21, item 9).
    for lookalike in (f"{live.url}.evil.example", f"{live.url}0", f"{live.url}@evil.example"):
        status, answer = await call(live, "PATCH", "/api/v1/me", json={"name": "Mallory"},
                                    headers={"Origin": lookalike})  # fmt: skip
        assert status == 403, lookalike
    assert (await live.node.members.require(person.member.id)).name == person.member.name
    status, _ = await call(live, "PATCH", "/api/v1/me", json={"name": "Renamed"}, headers={"Origin": live.url})
    assert status == 200


async def test_invite_flow(live: Live) -> None:
    officer = await live.member("secretary")
    newcomer = await live.member("member", with_password=False)
    status, invite = await call(live, "POST", f"/api/v1/members/{newcomer.member.id}/invite", headers=officer.headers)
    assert status == 201
    token = invite["url"].rsplit("/invite/", 1)[1]  # the page that sets a password works without JavaScript
    status, answer = await call(live, "POST", "/api/v1/auth/invite", json={"token": token, "password": "short"})
    assert status == 400 and answer["error"]["field"] == "password"
    status, me = await call(live, "POST", "/api/v1/auth/invite", json={"token": token, "password": "a long new one"})
    assert status == 200 and me["has_login"] and me["id"] == newcomer.member.id
    status, _ = await call(live, "POST", "/api/v1/auth/invite", json={"token": token, "password": "a long new one"})
    assert status == 400  # one use only
    status, _ = await call(
        live, "POST", "/api/v1/auth/login", json={"email": newcomer.member.email, "password": "a long new one"}
    )
    assert status == 200


async def test_password_change_checks_current_and_ends_sessions_and_tokens(live: Live) -> None:
    person = await live.member("member")
    await call(live, "POST", "/api/v1/auth/login", json={"email": person.member.email, "password": PASSWORD})
    old_cookie = live.http.cookie_jar.filter_cookies(live.http._base_url)["bn_session"].value  # type: ignore[arg-type]
    elsewhere = await live.node.auth.create_session(person.member.id, 3600)  # signed in on another device
    status, answer = await call(live, "POST", "/api/v1/me/password", json={"current": "wrong", "new": "x" * 12})
    assert status == 400 and answer["error"]["field"] == "current"
    status, answer = await call(live, "POST", "/api/v1/me/password", json={"current": PASSWORD, "new": "short"})
    assert status == 400 and answer["error"]["field"] == "new"
    status, _ = await call(live, "POST", "/api/v1/me/password", json={"current": PASSWORD, "new": "x" * 12})
    assert status == 204
    assert (await call(live, "GET", "/api/v1/me"))[0] == 200  # this browser got a fresh session...
    for stale in (old_cookie, elsewhere):  # ...every other session ended
        assert await live.node.auth.session_member(stale) is None
    assert (await call(live, "GET", "/api/v1/me", cookies={}, headers=person.headers))[0] == 401  # and tokens


async def test_suspended_members_are_refused(live: Live) -> None:
    person = await live.member("member", status="suspended")
    status, answer = await call(live, "GET", "/api/v1/me", headers=person.headers)
    assert status == 403 and "suspended" in answer["error"]["message"]
    status, _ = await call(
        live, "POST", "/api/v1/auth/login", json={"email": person.member.email, "password": PASSWORD}
    )
    assert status == 401


async def test_bad_tokens(live: Live) -> None:
    for header in ("Bearer bnt_nope", "Basic abc", "Bearer", "bnt_x"):
        status, answer = await call(live, "GET", "/api/v1/me", headers={"Authorization": header})
        assert status == 401, header
        assert answer["error"]["code"] == "unauthorized"


# --- roles --------------------------------------------------------------------------------
async def test_officers_cannot_escalate(live: Live) -> None:
    officer = await live.member("secretary")
    admin = await live.member("admin")
    member = await live.member("member")
    h = officer.headers
    assert (
        await call(live, "POST", "/api/v1/members", json={"name": "X", "email": "x@y.org", "role": "admin"}, headers=h)
    )[0] == 403
    assert (await call(live, "PATCH", f"/api/v1/members/{member.member.id}", json={"role": "chair"}, headers=h))[
        0
    ] == 403
    assert (await call(live, "PATCH", f"/api/v1/members/{officer.member.id}", json={"role": "admin"}, headers=h))[
        0
    ] == 403
    assert (await call(live, "PATCH", f"/api/v1/members/{admin.member.id}", json={"name": "Y"}, headers=h))[0] == 403
    assert (await call(live, "DELETE", f"/api/v1/members/{admin.member.id}", headers=h))[0] == 403
    assert (await call(live, "POST", f"/api/v1/members/{admin.member.id}/invite", headers=h))[0] == 403
    csv = b"name,email,role\nZed,zed@example.org,admin\n"
    status, _ = await call(live, "POST", "/api/v1/members/import", data=csv, headers=h)
    assert status == 403 and await live.node.members.count() == 3
    # members may not give themselves roles through /me either
    assert (await call(live, "PATCH", "/api/v1/me", json={"role": "admin"}, headers=member.headers))[0] == 400
    assert (await live.node.members.require(member.member.id)).role == "member"
    # an admin may
    status, changed = await call(
        live, "PATCH", f"/api/v1/members/{member.member.id}", json={"role": "chair"}, headers=admin.headers
    )
    assert status == 200 and changed["role"] == "chair"


async def test_the_last_admin_stays(live: Live) -> None:
    admin = await live.member("admin")
    status, answer = await call(live, "DELETE", f"/api/v1/members/{admin.member.id}", headers=admin.headers)
    assert status == 409 and "last active admin" in answer["error"]["message"]
    status, _ = await call(
        live, "PATCH", f"/api/v1/members/{admin.member.id}", json={"role": "member"}, headers=admin.headers
    )
    assert status == 409
    assert (await live.node.members.require(admin.member.id)).role == "admin"


# --- concurrency --------------------------------------------------------------------------
async def test_delete_deletes_and_refusals_change_nothing(live: Live) -> None:
    officer, admin = await live.member("secretary"), await live.member("admin")
    target = await live.member("member")
    status, _ = await call(live, "DELETE", f"/api/v1/members/{admin.member.id}", headers=officer.headers)
    assert status == 403 and await live.node.members.get(admin.member.id) is not None  # officers do not touch admins
    status, _ = await call(live, "DELETE", f"/api/v1/members/{target.member.id}", headers=officer.headers)
    assert status == 204
    assert await live.node.members.get(target.member.id) is None
    assert await live.node.auth.token_member(target.token) is None  # the member's tokens went with them
    status, _ = await call(live, "DELETE", f"/api/v1/members/{target.member.id}", headers=officer.headers)
    assert status == 404


async def test_a_good_login_resets_the_accounts_failures(live: Live) -> None:
    person = await live.member("member")
    for _round in range(3):  # 4 failures, then the right password, three times: never held back
        for i in range(4):
            status, _ = await call(live, "POST", "/api/v1/auth/login",
                                   json={"email": person.member.email, "password": f"wrong {i}"})  # fmt: skip
            assert status == 401
        status, _ = await call(live, "POST", "/api/v1/auth/login",
                               json={"email": person.member.email, "password": PASSWORD})  # fmt: skip
        assert status == 200


async def test_fifty_concurrent_identical_adds_leave_one(live: Live) -> None:
    officer = await live.member("secretary")
    body = {"name": "Dup Licate", "email": "dup@example.org"}

    async def add() -> int:
        return (await call(live, "POST", "/api/v1/members", json=body, headers=officer.headers))[0]

    statuses = await asyncio.wait_for(asyncio.gather(*(add() for _ in range(50))), timeout=60)
    assert sorted(statuses) == [201] + [409] * 49
    assert [m.email for m in await live.node.members.list()].count("dup@example.org") == 1


async def test_concurrent_appends_make_one_gapless_chain(live: Live) -> None:
    officer = await live.member("secretary")
    profile = {"name": "Test Branch", "endpoints": ["http://127.0.0.1:9/"]}

    async def append(i: int) -> dict[str, Any]:
        status, answer = await call(
            live, "POST", "/api/v1/log/profile", json={**profile, "contact": str(i)}, headers=officer.headers
        )
        assert status == 201, answer
        return dict(answer)

    answers = await asyncio.wait_for(asyncio.gather(*(append(i) for i in range(60))), timeout=60)
    assert sorted(a["seq"] for a in answers) == list(range(2, 62))  # the genesis is 1
    from protocol import check_logs

    report = check_logs(await live.node.envelopes.all_raw(), now_ms=2**62)
    assert report.failures == []
    assert report.heads[live.node.key.public].seq == 61


# --- OpenAPI ------------------------------------------------------------------------------
async def test_openapi_is_valid_and_true_to_the_routes(live: Live) -> None:
    status, document = await call(live, "GET", "/api/v1/openapi.json")
    assert status == 200
    validate_openapi(document)
    documented = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    served = {(r.method, r.path) for r in ROUTES} | {("GET", "/api/v1/openapi.json")}
    assert documented == served
    for route in ROUTES:
        op = document["paths"][route.path][route.method.lower()]
        assert op["x-access"] == route.access
        assert str(route.status) in op["responses"]
        assert ("security" in op) == (route.access != "public")


async def test_openapi_says_what_the_server_enforces(live: Live) -> None:
    """Issue 21, item 11: the document named no query parameters, no password minimum and no
    id patterns, which the server enforced; each is now both documented and enforced."""
    admin = await live.member("admin")
    _, document = await call(live, "GET", "/api/v1/openapi.json")
    schemas = document["components"]["schemas"]

    def param(path: str, name: str, method: str = "get") -> dict[str, Any]:
        found = [p for p in document["paths"][path][method]["parameters"] if p["name"] == name]
        assert len(found) == 1, (path, name)
        return found[0]  # type: ignore[no-any-return]

    contest = param("/api/v1/candidacies", "contest")
    assert contest["required"] and contest["in"] == "query"
    assert schemas["AcceptInvite"]["properties"]["password"]["minLength"] == 10
    assert schemas["PasswordChange"]["properties"]["new"]["minLength"] == 10
    assert "pattern" in schemas["MemberIn"]["properties"]["email"]
    assert param("/api/v1/members/{member_id}", "member_id")["schema"]["pattern"] == "^[0-9]{1,18}$"
    assert param("/api/v1/envelopes/{id}", "id")["schema"]["pattern"] == "^[0-9a-fA-F]{64}$"
    # ... and the server refuses what the document excludes.
    for path in ("/api/v1/candidacies", "/api/v1/candidacies?contest=selection:00", "/api/v1/findings?after=1.zz.x",
                 "/api/v1/findings?limit=0", "/api/v1/envelopes/" + "0" * 64 + "?format=x",
                 "/api/v1/members?status=gone", "/api/v1/joins?status=maybe"):  # fmt: skip
        status, answer = await call(live, "GET", path, headers=admin.headers)
        assert status == 400, (path, answer)
    status, _ = await call(live, "GET", "/api/v1/envelopes/" + "0" * 62 + " 0", headers=admin.headers)
    assert status == 404  # a space is not a hex digit (bytes.fromhex would take it)
    status, answer = await call(live, "POST", "/api/v1/me/password", headers=admin.headers,
                                json={"current": PASSWORD, "new": "short"})  # fmt: skip
    assert status == 400 and answer["error"]["field"] == "new"


async def test_responses_match_documented_schemas(live: Live) -> None:
    _, document = await call(live, "GET", "/api/v1/openapi.json")
    components = document["components"]["schemas"]
    admin = await live.member("admin")

    def check(path: str, method: str, status: int, body: Any) -> None:
        op = document["paths"][path][method]
        entry = op["responses"].get(str(status)) or op["responses"]["default"]
        schema = entry["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": {"schemas": components}})

    samples = [  # (template, method, path, body, the status this call must get)
        ("/healthz", "GET", "/healthz", None, 200),
        ("/api/v1/node", "GET", "/api/v1/node", None, 200),
        ("/api/v1/me", "GET", "/api/v1/me", None, 200),
        ("/api/v1/members", "GET", "/api/v1/members", None, 200),
        ("/api/v1/members", "POST", "/api/v1/members", {"name": "New", "email": "new@example.org", "youth": True}, 201),
        ("/api/v1/members", "POST", "/api/v1/members", {"name": "New", "email": "new@example.org"}, 409),
        ("/api/v1/tokens", "POST", "/api/v1/tokens", {"name": "cron"}, 201),
        ("/api/v1/tokens", "GET", "/api/v1/tokens", None, 200),
        ("/api/v1/joins", "GET", "/api/v1/joins", None, 200),
        ("/api/v1/log/profile", "POST", "/api/v1/log/profile", {"name": "B", "endpoints": ["http://127.0.0.1:9/"]},
         201),
        ("/api/v1/members", "GET", "/api/v1/members?status=gone", None, 400),
    ]  # fmt: skip
    for template, method, path, body, expected in samples:
        status, answer = await call(live, method, path, json=body, headers=admin.headers)
        assert status == expected, (method, path, status, answer)  # a schema check of the wrong answer proves nothing
        check(template, method.lower(), status, answer)
    with pytest.raises(jsonschema.ValidationError):  # and the check can fail: a member is not an error
        check("/api/v1/me", "get", 401, {"id": 1})


async def test_messages_name_the_field_and_the_rule_in_plain_words(live: Live) -> None:
    admin = await live.member("admin")
    cases = [
        ({"email": "a@b.org"}, "name", "is required"),
        ({"name": "n" * 201, "email": "a@b.org"}, "name", "must have at most 200 characters"),
        ({"name": "Ann", "email": "a@b.org", "youth": "often"}, "youth", "must be true or false, not text"),
        ({"name": "Ann", "email": "a@b.org", "role": "king"}, "role", "'king' is not one of member"),
    ]
    for body, field, words in cases:
        status, answer = await call(live, "POST", "/api/v1/members", json=body, headers=admin.headers)
        assert status == 400 and answer["error"]["field"] == field, answer
        assert words in answer["error"]["message"] and "Expected" not in answer["error"]["message"], answer


async def test_one_officer_cannot_spend_the_nodes_quota_and_closing_never_waits(live: Live) -> None:
    """Issue 21, item 13: one officer (or a stolen token) signing rolls in a loop used the
    node's whole daily quota in 26 s, and then no ballot could be opened or closed."""
    live.node.own_log.signing = SigningThrottle(time.monotonic, per_hour=5, per_day=50)
    first, second = await live.member("secretary"), await live.member("secretary")
    status, ballot = await call(live, "POST", "/api/v1/ballots", headers=first.headers,
                                json={"motion": "m1", "subject": "s", "text": "t"})  # fmt: skip
    assert status == 201, ballot
    statuses = [(await call(live, "POST", "/api/v1/rolls", headers=first.headers))[0] for _ in range(6)]
    assert statuses == [201] * 4 + [429] * 2  # the ballot's roll was the first of five
    async with live.http.post("/api/v1/rolls", headers=first.headers) as r:
        assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    assert (await call(live, "POST", "/api/v1/rolls", headers=second.headers))[0] == 201  # another officer's share
    status, closed = await call(live, "POST", f"/api/v1/ballots/{ballot['id']}/close", headers=first.headers)
    assert status == 201, closed  # closing a ballot never waits for the limit


async def test_the_last_tenth_of_the_daily_quota_is_kept_for_closing_ballots(live: Live) -> None:
    node = live.node
    node.federation_state.quota = lambda: Quota(envelopes_per_day=40, bytes_per_day=64 * 2**20)  # type: ignore[method-assign]
    officer = await live.member("secretary")
    status, ballot = await call(live, "POST", "/api/v1/ballots", headers=officer.headers,
                                json={"motion": "m1", "subject": "s", "text": "t"})  # fmt: skip
    assert status == 201, ballot
    for signed in range(40):  # bounded: the quota is 40 a day
        try:
            await node.own_log.append(NodeProfile(name=f"Profile {signed}", endpoints=[live.url]))
        except Conflict as exc:
            assert exc.code == "over_quota" and "closing ballots" in exc.message
            break
    held = node.federation_state.heads[node.key.public].seq
    assert 30 <= held <= 37, held  # stopped with about a tenth of the day's 40 left
    status, closed = await call(live, "POST", f"/api/v1/ballots/{ballot['id']}/close", headers=officer.headers)
    assert status == 201, closed  # the decision takes from the reserve
