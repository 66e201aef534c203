"""The federation's own objects: its genesis and standing rules, charters and revocations of
bodies, key rotations, node profiles and fork proofs (docs/protocol.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from protocol.model_base import (
    MAX_FORK_PROOF_ENVELOPE_BYTES,
    MAX_SEQ,
    EnvelopeBytes,
    Hash,
    Key,
    Level,
    Name,
    Ratio,
    Text,
    TimeMs,
    Url,
    _Body,
    _Object,
)


class CharterRule(_Object, frozen=True):
    """A body of level ``parent`` may charter a body of level ``child``."""

    parent: Level
    child: Level


Weighting = Literal["card_vote", "one_branch_one_vote"]
# The acts of power a federation's rules may say need a carried decision of the acting body
# (protocol.authority). Signed acts that exist today: charter, revocation.
AuthorityAct = Literal["charter", "revocation", "rules_change", "officers_delegates"]
BallotKind = Literal["motion", "election", "selection"]


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
    # The acts that must cite their body's carried decision on exactly that act (protocol.authority);
    # absent: none (a federation founded before acts needed authority keeps working).
    authority: Annotated[list[AuthorityAct], Meta(max_length=16)] | None = None
    # A change of these rules (RulesChange) needs at least this share of the weight that voted
    # on it, for (absent: two thirds), and this share of all the weight taking part (absent:
    # ``quorum``) (protocol.authority.rules_change_problem).
    amend_threshold: Ratio | None = None
    amend_quorum: Ratio | None = None
    # The longest an ancestor's officers may freeze a body without a vote (Freeze), in days
    # (absent: 14).
    freeze_days: Annotated[int, Meta(ge=1, le=90)] | None = None
    # The kinds of ballot on which every vote must be signed by its voter's own key
    # (protocol.member_keys; absent: none): ``selection`` (a branch's bundle for a body's
    # selection), ``election`` (a ranked ballot of its own), ``motion`` (any other ballot).
    signed_participation: Annotated[list[BallotKind], Meta(max_length=3)] | None = None
    # Every nomination carries its candidate's own signed consent (Nomination.consent).
    signed_consent: bool = False


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
    decision: Hash | None = None  # the author's carried decision on this charter (protocol.authority)


class Revocation(_Body, frozen=True, tag="revocation"):
    """The author (parent body) revokes a child key: its envelopes with
    ``seq > after_seq`` are no longer accepted (0 revokes everything it signed: where the
    rules list authorities, only with evidence: protocol.authority.needs_authority)."""

    key: Key
    after_seq: Annotated[int, Meta(ge=0, le=MAX_SEQ)]
    reason: Text = ""
    decision: Hash | None = None  # the author's carried decision on this revocation (protocol.authority)
    evidence: Hash | None = None  # a fork proof of ``key`` earlier in the author's own log


class Freeze(_Body, frozen=True, tag="freeze"):
    """An ancestor's officers set a body's envelopes after ``after_seq`` aside at once, while
    its members decide on a revocation: in force until ``until`` (at most the rules'
    ``freeze_days`` after it was signed), then it lapses and what it set aside is taken in,
    unless a revocation cut the body meanwhile (protocol.trust)."""

    key: Key
    after_seq: Annotated[int, Meta(ge=0, le=MAX_SEQ)]
    until: TimeMs
    reason: Text = ""


class RulesChange(_Body, frozen=True, tag="rules_change"):
    """The founding body's new standing rules, in force from this envelope on. ``aggregate``
    is its own aggregate on the agenda item that put exactly this change to its children,
    carried by the rules' amendment threshold (protocol.authority.rules_change_problem)."""

    rules: Rules
    aggregate: Hash


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
