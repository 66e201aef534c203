"""The audit (protocol/audit.py) on a small federation, honest and then tampered with as a
dishonest body would (each tamper re-signed with the author's real key where it needs a
valid signature): each makes the audit fail, naming the object and the reason, with the
code a node gives the same envelope."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import BallotRules, Decision, Envelope, Payload, Ratio, Roll, write_bundle
from protocol.audit import audit
from protocol.ballots import ABSTAIN, AGAINST, FOR, records, roll_leaf
from protocol.merkle import root
from tests.factories import T0, charter, genesis, key, next_envelope, profile, signed_raw

NATIONAL, NORTH, STRANGER = key("national"), key("north"), key("stranger")
NOW = T0 + 3_600_000
BALLOT = bytes(range(16))


def decision(roll: Envelope, choices: list[int] | None = None, **changes: object) -> Decision:
    cast = choices if choices is not None else [FOR] * 5 + [AGAINST] * 2 + [ABSTAIN]
    votes = [(bytes([i]) * 16, bytes([c])) for i, c in enumerate(cast)]
    fields: dict[str, object] = dict(
        ballot=BALLOT, motion="m1", subject="Fund the food bank", text_hash=hashlib.sha256(b"Fund it.").digest(),
        method="for_against_abstain", rules=BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2)),
        electorate=10, roll=roll.id, opened=T0 + 10_000, closed=T0 + 20_000, counts=[5, 2, 1],
        receipts=records(BALLOT, votes), outcome="carried", secrecy="secret")  # fmt: skip
    fields.update(changes)
    return Decision(**fields)  # type: ignore[arg-type]


def federation() -> dict[str, Envelope]:
    """The genesis, North chartered, its profile, a roll of 10 and a decision on it."""
    gen = genesis(NATIONAL)
    fed = gen.id
    chartered = next_envelope(NATIONAL, gen, charter(NORTH), fed)
    north_profile = next_envelope(NORTH, None, profile("North Region"), fed)
    leaves = sorted(roll_leaf(bytes([i]) * 32, 100 + i) for i in range(10))
    roll = next_envelope(NORTH, north_profile, Roll(count=10, root=root(leaves), as_of=T0 + 10_000, ballot=BALLOT),
                         fed)  # fmt: skip
    decided = next_envelope(NORTH, roll, decision(roll), fed)
    return {"genesis": gen, "charter": chartered, "profile": north_profile, "roll": roll, "decision": decided}


def bundle(*envelopes: Envelope | bytes) -> bytes:
    return write_bundle([e if isinstance(e, bytes) else e.raw for e in envelopes])


def codes(report: object) -> list[tuple[str, bytes | None]]:
    return [(p.code, p.object) for p in report.problems]  # type: ignore[attr-defined]


def test_an_honest_federation_holds_from_one_source_or_several() -> None:
    f = federation()
    whole = audit([("all", bundle(*f.values()))], NOW)
    assert whole.holds, whole.problems
    assert whole.envelopes == 5 and dict(whole.kinds) == {"genesis": 1, "charter": 1, "node_profile": 1, "roll": 1,
                                                          "decision": 1}  # fmt: skip
    assert whole.trust is not None and set(whole.trust.bodies) == {NATIONAL.public, NORTH.public}
    halves = audit([("national", bundle(f["genesis"], f["charter"])), ("north", bundle(*f.values()))], NOW)
    assert halves.holds and halves.envelopes == 5
    assert [(b.source, b.author, b.holds, b.highest) for b in halves.behind] == [("national", NORTH.public, 0, 3)]


def test_a_flipped_byte_is_named() -> None:
    f = federation()
    raw = bytearray(f["profile"].raw)
    raw[-5] ^= 1  # in the signature
    report = audit([("all", bundle(f["genesis"], f["charter"], bytes(raw), f["roll"], f["decision"]))], NOW)
    assert ("bad_signature", hashlib.sha256(bytes(raw)).digest()) in codes(report)
    assert not report.holds


def test_a_removed_envelope_breaks_the_chain_after_it() -> None:
    f = federation()
    report = audit([("all", bundle(f["genesis"], f["charter"], f["profile"], f["decision"]))], NOW)
    assert ("bad_chain", f["decision"].id) in codes(report)


def test_a_fork_split_between_two_sources_is_shown_with_its_proof() -> None:
    f = federation()
    other = next_envelope(NORTH, f["profile"], profile("North Region (the other side)"), f["genesis"].id)
    one = audit([("a", bundle(*f.values())), ("b", bundle(f["genesis"], f["charter"], f["profile"], other))], NOW)
    assert not one.holds and "fork" in [c for c, _ in codes(one)]
    assert len(one.forks) == 1 and {one.forks[0].a, one.forks[0].b} == {f["roll"].raw, other.raw}
    assert audit([("a", bundle(*f.values()))], NOW).holds  # each side alone holds
    assert audit([("b", bundle(f["genesis"], f["charter"], f["profile"], other))], NOW).holds


def test_an_unchartered_author_is_named() -> None:
    f = federation()
    stray = next_envelope(STRANGER, None, profile("Not Chartered"), f["genesis"].id)
    report = audit([("all", bundle(*f.values(), stray))], NOW)
    assert codes(report) == [("unknown_author", stray.id)]
    assert report.problems[0].author == STRANGER.public and report.problems[0].kind == "node_profile"


def test_a_decision_whose_receipts_do_not_add_up() -> None:
    f = federation()
    roll = f["roll"]
    bent = signed_raw(NORTH, Payload(author=NORTH.public, seq=3, created=T0 + 3000, federation=f["genesis"].id,
                                     prev=roll.id, body=decision(roll, counts=[6, 1, 1])))  # fmt: skip
    report = audit([("all", bundle(*list(f.values())[:4], bent))], NOW)
    assert codes(report) == [("bad_decision", hashlib.sha256(bent).digest())]


def test_a_second_decision_on_one_ballot() -> None:
    f = federation()
    again = next_envelope(NORTH, f["decision"], decision(f["roll"], closed=T0 + 30_000), f["genesis"].id)
    report = audit([("all", bundle(*f.values(), again))], NOW)
    assert codes(report) == [("decision_twice", again.id)]


def test_an_electorate_that_is_not_its_rolls() -> None:
    f = federation()
    inflated = next_envelope(NORTH, f["roll"], decision(f["roll"], electorate=30), f["genesis"].id)
    report = audit([("all", bundle(*list(f.values())[:4], inflated))], NOW)
    assert codes(report) == [("wrong_roll", inflated.id)]


def test_a_truncated_export_is_a_problem_of_its_source_and_the_rest_is_audited() -> None:
    f = federation()
    data = bundle(*f.values())
    report = audit([("cut", data[:-10]), ("whole", bundle(f["genesis"], f["charter"]))], NOW)
    assert [(p.code, p.source) for p in report.problems] == [("bad_bundle", "cut")]
    assert report.envelopes == 4  # the decision was the record cut short


@settings(max_examples=50, database=None)
@given(st.permutations(list(range(6))), st.booleans())
def test_the_verdict_and_the_trust_are_the_same_for_any_order(order: list[int], split: bool) -> None:
    f = federation()
    stray = next_envelope(STRANGER, None, profile("Not Chartered"), f["genesis"].id)
    items = [*f.values(), stray]
    shuffled = [items[i] for i in order]
    sources = [("a", bundle(*shuffled[:3])), ("b", bundle(*shuffled[3:]))] if split else [("a", bundle(*shuffled))]
    report = audit(sources, NOW)
    baseline = audit([("a", bundle(*items))], NOW)
    assert codes(report) == codes(baseline) == [("unknown_author", stray.id)]
    assert report.trust is not None and baseline.trust is not None
    assert report.trust.bodies == baseline.trust.bodies


SOUTH = key("south")


def decisions_go_up(inflated: int | None = None) -> tuple[list[Envelope], Envelope, dict[str, Envelope]]:
    """National puts a question to its two regions (card vote); North (a roll of 10) carries it
    and mandates for, South (a roll of 20) loses it and mandates against. Returns everything
    but the aggregate, the item, and each region's mandate."""
    from protocol import AgendaItem, Mandate

    gen = genesis(NATIONAL)
    fed = gen.id
    north_charter = next_envelope(NATIONAL, gen, charter(NORTH), fed)
    south_charter = next_envelope(NATIONAL, north_charter, charter(SOUTH, "South Region"), fed)
    item = next_envelope(NATIONAL, south_charter, AgendaItem(
        title="Fund the food bank", text="Fund it.", opens=T0 + 30_000, closes=T0 + 40_000, weighting="card_vote",
        rules=BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2))), fed)  # fmt: skip
    out = [gen, north_charter, south_charter, item]
    mandates = {}
    for region, count, counts, outcome, position in ((NORTH, 10, [5, 2, 1], "carried", "for"),
                                                     (SOUTH, 20, [2, 5, 1], "lost", "against")):  # fmt: skip
        choices = [FOR] * counts[0] + [AGAINST] * counts[1] + [ABSTAIN] * counts[2]
        leaves = sorted(roll_leaf(bytes([i]) * 32, 100 + i) for i in range(count))
        roll = next_envelope(region, None, Roll(count=count, root=root(leaves), as_of=T0, ballot=BALLOT), fed)
        decided_body = decision(roll, choices, electorate=count, counts=counts, outcome=outcome)
        decided = next_envelope(region, roll, decided_body, fed)
        last = decided
        if inflated is not None and region is NORTH:  # a roll far out of line, signed before the item opens
            big = sorted(roll_leaf(bytes([i % 256]) * 32, 1000 + i) for i in range(3))
            last = next_envelope(region, decided, Roll(count=inflated, root=root(big), as_of=T0 + 20_000), fed)
            out.append(last)
        mandate = next_envelope(region, last, Mandate(item=item.id, position=position, basis=decided.id), fed,
                                created=T0 + 35_000)  # type: ignore[arg-type]  # fmt: skip
        out += [roll, decided, mandate]
        mandates[position] = mandate
    return out, item, mandates


