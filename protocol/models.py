"""The signed object model: the payload every envelope carries, and its body kinds.

Every Struct here encodes as a msgpack map whose keys are the field names sorted by
their bytes, with fields equal to their default left out (see :mod:`protocol.encoding`).
The body is a tagged union: the ``kind`` key names the Struct.

Schema evolution (docs/protocol.md, "Evolution"):

* a new kind is a new Struct with a new tag, appended to :data:`Body`;
* a new field is added to an existing kind only with a default, so that every object
  signed before it keeps exactly its bytes and its id (defaults are never encoded);
* a field is never removed, renamed, retyped or given a new meaning;
* a node that meets a kind or a field it does not know rejects the object with
  ``unknown_kind`` / ``unknown_field`` (it does not guess) and can hold it until upgraded.

Limits on lengths are part of the types (``Meta``), so the decoder enforces them.
"""

from __future__ import annotations

import sys
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# --- limits (docs/protocol.md, "Limits") -------------------------------------------------
MAX_ENVELOPE_BYTES = 64 * 1024
# A fork proof carries two whole envelopes, so it may be a little over twice the limit.
MAX_FORK_PROOF_ENVELOPE_BYTES = 2 * MAX_ENVELOPE_BYTES + 1024
MAX_TIME_MS = 2**48  # about the year 10889
MAX_SEQ = 2**53

Key = Annotated[bytes, Meta(min_length=32, max_length=32)]
Hash = Annotated[bytes, Meta(min_length=32, max_length=32)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(max_length=2000)]
Url = Annotated[str, Meta(min_length=8, max_length=2048, pattern=r"^https?://[^\s]+\Z")]
Level = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,31}\Z")]
Seq = Annotated[int, Meta(ge=1, le=MAX_SEQ)]
TimeMs = Annotated[int, Meta(ge=0, le=MAX_TIME_MS)]
EnvelopeBytes = Annotated[bytes, Meta(min_length=1, max_length=MAX_ENVELOPE_BYTES)]


