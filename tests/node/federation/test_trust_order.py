"""Trust is a function of the set of envelopes, not of the order they arrive in.

A federation history with the hard cases (two parents chartering one key; a revocation, a
charter and a key rotation signed after their author's cut; a charter by a revoked key; a
fork reported by a witness) is fed to fresh nodes in many orders and batchings, through
quarantine (children's envelopes before their charters), as gossip would deliver it: after
the first pass, everything is offered once more (anti-entropy re-offers what a node lacks).
Every node must end with the same bodies table, equal to ``Trust.replay`` of the set, and
with the same logs.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.federation.ingest import Federation
from node.storage.db import Database
from protocol import (
    Envelope,
    ForkProof,
    KeyRotation,
    Payload,
    Revocation,
    SigningKey,
    make_fork_proof,
    rotation_message,
    seal,
    verify_fork_proof,
)
from protocol.trust import STRUCTURAL, Trust
from tests.factories import T0, charter, genesis, key, profile

N = key("order national")
R1, R2, R3 = key("order r1"), key("order r2"), key("order r3")
R1B = key("order r1, second key")
B1, B2, B3, B4 = key("order b1"), key("order b2"), key("order b3"), key("order b4")
GEN = genesis(N)


class History:
    """Each author's log, built in signing order, with created times drawn by the test."""

    def __init__(self, draw_gap: st.DrawFn) -> None:
        self.draw_gap = draw_gap
        self.last: dict[bytes, Envelope] = {N.public: GEN}
        self.clock = {N.public: T0}
        self.all: list[Envelope] = [GEN]

    def sign(self, author: SigningKey, body: object, *, keep: bool = True) -> Envelope:
        before = self.last.get(author.public)
        created = max(self.clock.get(author.public, T0), T0) + self.draw_gap(st.integers(0, 5_000))
        self.clock[author.public] = created
        payload = Payload(author=author.public, seq=before.seq + 1 if before else 1, created=created, body=body,  # type: ignore[arg-type]
                          federation=GEN.id, prev=before.id if before else None)  # fmt: skip
        envelope = seal(author, payload)
        if keep:
            self.last[author.public] = envelope
            self.all.append(envelope)
        return envelope


@st.composite
def histories(draw: st.DrawFn) -> list[Envelope]:
    h = History(draw)
    for region, name in ((R1, "R1"), (R2, "R2"), (R3, "R3")):
        h.sign(N, charter(region, name, "region"))
    h.sign(R1, charter(B1, "B1", "branch"))
    h.sign(R2, charter(B1, "B1 (again)", "branch"))  # a second parent chartering the same key
    h.sign(R2, charter(B2, "B2", "branch"))
    h.sign(R2, profile("R2"))
    h.sign(R3, charter(B3, "B3", "branch"))
    h.sign(B3, profile("B3"))
    h.sign(B2, profile("B2"))
    # R2 is revoked after some of its envelopes: what it signed after that never counts,
    # even its revocation of B3's sibling and the charter it signs next.
    h.sign(N, Revocation(key=R2.public, after_seq=draw(st.integers(0, 3)), reason="withdrawn"))
    h.sign(R2, charter(B4, "B4", "branch"))
    h.sign(R2, Revocation(key=B1.public, after_seq=0))
    # R1 rotates to a new key, which charters B4; the old key signs after its rotation.
    proof = R1B.sign(rotation_message(GEN.id, R1.public, R1B.public))
    h.sign(R1, KeyRotation(new_key=R1B.public, proof=proof))
    h.sign(R1B, charter(B4, "B4", "branch"))
    h.sign(R1, charter(B2, "B2 (late)", "branch"))
    if draw(st.booleans()):  # R3 is revoked, and its key rotation came after the cut
        h.sign(N, Revocation(key=R3.public, after_seq=1))
        r3b = key("order r3b")
        h.sign(R3, KeyRotation(new_key=r3b.public, proof=r3b.sign(rotation_message(GEN.id, R3.public, r3b.public))))
    # B3 equivocates; a witness (R1B) publishes the proof.
    side_a = h.sign(B3, profile("B3 says A"), keep=False)
    side_b = h.sign(B3, profile("B3 says B"), keep=False)
    h.all += [side_a, side_b]
    h.sign(R1B, make_fork_proof(side_a, side_b))
    return h.all


async def feed(envelopes: list[Envelope], order: random.Random, batch: int) -> tuple[list[tuple[object, ...]], bytes]:
    """A fresh node takes the envelopes in a shuffled order, in batches, then once more."""
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "n.db", create=True, serving=True)
        async with db.write("test.pin") as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('federation', ?)", (GEN.id,))
        fed = Federation(db, key("order observer").public, clock=lambda: (T0 + 3_600_000) / 1000)
        await fed.load()
        try:
            raws = [e.raw for e in envelopes]
            order.shuffle(raws)
            for _ in range(3):  # the first delivery, then what anti-entropy offers again
                for start in range(0, len(raws), batch):
                    await fed.ingest(raws[start : start + batch])
                order.shuffle(raws)
            bodies = [tuple(r) for r in await db.fetchall("SELECT * FROM bodies ORDER BY key")]
            return bodies, fed.digest()
        finally:
            fed.close()
            await db.close()


def replayed(envelopes: list[Envelope]) -> Trust:
    """What the order rule says for the whole set (protocol/trust.py, pure)."""
    forks = set()
    for e in envelopes:
        if isinstance(e.payload.body, ForkProof):
            a, _ = verify_fork_proof(e.payload.body)
            forks.add((a.author, a.seq))
    return Trust.replay(GEN, [e for e in envelopes if type(e.payload.body) in STRUCTURAL], forks)


@pytest.mark.slow  # ~25 s: fifteen histories, each taken in in several orders: `make test-slow`, run by CI
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.lists(st.tuples(st.integers(0, 2**32), st.integers(1, 7)), min_size=3, max_size=5))
def test_every_order_gives_the_same_trust(envelopes: list[Envelope], orders: list[tuple[int, int]]) -> None:
    async def run() -> None:
        one_batch = await feed(envelopes, random.Random(0), len(envelopes))
        for seed, batch in orders:
            assert await feed(envelopes, random.Random(seed), batch) == one_batch
        trust = replayed(envelopes)
        assert [bytes(row[0]) for row in one_batch[0]] == sorted(trust.bodies)
        for row in one_batch[0]:
            body = trust.bodies[bytes(row[0])]
            assert (row[8], row[9]) == (body.cut, body.cut_reason)
        # The hard cases, as the order rule says: what R2 signed after its cut never counted...
        assert R2.public in trust.bodies and trust.bodies[B1.public].cut is None
        # ...nor what R1 signed after its rotation; B3 is frozen; a key chartered twice has one parent.
        assert trust.bodies[R1.public].cut_reason == "retired" and trust.bodies[B3.public].cut_reason == "frozen"
        assert trust.bodies[B1.public].parent in (R1B.public, R2.public)

    asyncio.run(run())
