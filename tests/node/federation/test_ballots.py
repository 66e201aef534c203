"""Running a ballot on a node: the electorate frozen at open with a signed roll, exactly one
vote per member, receipts, and a signed decision that adds up (node/federation/ballots.py)."""

from __future__ import annotations

import asyncio

import pytest

from node.errors import BadInput, Conflict, Forbidden, NodeError
from node.federation import ballots
from node.federation.ballots import BallotSpec
from node.service import Node
from node.storage.ballots import ElectionSpec
from node.storage.members import Member, MemberIn, MemberPatch
from protocol import BallotRules, Decision, Ratio, Roll, open_envelope
from protocol.ballots import check_decision
from protocol.member_keys import Participation, participation_root, roll_leaf_v2
from protocol.merkle import verify_inclusion


async def people(node: Node, n: int, prefix: str = "Voter") -> list[Member]:
    return [await node.members.add(MemberIn(name=f"{prefix} {i}", email=f"{prefix.lower()}{i}@example.org"))
            for i in range(n)]  # fmt: skip


async def officer(node: Node) -> Member:
    return await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))


SPEC = BallotSpec(motion="m1", subject="Fund the food bank", text="This branch gives £200 to the food bank.")


async def test_a_ballot_from_open_to_a_decision_that_adds_up(node: Node) -> None:
    sec = await officer(node)
    voters = await people(node, 20)
    row = await ballots.open_ballot(node, sec, SPEC)
    assert row.electorate == 21 and row.state == "open"
    receipts = {}
    for i, voter in enumerate(voters):
        receipts[voter.id] = await ballots.vote(
            node, voter, row.id, "abstain" if i == 0 else "for" if i < 14 else "against"
        )
    envelope = await ballots.close_ballot(node, sec, row.id)
    body = envelope.payload.body
    assert isinstance(body, Decision)
    check_decision(body)  # what every receiving node checks
    assert body.counts == [13, 6, 1] and body.outcome == "carried" and body.electorate == 21
    assert body.roll == row.roll and body.secrecy == "secret"
    # Each voter finds their vote, as cast; a receipt nobody was given is not there.
    check = await ballots.check_receipt(node, row.id, receipts[voters[0].id])
    assert check.counted and check.choice == "abstain"
    assert (await ballots.check_receipt(node, row.id, receipts[voters[15].id])).choice == "against"
    assert not (await ballots.check_receipt(node, row.id, ballots.receipt_text(b"\x00" * 16))).counted
    # The roll: signed, 21 members, and each can prove their place against its root.
    roll = open_envelope((await node.envelopes.get(row.roll)) or b"").payload.body
    assert isinstance(roll, Roll) and roll.count == 21 and roll.ballot == row.ballot and roll.keyed == 0
    proof = await ballots.roll_proof(node, voters[3], row.id)
    assert proof.keys == []  # the roll commits to each member's keys: this one holds none
    leaf = roll_leaf_v2(proof.salt, voters[3].id, [])
    assert verify_inclusion(leaf, proof.index, roll.count, proof.path, roll.root)
    # The decision commits to who took part (all 20, none signed), and each can check it.
    assert (body.signed, body.participations) == (0, participation_root(
        [Participation(roll_leaf_v2(salt, m, []), None) for m, salt, _ in await node.ballots.electors(row.id)
         if m in receipts])[0])  # fmt: skip


@pytest.mark.parametrize("secrecy", ["secret", "open"])
async def test_secret_votes_name_nobody_and_are_gone_after_the_count(node: Node, secrecy: str) -> None:
    sec = await officer(node)
    voters = await people(node, 5)
    row = await ballots.open_ballot(node, sec, BallotSpec(motion="m2", subject="s", text="t", secrecy=secrecy))
    for voter in voters:
        await ballots.vote(node, voter, row.id, "for")
    stored = await node.db.fetchall("SELECT member_id FROM ballot_votes WHERE ballot_id = ?", (row.id,))
    assert len(stored) == 5
    assert all(r[0] is None for r in stored) == (secrecy == "secret")
    await ballots.close_ballot(node, sec, row.id)
    left = await node.db.fetchall("SELECT COUNT(*) FROM ballot_votes WHERE ballot_id = ?", (row.id,))
    assert left[0][0] == (0 if secrecy == "secret" else 5)


