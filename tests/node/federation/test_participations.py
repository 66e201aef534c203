"""Members sign their participation with their own keys (issue 25), on a real node: the roll
commits to each elector's keys; a vote signed by a key file or a passkey is counted as signed,
one whose signature does not hold (another ballot's statement, a revoked key, a key added
after the roll froze, a passkey used on another site) is refused and nothing is taken; the
decision commits to who took part; each member proves what it holds in their name. And an
operator with the database in hand who adds a vote for a member who holds a key: that
member's check shows a participation they did not make, and the decision says one vote fewer
was signed than the votes it counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.errors import BadInput, Forbidden
from node.federation import ballots
from node.federation.participations import SignedIn, proof_for, statement_of
from node.service import Node
from node.storage.members import Member, MemberIn
from protocol import Decision, Roll, open_envelope
from protocol.ballots import check_decision, receipt_digest
from protocol.member_keys import check_participation_proof, key_id
from tests.node.federation.test_ballots import SPEC, officer
from tests.passkeys import KeyFile, SoftPasskey

SITE = "http://localhost:8470"


async def _people(node: Node) -> dict[str, Member]:
    return {name: await node.members.add(MemberIn(name=name, email=f"{name.lower()}@example.org"))
            for name in ("Ada", "Bea", "Cy", "Dan")}  # fmt: skip


@pytest.fixture
async def named(node: Node) -> Node:
    node.config.http.public_url = SITE  # reached by a name: passkeys can be bound to it
    return node


async def test_signed_unsigned_and_refused_participations(named: Node) -> None:
    node = named
    sec, people = await officer(node), await _people(node)
    ada_key, bea_key, dan_key = KeyFile(), SoftPasskey("localhost", SITE), KeyFile()
    await node.member_keys.add(people["Ada"].id, ada_key.key, "laptop")
    bea_key.credential = b"bea's passkey"
    await node.member_keys.add(people["Bea"].id, bea_key.key, "phone", credential=bea_key.credential)
    await node.member_keys.add(people["Dan"].id, dan_key.key, "laptop")
    row = await ballots.open_ballot(node, sec, SPEC)
    roll = open_envelope((await node.envelopes.get(row.roll)) or b"").payload.body
    assert isinstance(roll, Roll) and (roll.count, roll.keyed) == (5, 3)
    statement = statement_of(node, row)
    late = KeyFile()  # added after the roll froze: not a key of this ballot
    await node.member_keys.add(people["Cy"].id, late.key, "new laptop")
    refusals = [
        (people["Ada"], SignedIn(ada_key.sign(statement + b"x"), key_id(ada_key.key))),  # another statement
        (people["Ada"], SignedIn(dan_key.sign(statement), key_id(dan_key.key))),  # someone else's key
        (people["Cy"], SignedIn(late.sign(statement), key_id(late.key))),
        (people["Bea"], SignedIn(SoftPasskey("localhost", SITE).sign(statement), credential=bea_key.credential)),
    ]  # (the last: a passkey's signature, but not Bea's passkey)
    for who, signed in refusals:
        with pytest.raises((Forbidden, BadInput)):
            await ballots.vote(node, who, row.id, "for", signed=signed)
        assert not await node.ballots.has_voted(row.id, who.id)  # nothing taken
    phished = SoftPasskey("localhost", "https://phish.example")
    phished.private, phished.key = bea_key.private, bea_key.key  # Bea's own key, on another site
    with pytest.raises(Forbidden, match="another site"):
        await ballots.vote(node, people["Bea"], row.id, "for",
                           signed=SignedIn(phished.sign(statement), credential=bea_key.credential))  # fmt: skip
    (dan_row,) = await node.member_keys.of(people["Dan"].id)
    await node.member_keys.revoke(people["Dan"].id, dan_row.id)
    with pytest.raises(Forbidden):
        await ballots.vote(node, people["Dan"], row.id, "for", signed=SignedIn(dan_key.sign(statement),
                                                                               key_id(dan_key.key)))  # fmt: skip
    await ballots.vote(node, people["Ada"], row.id, "for", signed=SignedIn(ada_key.sign(statement),
                                                                           key_id(ada_key.key)))  # fmt: skip
    await ballots.vote(node, people["Bea"], row.id, "against",
                       signed=SignedIn(bea_key.sign(statement), credential=bea_key.credential))  # fmt: skip
    await ballots.vote(node, people["Cy"], row.id, "for")  # no key of this ballot's: unsigned, and counted
    decided = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(decided, Decision)
    check_decision(decided)
    assert (decided.counts, decided.signed) == ([2, 1, 0], 2)
    row = await node.ballots.require(row.id)
    found = {name: (await proof_for(node, who, row)).found for name, who in people.items()}
    assert found == {"Ada": "signed", "Bea": "signed", "Cy": "unsigned", "Dan": "absent"}
    from node.federation.participations import entry_of

    assert {name: await entry_of(node, who, row) for name, who in people.items()} == found  # what the page shows
    for who in people.values():  # each proof holds against the signed decision itself
        check = await proof_for(node, who, row)
        assert check_participation_proof(check.roll_leaf, check.proof, decided.participations) == check.found  # type: ignore[arg-type]
    # The scrutineer's offline check of the honest register: everything holds.
    from node.federation.participations import register_for
    from protocol.register import check_register

    await node.scrutineers.appoint(people["Dan"].id, sec.id)
    register = await register_for(node, people["Dan"], row, "cli")
    assert len(register.electors) == 5 and len(register.participations) == 3
    assert check_register(register) == []


async def test_a_vote_added_by_the_operator_shows_in_the_members_own_check(named: Node) -> None:
    """The operator writes a vote for Dan (who holds a key and did not vote) into the database,
    as the node would for an unsigned vote, and lets the node close the ballot."""
    node = named
    sec, people = await officer(node), await _people(node)
    dan_key = KeyFile()
    await node.member_keys.add(people["Dan"].id, dan_key.key, "laptop")
    row = await ballots.open_ballot(node, sec, SPEC)
    await ballots.vote(node, people["Ada"], row.id, "for")
    salt, keys = await node.ballots.elector(row.id, people["Dan"].id) or (b"", None)
    from node.federation.participations import leaf_of

    async with node.db.write("test.stuff") as conn:  # full access to the database
        await conn.execute("INSERT INTO ballot_voters (ballot_id, member_id) VALUES (?, ?)", (row.id, people["Dan"].id))
        await conn.execute("INSERT INTO ballot_votes (ballot_id, digest, choice) VALUES (?, ?, ?)",
                           (row.id, receipt_digest(row.ballot, b"\x07" * 16), b"\x00"))  # fmt: skip
        await conn.execute("INSERT INTO participations (ballot_id, roll_leaf, member_id) VALUES (?, ?, ?)",
                           (row.id, leaf_of(salt, people["Dan"].id, keys), people["Dan"].id))  # fmt: skip
    decided = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(decided, Decision) and decided.counts == [2, 0, 0] and decided.signed == 0
    check = await proof_for(node, people["Dan"], await node.ballots.require(row.id))
    assert check.found == "unsigned"  # Dan holds a key and did not vote: the decision holds a vote in his name
    assert check_participation_proof(check.roll_leaf, check.proof, decided.participations) == "unsigned"  # type: ignore[arg-type]


async def test_scrutineers_check_the_register_offline_and_find_what_the_operator_did(
    named: Node, tmp_path: Path
) -> None:
    """Signed and unsigned votes; the operator then adds an unsigned vote for Dan (who holds a
    key) and forges a 'signed' one for Eve. The decision adds up, so every node takes it in;
    the scrutineer's offline check of the marked register names both."""
    import msgspec

    from node.federation.participations import leaf_of, register_for
    from node.rules import member_keys as key_rules
    from protocol.encoding import encode
    from protocol.member_keys import MemberSignature
    from protocol.register import MarkedRegister, check_register
    from tests.node.cli.test_node_cli import branchnet

    node = named
    sec, people = await officer(node), await _people(node)
    eve = await node.members.add(MemberIn(name="Eve", email="eve@example.org"))
    keys = {name: KeyFile() for name in ("Ada", "Dan")}
    for name, k in keys.items():
        await node.member_keys.add(people[name].id, k.key, "laptop")
    eve_key = KeyFile()
    await node.member_keys.add(eve.id, eve_key.key, "laptop")
    with pytest.raises(BadInput, match="holds no office"):
        await key_rules.appoint_scrutineer(node, sec, sec.id)
    await key_rules.appoint_scrutineer(node, sec, people["Cy"].id)
    row = await ballots.open_ballot(node, sec, SPEC)
    statement = statement_of(node, row)
    await ballots.vote(node, people["Ada"], row.id, "for", signed=SignedIn(keys["Ada"].sign(statement),
                                                                           key_id(keys["Ada"].key)))  # fmt: skip
    await ballots.vote(node, people["Bea"], row.id, "against")
    async with node.db.write("test.stuff") as conn:  # the operator, with the database in hand
        for i, (who, signed) in enumerate([(people["Dan"], None), (eve, MemberSignature(signature=bytes(64)))]):
            salt, held = await node.ballots.elector(row.id, who.id) or (b"", None)
            await conn.execute("INSERT INTO ballot_voters (ballot_id, member_id) VALUES (?, ?)", (row.id, who.id))
            await conn.execute("INSERT INTO ballot_votes (ballot_id, digest, choice) VALUES (?, ?, ?)",
                               (row.id, receipt_digest(row.ballot, bytes([i]) * 16), b"\x00"))  # fmt: skip
            await conn.execute(
                "INSERT INTO participations (ballot_id, roll_leaf, member_id, key_id, signature, digest)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, leaf_of(salt, who.id, held), who.id, key_id(eve_key.key) if signed else None,
                 encode(signed) if signed else None, bytes(32) if signed else None),
            )  # fmt: skip
    decided = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(decided, Decision) and decided.counts == [3, 1, 0] and decided.signed == 2
    check_decision(decided)  # it adds up: no node can tell
    row = await node.ballots.require(row.id)
    with pytest.raises(Forbidden):
        await register_for(node, people["Ada"], row, "api")  # not a scrutineer
    register = await register_for(node, people["Cy"], row, "api")
    found = {(f.code, f.member) for f in check_register(register)}
    assert ("unsigned_keyholder", people["Dan"].id) in found and ("bad_member_signature", eve.id) in found
    assert {c for c, _ in found} == {"unsigned_keyholder", "bad_member_signature", "not_the_decision"}
    (looked,) = [a for a in await node.access.page() if a.action == "register"]
    assert looked.actor_id == people["Cy"].id  # recorded where members see who looked
    # Offline, from the file alone, with `branchnet audit --register`.
    path = tmp_path / "register.json"
    path.write_bytes(msgspec.json.encode(register))
    audited = branchnet("audit", "--register", str(path))
    assert audited.returncode == 1 and "bad_member_signature" in audited.stdout and "LOOK INTO" in audited.stdout
    honest = msgspec.structs.replace(register, participations=[e for e in register.participations
                                                                if e.member in (people["Ada"].id, people["Bea"].id)])
    assert isinstance(honest, MarkedRegister)
    assert {f.code for f in check_register(honest)} == {"not_the_decision"}  # two votes short of the decision


