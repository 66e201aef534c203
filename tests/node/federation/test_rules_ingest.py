"""A change of the rules, an interim freeze and a revocation of a body's past on arrival (issue
24): every node refuses, with its code, a change its children did not carry by the amendment
threshold and a revocation of everything without evidence; a freeze sets a body's envelopes
aside at once and, at its limit by the node's clock, lapses and takes them back in. Each act is
signed with the acting body's real key by a test peer, as a dishonest officer could."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.federation.ingest import Federation
from node.storage.db import Database
from protocol import Envelope, NodeProfile, Revocation, RulesChange
from protocol.authority import DAY_MS, rules_text
from tests.factories import T0, key, next_envelope
from tests.protocol.test_rules_change import NATIONAL, NEW, NORTH, SOUTH, Fed, changed, frozen_north


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


async def open_node(folder: Path, fed: Fed, clock: Clock) -> Federation:
    db = await Database.open(folder / "node.db", create=True, serving=True)
    async with db.write("test.pin_federation") as conn:
        await conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('federation', ?)", (fed.id,))
    federation = Federation(db, key(f"node {folder.name}").public, clock=clock)
    await federation.load()
    return federation


@pytest.fixture
def clock() -> Clock:
    return Clock(T0 + 60_000)


@pytest.fixture
async def folders(tmp_path: Path) -> AsyncIterator[list[Path]]:
    out = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        out.append(tmp_path / name)
    yield out


async def nodes_for(fed: Fed, folders: list[Path], clock: Clock) -> list[Federation]:
    return [await open_node(f, fed, clock) for f in folders]


async def close(nodes: list[Federation]) -> None:
    for node in nodes:
        node.close()
        await node.db.close()


async def outcomes(nodes: list[Federation], envelopes: list[Envelope]) -> list[list[tuple[str, str | None]]]:
    return [[(o.status, o.code) for o in await node.ingest([e.raw for e in envelopes])] for node in nodes]


@pytest.mark.parametrize(("case", "code"), [
    ("60 %", "below_amendment"), ("another text", "wrong_authority"), ("nothing held", "wrong_authority"),
    ("a region's", "wrong_authority"),
])  # fmt: skip
async def test_a_rules_change_without_its_carried_aggregate_is_refused_on_every_node(
        folders: list[Path], clock: Clock, case: str, code: str) -> None:  # fmt: skip
    if case == "60 %":
        fed, change = changed([3, 2, 0], [3, 2])
    elif case == "another text":
        fed, change = changed([3, 0, 0], [1, 1, 1], text=rules_text(NEW).replace("1/3", "1/5"))
    elif case == "nothing held":
        fed = Fed()
        change = fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=b"\x09" * 32))
    else:
        fed = Fed()
        theirs = fed.put(rules_text(NEW), [3, 0, 0], [1, 1, 1], author=NORTH)
        change = fed.sign(NORTH, RulesChange(rules=NEW, aggregate=theirs.id))
    nodes = await nodes_for(fed, folders, clock)
    try:
        found = await outcomes(nodes, fed.envelopes)
        for node_found, node in zip(found, nodes, strict=True):
            assert node_found[-1] == ("rejected", code) and ("rejected", code) not in node_found[:-1]
            assert node.trust is not None and node.trust.rules != NEW
        assert fed.envelopes[-1] is change
    finally:
        await close(nodes)


async def test_a_change_carried_by_two_thirds_applies_on_every_node_and_after_a_restart(
        folders: list[Path], clock: Clock) -> None:  # fmt: skip
    fed, change = changed([2, 1, 0], [1, 1, 1])
    nodes = await nodes_for(fed, folders, clock)
    try:
        assert all(f[-1] == ("accepted", None) for f in await outcomes(nodes, fed.envelopes))
        for node in nodes:
            assert node.trust is not None and node.trust.rules == NEW
            assert [h[1] for h in node.trust.history] == [fed.id, change.id]
    finally:
        await close(nodes)
    again = await nodes_for(fed, folders, clock)  # the rules in force are replayed from the log held
    try:
        assert all(n.trust is not None and n.trust.rules == NEW for n in again)
    finally:
        await close(again)


async def test_setting_aside_everything_without_evidence_is_refused(folders: list[Path], clock: Clock) -> None:
    fed = Fed()
    fed.sign(NATIONAL, Revocation(key=SOUTH.public, after_seq=0, reason="no reason to give"))
    nodes = await nodes_for(fed, folders, clock)
    try:
        found = await outcomes(nodes, fed.envelopes)
        assert [f[-1] for f in found] == [("rejected", "no_evidence")] * 2
        assert all(n.trust is not None and n.trust.bodies[SOUTH.public].cut is None for n in nodes)
    finally:
        await close(nodes)


async def test_a_freeze_sets_aside_at_once_and_lapses_taking_them_back(folders: list[Path], clock: Clock) -> None:
    fed, freeze, later = frozen_north(days=3)
    until = freeze.payload.body.until  # type: ignore[union-attr]
    # North's envelopes that reached the node before the freeze did: held, then set aside by it
    earlier = [fed.sign(NORTH, NodeProfile(name="North Region", endpoints=["https://north.example"], contact="x"),
                        created=later[-1].payload.created + 1)]  # fmt: skip
    order = [e for e in fed.envelopes if e is not freeze]
    clock.ms = freeze.payload.created + 10_000
    nodes = await nodes_for(fed, folders, clock)
    try:
        assert all(("rejected", None) not in f for f in await outcomes(nodes, order))
        assert await outcomes(nodes, [freeze]) == [[("accepted", None)]] * 2
        for node in nodes:
            assert node.trust is not None and node.trust.bodies[NORTH.public].cut_reason == "suspended"
            assert node.heads[NORTH.public].seq == 1  # its three later envelopes set aside
        late = next_envelope(NORTH, earlier[-1], NodeProfile(name="North Region", endpoints=["https://n.example"]),
                             fed.id, created=until - DAY_MS)  # fmt: skip
        clock.ms = until - DAY_MS + 1
        assert await outcomes(nodes, [late]) == [[("rejected", "suspended")]] * 2  # arriving while frozen
        clock.ms = until - 1
        for node in nodes:
            await node.lapse_due()
            assert node.trust is not None and node.trust.bodies[NORTH.public].cut == 1  # not yet
        clock.ms = until  # the limit, by this node's clock: the freeze lapses
        for node in nodes:
            await node.lapse_due()
            assert node.trust is not None and node.trust.bodies[NORTH.public].cut is None and not node.trust.frozen
            assert node.heads[NORTH.public].seq == 1 + len(later) + len(earlier)  # taken back, in order
        assert await outcomes(nodes, [late]) == [[("accepted", None)]] * 2
    finally:
        await close(nodes)


async def test_an_officers_delegates_record_without_its_decision_is_refused(folders: list[Path],
                                                                          clock: Clock) -> None:  # fmt: skip
    from protocol import Delegates

    fed = Fed(authority=["officers_delegates"])
    fed.sign(NORTH, Delegates(to=NATIONAL.public, count=40))  # an officer weighting North by 40, unasked
    nodes = await nodes_for(fed, folders, clock)
    try:
        assert [f[-1] for f in await outcomes(nodes, fed.envelopes)] == [("rejected", "no_authority")] * 2
    finally:
        await close(nodes)


async def test_a_freeze_that_lapsed_while_the_node_was_stopped_is_mended_at_the_first_look(
        folders: list[Path], clock: Clock) -> None:  # fmt: skip
    fed, freeze, later = frozen_north(days=3)
    until = freeze.payload.body.until  # type: ignore[union-attr]
    clock.ms = freeze.payload.created + 10_000
    nodes = await nodes_for(fed, folders[:1], clock)
    try:
        await outcomes(nodes, [e for e in fed.envelopes if e is not freeze])
        await outcomes(nodes, [freeze])
        assert nodes[0].heads[NORTH.public].seq == 1  # North's two later envelopes set aside
    finally:
        await close(nodes)
    clock.ms = until + 1  # the node was stopped past the freeze's end
    again = await nodes_for(fed, folders[:1], clock)
    try:
        assert again[0].trust is not None and again[0].trust.bodies[NORTH.public].cut is None
        assert await again[0].lapse_due()  # the closer's first look: the tables follow the replay
        assert again[0].heads[NORTH.public].seq == 1 + len(later)
        assert not await again[0].lapse_due()  # once
    finally:
        await close(again)