async def test_votes_that_are_refused_store_nothing(node: Node) -> None:
    sec = await officer(node)
    alice, bob, suspended = await people(node, 3)
    await node.members.update(suspended.id, MemberPatch(status="suspended"))
    suspended = await node.members.require(suspended.id)
    soon = BallotSpec(motion="m3", subject="s", text="t", opens=ballots.now_ms() + 3_600_000)
    later = await ballots.open_ballot(node, sec, soon)
    row = await ballots.open_ballot(node, sec, SPEC)
    newcomer = (await people(node, 1, "Late"))[0]  # joined after the ballot opened

    async def refused(kind: type[NodeError], code: str, coro: object) -> None:
        with pytest.raises(kind) as caught:
            await coro  # type: ignore[misc]
        assert caught.value.code == code, caught.value.message

    await refused(Conflict, "ballot_not_open", ballots.vote(node, alice, later.id, "for"))
    await refused(Forbidden, "not_an_elector", ballots.vote(node, newcomer, row.id, "for"))
    await refused(Forbidden, "not_an_elector", ballots.vote(node, suspended, row.id, "for"))
    await refused(BadInput, "invalid_field", ballots.vote(node, alice, row.id, "maybe"))
    await refused(
        Forbidden,
        "forbidden",
        ballots.vote(node, alice, row.id, "for") if False else ballots.open_ballot(node, alice, SPEC),
    )  # fmt: skip  (a member does not open ballots)
    await ballots.vote(node, alice, row.id, "for")
    await refused(Conflict, "already_voted", ballots.vote(node, alice, row.id, "against"))
    await ballots.close_ballot(node, sec, row.id)
    await refused(Conflict, "ballot_closed", ballots.vote(node, bob, row.id, "for"))
    await refused(Conflict, "ballot_closed", ballots.close_ballot(node, sec, row.id))
    votes = await node.db.fetchall("SELECT COUNT(*) FROM ballot_votes")
    assert votes[0][0] == 0  # the one vote of the secret ballot was counted, then deleted
    decision = open_envelope((await node.envelopes.get((await node.ballots.require(row.id)).decision or b"")) or b"")
    assert isinstance(decision.payload.body, Decision) and decision.payload.body.counts == [1, 0, 0]


async def test_fifty_concurrent_votes_by_one_member_leave_one(node: Node) -> None:
    sec = await officer(node)
    (alice,) = await people(node, 1)
    row = await ballots.open_ballot(node, sec, SPEC)
    results = await asyncio.gather(*(ballots.vote(node, alice, row.id, "for") for _ in range(50)),
                                   return_exceptions=True)  # fmt: skip
    receipts = [r for r in results if isinstance(r, str)]
    assert len(receipts) == 1
    assert all(isinstance(r, Conflict) and r.code == "already_voted" for r in results if not isinstance(r, str))
    count = await node.db.fetchall("SELECT COUNT(*) FROM ballot_votes WHERE ballot_id = ?", (row.id,))
    assert count[0][0] == 1


async def test_a_vote_may_be_changed_with_its_receipt_where_the_ballot_allows(node: Node) -> None:
    sec = await officer(node)
    alice, bob = await people(node, 2)
    row = await ballots.open_ballot(node, sec, BallotSpec(motion="m4", subject="s", text="t", may_change=True))
    first = await ballots.vote(node, alice, row.id, "for")
    other = await ballots.vote(node, bob, row.id, "against")
    with pytest.raises(Conflict):
        await ballots.vote(node, alice, row.id, "against", replaces=ballots.receipt_text(b"\x01" * 16))
    second = await ballots.vote(node, alice, row.id, "against", replaces=first)
    decision = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(decision, Decision) and decision.counts == [0, 2, 0]
    assert not (await ballots.check_receipt(node, row.id, first)).counted
    assert (await ballots.check_receipt(node, row.id, second)).choice == "against"
    assert (await ballots.check_receipt(node, row.id, other)).counted


