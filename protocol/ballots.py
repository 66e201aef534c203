"""Ballots, counted exactly: receipts, the receipt records a decision carries, the outcome
that follows from counts and rules, and the check every node makes of a decision it
receives (docs/protocol.md section 6, `decision`; docs/decisions.md).

Pure functions over integers and bytes: no clock, no randomness but what the caller passes.

* A **receipt** is 16 random bytes the voter alone is shown. Its **digest** is the first 8
  bytes of SHA-256(``"branchnet receipt v1"``, a zero byte, the ballot id, the receipt): bound
  to its ballot, and telling nothing of the receipt.
* A **record** is a digest followed by the choice: one byte for ``for_against_abstain``
  (0 for, 1 against, 2 abstain), for ``approval`` a bit set over the options (option ``i`` is
  bit ``i % 8`` of byte ``i // 8``; no option at all is a blank ballot, counted as cast).
  For ``ranked``, one byte per option: the options' places in order of preference, each
  as its index plus one, then zeros (a ranking may be partial; all zeros is a blank ballot).
  A decision lists its records sorted by digest (no two alike): an order that says nothing
  of who voted when.
* The **outcome**: below the quorum (votes cast / electorate) ``not_quorate``; otherwise
  ``for_against_abstain`` is ``carried`` when "for" clears the threshold of the base, else
  ``lost``; ``approval`` is ``chosen`` (one option) or ``tied`` (several) among the options
  with the most approvals that clear the threshold of the base, ``lost`` when none does.
  ``ranked`` (quorum only: there is no threshold) is counted by ``counting`` for ``seats``
  (:mod:`protocol.counting`, lot seeded by the ballot id): ``elected`` with the winners in
  order of election, ``lost`` when no ballot ranks anyone; a bundle for a body's
  ``selection`` is not counted alone: its outcome is ``bundled``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from .counting import CountError, Election, count
from .errors import ChainFailure, Code, DecodeFailure
from .merkle import leaf_hash
from .models import MAX_OPTIONS, BallotRules, Decision, Envelope, Ratio, Roll

RECEIPT_BYTES = 16
DIGEST_BYTES = 8
FOR, AGAINST, ABSTAIN = 0, 1, 2
CHOICES = ("for", "against", "abstain")


def receipt_digest(ballot: bytes, receipt: bytes) -> bytes:
    return hashlib.sha256(b"branchnet receipt v1\x00" + ballot + receipt).digest()[:DIGEST_BYTES]


def choice_width(method: str, options: int) -> int:
    """Bytes of choice in one record."""
    if method == "ranked":
        return options
    return 1 if method == "for_against_abstain" else max(1, (options + 7) // 8)


def ranked_choice(order: Sequence[int], options: int) -> bytes:
    """A ranking's record bytes: each option's index plus one, in order, then zeros."""
    if len(set(order)) != len(order):
        raise ValueError("an option is ranked twice")
    if any(not 0 <= i < options for i in order):
        raise ValueError("a ranked option is not on the ballot")
    return bytes(i + 1 for i in order) + bytes(options - len(order))


def ranking_of(choice: bytes, options: int) -> tuple[int, ...]:
    """The ranking (option indices) a record holds; ValueError naming what is wrong."""
    end = choice.find(0)
    places = choice if end < 0 else choice[:end]
    if end >= 0 and any(choice[end:]):
        raise ValueError("ranks an option after an empty place")
    if any(b > options for b in places):
        raise ValueError("ranks an option that is not on the ballot")
    if len(set(places)) != len(places):
        raise ValueError("ranks an option twice")
    return tuple(b - 1 for b in places)


def ranked_election(options: Sequence[str], seats: int, records_data: bytes, lot_seed: bytes) -> Election:
    """The election the records of a ranked ballot make (identical rankings grouped)."""
    groups: dict[tuple[int, ...], int] = {}
    for _, choice in split_records(records_data, len(options)):
        ranking = ranking_of(choice, len(options))
        groups[ranking] = groups.get(ranking, 0) + 1
    return Election(tuple(options), seats, tuple(sorted(groups.items())), lot_seed=lot_seed)


def approval_choice(chosen: Iterable[int], options: int) -> bytes:
    bits = 0
    for i in chosen:
        if not 0 <= i < options:
            raise ValueError(f"option {i} is not on the ballot")
        bits |= 1 << i
    return bits.to_bytes(choice_width("approval", options), "little")


def records(ballot: bytes, votes: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The receipt records of ``votes`` (receipt, choice bytes), sorted by digest."""
    return b"".join(sorted(receipt_digest(ballot, receipt) + choice for receipt, choice in votes))


