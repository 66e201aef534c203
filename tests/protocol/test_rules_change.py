"""The rules change by the members, an officer's freeze lapses, a revocation keeps the past
(protocol/authority.py, protocol/trust.py; issue 24): each act judged by the trust replay,
with its code, whatever order the envelopes come in."""

from __future__ import annotations

import hashlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import (
    AgendaItem,
    Aggregate,
    BallotRules,
    CharterRule,
    Code,
    Envelope,
    Freeze,
    NodeProfile,
    Ratio,
    Revocation,
    RulesChange,
    SigningKey,
    Trust,
    TrustFailure,
    make_fork_proof,
    write_bundle,
)
from protocol.aggregates import outcome_of
from protocol.audit import audit
from protocol.authority import DAY_MS, rules_text
from protocol.upward import record
from tests.factories import T0, charter, key, next_envelope, profile, rules, seal_genesis
from tests.protocol.test_audit import NOW

NATIONAL, NORTH, SOUTH, EAST = key("national"), key("north"), key("south"), key("east")
ITEM_RULES = BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2))
# What the members change: the default quorum, and a national body may charter a branch itself.
NEW = msgspec.structs.replace(rules(), authority=[], quorum=Ratio(num=1, den=3),
                              charter_rules=[*rules().charter_rules, CharterRule(parent="national", child="branch")])


class Fed:
    """A federation with three regions chartered by the national body (no act needs a decision)."""

    def __init__(self, authority: list[str] | None = None) -> None:
        self.genesis = seal_genesis(NATIONAL, msgspec.structs.replace(rules(), authority=authority or []))
        self.id = self.genesis.id
        self.head: dict[bytes, Envelope | None] = {NATIONAL.public: self.genesis}
        self.envelopes: list[Envelope] = [self.genesis]
        for who, name in ((NORTH, "North Region"), (SOUTH, "South Region"), (EAST, "East Region")):
            self.sign(NATIONAL, charter(who, name))
            self.sign(who, profile(name))

    def sign(self, author: SigningKey, body: object, created: int | None = None) -> Envelope:
        previous = self.head.get(author.public)
        envelope = next_envelope(author, previous, body, self.id, created=created)  # type: ignore[arg-type]
        self.head[author.public] = envelope
        self.envelopes.append(envelope)
        return envelope

    def put(self, text: str, votes: list[int], weights: list[int], author: SigningKey = NATIONAL,
            weighting: str = "card_vote") -> Envelope:  # fmt: skip
        """An agenda item on ``text`` and its aggregate: ``votes`` for/against/abstain of the
        children's ``weights`` (those that sent first)."""
        item = self.sign(author, AgendaItem(title="Rules", text=text, opens=T0, closes=T0 + 1, weighting=weighting,  # type: ignore[arg-type]
                                            rules=ITEM_RULES))  # fmt: skip
        sent = sum(votes)
        mandates = sorted(hashlib.sha256(bytes([i])).digest() for i in range(len(weights)))  # records in order
        counted, absent, took = b"", b"", 0
        for m, w in zip(mandates, weights, strict=True):
            if took < sent:
                counted += record(m, w)
                took += w
            else:
                absent += record(m, w)
        outcome = outcome_of(votes, took, sum(weights), ITEM_RULES)
        aggregate = Aggregate(item=item.id, weighting=weighting, rules=ITEM_RULES, closes=T0 + 1, counted=counted,  # type: ignore[arg-type]
                              absent=absent, cited=bytes(32), votes=votes, weight_sent=took, weight_all=sum(weights),
                              outcome=outcome)  # type: ignore[arg-type]  # fmt: skip
        return self.sign(author, aggregate)

    def trust(self, now_ms: int | None = None, order: list[int] | None = None) -> Trust:
        held = self.envelopes if order is None else [self.envelopes[i] for i in order]
        by_id = {e.id: e for e in held}
        return Trust.replay(self.genesis, held, lookup=by_id.get, now_ms=now_ms)


def changed(votes: list[int], weights: list[int], text: str | None = None) -> tuple[Fed, Envelope]:
    fed = Fed()
    aggregate = fed.put(text or rules_text(NEW), votes, weights)
    return fed, fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=aggregate.id))


