"""The golden vectors in docs/vectors/golden.json: how they are made.

Regenerate (only when the format deliberately changes, which needs a new version):
    .venv/bin/python -m tests.protocol.golden > docs/vectors/golden.json
"""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import msgspec

from protocol import (
    ENVELOPE_TAG,
    AgendaItem,
    Aggregate,
    BallotRules,
    Campaign,
    Decision,
    Envelope,
    Freeze,
    KeyRotation,
    Mandate,
    Nomination,
    Pledge,
    Ratio,
    Revocation,
    Roll,
    RulesChange,
    Selection,
    SigningKey,
    Submission,
    Withdrawal,
    make_fork_proof,
    rotation_message,
    signing_input,
    write_bundle,
)
from protocol import selections as sel
from protocol.ballots import ABSTAIN, AGAINST, FOR, check_decision, ranked_choice, records, roll_leaf, tally
from protocol.encoding import encode
from protocol.merkle import root
from protocol.views import payload_view
from tests.factories import T0, charter, genesis, key, next_envelope, profile
from tests.protocol.golden_member_keys import MEMBER_KEY_NAMES, member_keys_vectors
from tests.protocol.golden_parts import PARTS_NAMES, parts_bundles, parts_vectors

LABELS = ("national", "north", "south", "national-2")


def _entry(name: str, author: str, env: Envelope) -> dict[str, Any]:
    payload_bytes = encode(env.payload)
    return {
        "name": name,
        "author": author,
        "payload_json": payload_view(env.payload),
        "payload": payload_bytes.hex(),
        "signing_input": signing_input(payload_bytes).hex(),
        "signature": env.signature.hex(),
        "envelope": env.raw.hex(),
        "id": env.id.hex(),
    }


def pack(value: Any) -> bytes:
    """msgpack as docs/protocol.md states the canonical form (shortest headers, maps sorted by
    key bytes), written here from the document, not with msgspec."""
    if isinstance(value, bool) or value is None:
        raise TypeError("booleans and nil do not occur in version 1 payloads")
    if isinstance(value, int):
        if 0 <= value <= 0x7F:
            return bytes([value])
        for limit, tag, fmt in ((0xFF, 0xCC, ">B"), (0xFFFF, 0xCD, ">H"), (0xFFFFFFFF, 0xCE, ">I")):
            if 0 <= value <= limit:
                return bytes([tag]) + struct.pack(fmt, value)
        return b"\xcf" + struct.pack(">Q", value)
    if isinstance(value, str):
        raw = value.encode()
        n = len(raw)
        head = bytes([0xA0 | n]) if n < 32 else (b"\xd9" + bytes([n]) if n < 256 else b"\xda" + struct.pack(">H", n))
        return head + raw
    if isinstance(value, bytes):
        n = len(value)
        if n < 256:
            return b"\xc4" + bytes([n]) + value
        return (b"\xc5" + struct.pack(">H", n) if n < 65536 else b"\xc6" + struct.pack(">I", n)) + value
    if isinstance(value, list):
        n = len(value)
        head = bytes([0x90 | n]) if n < 16 else b"\xdc" + struct.pack(">H", n)
        return head + b"".join(pack(v) for v in value)
    if isinstance(value, dict):
        n = len(value)
        items = sorted(value.items(), key=lambda kv: kv[0].encode())
        head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
        return head + b"".join(pack(k) + pack(v) for k, v in items)
    raise TypeError(type(value))


def wire(signer: SigningKey, payload: bytes, version: int = 1, signature: bytes | None = None) -> bytes:
    """An envelope around ``payload`` bytes as given (canonical or not), signed by ``signer``."""
    signature = signature if signature is not None else signer.sign(ENVELOPE_TAG + payload)
    return b"\x93" + pack(version) + pack(payload) + pack(signature)


BALLOT = bytes(range(16))


