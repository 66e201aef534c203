"""A decision on arrival, where the federation's rules say every vote on its kind of ballot is
signed by its voter's own key (issue 25): every node refuses one that says some were not,
with ``unsigned_participation``, and takes in one that says all were."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.federation.ingest import Federation
from node.storage.db import Database
from tests.factories import T0, key
from tests.protocol.test_member_keys import signed_federation


@pytest.mark.parametrize(("signed", "outcome"), [(8, ("accepted", None)), (7, ("rejected", "unsigned_participation"))])
async def test_a_decision_with_unsigned_votes_is_refused_where_the_rules_require_signatures(
        tmp_path: Path, signed: int, outcome: tuple[str, str | None]) -> None:  # fmt: skip
    envelopes = signed_federation(signed)
    db = await Database.open(tmp_path / "node.db", create=True, serving=True)
    async with db.write("test.pin_federation") as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('federation', ?)", (envelopes[0].id,))
    node = Federation(db, key("observer").public, clock=lambda: (T0 + 3_600_000) / 1000)
    await node.load()
    try:
        taken = await node.ingest([e.raw for e in envelopes])
        assert [(o.status, o.code) for o in taken][:-1] == [("accepted", None)] * 4
        assert (taken[-1].status, taken[-1].code) == outcome
    finally:
        node.close()
        await db.close()
