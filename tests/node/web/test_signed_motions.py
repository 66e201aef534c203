"""Moving a motion or an amendment signed with the mover's own key (issue 25): over the API
with a key file's signature of the statement (docs/protocol.md, "Members' own keys"), and on
the pages with a (software) passkey; a signature over another title, text or span, or by a
key that is not the mover's, is refused and nothing is moved; the motion's page says which
were signed."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from node.federation import motions
from node.rules import member_keys as keys_rules
from node.web.pages import keys as keys_pages
from protocol.member_keys import amendment_statement, motion_statement
from tests.node.conftest import Live
from tests.node.web.test_pages import sign_in
from tests.passkeys import KeyFile, SoftPasskey


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def test_a_member_moves_a_motion_and_an_amendment_signed_with_their_key_file(live: Live) -> None:
    node = live.node
    ada, bea, sec = await live.member(), await live.member(), await live.member("secretary")
    keyfile = KeyFile()
    row = await keys_rules.add_key_file(node, ada.member, keyfile.key.public, "laptop")
    federation, me = node.federation_state.federation or b"", node.key.public
    title, text = "Fund the food bank", "The branch gives 100 pounds.\n\nEvery month."

    def signature(statement: bytes) -> dict[str, str]:
        return {"key_id": row.key_id.hex(), "signature": _b64(keyfile.sign(statement).signature)}

    signed = signature(motion_statement(federation, me, me, title, text))
    for wrong in ({"title": "Fund the food bank!", "text": text, "signature": signed},  # another title
                  {"title": title, "text": text + " ", "signature": signed}):  # another text
        async with live.http.post("/api/v1/motions", json=wrong, headers=ada.headers) as r:
            assert r.status == 403 and (await r.json())["error"]["code"] == "bad_member_signature"
    async with live.http.post("/api/v1/motions", json={"title": title, "text": text, "signature": signed},
                              headers=bea.headers) as r:  # fmt: skip
        assert r.status == 403  # Ada's key does not sign for Bea
    assert await node.motions.recent() == []  # nothing moved
    async with live.http.post("/api/v1/motions", json={"title": f" {title} ", "text": text, "signature": signed},
                              headers=ada.headers) as r:  # fmt: skip
        assert r.status == 201, await r.text()
        motion = await r.json()
    assert motion["signed"] is True
    await motions.admit(node, sec.member, motion["id"])
    current = (await node.motions.require(motion["id"])).current
    amendment = {"paragraph": 1, "start": 17, "end": 20, "text": "200"}  # "100" becomes "200"
    statement = amendment_statement(federation, me, current, 1, "100", "200")
    elsewhere = amendment_statement(federation, me, current, 1, "100", "300")
    amend = f"/api/v1/motions/{motion['id']}/amendments"
    async with live.http.post(amend, json={**amendment, "signature": signature(elsewhere)}, headers=ada.headers) as r:
        assert r.status == 403
    async with live.http.post(amend, json={**amendment, "signature": signature(statement)}, headers=ada.headers) as r:
        assert r.status == 201, await r.text()
        assert (await r.json())["signed"] is True
    unsigned = {"paragraph": 2, "start": 0, "end": 5, "text": "Each"}
    async with live.http.post(amend, json=unsigned, headers=bea.headers) as r:
        assert r.status == 201 and (await r.json())["signed"] is False  # unsigned: taken, and shown so
    async with live.http.get(f"/api/v1/motions/{motion['id']}", headers=bea.headers) as r:
        shown = await r.json()
    assert shown["signed"] is True and [a["signed"] for a in shown["amendments"]] == [True, False]


async def test_a_member_moves_a_motion_on_the_page_signed_by_their_passkey(live: Live) -> None:
    node = live.node
    port = live.url.rsplit(":", 1)[1]
    site = f"http://localhost:{port}"
    node.config.http.public_url = site
    ada = await live.member()
    passkey = SoftPasskey(rp_id="localhost", origin=site)
    passkey.credential = b"\x09" * 16
    await node.member_keys.add(ada.member.id, passkey.key, "my phone", passkey.credential)
    await sign_in(live.http, ada)
    async with live.http.get("/motions/new") as r:
        page = await r.text()
    prefix = bytes.fromhex(re.search(r'data-sign-prefix="([0-9a-f]+)"', page).group(1))  # type: ignore[union-attr]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    title, text = "Open the books", "Publish the accounts.\r\n\r\nEvery quarter."  # as a browser sends a textarea
    # What site.js signs: the prefix, then SHA-256 of the trimmed title and of the text with \n.
    signed = passkey.sign(prefix + hashlib.sha256(title.encode()).digest()
                          + hashlib.sha256(text.replace("\r\n", "\n").encode()).digest())  # fmt: skip
    form = {"csrf": csrf, "title": f"{title} ", "text": text, "p_credential": _b64(passkey.credential),
            "p_signature": _b64(signed.signature), "p_authenticator_data": _b64(signed.authenticator_data),
            "p_client_data": _b64(signed.client_data)}  # fmt: skip
    async with live.http.post("/motions/new", data={**form, "title": "Close the books"}, allow_redirects=False) as r:
        assert r.status == 403 and "The motion was not submitted" in await r.text()
    async with live.http.post("/motions/new", data=form, allow_redirects=False) as r:
        assert r.status == 303, await r.text()
        location = r.headers["Location"]
    async with live.http.get(location) as r:
        assert "moved with its mover's own key" in await r.text()


async def test_officers_appoint_a_scrutineer_on_the_page_who_downloads_a_register(
        live: Live, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The scrutineers page: every member sees who they are; an officer appoints one (a member
    holding an office is not offered, and refused if sent); after the count the scrutineer's
    ballot page offers the register, which `branchnet audit --register` reads; anyone else
    is refused it; the download is recorded."""
    import msgspec

    from node.federation import ballots
    from protocol.register import MarkedRegister, check_register
    from tests.node.federation.test_ballots import SPEC

    node = live.node
    sec, cy, dan = await live.member("secretary"), await live.member(), await live.member()
    await sign_in(live.http, sec)

    async def page(path: str) -> str:
        async with live.http.get(path) as r:
            assert r.status == 200, path
            return await r.text()

    listing = await page("/scrutineers")
    assert "The branch has appointed none yet." in listing and f'value="{cy.member.id}"' in listing
    assert f'value="{sec.member.id}"' not in listing  # an officer is not offered
    monkeypatch.setattr(keys_pages, "MAX_CHOICES", 1)  # a large branch: asked for the member's number
    numbered = await page("/scrutineers")
    assert 'name="member_id" type="number"' in numbered and f'value="{cy.member.id}"' not in numbered
    csrf = re.search(r'name="csrf" value="([^"]+)"', listing).group(1)  # type: ignore[union-attr]
    async with live.http.post("/scrutineers/appoint", data={"csrf": csrf, "member_id": str(sec.member.id)}) as r:
        assert r.status == 400 and "holds no office" in await r.text()
    async with live.http.post("/scrutineers/appoint", data={"csrf": csrf, "member_id": str(cy.member.id)},
                              allow_redirects=False) as r:  # fmt: skip
        assert r.status == 303
    assert cy.member.name in await page("/scrutineers?done=appointed")
    row = await ballots.open_ballot(node, sec.member, SPEC)
    await ballots.vote(node, dan.member, row.id, "for")
    await ballots.close_ballot(node, sec.member, row.id)
    async with live.http.get(f"/ballots/{row.id}/register.json") as r:
        assert r.status == 403  # the secretary is not a scrutineer
    await live.http.post("/signout", data={"csrf": csrf})
    live.http.cookie_jar.clear()
    await sign_in(live.http, cy)
    assert f'href="/ballots/{row.id}/register.json"' in await page(f"/ballots/{row.id}")
    async with live.http.get(f"/ballots/{row.id}/register.json") as r:
        assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
        register = msgspec.json.decode(await r.read(), type=MarkedRegister)
    assert check_register(register) == []  # an honest node's register holds
    (looked,) = [a for a in await node.access.page() if a.action == "register"]
    assert looked.actor_id == cy.member.id and looked.via == "page"