def _roll_and_decision() -> tuple[Roll, Any]:
    """A roll of 24 members (salts and member ids fixed for the vectors) and, for the
    decision, a ballot on it: 12 for, 7 against, 1 abstention (receipt i is 16 bytes of i)."""
    leaves = sorted(roll_leaf(bytes([i]) * 32, 100 + i) for i in range(24))
    roll = Roll(count=24, root=root(leaves), as_of=T0 + 10_000, ballot=BALLOT)
    votes = [(bytes([i]) * 16, bytes([c])) for i, c in enumerate([FOR] * 12 + [AGAINST] * 7 + [ABSTAIN])]

    def decision(roll_id: bytes) -> Decision:
        return Decision(
            ballot=BALLOT, motion="m1", subject="Fund the food bank", text_hash=hashlib.sha256(b"Fund it.").digest(),
            method="for_against_abstain", rules=BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2)),
            electorate=24, roll=roll_id, opened=T0 + 10_000, closed=T0 + 20_000, counts=[12, 7, 1],
            receipts=records(BALLOT, votes), outcome="carried", secrecy="secret",
        )  # fmt: skip

    return roll, decision


def _upward(south: SigningKey, north: SigningKey, national: SigningKey, fed: bytes, decision_env: Envelope
            ) -> list[Envelope]:  # fmt: skip
    """Decisions go up: south submits the motion its decision carried to the national body and
    is put the question as an agenda item (signed here by south, for brevity), sends its
    mandate following its decision, and the aggregate counts it with weight 24, north absent
    with weight 10."""
    rules = BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2))
    submission = next_envelope(south, decision_env, Submission(to=national.public, decision=decision_env.id,
                                                               title="Fund the food bank", text="Fund it."), fed)
    item = next_envelope(south, submission, AgendaItem(title="Fund the food bank", text="Fund it.", opens=T0 + 30_000,
                                                       closes=T0 + 40_000, weighting="card_vote", rules=rules,
                                                       sources=[submission.id]), fed)
    mandate = next_envelope(south, item, Mandate(item=item.id, position="for", basis=decision_env.id), fed)
    aggregate = Aggregate(item=item.id, weighting="card_vote", rules=rules, closes=T0 + 40_000,
                          counted=mandate.id[:8] + (24).to_bytes(4, "big"),
                          absent=north.public[:8] + (10).to_bytes(4, "big"),
                          cited=hashlib.sha256(mandate.id).digest(), votes=[24, 0, 0], weight_sent=24,
                          weight_all=34, outcome="carried")
    return [submission, item, mandate, next_envelope(south, mandate, aggregate, fed)]  # fmt: skip


ELECTION_BALLOT = bytes(range(16, 32))
ELECTION_NAMES = ("selection", "nomination_ann", "nomination_bea", "nomination_col", "ballot_paper", "ranked_bundle",
                  "selection_result")


