"""The one error tree of the protocol package.

Every failure the protocol can report is a :class:`ProtocolError` carrying a stable,
machine-readable ``code`` (see :class:`Code`), a human message, and, where one field
is at fault, the path of that field (``body.name``, ``payload.seq``, ...).

    ProtocolError
     ├── DecodeFailure      too_large, malformed, not_canonical, bad_version,
     │                      unknown_kind, unknown_field, bad_field
     ├── SignatureFailure   bad_signature, bad_key
     └── ChainFailure       bad_chain, future_timestamp, fork, wrong_federation, over_quota,
                            wrong_roll, decision_twice

The node maps codes to HTTP statuses and counters, the CLI prints ``diagnostics()``.
Codes are part of the protocol (docs/protocol.md) and never change meaning.
"""

from __future__ import annotations

import enum


class Code(enum.StrEnum):
    """Stable rejection reasons. New codes may be added; existing ones never change."""

    TOO_LARGE = "too_large"
    MALFORMED = "malformed"
    NOT_CANONICAL = "not_canonical"
    BAD_VERSION = "bad_version"
    UNKNOWN_KIND = "unknown_kind"
    UNKNOWN_FIELD = "unknown_field"
    BAD_FIELD = "bad_field"
    BAD_SIGNATURE = "bad_signature"
    BAD_MEMBER_SIGNATURE = "bad_member_signature"  # a member's own key's signature (protocol.member_keys)
    BAD_KEY = "bad_key"
    BAD_CHAIN = "bad_chain"
    FUTURE_TIMESTAMP = "future_timestamp"
    FORK = "fork"
    WRONG_FEDERATION = "wrong_federation"
    OVER_QUOTA = "over_quota"
    BAD_ID_TEXT = "bad_id_text"
    BAD_BUNDLE = "bad_bundle"
    # trust (docs/federation.md): whether the author may speak in this federation
    UNKNOWN_AUTHOR = "unknown_author"
    REVOKED = "revoked"
    FROZEN = "frozen"
    RETIRED = "retired"
    SUSPENDED = "suspended"  # set aside by an interim freeze still in force (protocol.trust)
    NOT_ALLOWED = "not_allowed"
    # acts of power (protocol.authority): an act the rules say needs its body's carried decision
    NO_AUTHORITY = "no_authority"
    WRONG_AUTHORITY = "wrong_authority"
    NO_EVIDENCE = "no_evidence"  # a revocation setting aside a body's past without evidence
    BELOW_AMENDMENT = "below_amendment"  # a rules change its children did not carry by the amendment threshold
    FREEZE_TOO_LONG = "freeze_too_long"  # an interim freeze beyond the rules' limit
    FREEZE_AGAIN = "freeze_again"  # a freeze of a body sooner than the limit after its last one ended
    # decisions (protocol.ballots): a decision that does not add up
    BAD_DECISION = "bad_decision"
    # a decision against the roll it names, where both are held (protocol.ballots)
    WRONG_ROLL = "wrong_roll"
    # a decision in parts (protocol.parts): a part not held where its decision says; a part
    # that is not this decision's (another ballot, place or method)
    MISSING_PART = "missing_part"
    WRONG_PART = "wrong_part"
    # a decision whose votes the rules say must each be signed by its voter's own key, with some not
    UNSIGNED_PARTICIPATION = "unsigned_participation"
    # a nomination without its candidate's signed consent where the rules ask for it
    UNSIGNED_CONSENT = "unsigned_consent"
    # a second decision on one ballot by one author: the first counts (protocol.ballots)
    DECISION_TWICE = "decision_twice"
    # decisions go up (protocol.upward): objects that do not keep their own rules
    BAD_AGENDA_ITEM = "bad_agenda_item"
    BAD_MANDATE = "bad_mandate"
    BAD_AGGREGATE = "bad_aggregate"
    BAD_SELECTION = "bad_selection"


class ProtocolError(Exception):
    """A protocol-level rejection with a stable code."""

    def __init__(self, code: Code, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}" + (f" (field {field})" if field else ""))
        self.code = code
        self.message = message
        self.field = field

    def diagnostics(self) -> str:
        """One line for humans: ``code: message (field f)``."""
        return str(self)


class DecodeFailure(ProtocolError):
    """The bytes are not a well-formed, canonical, in-limits object of a known kind."""


class SignatureFailure(ProtocolError):
    """The signature or the key does not hold under the verification policy."""


class TrustFailure(ProtocolError):
    """The envelope is well formed and signed, but its author may not speak (yet)."""


class ChainFailure(ProtocolError):
    """The envelope is valid alone but does not fit its author's log."""
