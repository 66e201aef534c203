"""The federation pages over HTTP: charter and revoke a body, answer join requests, the
health page, the public pages (the node, the tree, an envelope with its standing)."""

from __future__ import annotations

import re
import time
from html import unescape
from pathlib import Path

import pytest

from node.federation import rules_change
from node.storage.acts import RuleChangeStore
from protocol import SigningKey, node_id_text
from protocol.wire import JoinRequest
from tests.node.conftest import Live, new_node_dir
from tests.node.web.test_pages import form_token, fresh, sign_in


@pytest.fixture
async def node_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A national body: it charters regions (``indirect`` parameter: the acts its members decide)."""
    return await new_node_dir(tmp_path, "National Committee", level="national",
                              authority=getattr(request, "param", None))  # fmt: skip


async def test_an_officer_charters_and_revokes_a_body(live: Live) -> None:
    officer = await live.member("chair")
    key = SigningKey.generate().public
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/federation/children")
        form = {"csrf": token, "node_id": node_id_text(key), "name": "East Region", "level": "region", "url": ""}
        async with http.post("/federation/charters", data=dict(form, level="branch")) as r:
            assert r.status == 403  # a national body charters regions, not branches
            page = await r.text()
        assert 'id="e-level"' in page and "a national may not charter a branch" in page
        async with http.post("/federation/charters", data=dict(form, node_id="bn1nonsense")) as r:
            assert r.status == 400 and 'id="e-node_id"' in await r.text()
        async with http.post("/federation/charters", data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/federation/children?done=chartered"
        trust = live.node.federation_state.trust
        assert trust is not None and trust.bodies[key].name == "East Region"
        async with http.get("/federation/children") as r:
            page = await r.text()
        assert "East Region" in page and node_id_text(key) in page
        revoke = {"csrf": token, "node_id": node_id_text(key), "after_seq": "x", "reason": "lost laptop"}
        async with http.post("/federation/revocations", data=revoke) as r:
            assert r.status == 400 and 'id="re-after_seq"' in await r.text()
        async with http.post("/federation/revocations", data=dict(revoke, after_seq="0"), allow_redirects=False) as r:
            assert r.status == 303
        assert trust.bodies[key].cut == 0 and trust.bodies[key].cut_reason == "revoked"
        async with http.get("/federation") as r:
            page = await r.text()
        assert "East Region" in page and "revoked" in page


async def test_join_requests_are_approved_and_refused_from_the_page(live: Live) -> None:
    officer = await live.member("secretary")
    east, west = SigningKey.generate().public, SigningKey.generate().public
    for key, name in [(east, "East Region"), (west, "West Region")]:
        await live.node.joins.request(
            key, JoinRequest(name=name, level="region", url="https://x.example.org"), "192.0.2.9"
        )
    pending = {j.name: j.id for j in await live.node.joins.list("pending", 0, 10)}
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/federation/joins")
        async with http.post(f"/federation/joins/{pending['East Region']}/approve", data={"csrf": token}) as r:
            assert r.status == 200 and "Approved" in await r.text()
        async with http.post(f"/federation/joins/{pending['West Region']}/refuse", data={"csrf": token}) as r:
            assert r.status == 200 and "Refused." in await r.text()
        async with http.post(f"/federation/joins/{pending['West Region']}/approve", data={"csrf": token}) as r:
            assert r.status == 409  # a refusal stands
        async with http.get("/federation/joins") as r:
            page = unescape(await r.text())
        assert "No requests are waiting." in page and "approved" in page and "refused" in page
    trust = live.node.federation_state.trust
    assert trust is not None and east in trust.bodies and west not in trust.bodies


@pytest.mark.parametrize("node_dir", [["charter"]], indirect=True)
async def test_where_charters_are_the_members_decision_a_join_request_is_put_to_them(live: Live) -> None:
    officer = await live.member("secretary")
    east = SigningKey.generate().public
    await live.node.joins.request(east, JoinRequest(name="East Region", level="region", url="https://x.example.org"),
                                  "192.0.2.9")  # fmt: skip
    (join,) = await live.node.joins.list("pending", 0, 10)
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/federation/joins")
        async with http.get("/federation/joins") as r:
            page = unescape(await r.text())
        assert "Put East Region to the members" in page and "Approve East Region" not in page
        async with http.post(f"/federation/joins/{join.id}/approve", data={"csrf": token}) as r:
            assert r.status == 409 and "put this request to them" in unescape(await r.text())
        async with http.post(f"/federation/joins/{join.id}/propose", data={"csrf": token},
                             allow_redirects=False) as r:  # fmt: skip
            assert r.status == 303 and r.headers["Location"].startswith("/ballots/")
            ballot = int(r.headers["Location"].rsplit("/", 1)[1])
        async with http.get("/federation/joins") as r:
            page = unescape(await r.text())
        assert "No requests are waiting." in page and "With the members" in page and f'/ballots/{ballot}"' in page
        async with http.get(f"/ballots/{ballot}") as r:
            assert "Charter East Region as a region of this federation" in unescape(await r.text())
        async with http.post(f"/api/v1/joins/{join.id}/proposals", headers=officer.headers) as r:
            assert r.status == 409 and (await r.json())["error"]["code"] == "not_pending"  # with the members already


async def test_public_pages_show_the_node_the_tree_and_an_envelope_with_its_standing(live: Live) -> None:
    trust = live.node.federation_state.trust
    assert trust is not None
    genesis = trust.bodies[trust.founder].admitted_by.hex()
    async with await fresh(live) as http:
        async with http.get("/about") as r:
            page = await r.text()
        assert live.node.key.node_id in page and "founded the federation" in page
        async with http.get(f"/envelopes/{genesis}") as r:
            page = unescape(await r.text())
        assert r.status == 200 and "Signature verified" in page and "the founder of this federation" in page
        assert '"kind": "genesis"' in page
        for bad in ["zz", "00" * 31, "00" * 32]:
            async with http.get(f"/envelopes/{bad}", headers={"Accept": "text/html"}) as r:
                assert r.status == 404 and r.content_type == "text/html"


async def test_the_health_page_shows_rejections_by_reason(live: Live) -> None:
    officer = await live.member("officer")
    live.node.federation_state.counters["rejected:bad_signature"] = 3
    async with await fresh(live) as http:
        await sign_in(http, officer)
        async with http.get("/federation/health") as r:
            page = await r.text()
    assert "bad_signature" in page and ">3<" in page


async def test_an_officer_puts_a_charter_to_the_members_from_the_page(live: Live) -> None:
    """"Put the charter to the members" opens a ballot on its exact text; carried and closed,
    the node signs it by itself, and the page lists it with what became of it."""
    from node.federation import ballots

    officer = await live.member("chair")
    key = SigningKey.generate().public
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/federation/children")
        form = {"csrf": token, "node_id": node_id_text(key), "name": "East Region", "level": "region", "url": "",
                "via": "members"}  # fmt: skip
        async with http.post("/federation/charters", data=form, allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/ballots/")
            ballot_id = int(r.headers["Location"].rsplit("/", 1)[1])
        trust = live.node.federation_state.trust
        assert trust is not None and key not in trust.bodies  # nothing signed before the vote
        async with http.get(f"/ballots/{ballot_id}") as r:
            assert "Charter East Region as a region of this federation" in unescape(await r.text())
        await ballots.vote(live.node, officer.member, ballot_id, "for")
        await ballots.close_ballot(live.node, officer.member, ballot_id)
        assert key in trust.bodies
        async with http.get("/federation/children") as r:
            page = unescape(await r.text())
        assert "Put to the members" in page and "carried and signed" in page and f"ballot {ballot_id}" in page


async def test_an_officer_freezes_a_body_and_the_rules_page_lists_it(live: Live) -> None:
    officer = await live.member("secretary")
    key = SigningKey.generate().public
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/federation/children")
        async with http.get("/federation/children") as r:
            page = await r.text()
        ids = re.findall(r'\sid="([^"]+)"', page)  # four forms on one page: no id twice, no form in the title
        assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
        assert page.count('action="/federation/freezes"') == 1 and "<title>Chartered bodies" in page
        assert "<h2" not in page[page.index("<title>"):page.index("</title>")]
        form = {"csrf": token, "node_id": node_id_text(key), "name": "East Region", "level": "region", "url": ""}
        async with http.post("/federation/charters", data=form, allow_redirects=False) as r:
            assert r.status == 303
        freeze = {"csrf": token, "node_id": node_id_text(key), "days": "30", "reason": "Its laptop was stolen."}
        async with http.post("/federation/freezes", data=freeze) as r:
            assert r.status == 400 and 'id="fe-days"' in await r.text()  # beyond the limit of 14
        async with http.post("/federation/freezes", data=dict(freeze, days="3"), allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"] == "/federation/children?done=frozen"
        trust = live.node.federation_state.trust
        assert trust is not None and trust.bodies[key].cut_reason == "suspended" and key in trust.frozen
        async with http.get("/federation/rules") as r:
            page = unescape(await r.text())
        assert "East Region" in page and "Its laptop was stolen." in page and "frozen by National Committee" in page


async def test_the_founding_body_puts_a_change_of_the_rules_to_its_children_from_the_page(live: Live) -> None:
    officer = await live.member("secretary")
    async with await fresh(live) as http:
        await sign_in(http, officer)
        token = await form_token(http, "/federation/rules")
        async with http.get("/federation/rules") as r:
            page = unescape(await r.text())
        assert "quorum 1/4" in page and "Put a change to the children" in page and "at least 2/3" in page
        bad = {"csrf": token, "quorum": "a third", "threshold": "", "freeze_days": "", "days": "7"}
        for wrong in ("a third", "²/3", "1/0", "1/"):  # (not digits int() takes, nor a den of 0)
            async with http.post("/federation/rules", data=dict(bad, quorum=wrong)) as r:
                assert r.status == 400 and 'id="e-quorum"' in await r.text(), wrong
        async with http.post("/federation/rules", data=dict(bad, quorum="1/3"), allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/agenda/")
        async with http.get("/federation/rules") as r:
            page = unescape(await r.text())
        assert "levels national, region, branch, youth" in page and "quorum 1/3" in page and ">open<" in page


async def test_a_change_of_the_rules_is_written_with_its_item_or_not_at_all(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The item and the change's row are stored in one transaction: a failure between the two
    (a full disk, a crash) leaves no item whose aggregate would never be turned into the change."""
    officer = (await live.member("secretary")).member
    closes = int((time.time() + 7 * 86400) * 1000)
    before = await live.node.envelopes.count()

    async def full_disk(*_: object) -> None:
        raise OSError("database or disk is full")

    monkeypatch.setattr(RuleChangeStore, "add_in", staticmethod(full_disk))
    with pytest.raises(OSError):
        await rules_change.propose(live.node, officer, {"quorum": {"num": 1, "den": 3}}, closes)
    assert await live.node.envelopes.count() == before and await live.node.rule_changes.open() == []
    monkeypatch.undo()
    item = await rules_change.propose(live.node, officer, {"quorum": {"num": 1, "den": 3}}, closes)
    row = await live.node.rule_changes.get(item.id)
    assert row is not None and row.state == "open" and await live.node.envelopes.count() == before + 1