def _elections(south: SigningKey, fed: bytes, after: Envelope) -> list[Envelope]:
    """Elections (signed by south, for brevity, as the selecting body and its own branch): a
    selection of 2 seats by Scottish STV with an alternating list; a nomination; the ballot
    paper; a bundle of 7 ranked ballots (receipt i is 16 bytes of 32 + i); and the result.
    Worked by hand: quota 7 / 3 = 2 + 1 = 3; first preferences Ann 4, Bea 2, Col 1: Ann
    elected with a surplus of 1, her 4 papers pass to Bea at 1 / 4 = 0.25 each: Bea 3, elected."""
    selection = next_envelope(south, after, Selection(
        office="Regional executive", seats=2, method="stv", nominations_close=T0 + 50_000,
        voting_close=T0 + 60_000, reopen="off", balancing="alternate"), fed)  # fmt: skip
    nominations = []
    last = selection
    for name, category in (("Ann", "w"), ("Bea", "w"), ("Col", "m")):
        nominated = Nomination(selection=selection.id, candidate=name, statement=f"{name} stands.",
                               consented=T0 + 45_000, category=category)  # fmt: skip
        last = next_envelope(south, last, nominated, fed, created=T0 + 46_000)
        nominations.append(last)
    signed = [sel.Signed(n.id, n.author, n.payload.created, n.payload.body) for n in nominations]
    paper = sel.ballot_paper(selection.id, selection.payload.body, signed, {south.public})  # type: ignore[arg-type]
    paper_env = next_envelope(south, last, paper, fed, created=T0 + 51_000)
    rankings = [[0, 1]] * 4 + [[1]] * 2 + [[2, 0]]
    votes = [(bytes([32 + i]) * 16, ranked_choice(r, 3)) for i, r in enumerate(rankings)]
    data = records(ELECTION_BALLOT, votes)
    counts, _ = tally("ranked", 3, data)
    bundle = next_envelope(south, paper_env, Decision(
        ballot=ELECTION_BALLOT, motion="selection", subject="Regional executive",
        text_hash=hashlib.sha256(b"Regional executive: Ann, Bea, Col").digest(), method="ranked",
        rules=BallotRules(quorum=Ratio(num=0, den=1), threshold=Ratio(num=1, den=2)), electorate=9,
        roll=paper_env.id, opened=T0 + 52_000, closed=T0 + 59_000, counts=counts, receipts=data, outcome="bundled",
        options=paper.candidates, secrecy="secret", seats=2, counting="stv", selection=selection.id),
        fed, created=T0 + 59_500)  # fmt: skip
    counted = [sel.Signed(bundle.id, bundle.author, bundle.payload.created, bundle.payload.body)]
    result = sel.count_selection(selection.id, selection.payload.body, paper_env.id, paper, counted,  # type: ignore[arg-type]
                                 ["w", "w", "m"])  # fmt: skip
    # By hand: the list by successive counts is Ann (alone she has 4 of 7, over the one-seat
    # quota of 4), then Bea; both declared "w", so alternating leaves it as it is.
    assert result.winners == [0, 1] and result.order == [0, 1] and result.balanced == [0, 1]
    return [selection, *nominations, paper_env, bundle, next_envelope(south, bundle, result, fed, created=T0 + 61_000)]


CAMPAIGN_NAMES = ("campaign", "pledge", "withdrawal")


def _campaigns(south: SigningKey, fed: bytes, after: Envelope) -> list[Envelope]:
    """Campaigns (signed by south, for brevity, as the campaigning body and a body pledging to
    it): a campaign notice, a pledge to it, and the campaign withdrawn by its author."""
    campaign = next_envelope(south, after, Campaign(
        title="Save the library", text="The council will close it in March.", asks="Write to your councillor.",
        starts=T0 + 70_000, ends=T0 + 80_000, contact="Write to the branch secretary."), fed,
        created=T0 + 70_000)  # fmt: skip
    pledge = next_envelope(south, campaign, Pledge(campaign=campaign.id, text="Two members at the march."), fed,
                           created=T0 + 71_000)  # fmt: skip
    withdrawn = Withdrawal(notice=campaign.id, reason="The council kept the library open.")
    return [campaign, pledge, next_envelope(south, pledge, withdrawn, fed, created=T0 + 72_000)]


AUTHORITY_NAMES = ("genesis_with_authority", "roll_for_a_charter", "decision_on_a_charter", "charter_with_decision",
                   "roll_for_a_revocation", "decision_on_a_revocation", "revocation_with_decision", "freeze",
                   "agenda_item_on_the_rules", "aggregate_on_the_rules", "rules_change")


