"""A member's own keys over the API (issue 25): a passkey made by a (software) authenticator
for this node's site, a key file's public key, listed and revoked by the member alone; a key
is one member's; bad input is named; a passkey for another site or an old challenge is refused."""

from __future__ import annotations

import base64

import pytest

from node.storage.member_keys import MAX_KEYS
from tests.node.conftest import Live
from tests.passkeys import KeyFile, SoftPasskey


@pytest.fixture
def named(live: Live) -> Live:
    """The node reached by a name (a passkey cannot be bound to an IP address)."""
    port = live.url.rsplit(":", 1)[1]
    live.node.config.http.public_url = f"http://localhost:{port}"
    return live


async def _post(live: Live, token: str, path: str, body: object = None) -> tuple[int, dict]:
    async with live.http.post(path, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, await r.json()


async def test_a_member_adds_a_passkey_for_this_site_and_it_is_theirs(named: Live) -> None:
    ada = await named.member()
    origin = named.node.config.http.public_url
    passkey = SoftPasskey(rp_id="localhost", origin=origin)
    status, options = await _post(named, ada.token, "/api/v1/me/keys/passkey-options")
    assert status == 200 and options["rp"]["id"] == "localhost" and options["attestation"] == "none"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-8, -7]
    status, key = await _post(named, ada.token, "/api/v1/me/keys/passkeys",
                              {"credential": passkey.register(options), "label": "my phone"})  # fmt: skip
    assert status == 201, key
    assert (key["alg"], key["passkey"], key["label"], key["revoked_at"]) == ("es256", True, "my phone", None)
    rows = await named.node.member_keys.of(ada.member.id)
    assert [r.key for r in rows] == [passkey.key]  # the very key the authenticator holds
    status, huge = await _post(named, ada.token, "/api/v1/me/keys/passkeys", {"credential": {"id": "x" * 20_000}})
    assert status == 400 and huge["error"]["field"] == "credential"  # before the challenge is used
    # The challenge is used up; a passkey made for another site is refused.
    status, again = await _post(named, ada.token, "/api/v1/me/keys/passkeys", {"credential": passkey.register(options)})
    assert status == 409 and again["error"]["code"] == "no_challenge"
    elsewhere = SoftPasskey(rp_id="localhost", origin="https://phish.example")
    _, options = await _post(named, ada.token, "/api/v1/me/keys/passkey-options")
    phished = {"credential": elsewhere.register(options)}
    status, refused = await _post(named, ada.token, "/api/v1/me/keys/passkeys", phished)
    assert status == 400 and refused["error"]["field"] == "credential"
    # Another member sees only their own keys, and cannot revoke Ada's.
    bob = await named.member()
    async with named.http.get("/api/v1/me/keys", headers=bob.headers) as r:
        assert await r.json() == []
    async with named.http.delete(f"/api/v1/me/keys/{key['id']}", headers=bob.headers) as r:
        assert r.status == 404
    async with named.http.delete(f"/api/v1/me/keys/{key['id']}", headers=ada.headers) as r:
        assert r.status == 200 and (await r.json())["revoked_at"] is not None
    async with named.http.delete(f"/api/v1/me/keys/{key['id']}", headers=ada.headers) as r:
        assert r.status == 409


async def test_passkeys_need_a_site_name(live: Live) -> None:
    ada = await live.member()
    status, answer = await _post(live, ada.token, "/api/v1/me/keys/passkey-options")
    assert status == 409 and answer["error"]["code"] == "no_site_name"


