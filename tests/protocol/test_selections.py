"""Ranked ballots and selections (protocol/ballots.py, protocol/selections.py): a ranked
decision is recounted by every node; a body's result counts every branch's bundle and a
recount finds a dropped bundle or a changed count (signed with the body's real key)."""

from __future__ import annotations

import hashlib
import os

import msgspec
import pytest

from protocol import BallotPaper, BallotRules, Decision, DecodeFailure, Nomination, Ratio, Selection, open_envelope
from protocol import selections as sel
from protocol.ballots import ranked_choice, records, tally
from protocol.counting import RON
from protocol.encoding import encode
from tests.factories import T0, key
from tests.protocol.test_upward import Log

RULES = BallotRules(quorum=Ratio(num=0, den=1), threshold=Ratio(num=1, den=2))
SELECTION = Selection(office="Regional committee", seats=2, method="stv", nominations_close=T0 + 1000,
                      voting_close=T0 + 5000, reopen="off", balancing="alternate")  # fmt: skip


def ranked(options: list[str], votes: list[list[str]], *, seats: int = 1, counting: str = "stv",
           selection: bytes | None = None, outcome: str = "elected", chosen: list[int] | None = None
           ) -> Decision:  # fmt: skip
    ballot = os.urandom(16)
    choices = [ranked_choice([options.index(o) for o in v], len(options)) for v in votes]
    data = records(ballot, [(os.urandom(16), c) for c in choices])
    counts, _ = tally("ranked", len(options), data)
    return Decision(ballot=ballot, motion="election", subject="Delegates", text_hash=hashlib.sha256(b"").digest(),
                    method="ranked", rules=RULES, electorate=len(votes) + 2, roll=b"\x02" * 32, opened=T0 + 2000,
                    closed=T0 + 4000, counts=counts, receipts=data, outcome=outcome, chosen=chosen or [],  # type: ignore[arg-type]
                    options=options, seats=seats, counting=counting, selection=selection)  # type: ignore[arg-type]  # fmt: skip


def test_a_ranked_decision_is_recounted_when_it_arrives() -> None:
    # Worked by hand: 2 seats, 7 ballots, quota 7 / 3 = 2 + 1 = 3. First preferences Ann 4,
    # Bea 2, Col 1: Ann elected with a surplus of 1; her 4 ballots all go on to Bea at 0.25:
    # Bea 3 reaches the quota.
    options = ["Ann", "Bea", "Col"]
    votes = [["Ann", "Bea"]] * 4 + [["Bea"]] * 2 + [["Col", "Ann"]]
    good = ranked(options, votes, seats=2, chosen=[0, 1])
    signer = key("york")
    Log(signer).add(good, T0 + 4001)
    with pytest.raises(DecodeFailure, match="the counts and rules give elected"):
        Log(signer).add(msgspec.structs.replace(good, chosen=[0, 2]), T0 + 4001)
    bad_record = msgspec.structs.replace(good, receipts=good.receipts[:-3] + b"\x01\x00\x01")
    with pytest.raises(DecodeFailure, match=r"after an empty place|out of order|are not those"):
        Log(signer).add(bad_record, T0 + 4001)
    with pytest.raises(DecodeFailure, match="instant runoff fills one seat"):
        Log(signer).add(msgspec.structs.replace(good, counting="irv"), T0 + 4001)
    with pytest.raises(DecodeFailure, match="belong to ranked ballots"):
        Log(signer).add(msgspec.structs.replace(good, method="approval", seats=0, counting="",
                                                selection=b"\x00" * 32), T0 + 4001)  # fmt: skip


def test_ranking_records_refuse_repeats_gaps_and_strangers() -> None:
    assert ranked_choice([2, 0], 3) == b"\x03\x01\x00"
    with pytest.raises(ValueError, match="twice"):
        ranked_choice([1, 1], 3)
    with pytest.raises(ValueError, match="not on the ballot"):
        ranked_choice([3], 3)


