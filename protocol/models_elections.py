"""Elections: a body's selection, its nominations, its ballot paper and its result, round by
round (docs/elections.md; protocol.selections)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from protocol.model_base import Hash, Name, Text, TimeMs, _Body, _intern, _Object
from protocol.models_decisions import MAX_OPTIONS, MAX_PARTS, Count, PartCount
from protocol.models_keys import SignedConsent

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
    category a balancing rule reads. ``consent``: the candidate's own signed consent, checked
    by every node against the author's roll (absent: the author's node vouches for it alone;
    refused where the rules say ``signed_consent``)."""

    selection: Hash
    candidate: Name
    statement: Text
    consented: TimeMs
    category: Annotated[str, Meta(max_length=64)] = ""
    consent: SignedConsent | None = None


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
    # A result in parts (protocol.parts): the bundles it cites are listed by the ``parts``
    # envelopes just before it in its author's log; its own ``bundles`` are then empty.
    parts: PartCount = 0


class ResultPart(_Body, frozen=True, tag="result_part"):
    """One part of the bundles a selection result cites (protocol.parts): part ``part`` (from
    1) of the result for ``selection`` that follows the parts in its author's log."""

    selection: Hash
    part: Annotated[int, Meta(ge=1, le=MAX_PARTS)]
    bundles: Annotated[list[Hash], Meta(min_length=1, max_length=MAX_BUNDLES)]
