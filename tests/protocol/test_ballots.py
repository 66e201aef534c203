"""Ballots counted exactly (protocol/ballots.py): worked examples of each majority base and
threshold, the quorum as its own test, receipt records, and the check every node makes of
a decision it receives."""

from __future__ import annotations

import hashlib
import os

import msgspec
import pytest

from protocol import BallotRules, Code, Decision, Payload, ProtocolError, Ratio, Roll, encode, open_envelope, seal
from protocol.ballots import (
    ABSTAIN,
    AGAINST,
    FOR,
    approval_choice,
    check_decision,
    decide,
    receipt_digest,
    records,
    roll_leaf,
    tally,
)
from protocol.merkle import inclusion_proof, root, verify_inclusion
from protocol.models import MAX_ENVELOPE_BYTES
from tests.factories import genesis, key, signed_raw

HALF = Ratio(num=1, den=2)
TWO_THIRDS = Ratio(num=2, den=3)
NO_QUORUM = Ratio(num=0, den=1)


def rules(base: str = "for_against", threshold: Ratio = HALF, reach: str = "more_than", quorum: Ratio = NO_QUORUM
          ) -> BallotRules:  # fmt: skip
    return BallotRules(quorum=quorum, threshold=threshold, base=base, reach=reach)  # type: ignore[arg-type]


# Worked examples (docs/decisions.md has the same table). Robert's Rules of Order (12th ed.,
# 44:1-44:9): a majority is more than half of the votes cast, abstentions not counted; two
# thirds is at least two thirds of them; "a majority of the entire membership" is taken of
# everyone entitled to vote.
@pytest.mark.parametrize(
    ("counts", "electorate", "ballot_rules", "outcome"),
    [
        ((29, 25, 10), 100, rules(), "carried"),  # 29 of 54 for or against: more than half
        ((29, 25, 10), 100, rules("cast"), "lost"),  # 29 of 64 cast: an abstention acts as no
        ((27, 27, 0), 100, rules(), "lost"),  # a tie is not more than half
        ((66, 34, 0), 120, rules(threshold=TWO_THIRDS, reach="at_least"), "lost"),  # 66 < 2/3 of 100
        ((67, 33, 0), 120, rules(threshold=TWO_THIRDS, reach="at_least"), "carried"),  # 67 >= 66 2/3
        ((60, 30, 5), 100, rules(threshold=TWO_THIRDS, reach="at_least"), "carried"),  # 60 of 90: exactly 2/3
        ((60, 30, 5), 100, rules(threshold=TWO_THIRDS), "lost"),  # ... but not more than 2/3
        ((45, 10, 5), 100, rules("electorate"), "lost"),  # 45 of all 100 members: not a majority of them
        ((51, 10, 5), 100, rules("electorate"), "carried"),
        ((0, 0, 12), 20, rules(), "lost"),  # only abstentions: nothing for
        ((10, 2, 0), 50, rules(quorum=Ratio(num=1, den=4)), "not_quorate"),  # 12 of 50 take part: < 1/4
        ((10, 2, 1), 52, rules(quorum=Ratio(num=1, den=4)), "carried"),  # 13 of 52: exactly a quarter
    ],
)
def test_worked_examples(
    counts: tuple[int, int, int], electorate: int, ballot_rules: BallotRules, outcome: str
) -> None:
    assert decide("for_against_abstain", counts, sum(counts), electorate, ballot_rules) == (outcome, [])


def test_approval_chooses_the_most_approved_option_that_clears_the_threshold() -> None:
    assert decide("approval", [7, 9, 3], 12, 20, rules("cast")) == ("chosen", [1])  # 9 of 12 > half
    assert decide("approval", [9, 9, 3], 12, 20, rules("cast")) == ("tied", [0, 1])
    assert decide("approval", [5, 6, 3], 12, 20, rules("cast")) == ("lost", [])  # 6 of 12 is not more than half
    assert decide("approval", [5, 6, 3], 12, 20, rules("cast", reach="at_least")) == ("chosen", [1])


def test_records_tally_and_refuse_what_does_not_add_up() -> None:
    ballot = os.urandom(16)
    votes = [(os.urandom(16), bytes([c])) for c in [FOR] * 5 + [AGAINST] * 3 + [ABSTAIN]]
    data = records(ballot, votes)
    assert tally("for_against_abstain", 0, data) == ([5, 3, 1], 9)
    digests = [data[i : i + 8] for i in range(0, len(data), 9)]
    assert digests == sorted(digests) and receipt_digest(ballot, votes[0][0]) in digests
    with pytest.raises(ValueError, match="out of order or repeats"):
        tally("for_against_abstain", 0, data[9:18] + data[:9] + data[18:])
    with pytest.raises(ValueError, match="repeats"):
        tally("for_against_abstain", 0, data[:9] + data[:9])
    with pytest.raises(ValueError, match="not whole records"):
        tally("for_against_abstain", 0, data[:-1])
    with pytest.raises(ValueError, match="choice 3"):
        tally("for_against_abstain", 0, b"\x00" * 8 + b"\x03")
    approvals = records(ballot, [(os.urandom(16), approval_choice(c, 10)) for c in [{0, 9}, {9}, set()]])
    assert tally("approval", 10, approvals) == ([1, 0, 0, 0, 0, 0, 0, 0, 0, 2], 3)
    with pytest.raises(ValueError, match="not on the ballot"):
        tally("approval", 3, b"\x01" * 8 + b"\x08")