def build_region(bundle_votes: dict[str, list[list[str]]], *, names: list[str] | None = None) -> dict[str, object]:
    region = Log(key("region"))
    selection = region.add(SELECTION, T0 + 10)
    branches = {name: Log(key(name)) for name in bundle_votes}
    nominations = []
    for log, (candidate, category) in zip(branches.values(), [("Ann", "w"), ("Bob", "m"), ("Cat", "w"),
                                                                      ("Dev", "m")], strict=False):  # fmt: skip
        nominations.append(log.add(Nomination(selection=selection.id, candidate=candidate, statement="I stand.",
                                              consented=T0 + 100, category=category), T0 + 200))  # fmt: skip
    signed = [sel.Signed(n.id, n.author, n.payload.created, n.payload.body) for n in nominations]
    children = {log.signer.public for log in branches.values()}
    paper = sel.ballot_paper(selection.id, SELECTION, signed, children)
    paper_env = region.add(paper, T0 + 1500)
    bundles = []
    for name, log in branches.items():
        votes = bundle_votes[name]
        body = ranked(names or paper.candidates, votes, seats=2, selection=selection.id, outcome="bundled")
        env = log.add(body, T0 + 4500)
        bundles.append(sel.Signed(env.id, env.author, env.payload.created, env.payload.body))
    categories = sel.categories_of(paper, {n.id: n.payload.body for n in nominations})  # type: ignore[misc]
    return {"region": region, "selection": selection, "paper": paper, "paper_env": paper_env, "bundles": bundles,
            "children": children, "categories": categories}  # fmt: skip


VOTES = {
    "leeds": [["Ann", "Bob"]] * 5 + [["Cat"]],
    "york": [["Bob", "Dev"]] * 3 + [["Dev", "Cat"]] * 2,
    "hull": [["Cat", "Dev"]] * 3 + [["Ann"]],
    "selby": [["Dev", "Bob"]] * 3,
}


def test_a_selection_counts_every_branch_bundle_together_and_a_recount_agrees() -> None:
    r = build_region(VOTES)
    paper, selection = r["paper"], r["selection"]
    assert isinstance(paper, BallotPaper)
    assert paper.candidates == ["Ann", "Bob", "Cat", "Dev"]  # by name, then id; reopen off
    bundles: list[sel.Signed] = r["bundles"]  # type: ignore[assignment]
    counted = sel.counted_bundles(bundles, selection.id, SELECTION, paper, r["children"])  # type: ignore[arg-type,attr-defined]
    assert len(counted) == 4
    result = sel.count_selection(selection.id, SELECTION, r["paper_env"].id, paper, counted, r["categories"])  # type: ignore[arg-type,attr-defined]
    # Worked by hand: 18 ballots from four branches, 2 seats, quota 18 / 3 = 6 + 1 = 7. First
    # preferences: Ann 5 + 1 = 6, Bob 3, Cat 1 + 3 = 4, Dev 2 + 3 = 5; nobody has 7. Bob is
    # excluded: his 3 go on to Dev, 8: elected with a surplus of 1. One seat left: Ann 6 is at
    # least Cat 4 and the untransferred surplus 1 together (rule 51(2)): elected.
    # The list: one seat (quota 10): Bob out, Dev 8; Cat out, 3 more to Dev, 11: Dev first,
    # then Ann. Balanced (Ann and Cat declared "w", Bob and Dev "m"): already alternating.
    assert result.ballots == 18 and result.quota == 7 * 100_000
    assert result.winners == [3, 0]
    assert [r.action for r in result.rounds] == ["first", "exclusion", "elected"]
    assert result.rounds[0].votes == [600_000, 300_000, 400_000, 500_000]
    assert result.rounds[1].votes == [600_000, 0, 400_000, 800_000] and result.rounds[1].elected == [3]
    assert result.order == [3, 0] and result.balanced == [3, 0]
    published = r["region"].add(result, T0 + 6000)  # type: ignore[attr-defined]
    as_signed = sel.Signed(published.id, published.author, published.payload.created, published.payload.body)
    args = (selection.id, SELECTION, r["paper_env"].id, paper, bundles, r["categories"],  # type: ignore[attr-defined]
            r["region"].signer.public, r["children"])  # type: ignore[attr-defined]  # fmt: skip
    assert sel.recount(as_signed, *args) == []  # type: ignore[arg-type]
    # The region drops York's bundle and publishes the count without it: flagged everywhere.
    without = [b for b in counted if b.author != bundles[1].author]
    dropped = sel.count_selection(selection.id, SELECTION, r["paper_env"].id, paper, without, r["categories"])  # type: ignore[arg-type,attr-defined]
    env = r["region"].add(dropped, T0 + 6001)  # type: ignore[attr-defined]
    found = sel.recount(sel.Signed(env.id, env.author, env.payload.created, env.payload.body), *args)  # type: ignore[arg-type]
    assert [f.split(":")[0] for f in found] == ["omits_bundle"]
    # It changes the winners instead: the count does not follow from the bundles.
    forged = msgspec.structs.replace(result, winners=[1, 0])
    env = r["region"].add(forged, T0 + 6002)  # type: ignore[attr-defined]
    found = sel.recount(sel.Signed(env.id, env.author, env.payload.created, env.payload.body), *args)  # type: ignore[arg-type]
    assert found == ["wrong_count: the cited bundles give other winners"]