def test_aggregates_are_recounted_from_the_mandates_and_rolls_held() -> None:
    from protocol.upward import build

    held, item, mandates = decisions_go_up()
    weights = {NORTH.public: 10, SOUTH.public: 20}
    last = held[3]  # the item: national's last envelope so far

    def aggregate(weights: dict[bytes, int], counted: dict[bytes, Envelope]) -> Envelope:
        return next_envelope(NATIONAL, last, build(item, weights, counted), item.payload.federation or b"",
                             created=T0 + 41_000)  # fmt: skip

    honest = aggregate(weights, {NORTH.public: mandates["for"], SOUTH.public: mandates["against"]})
    assert audit([("all", bundle(*held, honest))], NOW).holds
    dropped = aggregate(weights, {NORTH.public: mandates["for"]})  # South's "against" left out as absent
    report = audit([("all", bundle(*held, dropped))], NOW)
    assert [(p.code, p.object) for p in report.problems] == [("omits_mandate", dropped.id)]
    assert report.problems[0].kind == "aggregate" and report.problems[0].author == NATIONAL.public
    inflated = aggregate({NORTH.public: 100, SOUTH.public: 20},
                         {NORTH.public: mandates["for"], SOUTH.public: mandates["against"]})  # fmt: skip
    codes_found = {p.code for p in audit([("all", bundle(*held, inflated))], NOW).problems}
    assert codes_found == {"wrong_weight"}


