"""The ingest path on a real SQLite database: dedupe, verify, trust, chains, quarantine, forks, cuts."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

import node.federation.verify as verify_module
from node.federation.ingest import Federation, Found
from node.federation.quarantine import QuarantineLimits
from node.storage.db import Database
from protocol import BallotRules, Decision, Envelope, Payload, Ratio, Revocation, Roll, SigningKey
from protocol.ballots import records
from protocol.models import ForkProof
from tests.factories import T0, charter, genesis, key, next_envelope, profile, signed_raw

NATIONAL, NORTH, LEEDS, STRANGER = key("national"), key("north"), key("leeds"), key("stranger")
GEN = genesis(NATIONAL)


def chain(author: SigningKey, *bodies: object, after: Envelope | None = None) -> list[Envelope]:
    out: list[Envelope] = []
    for body in bodies:
        after = next_envelope(author, after, body, GEN.id)  # type: ignore[arg-type]
        out.append(after)
    return out


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    db = await Database.open(tmp_path / "node.db", create=True, serving=True)
    async with db.write("test.pin_federation") as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('federation', ?)", (GEN.id,))
    federation = Federation(db, key("this node").public, clock=lambda: 1_767_225_600 + 86_400)
    await federation.load()
    yield federation
    federation.close()
    await db.close()


async def statuses(fed: Federation, envelopes: list[Envelope | bytes]) -> list[tuple[str, str | None]]:
    outcomes = await fed.ingest([e.raw if isinstance(e, Envelope) else e for e in envelopes])
    return [(o.status, o.code) for o in outcomes]


async def stored_ids(fed: Federation) -> set[bytes]:
    return {bytes(r[0]) for r in await fed.db.fetchall("SELECT id FROM envelopes")}


async def test_accepts_a_chartered_tree_and_dedupes_before_verifying(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    north = chain(NORTH, profile("North"), charter(LEEDS, "Leeds", "branch"))
    assert await statuses(fed, [GEN, *c_north, *north]) == [("accepted", None)] * 4
    assert fed.heads[NORTH.public].seq == 2 and fed.trust is not None and LEEDS.public in fed.trust.bodies
    verified: list[int] = []
    real = verify_module.open_all
    monkeypatch.setattr(verify_module, "open_all", lambda raws: verified.append(len(raws)) or real(raws))
    assert await statuses(fed, [GEN, north[0], north[0]]) == [("duplicate", None)] * 3
    assert verified == []  # nothing known was verified again


async def test_quarantine_until_the_charter_arrives(fed: Federation) -> None:
    await fed.ingest([GEN.raw])
    leeds = chain(LEEDS, profile("Leeds"), profile("Leeds 2"))
    assert await statuses(fed, leeds) == [("quarantined", "unknown_author")] * 2
    assert fed.quarantined == 2 and not (await stored_ids(fed)) & {e.id for e in leeds}
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    c_leeds = chain(NORTH, charter(LEEDS, "Leeds", "branch"))
    assert await statuses(fed, [*c_leeds, *c_north]) == [("accepted", None)] * 2  # sorted into order within a batch
    assert {e.id for e in leeds} <= await stored_ids(fed)
    assert fed.quarantined == 0 and fed.heads[LEEDS.public].seq == 2


async def test_gap_waits_for_predecessors(fed: Federation) -> None:
    national = chain(NATIONAL, profile("N1"), profile("N2"), profile("N3"), after=GEN)
    await fed.ingest([GEN.raw])
    assert await statuses(fed, [national[2]]) == [("quarantined", "waiting")]
    assert await statuses(fed, [national[0], national[1]]) == [("accepted", None)] * 2
    assert fed.heads[NATIONAL.public].seq == 4


async def test_only_envelopes_that_can_move_are_taken_up_again(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Quarantined envelopes behind a gap are left alone when their author moves (no
    quadratic retries), are taken up in order once the gap closes, also after a restart
    (verified again), and a cut author's are rejected when it is touched."""
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    north = chain(NORTH, *(profile(f"N{i}") for i in range(1, 8)))
    await fed.ingest([GEN.raw, c_north[0].raw, north[0].raw])
    assert await statuses(fed, [north[3], north[4], north[6]]) == [("quarantined", "waiting")] * 3
    admitted: list[int] = []  # North's envelopes that went through the full path
    real = fed._admit

    def spy(conn: object, e: Envelope, *a: object, **k: object) -> object:
        if e.author == NORTH.public:
            admitted.append(e.seq)
        return real(conn, e, *a, **k)  # type: ignore[arg-type]

    monkeypatch.setattr(fed, "_admit", spy)
    assert await statuses(fed, [north[1]]) == [("accepted", None)]  # seq 2: 4, 5 and 7 still wait behind 3
    assert admitted == [] and fed.quarantined == 3
    await fed.load()  # a restart: what was kept in memory is gone, the rows stay
    fed.quarantine.cache.clear()
    assert await statuses(fed, [north[2]]) == [("accepted", None)]  # seq 3: 4 and 5 follow, 7 waits for 6
    assert fed.heads[NORTH.public].seq == 5 and fed.quarantined == 1 and admitted == []
    revoke = next_envelope(NATIONAL, c_north[0], Revocation(key=NORTH.public, after_seq=5), GEN.id)
    assert await statuses(fed, [revoke]) == [("accepted", None)]
    assert fed.quarantined == 0 and admitted == [7]  # the revoked author's seq 7 was taken up and rejected
    assert north[6].id not in await stored_ids(fed)
    assert await fed.db.fetchall("SELECT id FROM quarantine") == []