def test_a_change_carried_by_two_thirds_applies_from_its_envelope_on() -> None:
    fed, change = changed([2, 1, 0], [1, 1, 1])
    before = fed.sign(SOUTH, charter(key("bath"), "Bath Branch", "branch"))  # a region's, as always
    direct = fed.sign(NATIONAL, charter(key("leeds"), "Leeds Branch", "branch"))  # the new rules allow it
    trust = fed.trust()
    assert trust.rules == NEW and not trust.refused
    assert trust.rules_at(change.payload.created - 1) == fed.genesis.payload.body.rules  # type: ignore[union-attr]
    assert trust.rules_at(change.payload.created) == NEW
    assert key("leeds").public in trust.bodies and key("bath").public in trust.bodies
    assert direct.payload.created >= change.payload.created > before.payload.created - 1


def test_a_charter_the_old_rules_forbid_is_still_forbidden_before_the_change() -> None:
    fed = Fed()
    early = fed.sign(NATIONAL, charter(key("leeds"), "Leeds Branch", "branch"))
    aggregate = fed.put(rules_text(NEW), [3, 0, 0], [1, 1, 1])
    fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=aggregate.id))
    trust = fed.trust()
    assert trust.rules == NEW and key("leeds").public not in trust.bodies  # signed before: judged by the old
    assert early.seq < aggregate.seq


@pytest.mark.parametrize(("votes", "weights", "why"), [
    ([3, 2, 0], [3, 2], "3 of the 5 weight voting was for it"),  # 60 %
    ([4, 1, 2], [7], "4 of the 7 weight voting"),  # 80 % of for and against: abstentions took part
    ([1, 0, 0], [1, 1, 1, 1, 1], "1 of 5 weight took part"),  # below the quorum (the rules' own, 1/4)
])  # fmt: skip
def test_a_change_below_the_amendment_threshold_is_refused(votes: list[int], weights: list[int], why: str) -> None:
    fed, change = changed(votes, weights)
    trust = fed.trust()
    code, message = trust.refused.get(change.id, ("", ""))
    assert code == "below_amendment" and why in message, message
    assert trust.rules == fed.genesis.payload.body.rules  # type: ignore[union-attr]


def test_the_amendment_quorum_and_threshold_are_the_rules_own() -> None:
    strict = msgspec.structs.replace(rules(), authority=[], amend_quorum=Ratio(num=3, den=4),
                                     amend_threshold=Ratio(num=3, den=4))  # fmt: skip
    fed = Fed()
    fed.genesis = seal_genesis(NATIONAL, strict)
    fed.id, fed.head, fed.envelopes = fed.genesis.id, {NATIONAL.public: fed.genesis}, [fed.genesis]
    for who, name in ((NORTH, "North Region"), (SOUTH, "South Region"), (EAST, "East Region")):
        fed.sign(NATIONAL, charter(who, name))
    low_turnout = fed.put(rules_text(NEW), [2, 0, 0], [1, 1, 1])  # 2/3 took part: below 3/4
    first = fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=low_turnout.id))
    two_thirds = fed.put(rules_text(NEW), [2, 1, 0], [1, 1, 1])
    second = fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=two_thirds.id))
    trust = fed.trust()
    assert trust.refused[first.id][0] == "below_amendment" and "needs 3/4" in trust.refused[first.id][1]
    assert trust.refused[second.id][0] == "below_amendment" and trust.rules == strict


def test_a_change_without_its_own_carried_aggregate_is_refused() -> None:
    other, change = changed([3, 0, 0], [1, 1, 1], text="Change the federation's rules to something else.")
    assert "another text" in other.trust().refused[change.id][1]
    fed = Fed()
    bare = fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=b"\x05" * 32))  # nothing it cites is held
    assert fed.trust().refused[bare.id][0] == "wrong_authority"
    fed = Fed()
    theirs = fed.put(rules_text(NEW), [3, 0, 0], [1, 1, 1], author=NORTH)  # a region's own question
    by_region = fed.sign(NORTH, RulesChange(rules=NEW, aggregate=theirs.id))
    borrowed = fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=theirs.id))
    trust = fed.trust()
    assert "founding body" in trust.refused[by_region.id][1]
    assert "not an aggregate of its own body" in trust.refused[borrowed.id][1] and trust.rules != NEW
    fed = Fed()
    weighed = fed.put(rules_text(NEW), [3, 0, 0], [1, 1, 1], weighting="one_branch_one_vote")
    odd = fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=weighed.id))
    assert "not the rules' card_vote" in fed.trust().refused[odd.id][1]


