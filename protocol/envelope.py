"""Sealing and opening envelopes.

An envelope on the wire is the canonical msgpack array ``[version, payload, signature]``:
``version`` is the integer 1, ``payload`` the canonical encoding of a
:class:`~protocol.models.Payload` carried as a byte string, ``signature`` the 64-byte
Ed25519 signature by ``payload.author`` over ``ENVELOPE_TAG + payload``. The envelope id
is SHA-256 of the envelope bytes exactly as carried.

Because the payload travels as the very bytes that were signed, a verifier checks the
signature on what it received and never on a re-encoding.
"""

from __future__ import annotations

import hashlib

from . import ed25519
from .ballots import check_decision
from .encoding import decode_payload, decode_payload_again, decode_wire, encode
from .errors import Code, DecodeFailure, SignatureFailure
from .keys import SigningKey
from .models import (
    MAX_ENVELOPE_BYTES,
    MAX_FORK_PROOF_ENVELOPE_BYTES,
    AgendaItem,
    Aggregate,
    BallotPaper,
    Body,
    Campaign,
    Charter,
    Composite,
    Decision,
    DecisionPart,
    Envelope,
    ForkProof,
    Freeze,
    Genesis,
    KeyRotation,
    Mandate,
    Payload,
    ResultPart,
    Rules,
    RulesChange,
    Selection,
    SelectionResult,
)
from .parts import check_part
from .selections import check_alone as check_selection_alone
from .upward import check_alone

VERSION = 1
ENVELOPE_TAG = b"branchnet/1/envelope\x00"
ROTATION_TAG = b"branchnet/1/key-rotation\x00"


def envelope_id(raw: bytes) -> bytes:
    """The content address of an envelope: SHA-256 of its bytes as carried."""
    return hashlib.sha256(raw).digest()


def signing_input(payload_bytes: bytes) -> bytes:
    """What the author signs: the domain tag, then the canonical payload bytes."""
    return ENVELOPE_TAG + payload_bytes


def rotation_message(federation: bytes, old_key: bytes, new_key: bytes) -> bytes:
    """What the new key signs to prove it consents to a key rotation."""
    return ROTATION_TAG + federation + old_key + new_key


def seal(key: SigningKey, payload: Payload) -> Envelope:
    """Sign a payload with its author's key and return the verified envelope.

    The result is checked exactly as a receiver would check it, so a node can never
    publish an envelope that others would reject."""
    if payload.author != key.public:
        raise SignatureFailure(Code.BAD_KEY, "payload.author is not the signing key", "payload.author")
    payload_bytes = encode(payload)
    raw = encode((VERSION, payload_bytes, key.sign(signing_input(payload_bytes))))
    return open_envelope(raw)


def open_envelope(data: bytes, *, deep: bool = True) -> Envelope:
    """Check an envelope received as bytes and return it, or raise a ProtocolError.

    The checks, in order:

    1. size: at most ``MAX_ENVELOPE_BYTES`` (a fork proof: ``MAX_FORK_PROOF_ENVELOPE_BYTES``);
    2. the outer array decodes and is canonical;
    3. the version is 1;
    4. the payload decodes against the schema (known kind, known fields, limits) and is canonical;
    5. the header rules hold (genesis alone has no federation; ``prev`` absent iff seq 1);
    6. the signature holds under the Ed25519 policy (:mod:`protocol.ed25519`);
    7. when ``deep``, the body's own self-contained rules hold (genesis rules are
       consistent, a key rotation's proof, a charter's key, a fork proof's two envelopes).

    Checks that need other objects (the author's log, charters, revocations) are not
    here: see :mod:`protocol.chain`.
    """
    if len(data) > MAX_FORK_PROOF_ENVELOPE_BYTES:
        raise DecodeFailure(Code.TOO_LARGE, f"envelope is {len(data)} bytes, the limit is {MAX_ENVELOPE_BYTES}")
    data = bytes(data)
    version, payload_bytes, signature = decode_wire(data)
    if version != VERSION:
        raise DecodeFailure(Code.BAD_VERSION, f"envelope version {version} is not supported (1 is)", "version")
    if len(data) > MAX_ENVELOPE_BYTES:
        # Only a fork proof may be this large; anything else is too large, whatever it holds.
        try:
            is_fork_proof = isinstance(decode_payload(payload_bytes).body, ForkProof)
        except DecodeFailure:
            is_fork_proof = False
        if not is_fork_proof:
            raise DecodeFailure(Code.TOO_LARGE, f"envelope is {len(data)} bytes, the limit is {MAX_ENVELOPE_BYTES}")
    payload = decode_payload(payload_bytes)
    body = payload.body
    _check_header(payload)
    if not ed25519.verify(payload.author, signature, ENVELOPE_TAG + payload_bytes):
        problem = ed25519.key_problem(payload.author)
        if problem is not None:
            raise SignatureFailure(Code.BAD_KEY, problem, "payload.author")
        raise SignatureFailure(Code.BAD_SIGNATURE, "signature does not verify for payload.author", "signature")
    envelope = Envelope(id=envelope_id(data), raw=data, payload=payload, signature=signature)
    if deep:
        _check_body(payload, body)
    return envelope


