"""Property tests: round trips for every kind, and no input makes the decoder misbehave."""

from __future__ import annotations

import hashlib

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from protocol import (
    KINDS,
    AgendaItem,
    Aggregate,
    BallotPaper,
    BallotRules,
    Body,
    Campaign,
    Charter,
    CharterRule,
    Code,
    Composite,
    Consent,
    Decision,
    DecisionPart,
    Delegates,
    ForkProof,
    Freeze,
    Genesis,
    KeyRotation,
    Mandate,
    NodeProfile,
    Nomination,
    Payload,
    Pledge,
    ProtocolError,
    Ratio,
    ResultPart,
    Revocation,
    Roll,
    Round,
    Rules,
    RulesChange,
    Ruling,
    Selection,
    SelectionResult,
    Submission,
    Withdrawal,
    encode,
    kind_of,
    open_envelope,
    seal,
    signing_input,
)
from protocol.encoding import decode_payload
from tests.factories import genesis, key, next_envelope, profile

keys32 = st.binary(min_size=32, max_size=32)
names = st.text(min_size=1, max_size=200)
texts = st.text(max_size=300)
levels = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
urls = st.from_regex(r"https?://[a-z0-9.\-/]{1,80}", fullmatch=True)
ratios = st.builds(Ratio, num=st.integers(0, 1_000_000), den=st.integers(1, 1_000_000))
times = st.integers(0, 2**48)
weights = st.integers(0, 2**53)
motion_texts = st.text(min_size=1, max_size=300)
weightings = st.sampled_from(["card_vote", "one_branch_one_vote", "delegates"])
ballot_rules = st.builds(BallotRules, quorum=ratios, threshold=ratios,
                         base=st.sampled_from(["for_against", "cast", "electorate"]),
                         reach=st.sampled_from(["more_than", "at_least"]))  # fmt: skip