def test_an_audit_names_a_refused_change_with_its_code() -> None:
    fed, change = changed([3, 2, 0], [3, 2])
    report = audit([("all", write_bundle([e.raw for e in fed.envelopes]))], NOW)
    assert ("below_amendment", change.id) in [(p.code, p.object) for p in report.problems]


# --- the interim freeze ---------------------------------------------------------------------------


def frozen_north(days: float = 14, revoke: bool = False) -> tuple[Fed, Envelope, list[Envelope]]:
    fed = Fed()
    at = T0 + 10_000
    freeze = fed.sign(NATIONAL, Freeze(key=NORTH.public, after_seq=1, until=at + int(days * DAY_MS),
                                       reason="its key was seen on a stranger's laptop"), created=at)  # fmt: skip
    later = [fed.sign(NORTH, NodeProfile(name="North Region", endpoints=["https://north.example"], contact=str(i)),
                      created=at + 1_000 + i) for i in range(2)]  # fmt: skip
    if revoke:
        fed.sign(NATIONAL, Revocation(key=NORTH.public, after_seq=1, reason="confirmed by the members"),
                 created=at + DAY_MS)  # fmt: skip
    return fed, freeze, later


def test_a_freeze_sets_a_body_aside_at_once_and_lapses_at_its_limit() -> None:
    fed, freeze, later = frozen_north()
    until = freeze.payload.body.until  # type: ignore[union-attr]
    trust = fed.trust(now_ms=until - 1)
    body = trust.bodies[NORTH.public]
    assert (body.cut, body.cut_reason) == (1, "suspended") and trust.next_lapse() == until
    assert trust.frozen[NORTH.public].reason.startswith("its key")
    with pytest.raises(TrustFailure) as refused:
        trust.check(later[0])
    assert refused.value.code == "suspended"
    lapsed = fed.trust(now_ms=until)
    assert lapsed.bodies[NORTH.public].cut is None and not lapsed.frozen and lapsed.next_lapse() is None
    lapsed.check(later[1])  # taken in
    # the audit judges by its own clock the same way
    report = audit([("all", write_bundle([e.raw for e in fed.envelopes]))], until - 1)
    assert {p.object for p in report.problems if p.code == "suspended"} == {e.id for e in later}
    assert audit([("all", write_bundle([e.raw for e in fed.envelopes]))], until + 1).holds


def test_a_revocation_before_the_lapse_keeps_the_body_cut() -> None:
    fed, freeze, _ = frozen_north(revoke=True)
    after = fed.trust(now_ms=freeze.payload.body.until + 1)  # type: ignore[union-attr]
    assert (after.bodies[NORTH.public].cut, after.bodies[NORTH.public].cut_reason) == (1, "revoked")


def test_a_freeze_longer_than_the_rules_allow_changes_nothing() -> None:
    fed, freeze, later = frozen_north(days=14.5)
    trust = fed.trust(now_ms=T0)
    assert trust.refused[freeze.id][0] == "freeze_too_long" and trust.bodies[NORTH.public].cut is None
    trust.check(later[0])
    fed = Fed()
    by_sibling = fed.sign(SOUTH, Freeze(key=NORTH.public, after_seq=1, until=T0 + DAY_MS))
    assert fed.trust(now_ms=T0).bodies[NORTH.public].cut is None and by_sibling.author == SOUTH.public


# --- a revocation keeps the past ------------------------------------------------------------------


def test_setting_aside_everything_a_body_signed_needs_evidence() -> None:
    fed = Fed()
    bare = fed.sign(NATIONAL, Revocation(key=NORTH.public, after_seq=0, reason="we never liked them"))
    trust = fed.trust()
    assert trust.refused[bare.id][0] == "no_evidence" and trust.bodies[NORTH.public].cut is None
    fed = Fed()
    north_1 = fed.head[NORTH.public]
    assert north_1 is not None
    twin = next_envelope(NORTH, None, NodeProfile(name="North Region", endpoints=["https://elsewhere.example"]),
                         fed.id)  # fmt: skip
    proof = fed.sign(NATIONAL, make_fork_proof(north_1, twin))
    evidenced = fed.sign(NATIONAL, Revocation(key=NORTH.public, after_seq=0, reason="forked", evidence=proof.id))
    trust = fed.trust()
    assert evidenced.id not in trust.refused and trust.bodies[NORTH.public].cut == 0
    fed = Fed()
    wrong = fed.sign(NATIONAL, Revocation(key=SOUTH.public, after_seq=0, reason="forked", evidence=proof.id))
    assert fed.trust().refused[wrong.id][0] == "no_evidence"  # not a proof held in its own log