def a_selection() -> tuple[list[Envelope], dict[str, Envelope]]:
    """National selects two of three candidates by STV; North nominates Ann and Bea, South
    nominates Col; each region sends a bundle of ranked ballots; national fixes the paper
    and publishes the result."""
    from protocol import Nomination, Selection
    from protocol import selections as sel
    from protocol.ballots import ranked_choice, tally

    gen = genesis(NATIONAL)
    fed = gen.id
    north_charter = next_envelope(NATIONAL, gen, charter(NORTH), fed)
    south_charter = next_envelope(NATIONAL, north_charter, charter(SOUTH, "South Region"), fed)
    selection = next_envelope(NATIONAL, south_charter, Selection(
        office="Executive", seats=2, method="stv", nominations_close=T0 + 50_000, voting_close=T0 + 60_000,
        reopen="off"), fed, created=T0 + 40_000)  # fmt: skip
    out = [gen, north_charter, south_charter, selection]
    heads: dict[bytes, Envelope | None] = {NORTH.public: None, SOUTH.public: None}
    nominations = []
    for region, name in ((NORTH, "Ann"), (NORTH, "Bea"), (SOUTH, "Col")):
        nominated = Nomination(selection=selection.id, candidate=name, statement=f"{name} stands.",
                               consented=T0 + 44_000)  # fmt: skip
        env = next_envelope(region, heads[region.public], nominated, fed, created=T0 + 45_000)
        heads[region.public] = env
        nominations.append(env)
    out += nominations
    children = {NORTH.public, SOUTH.public}
    paper = sel.ballot_paper(selection.id, selection.payload.body,  # type: ignore[arg-type]
                             [sel.Signed(n.id, n.author, n.payload.created, n.payload.body) for n in nominations],
                             children)  # fmt: skip
    paper_env = next_envelope(NATIONAL, selection, paper, fed, created=T0 + 51_000)
    out.append(paper_env)
    bundles = []
    for region, start, rankings in ((NORTH, 0, [[0, 1]] * 4 + [[1]] * 2), (SOUTH, 10, [[2, 0]] * 3)):
        ballot = bytes([start + 100]) * 16
        leaves = sorted(roll_leaf(bytes([start + i]) * 32, start + i) for i in range(len(rankings)))
        roll = next_envelope(region, heads[region.public], Roll(count=len(rankings), root=root(leaves),
                                                                as_of=T0 + 52_000, ballot=ballot), fed,
                             created=T0 + 52_000)  # fmt: skip
        out.append(roll)
        votes = [(bytes([start + i]) * 16, ranked_choice(r, 3)) for i, r in enumerate(rankings)]
        data = records(ballot, votes)
        counts, _ = tally("ranked", 3, data)
        bundle_body = Decision(
            ballot=ballot, motion="selection", subject="Executive", text_hash=hashlib.sha256(b"Executive").digest(),
            method="ranked", rules=BallotRules(quorum=Ratio(num=0, den=1), threshold=Ratio(num=1, den=2)),
            electorate=len(votes), roll=roll.id, opened=T0 + 52_000, closed=T0 + 59_000, counts=counts,
            receipts=data, outcome="bundled", options=paper.candidates, secrecy="secret", seats=2, counting="stv",
            selection=selection.id)  # fmt: skip
        env = next_envelope(region, roll, bundle_body, fed, created=T0 + 59_500)
        heads[region.public] = env
        bundles.append(env)
    out += bundles
    signed = [sel.Signed(b.id, b.author, b.payload.created, b.payload.body) for b in bundles]
    result = sel.count_selection(selection.id, selection.payload.body, paper_env.id, paper, signed,  # type: ignore[arg-type]
                                 ["", "", ""])  # fmt: skip
    return out, {"paper": paper_env, "result_body": result, "north_bundle": bundles[0],  # type: ignore[dict-item]
                 "selection": selection}  # fmt: skip


