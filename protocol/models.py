"""The signed object model: the payload every envelope carries, and the union of its body kinds.

The kinds live by what they are about (:mod:`protocol.models_federation`,
:mod:`protocol.models_decisions`, :mod:`protocol.models_upward`,
:mod:`protocol.models_elections`, on :mod:`protocol.model_base`); every name is
imported here, so ``protocol.models`` stays the one place to import them from.

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

import msgspec

from protocol.model_base import (
    MAX_ENVELOPE_BYTES,
    MAX_FORK_PROOF_ENVELOPE_BYTES,
    MAX_SEQ,
    MAX_TIME_MS,
    EnvelopeBytes,
    Hash,
    Key,
    Level,
    Name,
    Ratio,
    Seq,
    Text,
    TimeMs,
    Url,
    _Object,
)
from protocol.models_decisions import (
    MAX_OPTIONS,
    MAX_PARTS,
    MAX_RECEIPT_BYTES,
    BallotId,
    BallotRules,
    Count,
    Counting,
    Decision,
    DecisionPart,
    MajorityBase,
    Method,
    Outcome,
    Roll,
)
from protocol.models_elections import (
    MAX_BUNDLES,
    BallotPaper,
    Candidates,
    Nomination,
    Places,
    ResultPart,
    Round,
    Selection,
    SelectionMethod,
    SelectionResult,
    Units,
)
from protocol.models_federation import (
    Charter,
    CharterRule,
    ForkProof,
    Freeze,
    Genesis,
    KeyRotation,
    NodeProfile,
    Quota,
    Revocation,
    Rules,
    RulesChange,
    Weighting,
)
from protocol.models_upward import (
    MAX_AGGREGATE_RECORD_BYTES,
    AgendaItem,
    AgendaWeighting,
    Aggregate,
    Campaign,
    Composite,
    Consent,
    Delegates,
    Mandate,
    MotionText,
    Pledge,
    Position,
    Ruling,
    Sources,
    Submission,
    Weight,
    Withdrawal,
)

Body = (Genesis | Charter | Revocation | KeyRotation | NodeProfile | ForkProof | Roll | Decision | Submission
        | AgendaItem | Ruling | Composite | Consent | Delegates | Mandate | Aggregate | Campaign | Pledge | Selection
        | Nomination | BallotPaper | SelectionResult | Withdrawal | Freeze | RulesChange | DecisionPart
        | ResultPart)  # fmt: skip
KINDS: tuple[str, ...] = ("genesis", "charter", "revocation", "key_rotation", "node_profile", "fork_proof", "roll",
                          "decision", "submission", "agenda_item", "ruling", "composite", "consent", "delegates",
                          "mandate", "aggregate", "campaign", "pledge", "selection", "nomination", "ballot_paper",
                          "selection_result", "withdrawal", "freeze", "rules_change", "decision_part",
                          "result_part")  # fmt: skip


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
        Withdrawal,
        Freeze,
        RulesChange,
        DecisionPart,
        ResultPart,
    )
}
assert tuple(TAG_OF.values()) == KINDS


def kind_of(body: Body) -> str:
    """The wire tag of a body (looked up: this runs for every envelope stored)."""
    return TAG_OF[type(body)]


__all__ = [
    "KINDS",
    "MAX_AGGREGATE_RECORD_BYTES",
    "MAX_BUNDLES",
    "MAX_ENVELOPE_BYTES",
    "MAX_FORK_PROOF_ENVELOPE_BYTES",
    "MAX_OPTIONS",
    "MAX_PARTS",
    "MAX_RECEIPT_BYTES",
    "MAX_SEQ",
    "MAX_TIME_MS",
    "TAG_OF",
    "AgendaItem",
    "AgendaWeighting",
    "Aggregate",
    "BallotId",
    "BallotPaper",
    "BallotRules",
    "Body",
    "Campaign",
    "Candidates",
    "Charter",
    "CharterRule",
    "Composite",
    "Consent",
    "Count",
    "Counting",
    "Decision",
    "DecisionPart",
    "Delegates",
    "Envelope",
    "EnvelopeBytes",
    "ForkProof",
    "Freeze",
    "Genesis",
    "Hash",
    "Key",
    "KeyRotation",
    "Level",
    "MajorityBase",
    "Mandate",
    "Method",
    "MotionText",
    "Name",
    "NodeProfile",
    "Nomination",
    "Outcome",
    "Payload",
    "Places",
    "Pledge",
    "Position",
    "Quota",
    "Ratio",
    "ResultPart",
    "Revocation",
    "Roll",
    "Round",
    "Rules",
    "RulesChange",
    "Ruling",
    "Selection",
    "SelectionMethod",
    "SelectionResult",
    "Seq",
    "Sources",
    "Submission",
    "Text",
    "TimeMs",
    "Units",
    "Url",
    "Weight",
    "Weighting",
    "Withdrawal",
    "kind_of",
]
