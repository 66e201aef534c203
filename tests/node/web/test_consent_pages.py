"""A candidate's signed consent through the pages (issue 25), where the federation's rules ask
for it: a member with a passkey stands and the page carries what the passkey signs (the
statement's prefix: the script adds the name typed, as done here); the nomination shows the
consent as signed with her own key; a member without one is told the rules ask for it, and
the officer's nomination of him is refused, saying why. Form posts with their token, as a
browser sends them; the passkey is a software one (the Chromium test uses a real browser's)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.federation import participations
from tests.node.federation.test_upward import Federation
from tests.node.web.test_upward_pages import Browser, plain, regional, utc
from tests.node.web.test_upward_pages import browsers as browsers  # the fixture, served nodes signed in
from tests.passkeys import SoftPasskey


@pytest.fixture
async def fed(tmp_path: Path, password_hash: str) -> AsyncIterator[Federation]:
    async with regional(tmp_path, password_hash, {"leeds": 1, "york": 1}, {"signed_consent": True}) as f:
        yield f


def _signed_form(page: str, passkey: SoftPasskey, name: str) -> dict[str, str]:
    """What site.js puts in the stand form's hidden fields: the passkey's signature over the
    statement made from the page's prefix and the name typed."""
    prefix = bytes.fromhex(re.search(r'data-sign-prefix="([0-9a-f]+)"', page).group(1))  # type: ignore[union-attr]
    signed = passkey.sign(prefix + hashlib.sha256(name.encode()).digest())
    b64 = participations.b64url
    return {"p_credential": b64(passkey.credential), "p_signature": b64(signed.signature),
            "p_authenticator_data": b64(signed.authenticator_data), "p_client_data": b64(signed.client_data)}


async def test_a_member_stands_with_her_passkey_and_one_without_is_not_nominated(
        fed: Federation, browsers: dict[str, Browser]) -> None:  # fmt: skip
    north = browsers["north"]
    now = int(time.time() * 1000)
    form = {"office": "Treasurer", "selection_seats": "1", "method": "stv", "balancing": "",
            "nominations_close": utc(now + 600_000), "voting_close": utc(now + 1_200_000)}  # fmt: skip
    here = (await north.post("/elections", "/elections/do/select", form)).split("?")[0]
    await fed.sync()
    # Leeds: the secretary holds a passkey for the node's site and signs her consent.
    leeds, b = fed["leeds"], browsers["leeds"]
    site = str(b.http._base_url).rstrip("/").replace("127.0.0.1", "localhost")
    leeds.node.config.http.public_url = site
    passkey = SoftPasskey(rp_id="localhost", origin=site)
    passkey.credential = b"\x07" * 16
    await leeds.node.member_keys.add(leeds.officer.id, passkey.key, "my phone", passkey.credential)
    page = await b.page(here)
    assert "Your passkey signs your consent" in page and "data-sign-rp=\"localhost\"" in page
    wrong = _signed_form(page, passkey, "Somebody Else")  # signed for another name than the one typed
    refused = plain(await b.post(here, f"{here}/stand", {"name": "Sec Leeds", "statement": "", **wrong}, 403))
    assert "You do not stand yet: the client data's challenge is not this statement's" in refused, refused
    await b.post(here, f"{here}/stand", {"name": "Sec Leeds", "statement": "I keep the books.",
                                         **_signed_form(page, passkey, "Sec Leeds")})  # fmt: skip
    page = plain(await b.page(here))
    assert "You stand, your consent signed with your key." in page and "signed with their key" in page
    member = re.search(r'name="member" value="(\d+)"', await b.page(here)).group(1)  # type: ignore[union-attr]
    await b.post(here, f"{here}/nominate", {"member": member})
    await fed.sync()
    page = plain(await b.page(here))
    assert "nominated by leeds · consent signed with the candidate's own key: yours (my phone)" in page, page
    assert "consent signed with the candidate's own key" in plain(await north.page(here))
    # York: the secretary holds no key; he may stand, is told why it will not do, and is not nominated.
    y = browsers["york"]
    page = plain(await y.page(here))
    assert "The federation's rules ask that every nomination carry the candidate's own signed consent" in page
    await y.post(here, f"{here}/stand", {"name": "Sec York", "statement": ""})
    page = await y.page(here)
    assert "or this body cannot nominate you" in plain(page) and "not signed: the rules ask for it" in plain(page)
    member = re.search(r'name="member" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    refused = plain(await y.post(here, f"{here}/nominate", {"member": member}, 409))
    assert "Sec York stands again, signing with their key" in refused
    assert await fed["york"].node.envelopes.own_of_kind(fed["york"].node.key.public, "nomination") == []


async def test_a_member_stands_over_the_api_with_her_key_files_signature(
        fed: Federation, browsers: dict[str, Browser]) -> None:  # fmt: skip
    from node.federation import elections as el
    from node.rules import member_keys as keys_rules
    from tests.passkeys import KeyFile

    north, leeds = fed["north"], fed["leeds"]
    now = int(time.time() * 1000)
    selection = await el.publish_selection(north.node, north.officer, "Treasurer", 1, nominations_close=now + 600_000,
                                           voting_close=now + 1_200_000)  # fmt: skip
    await fed.sync()
    val, keyfile = leeds.voters[0], KeyFile()
    row = await keys_rules.add_key_file(leeds.node, val, keyfile.key.public)
    _, token = await leeds.node.auth.create_token(val.id, "tests")
    http, headers = browsers["leeds"].http, {"Authorization": f"Bearer {token}"}
    contest = el.SELECTION + selection.id.hex()
    async with http.get("/api/v1/candidacies/consent-options", params={"contest": contest, "name": "Val"},
                        headers=headers) as r:  # fmt: skip
        assert r.status == 200
        options = await r.json()
    assert options["key_ids"] == [row.key_id.hex()] and options["rp_id"] is None  # no site name: key files only
    signature = participations.b64url(keyfile.sign(bytes.fromhex(options["statement"])).signature)
    body = {"contest": contest, "name": "Val", "consent": {"key_id": row.key_id.hex(), "signature": signature}}
    async with http.post("/api/v1/candidacies", json={**body, "name": "Valerie"}, headers=headers) as r:
        assert r.status == 403 and (await r.json())["error"]["code"] == "bad_member_signature"  # signed for "Val"
    async with http.post("/api/v1/candidacies", json=body, headers=headers) as r:
        assert r.status == 201 and (await r.json())["signed"] is True
    delegates = {"contest": "delegates:" + "00" * 32, "name": "Val"}
    async with http.get("/api/v1/candidacies/consent-options", params=delegates, headers=headers) as r:
        assert r.status == 400 and (await r.json())["error"]["field"] == "contest"