def split_records(data: bytes, width: int) -> list[tuple[bytes, bytes]]:
    size = DIGEST_BYTES + width
    return [(data[i : i + DIGEST_BYTES], data[i + DIGEST_BYTES : i + size]) for i in range(0, len(data), size)]


def _clears(count: int, base: int, threshold: Ratio, reach: str) -> bool:
    if base == 0:
        return False
    left, right = count * threshold.den, threshold.num * base
    return left > right if reach == "more_than" else left >= right


def quorate(cast: int, electorate: int, quorum: Ratio) -> bool:
    return electorate > 0 and cast * quorum.den >= quorum.num * electorate


def decide(method: str, counts: Sequence[int], cast: int, electorate: int, rules: BallotRules
           ) -> tuple[str, list[int]]:  # fmt: skip
    """(outcome, chosen options) from the counts, exactly as every node recomputes it."""
    if not quorate(cast, electorate, rules.quorum):
        return "not_quorate", []
    if method == "for_against_abstain":
        yes, no, abstain = counts
        base = {"for_against": yes + no, "cast": yes + no + abstain, "electorate": electorate}[rules.base]
        return ("carried" if _clears(yes, base, rules.threshold, rules.reach) else "lost"), []
    base = cast if rules.base == "cast" else electorate
    clearing = [i for i, n in enumerate(counts) if _clears(n, base, rules.threshold, rules.reach)]
    if not clearing:
        return "lost", []
    most = max(counts[i] for i in clearing)
    chosen = [i for i in clearing if counts[i] == most]
    return ("chosen" if len(chosen) == 1 else "tied"), chosen


def tally(method: str, options: int, records_data: bytes) -> tuple[list[int], int]:
    """(counts, votes cast) from receipt records; ValueError naming what is wrong."""
    width = choice_width(method, options)
    if len(records_data) % (DIGEST_BYTES + width):
        raise ValueError(f"receipts are not whole records of {DIGEST_BYTES + width} bytes")
    if method == "for_against_abstain":  # the common case, in C: each check again below if it fails
        size = DIGEST_BYTES + width
        digests = [records_data[i : i + DIGEST_BYTES] for i in range(0, len(records_data), size)]
        choices = records_data[DIGEST_BYTES::size]
        fast = [choices.count(FOR), choices.count(AGAINST), choices.count(ABSTAIN)]
        if sum(fast) == len(choices) and all(map(bytes.__lt__, digests, digests[1:])):
            return fast, len(choices)
    counts = [0] * (3 if method == "for_against_abstain" else options)
    previous = b""
    cast = 0
    for digest, choice in split_records(records_data, width):
        if digest <= previous:
            raise ValueError(f"receipt record {cast + 1} is out of order or repeats a digest")
        previous = digest
        value = int.from_bytes(choice, "little")
        if method == "ranked":
            try:
                ranking = ranking_of(choice, options)
            except ValueError as exc:
                raise ValueError(f"receipt record {cast + 1} {exc}") from None
            if ranking:
                counts[ranking[0]] += 1
        elif method == "for_against_abstain":
            if value > ABSTAIN:
                raise ValueError(f"receipt record {cast + 1} holds choice {value}, not for, against or abstain")
            counts[value] += 1
        else:
            if value >> options:
                raise ValueError(f"receipt record {cast + 1} approves an option that is not on the ballot")
            for i in range(options):
                counts[i] += (value >> i) & 1
        cast += 1
    return counts, cast


def _bad(message: str, field: str) -> DecodeFailure:
    return DecodeFailure(Code.BAD_DECISION, message, f"body.{field}")


