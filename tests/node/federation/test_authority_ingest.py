"""Acts of power on arrival (issue 24): in a federation whose rules say a charter and a
revocation need their body's carried decision, every node refuses, with its code, an act that
cites none, one on another text, a lost one or one that is not its body's; it takes in the act
that cites its decision, and its trust replay (after a restart too) finds that decision again.
Each act is signed with the acting body's real key by a test peer, as a dishonest officer
holding the key could."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from node.federation.ingest import Federation
from node.storage.db import Database
from protocol import Envelope, Revocation, write_bundle
from protocol.audit import audit
from protocol.authority import act_text
from tests.factories import T0, charter, key, next_envelope
from tests.protocol.test_authority import NATIONAL, NORTH, SOUTH, chartered_by_decision, decided

F = chartered_by_decision()
GEN, FED = F["genesis"], F["genesis"].id


async def open_node(folder: Path) -> Federation:
    db = await Database.open(folder / "node.db", create=True, serving=True)
    async with db.write("test.pin_federation") as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('federation', ?)", (FED,))
    federation = Federation(db, key(f"node {folder.name}").public, clock=lambda: T0 / 1000 + 86_400)
    await federation.load()
    return federation


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[list[Federation]]:
    out = []
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        out.append(await open_node(tmp_path / name))
    yield out
    for node in out:
        node.close()
        await node.db.close()


async def outcomes(nodes: list[Federation], envelopes: list[Envelope]) -> list[list[tuple[str, str | None]]]:
    """What every node made of the same envelopes."""
    return [[(o.status, o.code) for o in await node.ingest([e.raw for e in envelopes])] for node in nodes]


@pytest.mark.parametrize("case", ["no decision", "another text", "lost"])
async def test_an_act_without_its_decision_is_refused_on_every_node(nodes: list[Federation], case: str) -> None:
    if case == "no decision":
        f = {**F, "charter": next_envelope(NATIONAL, F["decision"], charter(NORTH), FED)}
    elif case == "another text":
        f = chartered_by_decision(text="Charter Someone Else as a region of this federation.")
    else:
        f = chartered_by_decision(carried=False)
    code = "no_authority" if case == "no decision" else "wrong_authority"
    assert await outcomes(nodes, [f["genesis"], f["roll"], f["decision"], f["charter"]]) == [
        [("accepted", None)] * 3 + [("rejected", code)]] * 2
    assert await outcomes(nodes, [f["north"]]) == [[("quarantined", "unknown_author")]] * 2  # North: not chartered
    found = audit([("all", write_bundle([e.raw for e in f.values()]))], T0 + 86_400_000).problems
    assert (code, f["charter"].id) in [(p.code, p.object) for p in found]  # the audit names it with the same code


async def test_an_act_with_its_decision_is_taken_in_and_replayed_after_a_restart(nodes: list[Federation],
                                                                              tmp_path: Path) -> None:  # fmt: skip
    assert await outcomes(nodes, list(F.values())) == [[("accepted", None)] * 5] * 2
    for node in nodes:
        assert node.trust is not None and NORTH.public in node.trust.bodies
    # A decision of another body does not authorise national's charter of South.
    act = charter(SOUTH, "South Region")
    north_roll, north_vote = decided(F["north"], FED, act_text(act, lambda _: None), author=NORTH)
    borrowed = next_envelope(NATIONAL, F["charter"], msgspec.structs.replace(act, decision=north_vote.id), FED)
    assert await outcomes(nodes, [north_roll, north_vote, borrowed]) == [
        [("accepted", None), ("accepted", None), ("rejected", "wrong_authority")]] * 2
    # A revocation needs its decision too; with it, North is cut where it says.
    revoke = Revocation(key=NORTH.public, after_seq=1, reason="It lost its key.")
    assert await outcomes(nodes, [next_envelope(NATIONAL, F["charter"], revoke, FED)]) == [
        [("rejected", "no_authority")]] * 2
    text = act_text(revoke, lambda k: "North Region" if k == NORTH.public else None)
    roll, vote = decided(F["charter"], FED, text)
    revoked = next_envelope(NATIONAL, vote, msgspec.structs.replace(revoke, decision=vote.id), FED)
    assert await outcomes(nodes, [roll, vote, revoked]) == [[("accepted", None)] * 3] * 2
    for node in nodes:
        assert node.trust is not None and node.trust.bodies[NORTH.public].cut == 1
    # After a restart, the state is rebuilt and a full replay (which must find each act's
    # decision again) changes nothing.
    node = nodes[0]
    await node.load()
    before = dict(node.trust.bodies) if node.trust else {}
    async with node.db.write("test.replay") as conn:
        assert await node._replay(conn) == set()
    assert node.trust is not None and node.trust.bodies == before and SOUTH.public not in node.trust.bodies