def _authority(national: SigningKey, north: SigningKey) -> list[Envelope]:
    """A federation whose rules say a charter and a revocation need their body's carried
    decision (docs/protocol.md, `genesis` and `charter`): its genesis; national's members carry
    the charter of North Region (a roll and a decision on the charter's canonical text) and
    national signs the charter citing that decision; then the same for revoking it."""
    from protocol.authority import act_text
    from protocol.upward import text_hash
    from tests.factories import rules, seal_genesis

    gen = seal_genesis(national, msgspec.structs.replace(rules(), authority=["charter", "revocation"]))
    fed = gen.id
    out, last = [gen], gen
    acts = [charter(north), Revocation(key=north.public, after_seq=3, reason="Revoked by its parent's members.")]
    for number, act in enumerate(acts):
        text = act_text(act, lambda k: "North Region" if k == north.public else None)
        ballot = hashlib.sha256(text.encode()).digest()[:16]
        leaves = sorted(roll_leaf(bytes([i]) * 32, 200 + i) for i in range(5))
        at = T0 + 100_000 * (number + 1)
        roll = next_envelope(national, last, Roll(count=5, root=root(leaves), as_of=at, ballot=ballot), fed,
                             created=at)  # fmt: skip
        votes = [(bytes([i]) * 16, bytes([c])) for i, c in enumerate([FOR] * 4 + [AGAINST])]
        decided = next_envelope(national, roll, Decision(
            ballot=ballot, motion=f"act-{number + 1}", subject=text[:80], text_hash=text_hash(text),
            method="for_against_abstain", rules=BallotRules(quorum=Ratio(num=1, den=2), threshold=Ratio(num=1, den=2)),
            electorate=5, roll=roll.id, opened=at, closed=at + 50_000, counts=[4, 1, 0],
            receipts=records(ballot, votes), outcome="carried", secrecy="secret"), fed,
            created=at + 50_000)  # fmt: skip
        last = next_envelope(national, decided, msgspec.structs.replace(act, decision=decided.id), fed,
                             created=at + 60_000)  # fmt: skip
        out += [roll, decided, last]
    return out + _rules_changed(national, north, fed, last)


def _rules_changed(national: SigningKey, north: SigningKey, fed: bytes, last: Envelope) -> list[Envelope]:
    """An interim freeze; then national puts a change of the rules (quorum 1/3) to its
    children and signs it, citing its aggregate: three for of weight 4, one against."""
    from protocol.authority import DAY_MS, rules_text
    from protocol.upward import record
    from tests.factories import rules

    at = T0 + 400_000
    freeze = next_envelope(national, last, Freeze(key=north.public, after_seq=3, until=at + 7 * DAY_MS,
                                                  reason="Its key was seen on a stranger's laptop."), fed,
                           created=at)  # fmt: skip
    new = msgspec.structs.replace(rules(), authority=["charter", "revocation"], quorum=Ratio(num=1, den=3))
    item_rules = BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=2, den=3))
    item = next_envelope(national, freeze, AgendaItem(title="The default quorum", text=rules_text(new), opens=at,
                                                      closes=at + 10_000, weighting="card_vote", rules=item_rules),
                         fed, created=at + 1_000)  # fmt: skip
    mandates = sorted(hashlib.sha256(bytes([i])).digest() for i in range(2))
    counted = record(mandates[0], 3) + record(mandates[1], 1)
    aggregate = next_envelope(national, item, Aggregate(
        item=item.id, weighting="card_vote", rules=item_rules, closes=at + 10_000, counted=counted, absent=b"",
        cited=hashlib.sha256(b"".join(mandates)).digest(), votes=[3, 1, 0], weight_sent=4, weight_all=4,
        outcome="carried"), fed, created=at + 20_000)  # fmt: skip
    changed = next_envelope(national, aggregate, RulesChange(rules=new, aggregate=aggregate.id), fed,
                            created=at + 30_000)  # fmt: skip
    return [freeze, item, aggregate, changed]