def test_a_bundle_on_another_paper_or_late_does_not_count() -> None:
    r = build_region({"leeds": [["Ann"]], "york": [["Bob"]]}, names=["Ann", "Bob", RON])
    paper, selection = r["paper"], r["selection"]
    bundles: list[sel.Signed] = r["bundles"]  # type: ignore[assignment]
    problems = [sel.bundle_problem(b, selection.id, SELECTION, paper, r["children"]) for b in bundles]  # type: ignore[arg-type,attr-defined]
    assert problems == ["other_paper", "other_paper"]
    outsider = sel.Signed(bundles[0].id, os.urandom(32), bundles[0].created, bundles[0].body)
    assert sel.bundle_problem(outsider, selection.id, SELECTION, paper, r["children"]) == "not_a_child"  # type: ignore[arg-type,attr-defined]


def test_a_selection_and_its_paper_keep_their_own_rules() -> None:
    signer = key("region")
    with pytest.raises(DecodeFailure, match="voting closes after nominations close"):
        Log(signer).add(msgspec.structs.replace(SELECTION, voting_close=SELECTION.nominations_close), T0)
    with pytest.raises(DecodeFailure, match="twice"):
        Log(signer).add(BallotPaper(selection=b"\x00" * 32, candidates=["A", "A"], nominations=[b"\x01" * 32] * 2),
                        T0)  # fmt: skip
    assert open_envelope(Log(signer).add(SELECTION, T0).raw).payload.body == SELECTION
    assert encode(SELECTION)  # canonical


def test_a_ballot_paper_holds_at_most_sixteen_candidates() -> None:
    region = Log(key("region"))
    with_ron = msgspec.structs.replace(SELECTION, reopen="on")
    selection = region.add(with_ron, T0 + 10)
    branch = Log(key("leeds"))
    nominations = [branch.add(Nomination(selection=selection.id, candidate=f"Candidate {i:02d}", statement="",
                                         consented=T0 + 100), T0 + 200 + i) for i in range(16)]  # fmt: skip
    signed = [sel.Signed(n.id, n.author, n.payload.created, n.payload.body) for n in nominations]
    with pytest.raises(ValueError, match="17 candidates: a ballot paper holds at most 16"):
        sel.ballot_paper(selection.id, with_ron, signed, {branch.signer.public})
    assert len(sel.ballot_paper(selection.id, SELECTION, signed, {branch.signer.public}).candidates) == 16  # no RON


def test_a_meek_selection_reports_every_keep_factor_in_billionths() -> None:
    r = build_region(VOTES)
    paper, selection = r["paper"], r["selection"]
    meek = msgspec.structs.replace(SELECTION, method="meek")
    bundles: list[sel.Signed] = r["bundles"]  # type: ignore[assignment]
    result = sel.count_selection(selection.id, meek, r["paper_env"].id, paper, bundles, r["categories"])  # type: ignore[arg-type,attr-defined]
    # The same ballots as the Scottish count above: Bob (3) is defeated in the first round
    # (no one reaches 18 / 3 = 6.000000001 of first preferences: Ann 6 does not); his
    # ballots go to Dev, 8, elected; Ann then holds 6 plus what Dev's surplus passes on.
    assert result.winners == [3, 0]
    assert result.rounds[0].action == "exclusion" and result.rounds[0].excluded == [1]
    assert result.rounds[0].votes == [6 * 10**9, 3 * 10**9, 4 * 10**9, 5 * 10**9]
    defeated = result.rounds[-1].keep[1]
    assert defeated == 0 and all(0 < k <= 10**9 for i, k in enumerate(result.rounds[-1].keep) if i != 1)