async def test_rejections_keep_their_codes_and_store_nothing(fed: Federation) -> None:
    await fed.ingest([GEN.raw])
    good = chain(NATIONAL, profile("N"), after=GEN)[0]
    forged = bytearray(good.raw)
    forged[-1] ^= 1
    elsewhere = genesis(key("elsewhere"))
    foreign = next_envelope(NATIONAL, GEN, profile("x"), elsewhere.id)
    before = await stored_ids(fed)
    result = await statuses(fed, [bytes(forged), b"\x93\x01", elsewhere, foreign, b"x" * 200_000])
    assert result == [("rejected", "bad_signature"), ("rejected", "malformed"), ("rejected", "wrong_federation"),
                      ("rejected", "wrong_federation"), ("rejected", "too_large")]  # fmt: skip
    assert await stored_ids(fed) == before
    assert fed.counters["rejected:bad_signature"] == 1 and fed.counters["rejected:wrong_federation"] == 2


async def test_a_fork_freezes_the_author_and_keeps_the_proof(fed: Federation) -> None:
    found: list[Found] = []
    fed.on_fork.append(found.append)
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    n1, n2 = chain(NORTH, profile("North"), profile("North, story A"))
    n2b = next_envelope(NORTH, n1, profile("North, story B"), GEN.id)
    await fed.ingest([GEN.raw, *(e.raw for e in c_north), n1.raw, n2.raw])
    assert await statuses(fed, [n2b]) == [("rejected", "fork")]
    assert len(found) == 1 and found[0].seq == 2
    rows = await fed.db.fetchall("SELECT seq, a, b FROM forks")
    assert [(r[0], {bytes(r[1]), bytes(r[2])}) for r in rows] == [(2, {n2.raw, n2b.raw})]
    assert fed.heads[NORTH.public].seq == 1  # cut before the fork on this node, as on every node
    assert n2.id not in await stored_ids(fed)
    held = await fed.db.fetchall("SELECT id, reason FROM held")
    assert [(bytes(r[0]), r[1]) for r in held] == [(n2.id, "frozen")]
    n3 = next_envelope(NORTH, n2, profile("after"), GEN.id)
    assert await statuses(fed, [n3]) == [("rejected", "frozen")]


async def test_a_fork_proof_from_a_witness_freezes_too(fed: Federation) -> None:
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    n1, n2 = chain(NORTH, profile("North"), profile("A"))
    n2b = next_envelope(NORTH, n1, profile("B"), GEN.id)
    await fed.ingest([GEN.raw, *(e.raw for e in c_north), n1.raw, n2.raw])
    from protocol import make_fork_proof

    proof = next_envelope(NATIONAL, c_north[0], make_fork_proof(n2, n2b), GEN.id)
    assert isinstance(proof.payload.body, ForkProof)
    assert await statuses(fed, [proof]) == [("accepted", None)]
    assert fed.heads[NORTH.public].seq == 1
    assert [r[0] for r in await fed.db.fetchall("SELECT published FROM forks")] == [1]