async def test_the_amendment_form_asks_the_node_what_the_passkey_signs(live: Live) -> None:
    """What site.js asks before the amendment form goes: the challenge of the statement the
    node makes from the form as it will read it, or what is wrong with the form."""
    node = live.node
    ada, sec = await live.member(), await live.member("secretary")
    row = await motions.propose(node, ada.member, "Open the books", "Publish the accounts.")
    await motions.admit(node, sec.member, row.id)
    await sign_in(live.http, ada)
    async with live.http.get(f"/motions/{row.id}") as r:
        csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text()).group(1)  # type: ignore[union-attr]
    asked = f"/motions/{row.id}/amend-challenge"
    async with live.http.post(asked, data={"csrf": csrf, "paragraph": "1", "words": "ledgers", "with": "x"}) as r:
        assert r.status == 400 and "exactly once" in (await r.json())["error"]
    async with live.http.post(asked, data={"csrf": csrf, "paragraph": "1", "words": "accounts", "with": "books"}) as r:
        assert r.status == 200
        challenge = (await r.json())["challenge"]
    federation, me = node.federation_state.federation or b"", node.key.public
    statement = amendment_statement(federation, me, "Publish the accounts.", 1, "accounts", "books")
    assert challenge == _b64(hashlib.sha256(statement).digest())