def test_an_old_federation_revokes_as_it_did() -> None:
    gen = seal_genesis(NATIONAL, rules())
    chartered = next_envelope(NATIONAL, gen, charter(NORTH), gen.id)
    revoked = next_envelope(NATIONAL, chartered, Revocation(key=NORTH.public, after_seq=0), gen.id)
    trust = Trust.replay(gen, [chartered, revoked])
    assert trust.bodies[NORTH.public].cut == 0 and not trust.refused


def test_a_revoked_body_stays_in_the_electorate_of_questions_opened_before() -> None:
    fed = Fed()
    opened = T0 + 5_000
    revoked = fed.sign(NATIONAL, Revocation(key=NORTH.public, after_seq=1, reason="by decision"), created=opened + 1)
    trust = fed.trust()
    regions = sorted([NORTH.public, SOUTH.public, EAST.public])
    assert trust.children_at(NATIONAL.public, opened) == regions
    assert trust.children_at(NATIONAL.public, revoked.payload.created) == sorted([SOUTH.public, EAST.public])


# --- any order ------------------------------------------------------------------------------------


def everything() -> Fed:
    fed, _, _ = frozen_north()
    aggregate = fed.put(rules_text(NEW), [2, 1, 0], [1, 1, 1])
    fed.sign(NATIONAL, RulesChange(rules=NEW, aggregate=aggregate.id))
    fed.sign(NATIONAL, charter(key("leeds"), "Leeds Branch", "branch"))
    low = fed.put(rules_text(rules()), [3, 2, 0], [3, 2])
    fed.sign(NATIONAL, RulesChange(rules=rules(), aggregate=low.id))  # refused: 60 %
    fed.sign(NATIONAL, Revocation(key=SOUTH.public, after_seq=0))  # refused: no evidence
    return fed


def _state(trust: Trust) -> tuple[object, ...]:
    return trust.bodies, trust.refused, trust.frozen, trust.rules, [h[1] for h in trust.history]