async def test_revocation_sets_aside_what_came_after(fed: Federation) -> None:
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    north = chain(NORTH, profile("1"), profile("2"), profile("3"))
    await fed.ingest([GEN.raw, *(e.raw for e in c_north), *(e.raw for e in north)])
    revoke = next_envelope(NATIONAL, c_north[0], Revocation(key=NORTH.public, after_seq=1), GEN.id)
    assert await statuses(fed, [revoke]) == [("accepted", None)]
    assert fed.heads[NORTH.public].seq == 1
    assert {bytes(r[0]) for r in await fed.db.fetchall("SELECT id FROM held")} == {north[1].id, north[2].id}
    assert await statuses(fed, [north[1]]) == [("duplicate", None)]  # held: known, not accepted again


async def test_quarantine_is_bounded_and_keeps_room_for_chartered_authors(fed: Federation) -> None:
    fed.quarantine.limits = QuarantineLimits(max_count=4, unknown_percent=50)
    await fed.ingest([GEN.raw, *(e.raw for e in chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN))])
    strangers = chain(STRANGER, profile("1"), profile("2"), profile("3"))
    assert await statuses(fed, strangers) == [("quarantined", "unknown_author")] * 2 + [("rejected", "quarantine_full")]
    # A chartered author's envelopes that arrive before their predecessors still find room...
    north = chain(NORTH, profile("a"), profile("b"), profile("c"), profile("d"))
    assert await statuses(fed, north[1:]) == [("quarantined", "waiting")] * 2 + [("rejected", "quarantine_full")]
    assert await statuses(fed, north[:1]) == [("accepted", None)]  # ...and move on when the gap fills
    assert fed.heads[NORTH.public].seq == 3 and fed.quarantined == 2
    # In bytes too: an envelope that does not fit is refused, whatever the count.
    fed.quarantine.limits = QuarantineLimits(max_count=100, max_bytes=fed.quarantine.total_bytes + 100)
    later = chain(NORTH, profile("e"), profile("f"), after=north[3])
    assert await statuses(fed, later[1:]) == [("rejected", "quarantine_full")]


async def test_quarantine_expires(fed: Federation) -> None:
    await fed.ingest([GEN.raw])
    await statuses(fed, chain(STRANGER, profile("1"), profile("2")))
    assert fed.quarantined == 2
    assert await fed.expire_quarantine(now=fed.clock() + 3600) == 0
    assert await fed.expire_quarantine(now=fed.clock() + fed.quarantine.limits.ttl_s + 1) == 2
    assert fed.quarantined == 0 and await fed.db.fetchall("SELECT id FROM quarantine") == []


async def test_state_survives_a_reload(fed: Federation) -> None:
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    north = chain(NORTH, charter(LEEDS, "Leeds", "branch"), profile("x"))
    revoke = next_envelope(NATIONAL, c_north[0], Revocation(key=NORTH.public, after_seq=1), GEN.id)
    await fed.ingest([GEN.raw, *(e.raw for e in c_north), *(e.raw for e in north), revoke.raw])
    assert fed.trust is not None
    bodies, heads, digest = dict(fed.trust.bodies), dict(fed.heads), fed.digest()
    await fed.load()
    assert fed.trust.bodies == bodies and fed.heads == heads and fed.digest() == digest


