"""Members sign their participation with their own keys (issue 25), on a real node: the roll
commits to each elector's keys; a vote signed by a key file or a passkey is counted as signed,
one whose signature does not hold (another ballot's statement, a revoked key, a key added
after the roll froze, a passkey used on another site) is refused and nothing is taken; the
decision commits to who took part; each member proves what it holds in their name. And an
operator with the database in hand who adds a vote for a member who holds a key: that
member's check shows a participation they did not make, and the decision says one vote fewer
was signed than the votes it counts."""

from __future__ import annotations

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
    for who in people.values():  # each proof holds against the signed decision itself
        check = await proof_for(node, who, row)
        assert check_participation_proof(check.roll_leaf, check.proof, decided.participations) == check.found  # type: ignore[arg-type]


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