class _Object(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every encoded Struct: immutable, strict, defaults omitted."""


def _intern(obj: _Object, *names: str) -> None:
    """Intern string fields that have a non-empty default. msgspec leaves a field out when it
    *is* its default (the same object), so an equal string made elsewhere (read from a
    database, or decoded from a payload that wrote the default out) would be encoded: two
    byte strings for one object, and a non-canonical payload accepted. Interned, it is the
    default, whichever way it came."""
    for name in names:
        msgspec.structs.force_setattr(obj, name, sys.intern(getattr(obj, name)))


class Ratio(_Object, frozen=True):
    """An exact fraction ``num/den`` (signed data never holds floats)."""

    num: Annotated[int, Meta(ge=0, le=1_000_000)]
    den: Annotated[int, Meta(ge=1, le=1_000_000)]


class CharterRule(_Object, frozen=True):
    """A body of level ``parent`` may charter a body of level ``child``."""

    parent: Level
    child: Level


Weighting = Literal["card_vote", "one_branch_one_vote"]


class Quota(_Object, frozen=True):
    """How much one author may sign: a bucket holding one day's allowance of envelopes and of
    bytes, refilled continuously along the author's own log by ``created`` time
    (:mod:`protocol.quota`). A day's bytes hold at least one envelope of the largest kind."""

    envelopes_per_day: Annotated[int, Meta(ge=1, le=10_000_000)]
    bytes_per_day: Annotated[int, Meta(ge=MAX_FORK_PROOF_ENVELOPE_BYTES, le=2**40)]


class Rules(_Object, frozen=True):
    """The federation's standing rules, fixed in its genesis."""

    levels: Annotated[list[Level], Meta(min_length=1, max_length=16)]
    charter_rules: Annotated[list[CharterRule], Meta(max_length=64)]
    weighting: Weighting
    quorum: Ratio  # share of the eligible electorate that must take part
    threshold: Ratio  # share of valid for+against votes that "for" must exceed
    quota: Quota | None = None  # absent: protocol.quota.DEFAULT_QUOTA (a field added with a default)


class _Body(_Object, frozen=True, tag_field="kind"):
    """Base of the body kinds; the tag key is ``kind``."""


class Genesis(_Body, frozen=True, tag="genesis"):
    """The founding document and trust root. Its author is the founding body."""

    name: Name
    founder_name: Name
    founder_level: Level
    rules: Rules
    description: Text = ""


class Charter(_Body, frozen=True, tag="charter"):
    """The author (parent body) admits a child node: binds its key, name and level."""

    key: Key
    name: Name
    level: Level
    url: Url | None = None


class Revocation(_Body, frozen=True, tag="revocation"):
    """The author (parent body) revokes a child key: its envelopes with
    ``seq > after_seq`` are no longer accepted (0 revokes everything it signed)."""

    key: Key
    after_seq: Annotated[int, Meta(ge=0, le=MAX_SEQ)]
    reason: Text = ""


class KeyRotation(_Body, frozen=True, tag="key_rotation"):
    """The author's old key hands over to ``new_key``. ``proof`` is the new key's
    signature over the rotation (see :func:`protocol.envelope.rotation_message`), so
    nobody can rotate to a key they do not hold."""

    new_key: Key
    proof: Annotated[bytes, Meta(min_length=64, max_length=64)]


class NodeProfile(_Body, frozen=True, tag="node_profile"):
    """How to reach the author and what to call it."""

    name: Name
    endpoints: Annotated[list[Url], Meta(min_length=1, max_length=8)]
    contact: Text = ""


class ForkProof(_Body, frozen=True, tag="fork_proof"):
    """Two envelopes by one author with one sequence number and different ids.

    ``a`` has the smaller id, so one pair has exactly one proof."""

    a: EnvelopeBytes
    b: EnvelopeBytes


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

    def __post_init__(self) -> None:
        _intern(self, "secrecy", "counting")


# --- decisions go up (docs/decisions.md, "Decisions go up"; protocol.upward) --------------
MotionText = Annotated[str, Meta(min_length=1, max_length=20_000)]
Sources = Annotated[list[Hash], Meta(max_length=64)]
Weight = Annotated[int, Meta(ge=0, le=2**53)]
AgendaWeighting = Literal["card_vote", "one_branch_one_vote", "delegates"]
Position = Literal["for", "against", "abstain", "split", "free"]
# An aggregate's records: 12 bytes each (protocol.upward), 5,000 children in all.
MAX_AGGREGATE_RECORD_BYTES = 60_000


class Submission(_Body, frozen=True, tag="submission"):
    """The author body submits a motion it carried to an ancestor body (``to``): the text it
    carried and the decision that carried it."""

    to: Key
    decision: Hash
    title: Name
    text: MotionText


class AgendaItem(_Body, frozen=True, tag="agenda_item"):
    """The author body puts a question to its direct children: each may send a mandate on it
    from ``opens`` until ``closes``; the aggregate weighs them by ``weighting`` and decides by
    ``rules``. ``sources`` are the submissions it comes from (none: the body's own motion);
    ``composite`` the composite they were merged by, if any."""

    title: Name
    text: MotionText
    opens: TimeMs
    closes: TimeMs
    weighting: AgendaWeighting
    rules: BallotRules
    sources: Sources = []
    composite: Hash | None = None


class Ruling(_Body, frozen=True, tag="ruling"):
    """The author body rules a submission to it out of order, with its reason."""

    submission: Hash
    reason: Name


class Composite(_Body, frozen=True, tag="composite"):
    """The author body proposes one text in place of several submissions to it; each source
    body answers with a :class:`Consent`."""

    title: Name
    text: MotionText
    sources: Annotated[list[Hash], Meta(min_length=2, max_length=64)]


class Consent(_Body, frozen=True, tag="consent"):
    """A source body's answer to a composite of its submission: ``consent``, ``refuse`` (its
    motion stands on its own) or ``withdraw`` (its motion is withdrawn)."""

    composite: Hash
    submission: Hash
    answer: Literal["consent", "refuse", "withdraw"]


class Delegates(_Body, frozen=True, tag="delegates"):
    """The author body's delegates to the higher body ``to``: how many, and the names of those
    who consented to be named (the others are "delegate 1, 2 ..."). ``election``, when set, is
    the author's decision (a ranked ballot) that elected them: the names are its winners."""

    to: Key
    count: Count
    names: Annotated[list[Name], Meta(max_length=64)] = []
    election: Hash | None = None


class Mandate(_Body, frozen=True, tag="mandate"):
    """The author body's instruction on an agenda item of its parent body, following from
    ``basis``: its own decision on the item's text, or (a body carrying its own aggregate
    upward) its aggregate on an item with that text. ``split`` (with ``position`` split) gives
    the for, against and abstain counts the weight is shared by. ``replaces`` is the author's
    earlier mandate on the item this one replaces."""

    item: Hash
    position: Position
    basis: Hash
    split: Annotated[list[Weight], Meta(max_length=3)] = []
    replaces: Hash | None = None


class Aggregate(_Body, frozen=True, tag="aggregate"):
    """The author body's total on its agenda item ``item``: every mandate counted with the
    weight given it, every direct child that sent none with its weight (``absent``), the
    weighted totals, the turnout and the outcome (protocol.upward). ``cited`` is the SHA-256
    of the full ids of the counted mandates, in record order."""

    item: Hash
    weighting: AgendaWeighting
    rules: BallotRules
    closes: TimeMs
    counted: Annotated[bytes, Meta(max_length=MAX_AGGREGATE_RECORD_BYTES)]
    absent: Annotated[bytes, Meta(max_length=MAX_AGGREGATE_RECORD_BYTES)]
    cited: Hash
    votes: Annotated[list[Weight], Meta(min_length=3, max_length=3)]
    weight_sent: Weight
    weight_all: Weight
    outcome: Outcome


class Campaign(_Body, frozen=True, tag="campaign"):
    """A local struggle the author body publishes: what it is, what it asks of others, when,
    and how to reach it (through the body: ``contact`` is the body's, never a member's)."""

    title: Name
    text: Text
    asks: Text
    starts: TimeMs
    ends: TimeMs | None = None
    contact: Text = ""


class Pledge(_Body, frozen=True, tag="pledge"):
    """The author body pledges support to a campaign: what it pledges."""

    campaign: Hash
    text: Text


# --- elections (docs/elections.md; protocol.selections) -------------------------------------
SelectionMethod = Literal["stv", "meek"]
Candidates = Annotated[list[Name], Meta(min_length=2, max_length=MAX_OPTIONS)]
Places = Annotated[list[Annotated[int, Meta(ge=0, lt=MAX_OPTIONS)]], Meta(max_length=MAX_OPTIONS)]
Units = Annotated[int, Meta(ge=0, le=2**62)]
MAX_BUNDLES = 1500  # a result cites each by its 32-byte id: 1,500 branches fit one envelope


class Selection(_Body, frozen=True, tag="selection"):
    """The author body chooses ``seats`` for ``office`` by its members' ranked ballots, run in
    each direct child: nominations (by the children, with each candidate's consent) until
    ``nominations_close``, ballots until ``voting_close``, counted by ``method``.
    ``reopen`` puts "re-open nominations" on the ballot; ``balancing`` is the rule the
    ordered list is balanced by (declared now, before the vote; "" none)."""

    office: Name
    seats: Annotated[int, Meta(ge=1, lt=MAX_OPTIONS)]
    method: SelectionMethod
    nominations_close: TimeMs
    voting_close: TimeMs
    reopen: Literal["on", "off"]
    balancing: Literal["", "alternate"] = ""
    text: Text = ""

    def __post_init__(self) -> None:
        _intern(self, "balancing")


class Nomination(_Body, frozen=True, tag="nomination"):
    """The author body nominates ``candidate`` for ``selection``: the candidate consented on
    the author's node at ``consented``, with ``statement``; ``category`` is the declared
    category a balancing rule reads."""

    selection: Hash
    candidate: Name
    statement: Text
    consented: TimeMs
    category: Annotated[str, Meta(max_length=64)] = ""


class BallotPaper(_Body, frozen=True, tag="ballot_paper"):
    """The selection's ballot, fixed by the selecting body after nominations close: the
    candidates in this order (each from the nomination in the same place of ``nominations``,
    then "re-open nominations" when on). Every branch's ballot has exactly these options."""

    selection: Hash
    candidates: Candidates
    nominations: Annotated[list[Hash], Meta(max_length=MAX_OPTIONS)]


class Round(_Object, frozen=True):
    """One stage of a selection's count (protocol.counting.Stage), every value a whole number
    of units (10**-5 of a vote for Scottish STV, 10**-9 for Meek), votes in ballot order."""

    action: Literal["first", "surplus", "exclusion", "elected", "round"]
    votes: Annotated[list[Units], Meta(max_length=MAX_OPTIONS)]
    exhausted: Units
    candidate: Annotated[int, Meta(ge=0, lt=MAX_OPTIONS)] | None = None
    elected: Places = []
    excluded: Places = []
    transfer_value: Units = 0
    loss: Units = 0
    quota: Units = 0
    keep: Annotated[list[Units], Meta(max_length=MAX_OPTIONS)] = []
    note: Text = ""


class SelectionResult(_Body, frozen=True, tag="selection_result"):
    """The selecting body's count of every bundle (a child's ``bundled`` decision) cast on
    ``paper``: which it counted (``bundles``, sorted), how many ballots, the quota, every
    round, the winners in order of election, and the ordered list by successive counts before
    and after the declared balancing. Anyone holding the bundles can count them again."""

    selection: Hash
    paper: Hash
    bundles: Annotated[list[Hash], Meta(max_length=MAX_BUNDLES)]
    ballots: Count
    quota: Units
    rounds: Annotated[list[Round], Meta(max_length=256)]
    winners: Places
    order: Places = []
    balanced: Places = []


Body = (Genesis | Charter | Revocation | KeyRotation | NodeProfile | ForkProof | Roll | Decision | Submission
        | AgendaItem | Ruling | Composite | Consent | Delegates | Mandate | Aggregate | Campaign | Pledge | Selection
        | Nomination | BallotPaper | SelectionResult)  # fmt: skip
KINDS: tuple[str, ...] = ("genesis", "charter", "revocation", "key_rotation", "node_profile", "fork_proof", "roll",
                          "decision", "submission", "agenda_item", "ruling", "composite", "consent", "delegates",
                          "mandate", "aggregate", "campaign", "pledge", "selection", "nomination", "ballot_paper",
                          "selection_result")  # fmt: skip


class Payload(_Object, frozen=True):
    """What the author signs: the envelope header and the body.

    ``federation`` is the id of the federation's genesis envelope; it is absent only in
    the genesis itself. ``prev`` is the id of the author's previous envelope; absent
    exactly when ``seq`` is 1."""

    author: Key
    seq: Seq
    created: TimeMs
    body: Body
    federation: Hash | None = None
    prev: Hash | None = None


class Envelope(msgspec.Struct, frozen=True):
    """A verified envelope: the decoded payload plus the exact bytes it came from.

    Made only by :func:`protocol.envelope.open_envelope` and
    :func:`protocol.envelope.seal`, so holding one means every check passed."""

    id: bytes
    raw: bytes
    payload: Payload
    signature: bytes

    @property
    def author(self) -> bytes:
        return self.payload.author

    @property
    def seq(self) -> int:
        return self.payload.seq

    @property
    def kind(self) -> str:
        return kind_of(self.payload.body)


TAG_OF: dict[type, str] = {
    cls: str(cls.__struct_config__.tag)
    for cls in (
        Genesis,
        Charter,
        Revocation,
        KeyRotation,
        NodeProfile,
        ForkProof,
        Roll,
        Decision,
        Submission,
        AgendaItem,
        Ruling,
        Composite,
        Consent,
        Delegates,
        Mandate,
        Aggregate,
        Campaign,
        Pledge,
        Selection,
        Nomination,
        BallotPaper,
        SelectionResult,
    )
}
assert tuple(TAG_OF.values()) == KINDS


def kind_of(body: Body) -> str:
    """The wire tag of a body (looked up: this runs for every envelope stored)."""
    return TAG_OF[type(body)]
