"""Elections through the pages, over real HTTP, on nodes that carry envelopes between them (as
gossip would): a branch's members stand and the officer opens the delegate election; a
ranking is cast by numbers (a number used twice is refused, naming both); the region runs a
selection; each branch's officer stands, is nominated, opens the branch's ballot and ranks;
the region fixes the paper and counts; every node's page shows the result with its rounds,
its chart and its own recount. Each action is a form post with its token, as a browser sends it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.federation import elections as el
from node.federation.ballots import vote
from node.web.pages import elections as election_pages
from tests.node.federation.test_upward import Federation
from tests.node.web.test_upward_pages import Browser, plain, regional, utc
from tests.node.web.test_upward_pages import browsers as browsers  # the fixture, served nodes signed in


@pytest.fixture
async def fed(tmp_path: Path, password_hash: str) -> AsyncIterator[Federation]:
    async with regional(tmp_path, password_hash, {"leeds": 3, "york": 3}) as f:
        yield f


def ranks(options: list[str], order: list[str]) -> dict[str, str]:
    return {f"rank-{i}": str(order.index(o) + 1) if o in order else "" for i, o in enumerate(options)}


async def test_a_branch_elects_its_delegate_through_the_pages(fed: Federation, browsers: dict[str, Browser]) -> None:
    leeds = fed["leeds"]
    b = browsers["leeds"]
    page = await b.page("/elections")
    assert "Delegates to north" in page and "Nobody stands yet" in page
    await b.post("/elections", "/elections/do/stand", {"name": "Sec Leeds", "statement": "I will report back."})
    contest = el.DELEGATES + fed["north"].node.key.public.hex()
    await el.stand(leeds.node, leeds.voters[0], contest, "Val", "Val for delegate.")
    page = plain(await b.page("/elections"))
    assert "Sec Leeds I will report back." in page and "Val Val for delegate." in page and "Stop standing" in page
    for seats in ("²", "9" * 5000, "٣"):  # issue 21, item 10: each was a 500 (int() takes "²"; 5,000 digits raise)
        refused = await b.post("/elections", "/elections/do/open", {"seats": seats, "counting": "irv"}, 400)
        assert "the seats are a number from 1 to 15" in refused
    location = await b.post("/elections", "/elections/do/open", {"seats": "1", "counting": "irv"})
    ballot = re.search(r"/ballots/(\d+)", location).group(1)  # type: ignore[union-attr]
    page = await b.page(f"/ballots/{ballot}")
    options = re.findall(r'<label for="r-\d+">([^<]+)</label>', page)
    assert options == ["Sec Leeds", "Val", "Re-open nominations (RON)"]  # one seat: RON on the ballot
    refused = await b.post(f"/ballots/{ballot}", f"/ballots/{ballot}/vote", {"rank-0": "1", "rank-1": "1"}, 400)
    assert "Sec Leeds and Val are both numbered 1" in refused
    for rank in ("²", "9" * 5000, "-1", "1.0"):
        refused = await b.post(f"/ballots/{ballot}", f"/ballots/{ballot}/vote", {"rank-0": rank}, 400)
        assert "a preference is a number from 1 to 3" in refused
    cast = await b.post(f"/ballots/{ballot}", f"/ballots/{ballot}/vote", ranks(options, ["Val", "Sec Leeds"]), 201)
    receipt = re.search(r'value="(r-[a-z0-9]+)"', cast).group(1)  # type: ignore[union-attr]
    for voter in leeds.voters:
        await vote(leeds.node, voter, int(ballot), ["Val"])
    await b.post(f"/ballots/{ballot}", f"/ballots/{ballot}/close", {"confirm": "yes"})
    page = plain(await b.page(f"/ballots/{ballot}"))
    assert "Result: elected" in page and "Elected, in order: Val ." in page, page
    checked = plain(await b.post(f"/ballots/{ballot}", f"/ballots/{ballot}/check", {"receipt": receipt}, 200))
    assert "Counted, as: Val, Sec Leeds ." in checked
    listed = plain(await b.page("/decisions"))
    assert "Delegates to north elected: Val" in listed, listed
    assert "first preferences: Sec Leeds 0, Val 4, Re-open nominations (RON) 0" in listed


async def test_a_regional_selection_through_the_pages(fed: Federation, browsers: dict[str, Browser],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    north = browsers["north"]
    now = int(time.time() * 1000)
    closes = {"nominations_close": utc(now + 6000), "voting_close": utc(now + 13_000)}
    form = {"office": "Regional committee", "selection_seats": "1", "method": "stv", "balancing": "", **closes}
    location = await north.post("/elections", "/elections/do/select", form)
    here = location.split("?")[0]
    await fed.sync()
    for name in ("leeds", "york"):
        b = browsers[name]
        home = await b.page("/")  # waiting for the branch's members: an election open for candidates
        assert "Elections open for candidates" in home and f'<a href="{here}">Regional committee</a>' in home
        page = await b.page(here)
        assert "Stand for Regional committee" in page
        await b.post(here, f"{here}/stand", {"name": f"Sec {name}", "statement": f"{name} first."})
        page = await b.page(here)
        member = re.search(r'name="member" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
        for bad in ("²", "9" * 5000):
            assert "choose a member who stands" in await b.post(here, f"{here}/nominate", {"member": bad}, 400)
        await b.post(here, f"{here}/nominate", {"member": member})
    await fed.sync()
    await asyncio.sleep(max(0.0, (now + 6100) / 1000 - time.time()))
    await north.post(here, f"{here}/paper", {})
    await fed.sync()
    order = {"leeds": ["Sec leeds", "Sec york"], "york": ["Sec york"]}
    for name in ("leeds", "york"):
        b = browsers[name]
        location = await b.post(here, f"{here}/ballot", {})
        ballot = re.search(r"/ballots/(\d+)", location).group(1)  # type: ignore[union-attr]
        page = await b.page(f"/ballots/{ballot}")
        options = re.findall(r'<label for="r-\d+">([^<]+)</label>', page)
        assert options == ["Sec leeds", "Sec york", "Re-open nominations (RON)"]
        await b.post(f"/ballots/{ballot}", f"/ballots/{ballot}/vote", ranks(options, order[name]), 201)
        for voter in fed[name].voters:
            await vote(fed[name].node, voter, int(ballot), ["Sec leeds"] if name == "leeds" else ["Sec york"])
    await asyncio.sleep(max(0.0, (now + 13_100) / 1000 - time.time()))
    for name in ("leeds", "york"):
        b = browsers[name]
        (row,) = [r for r in await fed[name].node.ballots.recent() if r.election]
        for _ in range(300):  # its voting time is over: the node closes it by itself (bounded: 30 s)
            if (await fed[name].node.ballots.require(row.id)).state == "closed":
                break
            await asyncio.sleep(0.1)
        assert "counted with every other branch" in plain(await b.page(f"/ballots/{row.id}"))
    await fed.sync()
    await north.post(here, f"{here}/result", {})
    await fed.sync()
    # 8 ballots, one seat: Leeds 4 first preferences, York 4: a tie at every stage, so lot
    # decides the exclusion (the lot is the published one, seeded by the selection's id).
    for name, b in browsers.items():
        page = await b.page(here)
        text = plain(page)
        assert "got exactly this result" in text, name
        assert "The count, round by round" in text and "Round 1" in text and '<svg class="chart"' in page
        assert re.search(r"Elected, in order: (Sec leeds|Sec york) \.", text), text
        assert "2 branches sent 8 ballots; every one counted." in text
        assert "Each branch's anonymised ballots" in text  # few: each listed
    # A national selection's hundreds of bundles are not each listed on a phone's page: only
    # those not counted (here none), the full list being the API's.
    monkeypatch.setattr(election_pages, "BUNDLES_LISTED", 1)
    text = plain(await north.page(here))
    assert "2 branches sent 8 ballots; every one counted." in text and "anonymised ballots" not in text
    assert f"GET /api/v1/selections/{here.rsplit('/', 1)[1]}" in text