def check_decision(body: Decision) -> None:
    """Every rule a decision must keep by itself; DecodeFailure ``bad_decision`` naming the
    first that fails. (That the roll and the ballot exist is for the node, not this check.)"""
    rules = body.rules
    for name in ("quorum", "threshold"):
        ratio: Ratio = getattr(rules, name)
        if ratio.num > ratio.den:
            raise _bad(f"the {name} is more than 1", f"rules.{name}")
    options = len(body.options)
    if body.method != "ranked" and (body.seats or body.counting or body.selection is not None):
        raise _bad("seats, counting and selection belong to ranked ballots", "seats")
    if body.method == "ranked":
        _check_ranked_shape(body)
    elif body.method == "for_against_abstain":
        if options or body.chosen:
            raise _bad("a for/against/abstain ballot has no options and chooses none", "options")
        if len(body.counts) != 3:
            raise _bad("a for/against/abstain ballot counts three choices", "counts")
    else:
        if not 2 <= options <= MAX_OPTIONS or len(set(body.options)) != options:
            raise _bad(f"an approval ballot has 2 to {MAX_OPTIONS} different options", "options")
        if rules.base == "for_against":
            raise _bad("an approval ballot has no for and against: its base is cast or electorate", "rules.base")
        if len(body.counts) != options:
            raise _bad("an approval ballot counts each option", "counts")
    if body.closed < body.opened:
        raise _bad("the ballot closed before it opened", "closed")
    if (body.participations is None) != (body.signed is None):
        raise _bad("a decision commits to its participations and says how many were signed, or neither",
                   "participations" if body.participations is None else "signed")  # fmt: skip
    if body.parts:
        _check_in_parts(body)
        return
    if body.cast is not None:
        raise _bad("only a decision in parts states the votes it counted: the others' receipts say", "cast")
    try:
        counts, cast = tally(body.method, options, body.receipts)
    except ValueError as exc:
        raise _bad(str(exc), "receipts") from None
    if cast > body.electorate:
        raise _bad(f"{cast} votes from an electorate of {body.electorate}", "receipts")
    if body.signed is not None and body.signed > cast:
        raise _bad(f"{body.signed} signed participations of {cast} votes", "signed")
    if counts != list(body.counts):
        raise _bad(f"the counts {list(body.counts)} are not those of the receipts, {counts}", "counts")
    if body.method == "ranked":
        outcome, chosen = decide_ranked(body, cast)
    else:
        outcome, chosen = decide(body.method, counts, cast, body.electorate, rules)
    check_outcome(body, outcome, chosen)


def check_outcome(body: Decision, outcome: str, chosen: list[int]) -> None:
    """The outcome a decision states against the one its counts and rules give (``bad_decision``)."""
    if (outcome, chosen) != (body.outcome, list(body.chosen)):
        said = body.outcome + (f" {list(body.chosen)}" if body.chosen else "")
        follows = outcome + (f" {chosen}" if chosen else "")
        raise _bad(f"the outcome is {said}, but the counts and rules give {follows}", "outcome")


def _check_in_parts(body: Decision) -> None:
    """A decision in parts (:mod:`protocol.parts`), as far as it can be checked alone: its
    counts against the votes it says it counted, and its outcome where the counts give it
    (a ranked ballot's winners are counted from the parts' records, when they are held)."""
    cast = body.cast
    if cast is None:
        raise _bad("a decision in parts states how many votes it counted", "cast")
    if body.receipts:
        raise _bad("a decision in parts carries its receipts in its parts, not itself", "receipts")
    if cast > body.electorate:
        raise _bad(f"{cast} votes from an electorate of {body.electorate}", "cast")
    if body.signed is not None and body.signed > cast:
        raise _bad(f"{body.signed} signed participations of {cast} votes", "signed")
    counts = list(body.counts)
    if body.method == "for_against_abstain" and sum(counts) != cast:
        raise _bad(f"the counts add up to {sum(counts)}, not the {cast} votes counted", "counts")
    if body.method == "approval" and max(counts) > cast:
        raise _bad(f"an option approved {max(counts)} times in {cast} votes", "counts")
    if body.method == "ranked" and sum(counts) > cast:
        raise _bad(f"{sum(counts)} first preferences in {cast} votes", "counts")
    if body.method != "ranked":
        check_outcome(body, *decide(body.method, counts, cast, body.electorate, body.rules))
    elif body.selection is not None:
        check_outcome(body, "bundled", [])
    elif not quorate(cast, body.electorate, body.rules.quorum):
        check_outcome(body, "not_quorate", [])
    elif body.outcome not in ("elected", "lost"):
        raise _bad(f"the outcome is {body.outcome}: a quorate ranked ballot is elected or lost", "outcome")


def votes_counted(decision: Decision) -> int:
    """How many votes a decision counted: its records, or, in parts, what it states."""
    if decision.parts:
        return decision.cast or 0
    return len(decision.receipts) // (DIGEST_BYTES + choice_width(decision.method, len(decision.options)))