def decision(cast: list[int], outcome: str, **changes: object) -> Decision:
    """A decision whose receipts hold ``cast`` (for, against, abstain), with ``changes``."""
    ballot = b"B" * 16
    votes = [(i.to_bytes(16, "big"), bytes([c])) for i, c in enumerate([FOR] * cast[0] + [AGAINST] * cast[1]
                                                                        + [ABSTAIN] * cast[2])]  # fmt: skip
    fields: dict[str, object] = {
        "ballot": ballot, "motion": "m1", "subject": "Fund the food bank", "text_hash": hashlib.sha256(b"t").digest(),
        "method": "for_against_abstain", "rules": rules(quorum=Ratio(num=1, den=4)), "electorate": 30,
        "roll": b"R" * 32, "opened": 1_000, "closed": 2_000, "counts": cast,
        "receipts": records(ballot, votes), "outcome": outcome,
    }  # fmt: skip
    fields.update(changes)
    return Decision(**fields)  # type: ignore[arg-type]


def test_a_decision_that_adds_up_is_signed_and_opened() -> None:
    gen = genesis()
    body = decision([12, 7, 1], "carried")
    check_decision(body)
    signed = seal(key("national"), Payload(author=key("national").public, seq=2, created=3_000,
                                           federation=gen.id, prev=b"P" * 32, body=body))  # fmt: skip
    assert open_envelope(signed.raw).payload.body == body


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (decision([12, 7, 1], "carried", counts=[13, 7, 1]), "body.counts", "not those of the receipts"),
        (decision([12, 7, 1], "lost"), "body.outcome", "the counts and rules give carried"),
        (decision([4, 2, 0], "lost"), "body.outcome", "give not_quorate"),  # 6 of 30 < 1/4
        (decision([12, 7, 1], "carried", electorate=19), "body.receipts", "20 votes from an electorate of 19"),
        (decision([12, 7, 1], "carried", closed=999), "body.closed", "closed before it opened"),
        (decision([12, 7, 1], "carried", options=["a", "b"]), "body.options", "no options"),
        (
            decision([12, 7, 1], "carried", rules=rules(threshold=Ratio(num=3, den=2))),
            "body.rules.threshold",
            "more than 1",
        ),
        (
            decision([12, 7, 1], "carried", method="approval", options=["a", "b"], counts=[1, 1], rules=rules()),
            "body.rules.base",
            "base is cast or electorate",
        ),
    ],
)
def test_a_decision_that_does_not_add_up_is_refused(body: Decision, field: str, words: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        check_decision(body)
    assert caught.value.code == Code.BAD_DECISION and caught.value.field == field and words in caught.value.message
    raw = signed_raw(key("national"), Payload(author=key("national").public, seq=2, created=3_000,
                                              federation=genesis().id, prev=b"P" * 32, body=body))  # fmt: skip
    with pytest.raises(ProtocolError) as opened:
        open_envelope(raw)  # every node that receives it refuses it, with the same reason
    assert opened.value.code == Code.BAD_DECISION


def test_five_thousand_receipts_fit_one_envelope() -> None:
    ballot = b"B" * 16
    votes = [(i.to_bytes(16, "big"), bytes([i % 3])) for i in range(5_000)]
    counts = [1667, 1667, 1666]
    body = decision(counts, "lost", receipts=records(ballot, votes), electorate=6_000)
    signed = seal(key("national"), Payload(author=key("national").public, seq=2, created=3_000,
                                           federation=genesis().id, prev=b"P" * 32, body=body))  # fmt: skip
    assert len(signed.raw) < MAX_ENVELOPE_BYTES


def test_a_member_proves_they_are_on_the_roll() -> None:
    salts = {member: os.urandom(32) for member in range(1, 42)}
    leaves = sorted(roll_leaf(salt, member) for member, salt in salts.items())
    head = root(leaves)
    body = Roll(count=len(leaves), root=head, as_of=5_000)
    mine = roll_leaf(salts[17], 17)
    index = leaves.index(mine)
    assert verify_inclusion(mine, index, body.count, inclusion_proof(leaves, index), body.root)
    assert not verify_inclusion(roll_leaf(os.urandom(32), 17), index, body.count, inclusion_proof(leaves, index), head)


def test_a_default_is_left_out_however_the_value_was_made() -> None:
    """msgspec omits a default only when the value is the default object: a string equal to
    it but made elsewhere (a database, a decoder) must encode the same, and a payload that
    writes a default out must be refused as not canonical."""
    made = "".join(["op", "en"])  # equal to "open", not the same object
    base = "".join(["for_", "against"])
    a = decision([3, 1, 0], "carried", secrecy=made, rules=rules(base=base, quorum=Ratio(num=1, den=4)))
    b = decision([3, 1, 0], "carried")
    assert encode(a) == encode(b)
    gen = genesis()
    payload = Payload(author=key("national").public, seq=2, created=3_000, federation=gen.id, prev=b"P" * 32, body=b)
    view = msgspec.to_builtins(payload, builtin_types=(bytes,))
    view["body"]["secrecy"] = "open"  # the default, written out
    raw = encode((1, msgspec.msgpack.encode(view, order="sorted"), b"\x00" * 64))
    with pytest.raises(ProtocolError) as refused:
        open_envelope(raw)
    assert refused.value.code == Code.NOT_CANONICAL


@pytest.mark.parametrize("quorum", [Ratio(num=0, den=1), Ratio(num=1, den=4), Ratio(num=1, den=1)])
def test_an_empty_electorate_is_not_quorate_whatever_the_quorum(quorum: Ratio) -> None:
    """Nobody entitled to vote: no decision is made, even under a quorum of nothing."""
    rules = BallotRules(quorum=quorum, threshold=Ratio(num=0, den=1), base="cast")
    assert decide("for_against_abstain", [0, 0, 0], 0, 0, rules) == ("not_quorate", [])
    assert decide("approval", [0, 0], 0, 0, rules) == ("not_quorate", [])