rules = st.builds(
    Rules,
    levels=st.lists(levels, min_size=1, max_size=16),
    charter_rules=st.lists(st.builds(CharterRule, parent=levels, child=levels), max_size=8),
    weighting=st.sampled_from(["card_vote", "one_branch_one_vote"]),
    quorum=ratios,
    threshold=ratios,
    authority=st.none() | st.lists(st.sampled_from(["charter", "revocation", "rules_change", "officers_delegates"]),
                                   max_size=4),
    amend_threshold=st.none() | ratios,
    amend_quorum=st.none() | ratios,
    freeze_days=st.none() | st.integers(1, 90),
)
# One strategy per kind, so that every kind is covered by construction, not by chance.
BODY_STRATEGIES: tuple[st.SearchStrategy[Body], ...] = (
    st.builds(Genesis, name=names, founder_name=names, founder_level=levels, rules=rules, description=texts),
    st.builds(Charter, key=keys32, name=names, level=levels, url=st.none() | urls),
    st.builds(Revocation, key=keys32, after_seq=st.integers(0, 2**53), reason=texts,
              decision=st.none() | keys32, evidence=st.none() | keys32),
    st.builds(KeyRotation, new_key=keys32, proof=st.binary(min_size=64, max_size=64)),
    st.builds(NodeProfile, name=names, endpoints=st.lists(urls, min_size=1, max_size=8), contact=texts),
    st.builds(ForkProof, a=st.binary(min_size=1, max_size=300), b=st.binary(min_size=1, max_size=300)),
    st.builds(
        Roll,
        count=st.integers(0, 10_000_000),
        root=keys32,
        as_of=st.integers(0, 2**48),
        ballot=st.none() | st.binary(min_size=16, max_size=16),
    ),
    st.builds(
        Decision,
        ballot=st.binary(min_size=16, max_size=16),
        motion=st.text(min_size=1, max_size=64),
        subject=names,
        text_hash=keys32,
        method=st.sampled_from(["for_against_abstain", "approval", "ranked"]),
        rules=ballot_rules,
        electorate=st.integers(0, 10_000_000),
        roll=keys32,
        opened=st.integers(0, 2**48),
        closed=st.integers(0, 2**48),
        counts=st.lists(st.integers(0, 10_000_000), max_size=16),
        receipts=st.binary(max_size=200),
        outcome=st.sampled_from(["carried", "lost", "not_quorate", "chosen", "tied", "elected", "bundled"]),
        amendment=st.text(max_size=64),
        options=st.lists(names, max_size=16),
        chosen=st.lists(st.integers(0, 15), max_size=16),
        secrecy=st.sampled_from(["open", "secret"]),
        seats=st.integers(0, 16),
        counting=st.sampled_from(["", "stv", "meek", "irv", "schulze"]),
        selection=st.none() | keys32,
        parts=st.integers(0, 5_000),
        cast=st.none() | st.integers(0, 10_000_000),
    ),
    st.builds(Submission, to=keys32, decision=keys32, title=names, text=motion_texts),
    st.builds(AgendaItem, title=names, text=motion_texts, opens=times, closes=times, weighting=weightings,
              rules=ballot_rules, sources=st.lists(keys32, max_size=64), composite=st.none() | keys32),
    st.builds(Ruling, submission=keys32, reason=names),
    st.builds(Composite, title=names, text=motion_texts, sources=st.lists(keys32, min_size=2, max_size=64)),
    st.builds(Consent, composite=keys32, submission=keys32, answer=st.sampled_from(["consent", "refuse", "withdraw"])),
    st.builds(Delegates, to=keys32, count=st.integers(0, 10_000_000), names=st.lists(names, max_size=64),
              election=st.none() | keys32, decision=st.none() | keys32),
    st.builds(Mandate, item=keys32, position=st.sampled_from(["for", "against", "abstain", "split", "free"]),
              basis=keys32, split=st.lists(weights, max_size=3), replaces=st.none() | keys32),
    st.builds(Aggregate, item=keys32, weighting=weightings, rules=ballot_rules, closes=times,
              counted=st.binary(max_size=200), absent=st.binary(max_size=200), cited=keys32,
              votes=st.lists(weights, min_size=3, max_size=3), weight_sent=weights, weight_all=weights,
              outcome=st.sampled_from(["carried", "lost", "not_quorate", "chosen", "tied"])),
    st.builds(Campaign, title=names, text=texts, asks=texts, starts=times, ends=st.none() | times, contact=texts),
    st.builds(Pledge, campaign=keys32, text=texts),
    st.builds(Selection, office=names, seats=st.integers(1, 15), method=st.sampled_from(["stv", "meek"]),
              nominations_close=times, voting_close=times, reopen=st.sampled_from(["on", "off"]),
              balancing=st.sampled_from(["", "alternate"]), text=texts),
    st.builds(Nomination, selection=keys32, candidate=names, statement=texts, consented=times,
              category=st.text(max_size=64)),
    st.builds(BallotPaper, selection=keys32, candidates=st.lists(names, min_size=2, max_size=16),
              nominations=st.lists(keys32, max_size=16)),
    st.builds(SelectionResult, selection=keys32, paper=keys32, bundles=st.lists(keys32, max_size=20),
              ballots=st.integers(0, 10_000_000), quota=st.integers(0, 2**62),
              rounds=st.lists(st.builds(Round, action=st.sampled_from(["first", "surplus", "exclusion", "elected",
                                                                         "round"]),
                                        votes=st.lists(st.integers(0, 2**62), max_size=16),
                                        exhausted=st.integers(0, 2**62),
                                        candidate=st.none() | st.integers(0, 15),
                                        elected=st.lists(st.integers(0, 15), max_size=16),
                                        keep=st.lists(st.integers(0, 2**62), max_size=16), note=texts), max_size=4),
              winners=st.lists(st.integers(0, 15), max_size=16), order=st.lists(st.integers(0, 15), max_size=16),
              balanced=st.lists(st.integers(0, 15), max_size=16), parts=st.integers(0, 5_000)),
    st.builds(Withdrawal, notice=keys32, reason=texts),
    st.builds(Freeze, key=keys32, after_seq=st.integers(0, 2**53), until=times, reason=texts),
    st.builds(RulesChange, rules=rules, aggregate=keys32),
    st.builds(DecisionPart, ballot=st.binary(min_size=16, max_size=16), part=st.integers(1, 5_000),
              method=st.sampled_from(["for_against_abstain", "approval", "ranked"]), options=st.integers(0, 16),
              counts=st.lists(st.integers(0, 10_000_000), max_size=16), receipts=st.binary(min_size=1, max_size=200)),
    st.builds(ResultPart, selection=keys32, part=st.integers(1, 5_000),
              bundles=st.lists(keys32, min_size=1, max_size=20)),
)  # fmt: skip
bodies: st.SearchStrategy[Body] = st.one_of(BODY_STRATEGIES)
payloads = st.builds(
    Payload,
    author=keys32,
    seq=st.integers(1, 2**53),
    created=st.integers(0, 2**48),
    body=bodies,
    federation=st.none() | keys32,
    prev=st.none() | keys32,
)


@given(payloads)
@settings(max_examples=400)
def test_payload_round_trip_every_kind(payload: Payload) -> None:
    data = encode(payload)
    assert decode_payload(data) == payload
    assert encode(decode_payload(data)) == data