@settings(max_examples=30, database=None)
@given(st.randoms(use_true_random=False))
def test_the_trust_is_the_same_for_any_order_with_freezes_and_rule_changes(rnd: object) -> None:
    fed = everything()
    order = list(range(len(fed.envelopes)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    for now in (T0, T0 + 30 * DAY_MS):
        assert _state(fed.trust(now, order)) == _state(fed.trust(now))


def test_the_order_example_holds_what_it_is_for() -> None:
    """The property above is about a set where each kind of act counts: said explicitly."""
    trust = everything().trust(T0)
    assert trust.rules == NEW and len(trust.history) == 2 and len(trust.refused) == 2
    assert NORTH.public in trust.frozen and key("leeds").public in trust.bodies


def test_a_revocation_leaves_every_aggregate_and_result_counted_before_it_unchanged() -> None:
    from protocol.upward import build
    from tests.protocol.test_audit import NATIONAL as A_NATIONAL
    from tests.protocol.test_audit import NORTH as A_NORTH
    from tests.protocol.test_audit import SOUTH as A_SOUTH
    from tests.protocol.test_audit import a_selection, decisions_go_up

    held, item, mandates = decisions_go_up()
    fed = item.payload.federation or b""
    counted = {A_NORTH.public: mandates["for"], A_SOUTH.public: mandates["against"]}
    aggregate = next_envelope(A_NATIONAL, held[3], build(item, {A_NORTH.public: 10, A_SOUTH.public: 20}, counted),
                              fed, created=T0 + 41_000)  # fmt: skip
    before = audit([("all", write_bundle([e.raw for e in [*held, aggregate]]))], NOW)
    south_head = mandates["against"]
    revoked = next_envelope(A_NATIONAL, aggregate, Revocation(key=A_SOUTH.public, after_seq=south_head.seq,
                                                              reason="by its parent's decision"), fed,
                            created=T0 + 50_000)  # fmt: skip
    after = audit([("all", write_bundle([e.raw for e in [*held, aggregate, revoked]]))], NOW)
    assert before.holds and after.holds, after.problems
    assert after.recounts == before.recounts and len(after.recounts[0].children) == 2
    assert after.trust is not None and after.trust.bodies[A_SOUTH.public].cut == south_head.seq
    # a result: its selection's electorate stays the one it was opened with
    envelopes, parts = a_selection()
    selection = parts["selection"]
    result = next_envelope(A_NATIONAL, parts["paper"], parts["result_body"], fed_of(selection),  # type: ignore[arg-type]
                           created=T0 + 61_000)  # fmt: skip
    north_head = parts["north_bundle"]
    revoke_north = next_envelope(A_NATIONAL, result, Revocation(key=A_NORTH.public, after_seq=north_head.seq),
                                 fed_of(selection), created=T0 + 70_000)  # fmt: skip
    report = audit([("all", write_bundle([e.raw for e in [*envelopes, result, revoke_north]]))], NOW)
    assert report.holds, report.problems


def fed_of(envelope: Envelope) -> bytes:
    return envelope.payload.federation or b""


def test_an_officers_delegates_record_needs_its_members_decision_where_the_rules_say_so() -> None:
    from protocol import Decision, Delegates
    from protocol.authority import act_text
    from tests.protocol.test_authority import decided

    fed = Fed(authority=["officers_delegates"])
    record = Delegates(to=NATIONAL.public, count=3, names=["Sam Porter"])
    bare = fed.sign(NORTH, record)
    head = fed.head[NORTH.public]
    assert head is not None
    text = act_text(record, fed.trust().name_of)
    founder = fed.trust().name_of(NATIONAL.public)
    assert text.startswith(f"Send 3 delegates to {founder}, bn1") and text.endswith(": Sam Porter.")
    roll, vote = decided(head, fed.id, text, author=NORTH)
    fed.envelopes += [roll, vote]
    authorised = next_envelope(NORTH, vote, msgspec.structs.replace(record, decision=vote.id), fed.id)
    posing = next_envelope(NORTH, authorised, msgspec.structs.replace(record, election=vote.id), fed.id)
    fed.envelopes += [authorised, posing]
    trust = fed.trust()
    by_id = {e.id: e for e in fed.envelopes}
    trust.lookup = by_id.get
    assert trust.act_problem(bare, None) == (Code.NO_AUTHORITY, trust.act_problem(bare, None)[1])  # type: ignore[index]
    assert trust.act_problem(authorised, None) is None
    assert "not an election" in trust.act_problem(posing, None)[1]  # type: ignore[index]  # a carried motion, not an election
    assert isinstance(vote.payload.body, Decision)
    report = audit([("all", write_bundle([e.raw for e in fed.envelopes]))], NOW)
    found = {(p.code, p.object) for p in report.problems}
    assert ("no_authority", bare.id) in found and ("wrong_authority", posing.id) in found
    assert not any(p.object == authorised.id for p in report.problems)
    # a federation whose rules do not list it: an officers' record stands as signed
    plain = Fed()
    alone = plain.sign(NORTH, record)
    assert plain.trust().act_problem(alone, None) is None


def test_freezes_end_to_end_cannot_hold_a_body_without_a_vote() -> None:
    fed, freeze, _ = frozen_north(days=14)
    until = freeze.payload.body.until  # type: ignore[union-attr]
    again = fed.sign(NATIONAL, Freeze(key=NORTH.public, after_seq=3, until=until + 14 * DAY_MS, reason="again"),
                     created=until + 1)  # fmt: skip
    trust = fed.trust(now_ms=until + 2)
    assert trust.refused[again.id][0] == "freeze_again" and trust.bodies[NORTH.public].cut is None
    later = fed.sign(NATIONAL, Freeze(key=NORTH.public, after_seq=3, until=until + 28 * DAY_MS, reason="new news"),
                     created=until + 14 * DAY_MS + 1)  # fmt: skip
    trust = fed.trust(now_ms=later.payload.created + 1)
    assert later.id not in trust.refused and trust.bodies[NORTH.public].cut_reason == "suspended"