def _rejections(keys: dict[str, SigningKey], fed: bytes, north_profile: Envelope, decision_env: Envelope,
                upward: list[Envelope], elections: list[Envelope]) -> list[dict[str, Any]]:  # fmt: skip
    """Envelopes every implementation must refuse, each with the code (and field) it must give."""
    north = keys["north"]
    good = {"author": north.public, "body": {"endpoints": ["https://north.example.org"], "kind": "node_profile",
            "name": "North Region"}, "created": T0 + 5000, "federation": fed, "seq": 1}  # fmt: skip

    def variant(drop: str = "", **changes: Any) -> bytes:
        payload = {k: v for k, v in {**good, **changes}.items() if k not in ("body", drop)}
        payload["body"] = {**good["body"], **changes.get("body", {})}
        return pack(payload)

    def signed(payload: bytes, version: int = 1) -> bytes:
        return wire(north, payload, version)

    valid = pack(good)
    unsorted = b"\x85" + b"".join(pack(k) + pack(good[k]) for k in ("seq", "federation", "created", "body", "author"))
    flipped = bytearray(signed(valid))
    flipped[-1] ^= 0x01
    charter_body = {"kind": "charter", "key": keys["south"].public, "level": "region\n", "name": "South"}
    decision_view = msgspec.to_builtins(decision_env.payload.body, builtin_types=(bytes,))
    receipts = decision_view["receipts"]
    swapped = receipts[9:18] + receipts[:9] + receipts[18:]

    def decided(**changes: Any) -> bytes:
        return pack({**good, "body": {**decision_view, **changes}})

    def changed(envelope: Envelope, **changes: Any) -> bytes:
        view: dict[str, Any] = msgspec.to_builtins(envelope.payload.body, builtin_types=(bytes,))
        return pack({**good, "body": {**view, **changes}})

    _, item, mandate, aggregate = upward
    cases: list[tuple[str, bytes, str, str | None]] = [
        ("too_large", b"\x93\x01" + pack(bytes(65_600)) + pack(bytes(64)), "too_large", None),
        ("truncated", signed(valid)[:-1], "malformed", None),
        ("trailing_bytes", signed(valid) + b"\x00", "malformed", None),
        ("bad_version", signed(valid, version=2), "bad_version", "version"),
        ("unsorted_keys", signed(unsorted), "not_canonical", None),
        ("long_int_header", signed(valid.replace(b"\xa3seq\x01", b"\xa3seq\xcd\x00\x01")), "not_canonical", None),
        ("default_written_out", signed(variant(body={"contact": ""})), "not_canonical", None),
        ("unknown_kind", signed(variant(body={"kind": "motion"})), "unknown_kind", None),
        ("unknown_field", signed(variant(colour="red")), "unknown_field", None),
        ("name_too_long", signed(variant(body={"name": "n" * 201})), "bad_field", "payload.body.name"),
        ("url_trailing_newline", signed(variant(body={"endpoints": ["https://north.example.org\n"]})),
         "bad_field", "payload.body.endpoints[0]"),
        ("url_not_http", signed(variant(body={"endpoints": ["ftp://north.example.org"]})), "bad_field",
         "payload.body.endpoints[0]"),
        ("level_trailing_newline", signed(pack({**good, "body": charter_body})), "bad_field", "payload.body.level"),
        ("seq_zero", signed(variant(seq=0)), "bad_field", "payload.seq"),
        ("prev_at_seq_1", signed(variant(prev=north_profile.id)), "bad_field", "payload.prev"),
        ("no_federation", signed(variant(drop="federation")), "bad_field", "payload.federation"),
        ("bad_signature", bytes(flipped), "bad_signature", "signature"),
        ("small_order_author", signed(variant(author=bytes([1]) + bytes(31))), "bad_key", "payload.author"),
        ("decision_counts_not_receipts", signed(decided(counts=[13, 7, 1])), "bad_decision", "body.counts"),
        ("decision_outcome_not_following", signed(decided(outcome="lost")), "bad_decision", "body.outcome"),
        ("decision_receipts_unsorted", signed(decided(receipts=swapped)), "bad_decision", "body.receipts"),
        ("agenda_item_closes_before_it_opens", signed(changed(item, closes=T0 + 30_000)), "bad_agenda_item",
         "body.closes"),
        ("mandate_split_without_counts", signed(changed(mandate, position="split")), "bad_mandate", "body.split"),
        ("aggregate_weight_not_its_records", signed(changed(aggregate, weight_sent=25)), "bad_aggregate",
         "body.weight_sent"),
        ("aggregate_outcome_not_following", signed(changed(aggregate, outcome="lost")), "bad_aggregate",
         "body.outcome"),
        ("selection_voting_closes_first", signed(changed(elections[0], voting_close=T0 + 50_000)), "bad_selection",
         "body.voting_close"),
        ("ballot_paper_name_twice", signed(changed(elections[4], candidates=["Ann", "Ann", "Col"])), "bad_selection",
         "body.candidates"),
        ("ranked_bundle_counted_alone", signed(changed(elections[5], outcome="elected", chosen=[0, 1])),
         "bad_decision", "body.outcome"),
        ("ranked_record_ranks_twice", signed(changed(elections[5], receipts=_twice(elections[5]))), "bad_decision",
         "body.receipts"),
    ]  # fmt: skip
    return [{"name": name, "envelope": raw.hex(), "code": code, "field": field} for name, raw, code, field in cases]