async def test_a_reload_never_shows_a_half_built_trust(fed: Federation, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process wrote (the CLI): while the state is read again, requests see the old
    state whole, never an empty trust or the founder alone (the demo once caught a branch
    answering "not in a federation" to a request served in that moment)."""
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    await fed.ingest([GEN.raw, *(e.raw for e in c_north)])
    before = fed.trust
    assert before is not None and NORTH.public in before.bodies
    entered, gate = asyncio.Event(), asyncio.Event()
    real = fed.store.bodies

    async def slow() -> list[object]:
        entered.set()
        await gate.wait()
        return list(await real())

    monkeypatch.setattr(fed.store, "bodies", slow)
    reload = asyncio.create_task(fed.load(init=False))
    await entered.wait()
    assert fed.trust is before and fed.may_speak(NORTH.public) and fed.heads  # the old state, whole
    gate.set()
    await reload
    assert fed.trust is not None and fed.trust.bodies == before.bodies and fed.may_speak(NORTH.public)


async def test_concurrent_batches_with_the_same_envelopes(fed: Federation) -> None:
    import asyncio

    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    north = chain(NORTH, *(profile(f"N{i}") for i in range(30)))
    stranger = chain(STRANGER, profile("s"))
    await fed.ingest([GEN.raw, c_north[0].raw])
    batch = [e.raw for e in north] + [stranger[0].raw]
    results = await asyncio.gather(*(fed.ingest(batch) for _ in range(4)))
    statuses = [[o.status for o in r] for r in results]
    for i in range(len(batch)):
        column = sorted(s[i] for s in statuses)
        assert column.count("duplicate") == 3, (i, column)  # exactly one batch took each envelope
    assert fed.heads[NORTH.public].seq == 30 and fed.quarantined == 1
    assert [r[0] for r in await fed.db.fetchall("SELECT COUNT(*) FROM forks")] == [0]


async def test_a_failed_batch_stores_nothing_and_memory_follows(
    fed: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fed.ingest([GEN.raw])
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    heads_before = dict(fed.heads)

    async def disk_full(conn: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fed, "_save_bodies", disk_full)
    with pytest.raises(OSError):
        await fed.ingest([c_north[0].raw])
    assert fed.heads == heads_before and fed.trust is not None and NORTH.public not in fed.trust.bodies
    assert c_north[0].id not in await stored_ids(fed)
    monkeypatch.undo()
    assert [o.status for o in await fed.ingest([c_north[0].raw])] == ["accepted"]
    assert NORTH.public in fed.trust.bodies


async def test_the_plain_path_decides_as_the_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path for common envelopes must give the outcomes, heads and rows of the full one."""
    now_ms = (1_767_225_600 + 86_400) * 1000
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    north = chain(NORTH, profile("N1"), profile("N2"), profile("N3"))
    other_2 = next_envelope(NORTH, north[0], profile("N2 elsewhere"), GEN.id)
    batches: list[list[Envelope]] = [
        [GEN, *c_north, *north[:2]],
        [next_envelope(NORTH, north[1], profile("late"), GEN.id, created=north[1].payload.created - 1)],  # earlier
        [next_envelope(NORTH, north[1], profile("future"), GEN.id, created=now_ms + 10 * 60_000)],
        [next_envelope(NORTH, other_2, profile("N3 after the other N2"), GEN.id)],  # prev is not the head
        [north[2], next_envelope(NORTH, north[2], profile("N4"), GEN.id)],
        [next_envelope(STRANGER, None, profile("stranger"), GEN.id)],  # unknown: quarantined
        chain(NATIONAL, Revocation(key=NORTH.public, after_seq=4), after=c_north[0]),
        chain(NORTH, profile("N5"), profile("N6"), after=chain(NORTH, profile("N4"), after=north[2])[0]),  # revoked
    ]
    national = chain(NATIONAL, profile("P4"), profile("P5"), after=batches[6][0])
    batches += [[national[1]], [national[0]]]  # a gap, then what fills it: the retry takes seq 5
    results = []
    for fast in (True, False):
        db = await Database.open(tmp_path / f"{fast}.db", create=True, serving=True)
        async with db.write("test.pin_federation") as conn:
            await conn.execute("INSERT INTO meta (key, value) VALUES ('federation', ?)", (GEN.id,))
        fed = Federation(db, key("this node").public, clock=lambda: now_ms / 1000)
        await fed.load()
        taken: list[int] = []
        plain = fed._admit_plain
        monkeypatch.setattr(
            fed,
            "_admit_plain",
            lambda e, t, **k: taken.append(1) or plain(e, t, **k) if fast else None,  # noqa: B023
        )
        outcomes = [await statuses(fed, list(batch)) for batch in batches]
        results.append((outcomes, dict(fed.heads), await stored_ids(fed), fed.quarantined))
        assert (len(taken) > 0) == fast
        fed.close()
        await db.close()
    assert results[0] == results[1]
    outcomes = results[0][0]
    assert outcomes[1] == [("rejected", "bad_chain")] and outcomes[2] == [("rejected", "future_timestamp")]
    assert outcomes[3] == [("rejected", "bad_chain")] and outcomes[4] == [("accepted", None)] * 2
    assert outcomes[5] == [("quarantined", "unknown_author")] and outcomes[7][0] == ("rejected", "revoked")
    assert outcomes[8] == [("quarantined", "waiting")] and outcomes[9] == [("accepted", None)]
    assert results[0][1][NATIONAL.public].seq == 5


async def test_an_author_over_its_quota_is_refused_on_arrival_and_when_signing(tmp_path: Path) -> None:
    """A genesis with a small quota (4 envelopes a day): a chartered author's fifth envelope
    of the day is refused (over_quota) and stores nothing; one created a quarter of a day
    later fits. Our own log obeys the same quota: it refuses to sign, and takes no sequence."""
    from node.cli.setup import init_node
    from node.errors import Conflict
    from protocol import Payload, Quota, seal

    gen = genesis(NATIONAL, quota=Quota(envelopes_per_day=4, bytes_per_day=200_000))
    db = await Database.open(tmp_path / "q.db", create=True, serving=True)
    async with db.write("test.pin_federation") as conn:
        await conn.execute("INSERT INTO meta (key, value) VALUES ('federation', ?)", (gen.id,))
    fed = Federation(db, key("this node").public, clock=lambda: 1_767_225_600 + 86_400)
    await fed.load()
    try:
        c_north = next_envelope(NATIONAL, gen, charter(NORTH, "North", "region"), gen.id)
        flood = []
        for i in range(5):
            flood.append(next_envelope(NORTH, flood[-1] if flood else None, profile(f"p{i}"), gen.id, T0 + 1000))
        assert [o.status for o in await fed.ingest([gen.raw, c_north.raw])] == ["accepted"] * 2
        assert await statuses(fed, flood) == [("accepted", None)] * 4 + [("rejected", "over_quota")]
        assert fed.heads[NORTH.public].seq == 4 and NORTH.public in {bytes(r[0]) for r in await db.fetchall(
            "SELECT author FROM envelopes WHERE seq = 4")}  # fmt: skip
        later = next_envelope(NORTH, flood[3], profile("later"), gen.id, T0 + 1000 + 86_400_000 // 4)
        assert await statuses(fed, [later]) == [("accepted", None)]
        await fed.load()  # the buckets come back from the database as they were
        assert fed.heads[NORTH.public].quota is not None
        assert await statuses(fed, [next_envelope(NORTH, later, profile("x"), gen.id, T0 + 1001 + 86_400_000 // 4)]) \
            == [("rejected", "over_quota")]
    finally:
        fed.close()
        await db.close()
    # Our own log: `branchnet` refuses to sign the fifth envelope of the day.
    directory = tmp_path / "own"
    await init_node(directory, "National Committee", "national", "127.0.0.1:0", None)
    from node.service import Node

    async with Node.opened(directory) as node:
        now_ms = int(node.own_log.clock() * 1000)
        own_gen = seal(node.key, Payload(author=node.key.public, seq=1, created=now_ms, body=gen.payload.body))
        from node.storage.envelopes import store_genesis

        await store_genesis(node.db, own_gen)
        await node.federation_state.load()
        for i in range(2):  # the genesis was the first of four
            await node.own_log.append(profile(f"own {i}"))
        with pytest.raises(Conflict) as refused:  # the fourth is the reserve, kept for closing ballots
            await node.own_log.append(profile("one too many"))
        assert refused.value.code == "over_quota"
        assert node.federation_state.heads[node.key.public].seq == 3


async def test_a_decision_that_does_not_add_up_is_refused_and_one_that_does_is_held(fed: Federation) -> None:
    """Built and signed by a chartered test peer: counts that are not its receipts, and an
    outcome the rules do not give, are refused with bad_decision; a decision whose electorate
    is not its roll's count, whose roll froze another ballot, or whose roll is not held, is
    refused with wrong_roll (issue 21, item 3: an electorate of 100 against a roll of 10 was
    held); nothing is stored."""
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    ballot = b"B" * 16
    north = chain(NORTH, profile("North"), Roll(count=10, root=b"\x01" * 32, as_of=T0, ballot=ballot))
    assert await statuses(fed, [GEN, *c_north, *north]) == [("accepted", None)] * 4
    roll = north[1]
    votes = [(bytes([i]) * 16, bytes([i % 3])) for i in range(9)]  # 3 for, 3 against, 3 abstain

    def decision(**changes: object) -> Decision:
        fields: dict[str, object] = {
            "ballot": ballot, "motion": "m1", "subject": "s", "text_hash": hashlib.sha256(b"t").digest(),
            "method": "for_against_abstain", "electorate": 10, "roll": roll.id, "opened": 1, "closed": 2,
            "rules": BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2)),
            "counts": [3, 3, 3], "receipts": records(ballot, votes), "outcome": "lost",
        }  # fmt: skip
        return Decision(**{**fields, **changes})  # type: ignore[arg-type]

    def signed(body: Decision) -> bytes:
        payload = Payload(author=NORTH.public, seq=3, created=T0 + 3_000, federation=GEN.id, prev=roll.id,
                          body=body)  # fmt: skip
        return signed_raw(NORTH, payload)

    bad_counts, bad_outcome = signed(decision(counts=[4, 3, 2])), signed(decision(outcome="carried"))
    assert await statuses(fed, [bad_counts, bad_outcome]) == [("rejected", "bad_decision")] * 2
    inflated = signed(decision(electorate=100, outcome="not_quorate"))  # adds up by itself
    other_ballot = signed(decision(ballot=b"C" * 16, receipts=records(b"C" * 16, votes)))
    unheld_roll = signed(decision(roll=b"R" * 32))
    not_a_roll = signed(decision(roll=north[0].id))
    assert await statuses(fed, [inflated, other_ballot, unheld_roll, not_a_roll]) == [("rejected", "wrong_roll")] * 4
    from protocol import write_bundle
    from protocol.audit import audit

    for bent in (inflated, other_ballot, not_a_roll):  # the audit of the set with it names it with the same code
        found = audit([("set", write_bundle([e.raw for e in (GEN, *c_north, *north)] + [bent]))], T0 + 86_400_000)
        assert [(p.code, p.object) for p in found.problems] == [("wrong_roll", hashlib.sha256(bent).digest())]
    assert fed.heads[NORTH.public].seq == 2 and len(await stored_ids(fed)) == 4
    good = signed(decision())
    assert await statuses(fed, [good]) == [("accepted", None)]
    assert fed.heads[NORTH.public].seq == 3


async def test_a_roll_and_its_decision_in_one_batch(fed: Federation) -> None:
    """The roll is found when it came in the same push as its decision (not yet written)."""
    c_north = chain(NATIONAL, charter(NORTH, "North", "region"), after=GEN)
    ballot = b"B" * 16
    decision = Decision(ballot=ballot, motion="m1", subject="s", text_hash=bytes(32), method="for_against_abstain",
                        electorate=3, roll=b"", opened=1, closed=2,
                        rules=BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2)),
                        counts=[0, 0, 0], receipts=b"", outcome="not_quorate")  # fmt: skip
    roll_env = chain(NORTH, Roll(count=3, root=b"\x01" * 32, as_of=T0, ballot=ballot))[0]
    both = [roll_env, next_envelope(NORTH, roll_env, msgspec.structs.replace(decision, roll=roll_env.id), GEN.id)]
    assert await statuses(fed, [GEN, *c_north, *both]) == [("accepted", None)] * 4


async def test_a_command_line_write_never_drops_a_charter_the_server_took_in(tmp_path: Path) -> None:
    """The CLI opened the node, the server then took in a charter from another node, and the
    CLI signed something that changes the bodies (a charter of its own): the bodies it writes
    back include the server's (the demo once lost two branches this way, and their profiles
    waited in quarantine for ever)."""
    from node.federation.acts import issue_charter
    from node.service import Node
    from tests.node.conftest import new_node_dir

    directory = await new_node_dir(tmp_path, "National Committee", level="national")
    server = await Node.open(directory, serving=True)
    cli = await Node.open(directory)
    try:
        region = key("region r")
        await issue_charter(server, region.public, "Region R", "region", None)
        await cli.db.notice_outside_changes()  # the CLI now knows Region R (an ordinary start)
        federation = server.federation_state.federation
        assert federation is not None
        branch = key("branch x")
        from_region = next_envelope(region, None, charter(branch, "Branch X", "branch"), federation)
        assert [o.status for o in await server.federation_state.ingest([from_region.raw])] == ["accepted"]
        await issue_charter(cli, key("region y").public, "Region Y", "region", None)
        await server.db.notice_outside_changes()
        for node in (cli, server):
            assert node.federation_state.trust is not None
            assert {"Branch X", "Region R", "Region Y"} <= {b.name for b in node.federation_state.trust.bodies.values()}
        stored = {r[0] for r in await server.db.fetchall("SELECT name FROM bodies")}
        assert {"Branch X", "Region R", "Region Y"} <= stored
    finally:
        await cli.close()
        await server.close()