@pytest.mark.parametrize("secrecy", ["secret", "open"])
async def test_another_members_receipt_changes_nothing(node: Node, secrecy: str) -> None:
    """Issue 21, item 1: C posted A's receipt as ``replaces`` with her own choice, then voted
    herself; A's vote was gone and C counted twice. A receipt is no bearer token."""
    sec = await officer(node)
    a, b, c = await people(node, 3)
    spec = BallotSpec(motion="m4", subject="s", text="t", may_change=True, secrecy=secrecy)
    row = await ballots.open_ballot(node, sec, spec)
    receipt_a = await ballots.vote(node, a, row.id, "for")
    with pytest.raises(Conflict) as refused:
        await ballots.vote(node, c, row.id, "against", replaces=receipt_a)
    assert refused.value.code == "bad_receipt"
    receipt_c = await ballots.vote(node, c, row.id, "against")  # C's own first vote still stands open to her
    with pytest.raises(Conflict):  # nor once C has voted: A's receipt is still not hers
        await ballots.vote(node, c, row.id, "against", replaces=receipt_a)
    changed = await ballots.vote(node, a, row.id, "abstain", replaces=receipt_a)  # A may change her own
    with pytest.raises(Conflict):  # a receipt already replaced changes nothing again
        await ballots.vote(node, a, row.id, "for", replaces=receipt_a)
    with pytest.raises(Conflict):  # nor does B's first vote come in through someone's receipt
        await ballots.vote(node, b, row.id, "for", replaces=receipt_c)
    decision = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(decision, Decision) and decision.counts == [0, 1, 1]
    assert (await ballots.check_receipt(node, row.id, changed)).choice == "abstain"
    assert (await ballots.check_receipt(node, row.id, receipt_c)).choice == "against"


async def test_a_change_on_a_ballot_that_allows_none_is_refused(node: Node) -> None:
    sec = await officer(node)
    (alice,) = await people(node, 1)
    row = await ballots.open_ballot(node, sec, BallotSpec(motion="m4", subject="s", text="t"))
    first = await ballots.vote(node, alice, row.id, "for")
    with pytest.raises(Conflict):
        await ballots.vote(node, alice, row.id, "against", replaces=first)
    decision = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(decision, Decision) and decision.counts == [1, 0, 0]
    assert (await ballots.check_receipt(node, row.id, first)).choice == "for"


async def test_officers_closing_at_once_sign_one_decision(node: Node) -> None:
    """Issue 21, item 2: four officers pressing "Close and count" together (or a double
    click) signed four decisions. One is signed; the others are told it is closed."""
    secs = [await node.members.add(MemberIn(name=f"Officer {i}", email=f"o{i}@example.org", role="secretary"))
            for i in range(4)]  # fmt: skip
    voters = await people(node, 5)
    row = await ballots.open_ballot(node, secs[0], SPEC)
    for voter in voters:
        await ballots.vote(node, voter, row.id, "for")
    results = await asyncio.gather(*(ballots.close_ballot(node, s, row.id) for s in secs), return_exceptions=True)
    signed = [r for r in results if not isinstance(r, BaseException)]
    assert len(signed) == 1, results
    assert all(isinstance(r, Conflict) and r.code == "ballot_closed" for r in results if r not in signed)
    decisions = [open_envelope(raw).payload.body for raw in await node.envelopes.own_of_kind(
        node.own_log.key.public, "decision")]  # fmt: skip
    assert [d.ballot for d in decisions if isinstance(d, Decision)] == [row.ballot]
    assert (await node.ballots.require(row.id)).decision == signed[0].id
    with pytest.raises(Conflict):  # and a click after it is over signs nothing either
        await ballots.close_ballot(node, secs[1], row.id)