def reopen(data: bytes, id: bytes | None = None) -> Envelope:
    """An envelope read back from a store that opened it with :func:`open_envelope` before
    keeping it: decoded (the schema still applies), neither its signature nor its canonical
    form checked again; ``id``, when the store keeps it, spares hashing the bytes again. Only
    for bytes the caller itself verified; anything from outside goes through ``open_envelope``."""
    data = bytes(data)
    _, payload_bytes, signature = decode_wire(data)
    return Envelope(id=id or envelope_id(data), raw=data, payload=decode_payload_again(payload_bytes),
                    signature=signature)  # fmt: skip


def _check_header(payload: Payload) -> None:
    is_genesis = isinstance(payload.body, Genesis)
    if is_genesis and payload.federation is not None:
        raise DecodeFailure(Code.BAD_FIELD, "a genesis has no federation id", "payload.federation")
    if not is_genesis and payload.federation is None:
        raise DecodeFailure(Code.BAD_FIELD, "every envelope but the genesis names its federation", "payload.federation")
    if is_genesis and payload.seq != 1:
        raise DecodeFailure(Code.BAD_FIELD, "a genesis is its author's first envelope (seq 1)", "payload.seq")
    if (payload.seq == 1) != (payload.prev is None):
        raise DecodeFailure(Code.BAD_FIELD, "prev is absent exactly when seq is 1", "payload.prev")


# Kinds whose bodies have rules of their own to check (the rest: the schema says it all).
_CHECKED = (Genesis, Charter, KeyRotation, Decision, DecisionPart, AgendaItem, Composite, Mandate, Aggregate,
            Campaign, Selection, BallotPaper, SelectionResult, ResultPart, ForkProof, RulesChange, Freeze)  # fmt: skip


def check_rules(rules: Rules) -> None:
    """What a federation's standing rules keep by themselves (in a genesis or a change)."""
    levels = set(rules.levels)
    if len(levels) != len(rules.levels):
        raise DecodeFailure(Code.BAD_FIELD, "levels repeat", "body.rules.levels")
    for i, rule in enumerate(rules.charter_rules):
        if rule.parent not in levels or rule.child not in levels:
            raise DecodeFailure(Code.BAD_FIELD, "charter rule names an unknown level", f"body.rules.charter_rules[{i}]")
    for name in ("quorum", "threshold", "amend_threshold", "amend_quorum"):
        ratio = getattr(rules, name)
        if ratio is not None and ratio.num > ratio.den:
            raise DecodeFailure(Code.BAD_FIELD, f"{name} is more than 1", f"body.rules.{name}")
    kinds = rules.signed_participation
    if kinds is not None and (not kinds or len(set(kinds)) != len(kinds)):
        raise DecodeFailure(Code.BAD_FIELD, "signed_participation names each kind once, and at least one (else it is "
                            "absent)", "body.rules.signed_participation")  # fmt: skip


def _check_body(payload: Payload, body: Body) -> None:
    if not isinstance(body, _CHECKED):
        return
    match body:
        case Genesis(rules=rules, founder_level=founder_level):
            check_rules(rules)
            if founder_level not in rules.levels:
                raise DecodeFailure(
                    Code.BAD_FIELD, f"founder level {founder_level!r} is not a level", "body.founder_level"
                )
        case RulesChange(rules=rules):
            check_rules(rules)
        case Freeze(until=until) if until <= payload.created:
            raise DecodeFailure(Code.BAD_FIELD, "a freeze lasts until after it is signed", "body.until")
        case Charter(key=key) | KeyRotation(new_key=key):
            problem = ed25519.key_problem(key)
            if problem is not None:
                raise SignatureFailure(
                    Code.BAD_KEY, problem, "body.key" if isinstance(body, Charter) else "body.new_key"
                )
            if key == payload.author:
                raise DecodeFailure(Code.BAD_FIELD, "a node cannot charter or rotate to its own key", "body")
            if isinstance(body, KeyRotation):
                assert payload.federation is not None  # _check_header
                message = rotation_message(payload.federation, payload.author, key)
                if not ed25519.verify(key, body.proof, message):
                    raise SignatureFailure(Code.BAD_SIGNATURE, "the new key's proof does not verify", "body.proof")
        case Decision():
            check_decision(body)
        case DecisionPart():
            check_part(body)
        case AgendaItem() | Composite() | Mandate() | Aggregate() | Campaign():
            check_alone(body)
        case Selection() | BallotPaper() | SelectionResult() | ResultPart():
            check_selection_alone(body)
        case ForkProof():
            from .chain import verify_fork_proof  # chain imports this module

            a, _ = verify_fork_proof(body)
            if a.payload.federation != payload.federation:
                raise DecodeFailure(Code.BAD_FIELD, "a fork proof is about the same federation", "body.a")
        case _:
            pass