async def test_a_key_file_is_added_by_its_public_key_and_bad_ones_are_named(live: Live) -> None:
    ada, bob = await live.member(), await live.member()
    keyfile = KeyFile()
    hex_key = keyfile.key.public.hex()
    status, key = await _post(live, ada.token, "/api/v1/me/keys/files", {"public": hex_key, "label": "laptop"})
    assert status == 201 and (key["alg"], key["passkey"]) == ("ed25519", False)
    for body, field in [({"public": "zz"}, "public"), ({"public": "00" * 32}, "public"),
                        ({"public": hex_key, "label": "x\ny"}, "label"), ({"public": hex_key, "colour": 1}, None)]:
        status, refused = await _post(live, ada.token, "/api/v1/me/keys/files", body)
        assert status == 400, body
        if field:
            assert refused["error"]["field"] == field
    b64 = base64.urlsafe_b64encode(keyfile.key.public).decode().rstrip("=")
    status, held = await _post(live, bob.token, "/api/v1/me/keys/files", {"public": b64})
    assert status == 409 and held["error"]["code"] == "key_held"  # a key is one member's
    for _ in range(MAX_KEYS - 1):
        status, _ = await _post(live, ada.token, "/api/v1/me/keys/files", {"public": KeyFile().key.public.hex()})
        assert status == 201
    status, full = await _post(live, ada.token, "/api/v1/me/keys/files", {"public": KeyFile().key.public.hex()})
    assert status == 409 and full["error"]["code"] == "too_many"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def test_a_member_votes_signed_by_their_passkey_and_checks_it_after_the_close(named: Live) -> None:
    from node.federation import ballots
    from tests.node.federation.test_ballots import SPEC

    ada, sec = await named.member(), await named.member("secretary")
    passkey = SoftPasskey(rp_id="localhost", origin=named.node.config.http.public_url)
    _, options = await _post(named, ada.token, "/api/v1/me/keys/passkey-options")
    await _post(named, ada.token, "/api/v1/me/keys/passkeys", {"credential": passkey.register(options)})
    row = await ballots.open_ballot(named.node, sec.member, SPEC)
    async with named.http.get(f"/api/v1/ballots/{row.id}/participation-options", headers=ada.headers) as r:
        signing = await r.json()
    assert signing["rp_id"] == "localhost" and signing["credentials"] == [_b64(passkey.credential)]
    statement = bytes.fromhex(signing["statement"])
    signed = passkey.sign(statement)
    participation = {"credential": _b64(passkey.credential), "signature": _b64(signed.signature),
                     "authenticator_data": _b64(signed.authenticator_data), "client_data": _b64(signed.client_data)}
    bent = dict(participation, signature=_b64(passkey.sign(statement + b"!").signature))
    status, refused = await _post(named, ada.token, f"/api/v1/ballots/{row.id}/votes",
                                  {"choice": "for", "participation": bent})  # fmt: skip
    assert status == 403 and refused["error"]["code"] == "bad_member_signature"
    status, both = await _post(named, ada.token, f"/api/v1/ballots/{row.id}/votes",
                               {"choice": "for", "participation": dict(participation, key_id="00" * 32)})
    assert status == 400 and both["error"]["field"] == "participation"
    status, receipt = await _post(named, ada.token, f"/api/v1/ballots/{row.id}/votes",
                                  {"choice": "for", "participation": participation})  # fmt: skip
    assert status == 201 and receipt["signed"] is True
    status, receipt = await _post(named, sec.token, f"/api/v1/ballots/{row.id}/votes", {"choice": "against"})
    assert status == 201 and receipt["signed"] is False  # no key: counted, unsigned, and told so
    async with named.http.get(f"/api/v1/ballots/{row.id}/participation", headers=ada.headers) as r:
        assert r.status == 409 and (await r.json())["error"]["code"] == "not_decided"
    await ballots.close_ballot(named.node, sec.member, row.id)
    for who, found in ((ada, "signed"), (sec, "unsigned")):
        async with named.http.get(f"/api/v1/ballots/{row.id}/participation", headers=who.headers) as r:
            assert r.status == 200 and (await r.json())["found"] == found
    async with named.http.get(f"/api/v1/ballots/{row.id}/roll-proof", headers=ada.headers) as r:
        proof = await r.json()
    (held,) = await named.node.member_keys.of(ada.member.id)
    assert proof["keys"] == [held.key_id.hex()]  # the roll says which key Ada held