async def test_a_close_arriving_between_signing_and_finishing_is_refused(node: Node, monkeypatch: pytest.MonkeyPatch
                                                                          ) -> None:  # fmt: skip
    """A loaded clean-clone run: the decision was signed, and before the first close recorded
    it, the other three found it signed and each answered 201 with it. Those three are refused."""
    secs = [await node.members.add(MemberIn(name=f"Officer {i}", email=f"o{i}@example.org", role="secretary"))
            for i in range(4)]  # fmt: skip
    row = await ballots.open_ballot(node, secs[0], SPEC)
    await ballots.vote(node, secs[1], row.id, "for")
    finish = node.ballots.finish_close
    others: list[asyncio.Task[object]] = []

    async def slowly(ballot_id: int, decision: bytes, notice: object = None) -> None:  # the others press between
        if not others:
            others.extend(asyncio.ensure_future(ballots.close_ballot(node, s, row.id)) for s in secs[1:])
            await asyncio.wait(others, timeout=0.5)  # (before the fix, they answered within this)
        await finish(ballot_id, decision, notice)  # type: ignore[arg-type]

    monkeypatch.setattr(node.ballots, "finish_close", slowly)
    first = await ballots.close_ballot(node, secs[0], row.id)
    assert isinstance(first.payload.body, Decision)
    results = await asyncio.gather(*others, return_exceptions=True)
    assert [getattr(r, "code", r) for r in results] == ["ballot_closed"] * 3


async def test_approval_and_explicit_rules(node: Node) -> None:
    sec = await officer(node)
    voters = await people(node, 6)
    spec = BallotSpec(
        motion="m5",
        subject="Where to meet",
        text="Pick venues",
        method="approval",
        options=("Library", "Town hall", "Pub"),
        rules=BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2), base="cast"),
    )
    row = await ballots.open_ballot(node, sec, spec)
    for voter, picks in zip(voters, [["Library"], ["Library", "Pub"], ["Town hall"], ["Library"], [], ["Pub"]],
                            strict=True):  # fmt: skip
        await ballots.vote(node, voter, row.id, picks)
    with pytest.raises(BadInput):
        await ballots.vote(node, sec, row.id, ["Moon"])
    body = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(body, Decision) and body.counts == [3, 1, 2] and body.outcome == "lost"  # 3 of 6 is not > 1/2
    with pytest.raises(BadInput):
        await ballots.open_ballot(node, sec, BallotSpec(motion="m6", subject="s", text="t", method="approval",
                                                        options=("Only one",)))  # fmt: skip


async def test_a_ranked_ballot_with_partial_rankings_and_receipts(node: Node) -> None:
    sec = await officer(node)
    voters = await people(node, 7)
    spec = BallotSpec(motion="m7", subject="Branch committee", text="Elect two", method="ranked",
                      options=("Ann", "Bea", "Col"), election=ElectionSpec(2, "meek"))  # fmt: skip
    row = await ballots.open_ballot(node, sec, spec)
    rankings = [["Ann", "Bea"]] * 4 + [["Bea"]] * 2 + [["Col", "Ann"]]
    receipts = [await ballots.vote(node, v, row.id, r) for v, r in zip(voters, rankings, strict=True)]
    for bad, words in ((["Ann", "Ann"], "ranked twice"), (["Dan"], "not a candidate")):
        with pytest.raises(BadInput, match=words):
            await ballots.vote(node, sec, row.id, bad)
    await ballots.vote(node, sec, row.id, [])  # a blank ranking is a vote cast for no one
    body = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(body, Decision)
    check_decision(body)  # every receiving node counts it again
    # 7 ranked ballots, 2 seats by Meek: quota 7 / 3 + 0.000000001; Ann 4 elected, her surplus
    # passes to Bea (2 + 4 (1 - k)), who reaches the quota: Ann, Bea.
    assert body.method == "ranked" and body.counting == "meek" and body.seats == 2
    assert body.counts == [4, 2, 1] and body.outcome == "elected" and body.chosen == [0, 1]
    check = await ballots.check_receipt(node, row.id, receipts[6])
    assert check.counted and check.choice == ["Col", "Ann"]
    for election, words in ((ElectionSpec(3, "stv"), "fills 1 to 2 seats"), (ElectionSpec(2, "irv"), "one seat")):
        with pytest.raises(BadInput, match=words):
            await ballots.open_ballot(node, sec, BallotSpec(motion="m8", subject="s", text="t", method="ranked",
                                                            options=("A", "B", "C"), election=election))  # fmt: skip


