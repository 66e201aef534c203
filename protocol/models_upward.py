"""Decisions go up: submissions, agenda items and their rulings and composites, consents,
delegates, mandates and aggregates; campaigns and pledges between bodies
(docs/decisions.md, "Decisions go up"; protocol.upward)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from protocol.model_base import Hash, Key, Name, Text, TimeMs, _Body
from protocol.models_decisions import BallotRules, Count, Outcome

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
    the author's decision (a ranked ballot) that elected them: the names are its winners.
    Without one it is an officers' record; ``decision`` is then its members' carried decision
    on exactly it, required where the rules list ``officers_delegates`` (protocol.authority)."""

    to: Key
    count: Count
    names: Annotated[list[Name], Meta(max_length=64)] = []
    election: Hash | None = None
    decision: Hash | None = None


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


class Withdrawal(_Body, frozen=True, tag="withdrawal"):
    """The author body withdraws a notice it signed: its own campaign or its own pledge
    (``notice``), with its reason. A withdrawal signed by anyone but the notice's author
    withdraws nothing. The notice stays signed and listed, marked withdrawn; a campaign
    withdrawn takes no more pledges."""

    notice: Hash
    reason: Text = ""