async def test_the_retention_rule_clears_the_registers_signatures_and_each_member_still_checks_theirs(
        named: Node) -> None:  # fmt: skip
    """After ``register_months`` the signatures go (a scrutineer is told so); the salted
    entries the decision commits to stay, so each member's proof still holds."""
    from node.federation.participations import register_for
    from node.rules import member_keys as key_rules
    from node.rules import retention

    node = named
    sec, people = await officer(node), await _people(node)
    ada_key = KeyFile()
    await node.member_keys.add(people["Ada"].id, ada_key.key, "laptop")
    await key_rules.appoint_scrutineer(node, sec, people["Cy"].id)
    row = await ballots.open_ballot(node, sec, SPEC)
    await ballots.vote(node, people["Ada"], row.id, "for", signed=SignedIn(ada_key.sign(statement_of(node, row)),
                                                                           key_id(ada_key.key)))  # fmt: skip
    await ballots.vote(node, people["Bea"], row.id, "against")
    await ballots.close_ballot(node, sec, row.id)
    row = await node.ballots.require(row.id)
    assert row.closed is not None
    closed_s = row.closed // 1000
    months = node.config.retention.register_months
    assert (await retention.run(node, closed_s + months * retention.MONTH_S - 60)).registers == 0  # not yet
    assert len((await register_for(node, people["Cy"], row, "api")).participations) == 2
    assert (await retention.run(node, closed_s + months * retention.MONTH_S + 60)).registers == 1
    assert (await retention.run(node, closed_s + months * retention.MONTH_S + 120)).registers == 0  # once
    row = await node.ballots.require(row.id)
    assert all(signature is None for _, _, _, signature in await node.ballots.register(row.id))
    with pytest.raises(Exception, match="retention rule cleared") as refused:
        await register_for(node, people["Cy"], row, "api")
    assert getattr(refused.value, "code", None) == "register_swept"
    from node.federation.participations import entry_of

    for name, found in (("Ada", "signed"), ("Bea", "unsigned"), ("Dan", "absent")):
        check = await proof_for(node, people[name], row)
        assert check.found == found and await entry_of(node, people[name], row) == found, name