def _twice(bundle: Envelope) -> bytes:
    """The bundle's records with the first one's ranking made "Ann, Ann" (digests kept in order)."""
    body = bundle.payload.body
    assert isinstance(body, Decision)
    return body.receipts[:8] + b"\x01\x01\x00" + body.receipts[11:]


def _bundles(keys: dict[str, SigningKey], gen: Envelope, chartered: Envelope) -> list[dict[str, Any]]:
    """Sets of envelopes checked as logs (``check_logs``), with every failure they must give."""
    fed = gen.id
    north = keys["north"]
    one = next_envelope(north, None, profile("North 1"), fed)
    two = next_envelope(north, one, profile("North 2"), fed)
    three = next_envelope(north, two, profile("North 3"), fed)
    other_two = next_envelope(north, one, profile("North 2, other side"), fed)
    earlier = next_envelope(north, two, profile("earlier"), fed, created=one.payload.created - 1)
    future = next_envelope(north, two, profile("from the future"), fed, created=T0 + 10**9)
    south = keys["south"]
    roll, decision = _roll_and_decision()
    roll_env = next_envelope(south, None, roll, fed)
    decided = next_envelope(south, roll_env, decision(roll_env.id), fed)
    # Re-signed with an electorate of 100 where the roll counts 24, its outcome recomputed
    # (20 votes of 100 miss the quorum of a quarter), so it adds up by itself.
    inflated_body = msgspec.structs.replace(decision(roll_env.id), electorate=100, outcome="not_quorate")
    check_decision(inflated_body)
    inflated = next_envelope(south, roll_env, inflated_body, fed)
    other_roll = next_envelope(south, None, msgspec.structs.replace(roll, ballot=bytes(16)), fed)
    on_other = next_envelope(south, other_roll, decision(other_roll.id), fed)
    again = next_envelope(south, decided, msgspec.structs.replace(decision(roll_env.id), closed=T0 + 20_001), fed)
    cases = [
        ("decision_with_its_roll", [roll_env, decided], []),
        ("decision_electorate_not_its_roll", [roll_env, inflated], [(1, "wrong_roll")]),
        ("decision_on_another_ballots_roll", [other_roll, on_other], [(1, "wrong_roll")]),
        ("decision_twice_on_one_ballot", [roll_env, decided, again], [(2, "decision_twice")]),
        ("whole_logs", [gen, chartered, one, two, three], []),
        ("any_order", [three, one, chartered, two, gen], []),
        ("gap", [one, three], [(1, "bad_chain")]),
        ("fork", [one, two, other_two], [(2 if two.id < other_two.id else 1, "fork")]),
        ("created_goes_back", [one, two, earlier], [(2, "bad_chain")]),
        ("future_timestamp", [one, two, future], [(2, "future_timestamp")]),
        ("first_is_not_seq_1", [two, three], [(0, "bad_chain"), (1, "bad_chain")]),
        *parts_bundles(south, fed),
    ]
    return [
        {"name": name, "now_ms": T0 + 3_600_000, "bundle": write_bundle([e.raw for e in items]).hex(),
         "failures": [{"index": i, "code": c} for i, c in failures]}
        for name, items, failures in cases
    ]  # fmt: skip


