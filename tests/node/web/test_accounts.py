"""Accounts under attack: the last admin, password guessing, lock-outs, tokens, origins, bad bodies.

Each test checks the state after the calls (who is still admin, which logins work, which
tokens still open the API), not only the status codes.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import aiohttp
import pytest

from node.errors import Throttled
from node.rules.throttle import LoginThrottle
from tests.node.conftest import PASSWORD, Live


async def call(live: Live, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    async with live.http.request(method, path, **kwargs) as response:
        body = await response.read()
        is_json = body and response.content_type == "application/json"
        return response.status, (await response.json() if is_json else body)


async def login(live: Live, email: str, password: str, address: str | None = None) -> int:
    headers = {"X-Forwarded-For": address} if address else {}
    async with live.http.post("/api/v1/auth/login", json={"email": email, "password": password},
                              headers=headers, cookies={}) as response:  # fmt: skip
        return response.status


# --- 9: the last admin --------------------------------------------------------------------
@pytest.mark.parametrize("action", ["demote", "suspend", "delete"])
async def test_two_admins_leaving_at_once_leave_one(live: Live, action: str) -> None:
    for _ in range(10):  # ten rounds, as the report did
        a, b = await live.member("admin"), await live.member("admin")
        for m in await live.node.members.list():  # only these two are admins this round
            if m.role == "admin" and m.id not in (a.member.id, b.member.id):
                await live.node.members.remove(m.id)

        async def leave(who: Any) -> int:
            path = f"/api/v1/members/{who.member.id}"
            if action == "delete":
                return (await call(live, "DELETE", path, headers=who.headers))[0]
            change = {"role": "member"} if action == "demote" else {"status": "suspended"}
            return (await call(live, "PATCH", path, json=change, headers=who.headers))[0]

        statuses = sorted(await asyncio.gather(leave(a), leave(b)))
        assert statuses[1] == 409, statuses  # one of them was refused...
        admins = [m for m in await live.node.members.list() if m.role == "admin" and m.status == "active"]
        assert len(admins) == 1  # ...and exactly one active admin is left


async def test_the_cli_obeys_the_last_admin_rule(live: Live) -> None:
    admin = await live.member("admin")
    for m in await live.node.members.list():
        if m.role == "admin" and m.id != admin.member.id:
            await live.node.members.remove(m.id)
    directory = str(live.node.directory)
    for args in (["edit", str(admin.member.id), "--role", "member"], ["edit", str(admin.member.id), "--status",
                 "lapsed"], ["remove", str(admin.member.id)]):  # fmt: skip
        command = [sys.executable, "-m", "node", "member", *args, "--dir", directory]
        result = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and "last active admin" in result.stderr, result.stderr
    assert (await live.node.members.require(admin.member.id)).role == "admin"


# --- 10: concurrent guesses are counted before they are checked ---------------------------
async def test_concurrent_guesses_for_one_account_check_at_most_the_limit(live: Live) -> None:
    person = await live.member("member")
    # Time stands still for the throttle: on a loaded machine the 100 requests may take longer
    # than the account's first back-off, and whether they do must not decide this test.
    frozen = live.node.throttle.clock()
    live.node.throttle.clock = lambda: frozen
    statuses = await asyncio.gather(*(login(live, person.member.email, f"guess number {i}") for i in range(100)))
    assert statuses.count(401) == 5 and statuses.count(429) == 95, sorted(set(statuses))
    # The right password is held back too while the account backs off...
    assert await login(live, person.member.email, PASSWORD) == 429


async def test_a_good_login_clears_the_account_and_takes_back_its_attempt() -> None:
    now = [1000.0]
    throttle = LoginThrottle(lambda: now[0], per_account=3, per_address=4)
    for _ in range(2):
        throttle.attempt("ann@example.org", "10.0.0.1")
    mark = throttle.attempt("ann@example.org", "10.0.0.1")
    throttle.succeeded("Ann@Example.org", "10.0.0.1", mark)  # the third one was right
    for _ in range(2):  # the account starts again at zero; the address holds two failures
        throttle.attempt("ann@example.org", "10.0.0.1")
    with pytest.raises(Throttled):  # 4 failures from the address: its limit
        throttle.attempt("bob@example.org", "10.0.0.1")
    throttle.attempt("bob@example.org", "10.0.0.2")  # another address is not held back
    now[0] += 901  # the window passes
    throttle.attempt("bob@example.org", "10.0.0.1")


def test_account_back_off_doubles_and_refusals_do_not_count() -> None:
    now = [0.0]
    throttle = LoginThrottle(lambda: now[0], per_account=2, per_address=1000)
    throttle.attempt("a@x.org", "1")
    throttle.attempt("a@x.org", "1")
    waits = []
    for _ in range(4):
        with pytest.raises(Throttled) as refused:
            throttle.attempt("a@x.org", "1")
        waits.append(refused.value.retry_after)
        now[0] += refused.value.retry_after  # wait as told, then one more (wrong) guess is checked
        throttle.attempt("a@x.org", "1")
    assert waits == [1, 2, 4, 8]


# --- 11: one address cannot lock out another, behind a proxy ------------------------------
async def test_behind_a_trusted_proxy_each_client_has_its_own_address_limit(live: Live) -> None:
    live.node.config.http.trusted_proxies = ["127.0.0.1"]
    victim = await live.member("member")
    accounts = [await live.member("member") for _ in range(6)]
    # 30 bad logins from one client (spread over accounts so no account backs off alone)...
    for i in range(30):
        assert await login(live, accounts[i % 6].member.email, "wrong password", "203.0.113.7") == 401
    assert await login(live, victim.member.email, PASSWORD, "203.0.113.7") == 429  # that client is held back
    # ...while another client behind the same proxy signs in as usual.
    assert await login(live, victim.member.email, PASSWORD, "198.51.100.20") == 200
    # A proxy chain: the client is the last address that is not a trusted proxy.
    assert await login(live, victim.member.email, PASSWORD, "203.0.113.7, 198.51.100.21, 127.0.0.1") == 200


async def test_a_browser_that_signed_in_before_passes_a_busy_addresses_limit(live: Live) -> None:
    """Issue 21, item 15: 30 bad sign-ins from one address locked out everyone there, a
    member with the right password behind a shared NAT included. A browser showing the
    device cookie of an earlier sign-in to that account passes the address's limit (OWASP
    "device cookies"); the account's own limit still holds; another account's cookie is no key."""
    live.node.config.http.trusted_proxies = ["127.0.0.1"]
    nat = "203.0.113.7"
    member, newcomer = await live.member("member"), await live.member("member")
    guessed = [await live.member("member") for _ in range(6)]

    async def browser_login(http: aiohttp.ClientSession, email: str, password: str) -> int:
        async with http.post("/api/v1/auth/login", json={"email": email, "password": password},
                             headers={"X-Forwarded-For": nat}) as response:  # fmt: skip
            return response.status

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(live.url, cookie_jar=jar) as members_phone:
        assert await browser_login(members_phone, member.member.email, PASSWORD) == 200  # last week
        assert any(c.key == "bn_device" for c in jar)
        for i in range(30):  # a guesser behind the same NAT
            assert await login(live, guessed[i % 6].member.email, "wrong password", nat) == 401
        assert await login(live, newcomer.member.email, PASSWORD, nat) == 429  # no cookie: held back
        assert await browser_login(members_phone, member.member.email, PASSWORD) == 200  # known device
        assert await browser_login(members_phone, newcomer.member.email, PASSWORD) == 429  # not its cookie
        for _ in range(5):  # the account's own limit holds, device cookie or not
            assert await browser_login(members_phone, member.member.email, "wrong password") == 401
        assert await browser_login(members_phone, member.member.email, PASSWORD) == 429


async def test_forwarded_addresses_from_untrusted_peers_are_ignored(live: Live) -> None:
    live.node.config.http.trusted_proxies = []
    accounts = [await live.member("member") for _ in range(6)]
    for i in range(30):  # each claims another address; the node sees 127.0.0.1 throughout
        assert await login(live, accounts[i % 6].member.email, "wrong password", f"192.0.2.{i}") == 401
    assert await login(live, accounts[0].member.email, PASSWORD, "192.0.2.200") == 429


# --- 12: tokens -----------------------------------------------------------------------------
async def test_tokens_end_with_a_password_change_and_may_expire(live: Live) -> None:
    person = await live.member("member")
    status, made = await call(live, "POST", "/api/v1/tokens", json={"name": "short", "expires_days": 1},
                              headers=person.headers)  # fmt: skip
    assert status == 201 and made["expires_at"] is not None
    short = {"Authorization": f"Bearer {made['token']}"}
    assert (await call(live, "GET", "/api/v1/me", headers=short))[0] == 200
    clock = live.node.auth.clock
    live.node.auth.clock = lambda: clock() + 86400 + 1  # a day later
    try:
        assert (await call(live, "GET", "/api/v1/me", headers=short))[0] == 401
        assert (await call(live, "GET", "/api/v1/me", headers=person.headers))[0] == 200  # no expiry
    finally:
        live.node.auth.clock = clock
    live.node.config.auth.token_max_days = 30
    status, answer = await call(live, "POST", "/api/v1/tokens", json={"name": "long", "expires_days": 31},
                                headers=person.headers)  # fmt: skip
    assert status == 400 and answer["error"]["field"] == "expires_days"
    status, capped = await call(live, "POST", "/api/v1/tokens", json={"name": "default"}, headers=person.headers)
    assert status == 201 and capped["expires_at"] is not None
    status, _ = await call(live, "POST", "/api/v1/me/password", json={"current": PASSWORD, "new": "a new password"},
                           headers=person.headers)  # fmt: skip
    assert status == 204
    for headers in (person.headers, {"Authorization": f"Bearer {capped['token']}"}):
        assert (await call(live, "GET", "/api/v1/me", headers=headers))[0] == 401
    assert await live.node.auth.list_tokens(person.member.id) == []


async def test_wrong_current_passwords_are_throttled(live: Live) -> None:
    person = await live.member("member")
    statuses = []
    for i in range(40):
        status, _ = await call(live, "POST", "/api/v1/me/password", json={"current": f"wrong {i}", "new": "x" * 12},
                               headers=person.headers)  # fmt: skip
        statuses.append(status)
    # five checked, then back-off (1, 2, 4 ... s after each further check): a few more at most
    assert statuses[:6] == [400] * 5 + [429] and statuses.count(400) <= 8, statuses
    assert await login(live, person.member.email, PASSWORD) == 429  # the same account limit
    record = await live.node.members.login_record(person.member.email)
    assert record is not None and record[1] == live.password_hash  # the password never changed


# --- 16: the origin check behind a TLS reverse proxy ---------------------------------------
async def test_origin_is_checked_against_the_public_url(live: Live) -> None:
    live.node.config.http.public_url = "https://riverside.example.org"
    person = await live.member("member")
    session = await live.node.auth.create_session(person.member.id, 3600)
    cookies = {"bn_session": session}
    for origin, expected in (("https://riverside.example.org", 200), ("https://riverside.example.org:443", 200),
                             ("https://evil.example", 403), ("http://riverside.example.org", 403)):  # fmt: skip
        status, _ = await call(live, "PATCH", "/api/v1/me", json={"name": f"Renamed {expected}"},
                               cookies=cookies, headers={"Origin": origin})  # fmt: skip
        assert status == expected, origin
    assert (await live.node.members.require(person.member.id)).name == "Renamed 200"


# --- 18: JSON that is not UTF-8 --------------------------------------------------------------
async def test_json_bodies_that_are_not_utf8_get_400(live: Live) -> None:
    admin = await live.member("admin")
    bad = b'{"email": "ann@example.org", "password": "\xff\xfe not utf-8"}'
    status, answer = await call(live, "POST", "/api/v1/auth/login", data=bad,
                                headers={"Content-Type": "application/json"})  # fmt: skip
    assert status == 400 and answer["error"]["code"] == "bad_request" and "UTF-8" in answer["error"]["message"]
    status, answer = await call(live, "POST", "/api/v1/members", data=b'{"name": "\xc3", "email": "a@b.org"}',
                                headers=admin.headers)  # fmt: skip
    assert status == 400
    assert await live.node.members.count() == 1  # only the admin