def check_against_roll(decision: Envelope, roll: Envelope) -> None:
    """A decision against the roll it names (``body.roll``), both held: the roll is its
    author's own, froze this ballot's electorate, and counts what the decision calls its
    electorate (which sets the quorum). ChainFailure ``wrong_roll`` naming what differs."""
    body = decision.payload.body
    assert isinstance(body, Decision)
    frozen = roll.payload.body
    if roll.id != body.roll or not isinstance(frozen, Roll):
        raise ChainFailure(Code.WRONG_ROLL, "the envelope it names as its roll is not a roll", "body.roll")
    if roll.author != decision.author:
        raise ChainFailure(Code.WRONG_ROLL, "its roll is another body's: a body decides on its own roll", "body.roll")
    if frozen.ballot != body.ballot:
        raise ChainFailure(Code.WRONG_ROLL, "its roll froze the electorate of another ballot", "body.roll")
    if frozen.count != body.electorate:
        raise ChainFailure(Code.WRONG_ROLL, f"an electorate of {body.electorate} where its roll counts "
                           f"{frozen.count}", "body.electorate")  # fmt: skip
    if frozen.keyed is not None and frozen.keyed > frozen.count:
        raise ChainFailure(Code.WRONG_ROLL, f"its roll says {frozen.keyed} of {frozen.count} members hold a key",
                           "body.roll")  # fmt: skip
    if body.signed is not None:
        if frozen.keyed is None:
            raise ChainFailure(Code.WRONG_ROLL, "it counts signed participations, but its roll commits to no keys",
                               "body.signed")  # fmt: skip
        if body.signed > frozen.keyed:
            raise ChainFailure(Code.WRONG_ROLL, f"{body.signed} signed participations where its roll has "
                               f"{frozen.keyed} members holding a key", "body.signed")  # fmt: skip


class FirstDecisions:
    """Fed decisions in author and sequence order: :meth:`later` is True for each one after
    the first that its author signed on its ballot (the first counts, each later one is
    ``decision_twice``). Holds one author's ballots at a time."""

    def __init__(self) -> None:
        self._author: bytes | None = None
        self._ballots: set[bytes] = set()

    def later(self, decision: Envelope) -> bool:
        body = decision.payload.body
        assert isinstance(body, Decision)
        if decision.author != self._author:
            self._author, self._ballots = decision.author, set()
        if body.ballot in self._ballots:
            return True
        self._ballots.add(body.ballot)
        return False


def repeated_decisions(envelopes: Iterable[Envelope]) -> list[Envelope]:
    """Every decision after the first (by sequence) that one author signed on one ballot:
    the first counts, each later one is a finding (``decision_twice``)."""
    first = FirstDecisions()
    ordered = sorted((e for e in envelopes if isinstance(e.payload.body, Decision)), key=lambda e: (e.author, e.seq))
    return [e for e in ordered if first.later(e)]


def _check_ranked_shape(body: Decision) -> None:
    options = len(body.options)
    if not 2 <= options <= MAX_OPTIONS or len(set(body.options)) != options:
        raise _bad(f"a ranked ballot has 2 to {MAX_OPTIONS} different options", "options")
    if len(body.counts) != options:
        raise _bad("a ranked ballot counts each option's first preferences", "counts")
    if not body.counting:
        raise _bad("a ranked ballot says how it is counted: stv, meek, irv or schulze", "counting")
    if not 1 <= body.seats <= options:
        raise _bad(f"a ranked ballot fills 1 to {options} seats", "seats")
    if body.counting == "irv" and body.seats != 1:
        raise _bad("instant runoff fills one seat", "seats")


def decide_ranked(body: Decision, cast: int) -> tuple[str, list[int]]:
    """(outcome, winners in order of election) of a ranked ballot's records."""
    if body.selection is not None:
        return "bundled", []
    if not quorate(cast, body.electorate, body.rules.quorum):
        return "not_quorate", []
    election = ranked_election(body.options, body.seats, body.receipts, body.ballot)
    try:
        return "elected", count(body.counting, election).winners
    except CountError:  # no ballot ranks anyone: nobody is elected
        return "lost", []


def roll_leaf(salt: bytes, member: int) -> bytes:
    """One member's leaf in a roll: salted, so the roll says nothing of who (the member's
    id on the node, 8 bytes big-endian, after a 32-byte random salt kept on the node)."""
    return leaf_hash(b"branchnet roll leaf v1\x00" + salt + member.to_bytes(8, "big"))