async def test_a_close_cut_short_after_signing_signs_no_second_decision(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decision is signed, then the node fails before marking the ballot closed: closing
    again finds the decision in the node's own log instead of signing another."""
    sec = await officer(node)
    (alice,) = await people(node, 1)
    row = await ballots.open_ballot(node, sec, SPEC)
    await ballots.vote(node, alice, row.id, "for")
    real = node.ballots.finish_close

    async def fail(ballot_id: int, decision: bytes, notice: object = None) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr(node.ballots, "finish_close", fail)
    with pytest.raises(OSError):
        await ballots.close_ballot(node, sec, row.id)
    assert (await node.ballots.require(row.id)).state == "closing"
    with pytest.raises(Conflict):
        await ballots.vote(node, sec, row.id, "for")  # closing: no more votes
    monkeypatch.setattr(node.ballots, "finish_close", real)
    again = await ballots.close_ballot(node, sec, row.id)
    decisions = await node.envelopes.own_of_kind(node.key.public, "decision")
    assert len(decisions) == 1 and open_envelope(decisions[0]).id == again.id
    assert (await node.ballots.require(row.id)).decision == again.id


async def test_a_ballot_larger_than_one_envelope_closes_into_parts(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decision holds at most 6,666 for/against/abstain votes in one envelope (docs/decisions.md,
    "Decisions in parts"; here, to be quick, ten): a larger ballot closes into parts signed just
    before its decision, in one transaction; every voter finds their receipt, whichever part
    holds it; the node's log checks as logs everywhere do. (At full size: the slow test across
    processes, test_parts_processes.py, and bench/big_ballot.py.)"""
    import protocol.parts
    from protocol import check_logs

    monkeypatch.setattr(ballots, "MAX_RECEIPT_BYTES", 90)
    monkeypatch.setattr(protocol.parts, "MAX_RECEIPT_BYTES", 90)
    sec = await officer(node)
    voters = await people(node, 25)
    row = await ballots.open_ballot(node, sec, SPEC)
    receipts = [await ballots.vote(node, m, row.id, ("for", "against", "abstain")[m.id % 3]) for m in voters]
    envelope = await ballots.close_ballot(node, sec, row.id)
    decided = envelope.payload.body
    assert isinstance(decided, Decision) and decided.parts == 3 and decided.cast == 25 and decided.receipts == b""
    assert sum(decided.counts) == 25
    log = [await node.envelopes.get(envelope.id)]
    for raw in reversed(await node.envelopes.range(node.key.public, envelope.seq - 4, 3)):
        log.insert(0, raw)
    assert [open_envelope(raw).kind for raw in log] == ["decision_part"] * 3 + ["decision"]
    assert [len(open_envelope(raw).payload.body.receipts) for raw in log[:3]] == [90, 90, 45]  # type: ignore[union-attr]
    assert check_logs(await node.envelopes.all_raw(), 10**13).failures == []
    for receipt in receipts:  # in whichever part
        assert (await ballots.check_receipt(node, row.id, receipt)).counted


async def test_a_roll_whose_decision_the_quota_would_not_let_sign_is_refused(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ballot whose decision, were every member to vote, would be more than the federation's
    daily quota lets a node sign is refused when it would open, before anything is signed."""
    from protocol.models import Quota

    sec = await officer(node)
    await node.members.import_all([(i, MemberIn(name=f"M {i}", email=f"m{i}@example.org")) for i in range(2_000)])
    monkeypatch.setattr(node.federation_state, "quota",
                        lambda created=None: Quota(envelopes_per_day=10_000, bytes_per_day=10_000))  # fmt: skip
    heads_before = node.federation_state.heads[node.key.public].seq
    with pytest.raises(Conflict) as refused:
        await ballots.open_ballot(node, sec, SPEC)
    assert refused.value.code == "too_many_voters" and "more than the 10,000 bytes a day" in refused.value.message
    assert node.federation_state.heads[node.key.public].seq == heads_before  # no roll signed
    assert await node.ballots.recent() == []


async def test_a_vote_at_the_closing_millisecond_is_too_late(node: Node) -> None:
    """docs/decisions.md: a ballot closes at its closing time; a vote one millisecond before
    it counts, one at it is refused and stores nothing."""
    sec = await officer(node)
    early, late = await people(node, 2)
    closes = 2_000_000_000_000
    row = await ballots.open_ballot(node, sec, BallotSpec(motion="m9", subject="s", text="t", closes=closes),
                                    clock=lambda: (closes - 60_000) / 1000)  # fmt: skip
    await ballots.vote(node, early, row.id, "for", clock=lambda: (closes - 1) / 1000)
    with pytest.raises(Conflict) as refused:
        await ballots.vote(node, late, row.id, "for", clock=lambda: closes / 1000)
    assert refused.value.code == "ballot_closed"
    assert not await node.ballots.has_voted(row.id, late.id)


def test_a_receipt_has_one_spelling() -> None:
    """26 base32 letters carry 130 bits for a receipt's 128: two spellings decoded to the same
    receipt (the last letter differing in its padding bits). Only the node's own is taken;
    case, dashes and spaces do not matter."""
    receipt = bytes(range(16))
    text = ballots.receipt_text(receipt)
    assert ballots.parse_receipt(text) == receipt
    assert ballots.parse_receipt("  " + text.upper().replace("R-", "r-") + " ") == receipt
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    last = alphabet.index(text[-1])
    for other in (last | 1, last | 2, last | 3):  # the same 128 bits, other padding
        if other != last:
            twin = text[:-1] + alphabet[other]
            with pytest.raises(BadInput):
                ballots.parse_receipt(twin)


async def test_the_turnout_counts_each_vote_taken_here_at_once_and_one_taken_elsewhere_soon(
        node: Node, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The ballot page's "how many have voted": the batch writer counts again as it writes, so
    a vote taken here shows at once; one taken by another process (the command line) within
    TURNOUT_FRESH_S, without every page counting the ballot's voters again."""
    import time as clock

    from node.storage import ballots as store

    sec = await officer(node)
    people = [await node.members.add(MemberIn(name=f"V{i}", email=f"tv{i}@example.org")) for i in range(3)]
    row = await ballots.open_ballot(node, sec, SPEC)
    now = [clock.monotonic()]
    monkeypatch.setattr(store.time, "monotonic", lambda: now[0])
    assert await node.ballots.turnout(row.id) == 0
    for n, who in enumerate(people[:2], start=1):
        await ballots.vote(node, who, row.id, "for")
        assert await node.ballots.turnout(row.id) == n  # at once
    async with node.db.write("test.elsewhere") as conn:  # as another process writes it
        await conn.execute("INSERT INTO ballot_voters (ballot_id, member_id) VALUES (?, ?)", (row.id, people[2].id))
    assert await node.ballots.turnout(row.id) == 2  # counted a moment ago
    now[0] += store.TURNOUT_FRESH_S + 0.1
    assert await node.ballots.turnout(row.id) == 3


async def test_parts_and_their_decision_are_signed_all_or_none(node: Node) -> None:
    """The own log signs a decision's parts and the decision in one transaction: when one of
    them cannot be signed, none is stored and no sequence is used (the next close signs them
    all)."""
    import msgspec

    from protocol import DecisionPart, ProtocolError

    before = node.federation_state.heads[node.key.public].seq
    good = DecisionPart(ballot=b"B" * 16, part=1, method="for_against_abstain", options=0, counts=[1, 0, 0],
                        receipts=b"\x01" * 8 + b"\x00")  # fmt: skip
    bad = msgspec.structs.replace(good, part=2, counts=[0, 1, 0])  # its counts are not its records'
    with pytest.raises(ProtocolError):
        await node.own_log.append_all([good, bad])
    assert node.federation_state.heads[node.key.public].seq == before
    assert await node.envelopes.own_of_kind(node.key.public, "decision_part") == []
