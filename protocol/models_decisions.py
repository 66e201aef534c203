"""A branch decides: the rules a ballot is decided by, the roll that froze its electorate,
and the decision that records its count (docs/decisions.md; protocol.ballots)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from protocol.model_base import Hash, Name, Ratio, TimeMs, _Body, _intern, _Object

BallotId = Annotated[bytes, Meta(min_length=16, max_length=16)]
Count = Annotated[int, Meta(ge=0, le=10_000_000)]
MajorityBase = Literal["for_against", "cast", "electorate"]
Method = Literal["for_against_abstain", "approval", "ranked"]
# "elected": a ranked ballot counted on its own; "bundled": a branch's ranked ballots for a
# body's selection, counted by the body with every other branch's (protocol.selections).
Outcome = Literal["carried", "lost", "not_quorate", "chosen", "tied", "elected", "bundled"]
Counting = Literal["", "stv", "meek", "irv", "schulze"]
MAX_OPTIONS = 16
# A decision's receipt records (protocol.ballots): 8 bytes of digest and the choice.
MAX_RECEIPT_BYTES = 60_000
# A decision in parts (protocol.parts): 10,000,000 ranked records of 16 candidates fill 4,000.
MAX_PARTS = 5_000
PartCount = Annotated[int, Meta(ge=0, le=MAX_PARTS)]


class BallotRules(_Object, frozen=True):
    """How a ballot is decided (docs/decisions.md):

    * ``quorum``: the share of the electorate that must take part (votes cast, abstentions
      included), a test of its own: below it the ballot is ``not_quorate``;
    * ``base``: what the threshold is a share of: ``for_against`` (abstentions ignored),
      ``cast`` (all votes cast: an abstention counts against) or ``electorate`` (everyone
      entitled to vote);
    * ``threshold`` and ``reach``: "for" must be ``more_than`` or ``at_least`` the threshold's
      share of the base: more than 1/2 is a simple majority, at least 2/3 the usual majority
      for changing rules.

    (Choices are strings, not booleans: version 1 payloads hold no booleans.)"""

    quorum: Ratio
    threshold: Ratio
    base: MajorityBase = "for_against"
    reach: Literal["more_than", "at_least"] = "more_than"

    def __post_init__(self) -> None:
        _intern(self, "base", "reach")


class Roll(_Body, frozen=True, tag="roll"):
    """The author body's membership roll: how many members were in good standing at
    ``as_of``, and a commitment to who (an RFC 6962 tree head over one salted leaf per
    member, sorted by leaf hash; the salts stay on the node). No personal data."""

    count: Count
    root: Hash
    as_of: TimeMs
    ballot: BallotId | None = None  # the ballot this roll froze the electorate of, if any
    # Present: the leaves are version 2 (protocol.member_keys.roll_leaf_v2: each commits to its
    # member's own keys), and this many members held a key. Absent: version 1 leaves.
    keyed: Count | None = None


class Decision(_Body, frozen=True, tag="decision"):
    """A ballot of the author body, closed and counted: what was decided (the motion's or
    amendment's id on the node, its title and the SHA-256 of the exact text), how (method,
    rules, secret or open), by whom (the electorate and the roll it came from), the counts,
    the outcome, and one receipt record per vote counted (:mod:`protocol.ballots`), so that
    anyone can recount and each voter can find their own vote."""

    ballot: BallotId
    motion: Annotated[str, Meta(min_length=1, max_length=64)]
    subject: Name
    text_hash: Hash
    method: Method
    rules: BallotRules
    electorate: Count
    roll: Hash
    opened: TimeMs
    closed: TimeMs
    counts: Annotated[list[Count], Meta(max_length=MAX_OPTIONS)]
    receipts: Annotated[bytes, Meta(max_length=MAX_RECEIPT_BYTES)]
    outcome: Outcome
    amendment: Annotated[str, Meta(max_length=64)] = ""
    options: Annotated[list[Name], Meta(max_length=MAX_OPTIONS)] = []
    chosen: Annotated[list[Annotated[int, Meta(ge=0, lt=MAX_OPTIONS)]], Meta(max_length=MAX_OPTIONS)] = []
    secrecy: Literal["open", "secret"] = "open"
    # Ranked ballots only (fields added with defaults): seats filled, how counted, and the
    # selection these ballots are a bundle for (then counted by the body, not here).
    seats: Annotated[int, Meta(ge=0, le=MAX_OPTIONS)] = 0
    counting: Counting = ""
    selection: Hash | None = None
    # Members' own keys (protocol.member_keys; both or neither): the tree head over every
    # vote's participation (its voter's roll leaf, and the digest of their signed statement
    # if signed), and how many of the votes were signed by their voter's own key.
    participations: Hash | None = None
    signed: Count | None = None
    # A decision in parts (protocol.parts; both or neither): its receipt records are carried
    # by the ``parts`` envelopes just before it in its author's log, and it counted ``cast``
    # votes. Its own ``receipts`` are then empty.
    parts: PartCount = 0
    cast: Count | None = None

    def __post_init__(self) -> None:
        _intern(self, "secrecy", "counting")


class DecisionPart(_Body, frozen=True, tag="decision_part"):
    """One part of a decision's receipt records (protocol.parts): part ``part`` (from 1) of
    the decision on ``ballot`` that follows the parts in its author's log; the method and
    the number of options say how the records read, ``counts`` is what they count (checked
    on arrival, each part alone)."""

    ballot: BallotId
    part: Annotated[int, Meta(ge=1, le=MAX_PARTS)]
    method: Method
    options: Annotated[int, Meta(ge=0, le=MAX_OPTIONS)]
    counts: Annotated[list[Count], Meta(max_length=MAX_OPTIONS)]
    receipts: Annotated[bytes, Meta(min_length=1, max_length=MAX_RECEIPT_BYTES)]