def test_selections_are_judged_as_a_node_judges_them() -> None:
    from protocol import selections as sel

    held, parts = a_selection()
    paper_env = parts["paper"]
    honest = next_envelope(NATIONAL, paper_env, parts["result_body"], paper_env.payload.federation or b"",  # type: ignore[arg-type]
                           created=T0 + 61_000)  # fmt: skip
    report = audit([("all", bundle(*held, honest))], NOW)
    assert report.holds, report.problems
    # A result that leaves North's bundle out (counted again from South's alone, re-signed).
    south_only = [b for b in held if b.kind == "decision" and b.author == SOUTH.public]
    dropped_body = sel.count_selection(parts["selection"].id, parts["selection"].payload.body,  # type: ignore[arg-type]
                                       paper_env.id, paper_env.payload.body,  # type: ignore[arg-type]
                                       [sel.Signed(b.id, b.author, b.payload.created, b.payload.body)
                                        for b in south_only], ["", "", ""])  # fmt: skip
    dropped = next_envelope(NATIONAL, paper_env, dropped_body, paper_env.payload.federation or b"", created=T0 + 61_000)
    found = [(p.code, p.object) for p in audit([("all", bundle(*held, dropped))], NOW).problems]
    assert found == [("omits_bundle", dropped.id)]
    # A second ballot paper by the selecting body.
    second = next_envelope(NATIONAL, paper_env, paper_env.payload.body, paper_env.payload.federation or b"",
                           created=T0 + 52_000)  # fmt: skip
    found = [(p.code, p.object) for p in audit([("all", bundle(*held, second))], NOW).problems]
    assert found == [("paper_twice", second.id)]


def test_an_implausible_roll_is_flagged_where_it_gives_weight() -> None:
    from protocol.upward import build

    held, item, mandates = decisions_go_up(inflated=10_000)
    weights = {NORTH.public: 10_000, SOUTH.public: 20}  # the aggregate counts what North says
    counted = {NORTH.public: mandates["for"], SOUTH.public: mandates["against"]}
    aggregate = next_envelope(NATIONAL, held[3], build(item, weights, counted), item.payload.federation or b"",
                              created=T0 + 41_000)  # fmt: skip
    report = audit([("all", bundle(*held, aggregate))], NOW)
    flagged = [(p.code, p.kind) for p in report.problems]
    assert flagged == [("implausible_roll", "aggregate"), ("implausible_roll", "roll")]
    assert "North Region weighs by a roll of 10000 members after one of 10" in report.problems[0].message