def build() -> dict[str, Any]:
    keys: dict[str, SigningKey] = {label: key(label) for label in LABELS}
    national, north, south, rotated = (keys[label] for label in LABELS)
    gen = genesis(national, created=T0)
    fed = gen.id
    chartered = next_envelope(national, gen, charter(north), fed)
    north_profile = next_envelope(north, None, profile("North Region"), fed)
    fork_a = next_envelope(north, north_profile, profile("North Region (A)"), fed)
    fork_b = next_envelope(north, north_profile, profile("North Region (B)"), fed)
    proof = next_envelope(south, None, make_fork_proof(fork_a, fork_b), fed)
    revoked = next_envelope(national, chartered, Revocation(key=north.public, after_seq=1, reason="forked"), fed)
    rotation = KeyRotation(
        new_key=rotated.public, proof=rotated.sign(rotation_message(fed, national.public, rotated.public))
    )
    rotated_env = next_envelope(national, revoked, rotation, fed)
    roll, decision = _roll_and_decision()
    roll_env = next_envelope(south, proof, roll, fed)
    decision_env = next_envelope(south, roll_env, decision(roll_env.id), fed)
    upward = _upward(south, north, national, fed, decision_env)
    elections = _elections(south, fed, upward[-1])
    campaigns = _campaigns(south, fed, elections[-1])
    authority = _authority(national, north)
    member_keys = member_keys_vectors(national, authority[0].id, authority[-1])
    in_parts = parts_vectors(national, authority[0].id, member_keys[-1])
    return {
        "description": (
            "branchnet protocol version 1 golden vectors (docs/protocol.md). Keys: the RFC 8032 seed of each "
            "is SHA-256 of 'branchnet test key: <label>'. Every envelope must open, its id is SHA-256 of the "
            "envelope bytes, its signature is by the author over signing_input."
        ),
        "keys": [
            {"label": label, "seed": k.seed.hex(), "public": k.public.hex(), "node_id": k.node_id}
            for label, k in keys.items()
        ],
        "envelopes": [
            _entry("genesis", "national", gen),
            _entry("charter", "national", chartered),
            _entry("node_profile", "north", north_profile),
            _entry("fork_side_a", "north", fork_a),
            _entry("fork_side_b", "north", fork_b),
            _entry("fork_proof", "south", proof),
            _entry("revocation", "national", revoked),
            _entry("key_rotation", "national", rotated_env),
            _entry("roll", "south", roll_env),
            _entry("decision", "south", decision_env),
            *(_entry(e.kind, "south", e) for e in upward),
            *(_entry(name, "south", e) for name, e in zip(ELECTION_NAMES, elections, strict=True)),
            *(_entry(name, "south", e) for name, e in zip(CAMPAIGN_NAMES, campaigns, strict=True)),
            *(_entry(name, "national", e) for name, e in zip(AUTHORITY_NAMES, authority, strict=True)),
            *(_entry(name, "national", e) for name, e in zip(MEMBER_KEY_NAMES, member_keys, strict=True)),
            *(_entry(name, "national", e) for name, e in zip(PARTS_NAMES, in_parts, strict=True)),
        ],
        "rejections_description": (
            "Envelopes that must be refused, each with the code (docs/protocol.md section 10) and, where one "
            "field is at fault, its path. Signed by 'north' unless the case is about the signature or the key."
        ),
        "rejections": _rejections(keys, fed, north_profile, decision_env, upward, elections),
        "bundles_description": (
            "Bundles checked as logs (section 7) at the clock now_ms: each failure by the index of the envelope "
            "in the bundle and its code; an empty list means every envelope holds. Across envelopes: a "
            "decision against the roll it names (wrong_roll), a decision in parts against its parts "
            "(missing_part, wrong_part), and a second decision by one author on one ballot (decision_twice: the "
            "first counts)."
        ),
        "bundles": _bundles(keys, gen, chartered),
    }


if __name__ == "__main__":
    print(json.dumps(build(), indent=2))