def test_strategy_covers_every_kind() -> None:
    """Each strategy gives one kind, and together every kind: checked by drawing one example
    of each (600 random draws of the union once missed a kind by chance)."""
    drawn: list[set[str]] = []
    for strategy in BODY_STRATEGIES:
        drawn.append(set())

        @given(strategy)
        @settings(max_examples=3, database=None)
        def collect(body: Body) -> None:
            drawn[-1].add(kind_of(body))

        collect()
    assert all(len(kinds) == 1 for kinds in drawn), drawn
    assert sorted(k for kinds in drawn for k in kinds) == sorted(KINDS)


# --- signed envelopes of several kinds, for the mutation tests ------------------------------
GEN = genesis()
NORTH = key("north")
SIGNED = [
    GEN,
    next_envelope(key("national"), GEN, Charter(key=NORTH.public, name="North", level="region"), GEN.id),
    next_envelope(NORTH, None, profile(), GEN.id),
    next_envelope(key("national"), GEN, Revocation(key=NORTH.public, after_seq=3, reason="stolen"), GEN.id),
]


def _rejects(data: bytes) -> Code:
    try:
        open_envelope(data)
    except ProtocolError as exc:
        return exc.code
    raise AssertionError("accepted")


def test_every_single_byte_change_is_rejected_exhaustively() -> None:
    """Every position of a signed genesis, with two different changes each."""
    raw = GEN.raw
    for i in range(len(raw)):
        for flip in (0x01, 0x80):
            mutated = raw[:i] + bytes([raw[i] ^ flip]) + raw[i + 1 :]
            assert isinstance(_rejects(mutated), Code)


@given(st.sampled_from(SIGNED), st.data())
@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
def test_any_single_byte_change_is_a_protocol_error(envelope, data) -> None:  # type: ignore[no-untyped-def]
    raw = envelope.raw
    i = data.draw(st.integers(0, len(raw) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != raw[i]))
    _rejects(raw[:i] + bytes([value]) + raw[i + 1 :])


@given(st.binary(max_size=3000))
@settings(max_examples=1000)
@example(b"\x93\x01\xc4\x00\xc4\x00")
@example(b"\x91" * 10000)
@example(b"\xdd\xff\xff\xff\xff")
def test_random_bytes_give_protocol_errors_only(data: bytes) -> None:
    _rejects(data)


@given(st.sampled_from(SIGNED), st.binary(max_size=64), st.integers(0, 400))
@settings(max_examples=500)
def test_spliced_envelopes_give_protocol_errors_only(envelope, junk: bytes, cut: int) -> None:  # type: ignore[no-untyped-def]
    raw = envelope.raw
    cut = min(cut, len(raw))
    mutated = raw[:cut] + junk + raw[cut + len(junk) :] if junk else raw[:cut]
    if mutated != raw:
        _rejects(mutated)


@given(st.binary(max_size=600))
@settings(max_examples=500)
def test_random_payload_under_a_real_signature_is_rejected(payload_bytes: bytes) -> None:
    sig = NORTH.sign(signing_input(payload_bytes))
    try:
        open_envelope(encode((1, payload_bytes, sig)))
    except ProtocolError:
        return
    # a random payload that happens to be a valid, canonical one is signed, so it may open
    assert decode_payload(payload_bytes).author == NORTH.public


AUTHORS = [key(label) for label in ("a", "b", "c")]
FEDS = [hashlib.sha256(bytes([i])).digest() for i in range(3)]
simple_bodies = st.one_of(
    st.builds(NodeProfile, name=names, endpoints=st.lists(urls, min_size=1, max_size=2)),
    st.builds(Revocation, key=st.sampled_from([a.public for a in AUTHORS]), after_seq=st.integers(0, 9)),
)


@given(
    st.sampled_from(range(3)),
    st.sampled_from(range(3)),
    st.sampled_from(range(3)),
    st.sampled_from(range(3)),
    simple_bodies,
    simple_bodies,
)
@settings(max_examples=300)
def test_signature_does_not_transfer(a1: int, a2: int, f1: int, f2: int, b1: Body, b2: Body) -> None:
    first = seal(AUTHORS[a1], Payload(author=AUTHORS[a1].public, seq=1, created=1, body=b1, federation=FEDS[f1]))
    other = Payload(author=AUTHORS[a2].public, seq=1, created=1, body=b2, federation=FEDS[f2])
    if other == first.payload:
        return
    moved = encode((1, encode(other), first.signature))
    assert _rejects(moved) in {Code.BAD_SIGNATURE, Code.BAD_KEY}
    assert msgspec.msgpack.decode(moved)[2] == first.signature