async def test_votes_that_arrive_together_on_a_ballot_read_its_electors_once(named: Node) -> None:
    """The electors of a ballot not yet read are read once for all the votes waiting on them
    (64 readers of 1,000 rows each made every switch of ballot a pause), and a voter who goes
    away does not take the read from the others."""
    import asyncio

    node = named
    sec, people = await officer(node), await _people(node)
    row = await ballots.open_ballot(node, sec, SPEC)
    node.ballots._electors.clear()  # as in a fresh process
    reads: list[str] = []
    reading, release = asyncio.Event(), asyncio.Event()
    real = node.db.fetchall

    async def counted(sql: str, *args: object) -> object:
        if "FROM ballot_electors" in sql:
            reads.append(sql)
            reading.set()
            await release.wait()  # held until every voter has asked
        return await real(sql, *args)  # type: ignore[arg-type]

    node.db.fetchall = counted  # type: ignore[method-assign,assignment]
    try:
        # Every task starts before this one resumes from the read having begun: each has asked.
        gone = asyncio.ensure_future(node.ballots.elector(row.id, people["Ada"].id))
        waiting = [asyncio.ensure_future(node.ballots.elector(row.id, m.id)) for m in people.values()]
        await reading.wait()
        gone.cancel()
        release.set()
        found = await asyncio.gather(*waiting)
    finally:
        node.db.fetchall = real  # type: ignore[method-assign]
    assert len(reads) == 1 and all(f is not None for f in found)
    assert await node.ballots.elector(row.id, people["Bea"].id) == found[1] and len(reads) == 1  # kept
