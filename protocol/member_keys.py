"""Members' own keys (issue 25; docs/decisions.md, "Members' own keys").

A member holds keys the node never sees the private half of: a passkey made in the browser
(WebAuthn; ES256 or Ed25519, as the authenticator offers) or an Ed25519 key file made on a
terminal (`branchnet member key`). With one, the member signs a *statement* bound to its
object and to the federation, never the choice:

* taking part in a ballot: :func:`participation_statement` (the federation, the body, the
  ballot's 16-byte id);
* standing as a candidate and consenting to be named: :func:`candidacy_statement`, which a
  nomination carries with the candidate's leaf in its body's roll (:func:`consent_problem`);
* moving a motion or an amendment: :func:`motion_statement`, :func:`amendment_statement`
  (kept on the member's node with what they moved).

A passkey signs as WebAuthn assertions do (W3C WebAuthn, "Verifying an Authentication
Assertion", the signature steps only): over ``authenticatorData || SHA-256(clientDataJSON)``,
where the client data is a JSON object whose ``type`` is ``webauthn.get`` and whose
``challenge`` is the base64url (unpadded) SHA-256 of the statement, and the authenticator data
has its user-present flag set. A key file signs the statement itself (Ed25519). So anyone
holding the key, the statement and the signature checks it from those alone:
:func:`verify_member_signature`. (The origin and relying party are the member's node's own
business, checked there when the key is added and when it signs; what binds the signature to
its object is the challenge.)

A roll commits to each member's keys (:func:`roll_leaf_v2`, leaf version 2: the salt, the
member id and the digest of the member's keys), and a decision commits to every
participation, signed or not, in a tree ordered by roll leaf (:func:`participation_root`),
so a member proves to themselves, against the signed decision, that the node holds a
participation in their name or that it holds none (:func:`check_participation_proof`).
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Sequence
from typing import Literal, get_args

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from . import ed25519
from .ballots import votes_counted
from .encoding import encode
from .errors import Code, SignatureFailure
from .merkle import EMPTY_ROOT, inclusion_proof, leaf_hash, root, verify_inclusion
from .models import Decision, Envelope, Nomination, Roll, Rules
from .models_federation import BallotKind
from .models_keys import MemberKey as MemberKey  # re-exported: the types are the protocol's, the rules are here
from .models_keys import MemberSignature as MemberSignature
from .models_keys import SignedConsent as SignedConsent

USER_PRESENT = 0x01  # authenticator data flags, bit 0
BALLOT_KINDS: tuple[str, ...] = get_args(BallotKind)  # what rules.signed_participation may name


def participation_statement(federation: bytes, body: bytes, ballot: bytes) -> bytes:
    """What a member signs to take part in ``body``'s ballot ``ballot`` (its 16-byte id):
    that they took part, never how."""
    return b"branchnet participation v1\x00" + federation + body + ballot


def candidacy_statement(federation: bytes, body: bytes, contest: str, name: str) -> bytes:
    """What a member signs to stand in ``contest`` on ``body`` and be named as ``name``: the
    :func:`candidacy_prefix`, then the SHA-256 of the name (so a page can make it from the
    name typed)."""
    return candidacy_prefix(federation, body, contest) + hashlib.sha256(name.encode()).digest()


def motion_statement(federation: bytes, body: bytes, for_body: bytes, title: str, text: str) -> bytes:
    """What a member signs to move, on ``body``, a motion for ``for_body`` with this title and
    text: :func:`motion_prefix`, then SHA-256 of the title and of the text (UTF-8)."""
    return (motion_prefix(federation, body, for_body) + hashlib.sha256(title.encode()).digest()
            + hashlib.sha256(text.encode()).digest())  # fmt: skip


def motion_prefix(federation: bytes, body: bytes, for_body: bytes) -> bytes:
    return b"branchnet motion v1\x00" + federation + body + for_body


def amendment_statement(federation: bytes, body: bytes, motion_text: str, paragraph: int, original: str,
                        replacement: str) -> bytes:  # fmt: skip
    """What a member signs to move, on ``body``, an amendment to the motion whose text is now
    ``motion_text``: in its ``paragraph``-th paragraph (from 1), ``original`` (empty: at the
    paragraph's end) becomes ``replacement``. :func:`amendment_prefix`, then the paragraph's
    number (4 bytes, big-endian) and SHA-256 of the words replaced and of the new words."""
    return (amendment_prefix(federation, body, motion_text) + paragraph.to_bytes(4, "big")
            + hashlib.sha256(original.encode()).digest() + hashlib.sha256(replacement.encode()).digest())  # fmt: skip


def amendment_prefix(federation: bytes, body: bytes, motion_text: str) -> bytes:
    return b"branchnet amendment v1\x00" + federation + body + hashlib.sha256(motion_text.encode()).digest()


def candidacy_prefix(federation: bytes, body: bytes, contest: str) -> bytes:
    return b"branchnet candidacy v1\x00" + federation + body + hashlib.sha256(contest.encode()).digest()


def challenge_of(statement: bytes) -> bytes:
    """A passkey's challenge for ``statement``: its SHA-256."""
    return hashlib.sha256(statement).digest()


def key_id(key: MemberKey) -> bytes:
    return hashlib.sha256(b"branchnet member key v1\x00" + encode(key)).digest()


def keys_digest(keys: Sequence[MemberKey]) -> bytes:
    """What a roll leaf commits to of a member's keys (none: the digest of nothing)."""
    return hashlib.sha256(b"branchnet member keys v1\x00" + b"".join(sorted(key_id(k) for k in keys))).digest()


def roll_leaf_v2(salt: bytes, member: int, keys: Sequence[MemberKey]) -> bytes:
    """A member's leaf in a roll that commits to keys (``Roll.keyed`` present): salted as
    version 1 (:func:`protocol.ballots.roll_leaf`), and the member's keys when it froze."""
    return leaf_hash(b"branchnet roll leaf v2\x00" + salt + member.to_bytes(8, "big") + keys_digest(keys))


def _fail(message: str) -> SignatureFailure:
    return SignatureFailure(Code.BAD_MEMBER_SIGNATURE, message, "signature")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def key_problem(key: MemberKey) -> str | None:
    """Why ``key`` cannot sign here (None: it can)."""
    if key.alg == "ed25519" and (len(key.public) != 32 or ed25519.key_problem(key.public) is not None):
        return "the member's Ed25519 key is not a valid public key"
    if key.alg == "es256":
        if not key.passkey:
            return "an ES256 key signs only as a passkey"
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key.public)
        except ValueError:
            return "the member's ES256 key is not an uncompressed P-256 point"
        if len(key.public) != 65:
            return "the member's ES256 key is not an uncompressed P-256 point"
    return None


def _check_key(key: MemberKey) -> None:
    problem = key_problem(key)
    if problem is not None:
        raise _fail(problem)


def _verify_raw(key: MemberKey, signature: bytes, message: bytes) -> bool:
    if key.alg == "ed25519":
        return ed25519.verify(key.public, signature, message)
    try:
        point = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key.public)
        point.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def verify_assertion(key: MemberKey, challenge: bytes, signed: MemberSignature) -> None:
    """A passkey's assertion over ``challenge``: the client data says ``webauthn.get`` with
    this challenge, the authenticator saw the user present, and the signature holds over
    ``authenticatorData || SHA-256(clientDataJSON)``. SignatureFailure ``bad_member_signature``
    saying which fails."""
    _check_key(key)
    if not key.passkey:
        raise _fail("this key is a key file: it signs the statement, not an assertion")
    try:
        client = json.loads(signed.client_data)
    except (ValueError, UnicodeDecodeError):
        raise _fail("the client data is not JSON") from None
    if not isinstance(client, dict) or client.get("type") != "webauthn.get":
        raise _fail("the client data is not an assertion's (type webauthn.get)")
    if client.get("challenge") != _b64url(challenge):
        raise _fail("the client data's challenge is not this statement's")
    data = signed.authenticator_data
    if len(data) < 37:
        raise _fail("the authenticator data is shorter than 37 bytes")
    if not data[32] & USER_PRESENT:
        raise _fail("the authenticator did not see the member present")
    if not _verify_raw(key, signed.signature, data + hashlib.sha256(signed.client_data).digest()):
        raise _fail("the passkey's signature does not hold")


def verify_member_signature(key: MemberKey, statement: bytes, signed: MemberSignature) -> None:
    """Whether ``key`` signed ``statement`` (a passkey's assertion, or a key file's plain
    Ed25519 signature); SignatureFailure ``bad_member_signature`` if not."""
    if key.passkey:
        verify_assertion(key, challenge_of(statement), signed)
        return
    _check_key(key)
    if signed.authenticator_data or signed.client_data:
        raise _fail("a key file's signature carries no authenticator or client data")
    if not _verify_raw(key, signed.signature, statement):
        raise _fail("the member's signature does not hold")


# --- participations: who took part, committed to by the decision -------------------------------


class Participation(msgspec.Struct, frozen=True):
    """One vote's participation in the tree a decision commits to: the voter's roll leaf,
    and the digest of their signed statement (None: an unsigned vote)."""

    roll_leaf: bytes
    signed: bytes | None = None


def signature_digest(key: MemberKey, signed: MemberSignature) -> bytes:
    """What the tree holds of a signed participation: the key that signed and its signature."""
    return hashlib.sha256(b"branchnet signed participation v1\x00" + key_id(key) + encode(signed)).digest()


def participation_leaf(entry: Participation) -> bytes:
    mark = b"\x00" + bytes(32) if entry.signed is None else b"\x01" + entry.signed
    return leaf_hash(b"branchnet participation v1\x00" + entry.roll_leaf + mark)


def participation_root(entries: Sequence[Participation]) -> tuple[bytes, int]:
    """The tree head over every participation, in roll-leaf order (one per roll leaf), and
    how many are signed: what a decision publishes (``participations``, ``signed``)."""
    ordered = sorted(entries, key=lambda e: e.roll_leaf)
    if any(a.roll_leaf == b.roll_leaf for a, b in itertools.pairwise(ordered)):
        raise ValueError("two participations of one roll leaf")
    return root([participation_leaf(e) for e in ordered]), sum(e.signed is not None for e in ordered)


class ProofStep(msgspec.Struct, frozen=True):
    index: int
    entry: Participation
    path: list[bytes]


class ParticipationProof(msgspec.Struct, frozen=True):
    """A member's roll leaf against a decision's participation tree of ``size`` leaves: its
    own entry (present), or the entries either side of where it would be (absent)."""

    size: int
    steps: list[ProofStep]


def participation_proof(entries: Sequence[Participation], roll_leaf: bytes) -> ParticipationProof:
    """The proof the node gives a member (node side)."""
    ordered = sorted(entries, key=lambda e: e.roll_leaf)
    leaves = [participation_leaf(e) for e in ordered]
    keys = [e.roll_leaf for e in ordered]
    at = next((i for i, k in enumerate(keys) if k >= roll_leaf), len(keys))
    present = at < len(keys) and keys[at] == roll_leaf
    chosen = [at] if present else [i for i in (at - 1, at) if 0 <= i < len(keys)]  # its neighbours
    return ParticipationProof(len(keys), [ProofStep(i, ordered[i], inclusion_proof(leaves, i)) for i in chosen])


Found = Literal["signed", "unsigned", "absent"]


def check_participation_proof(roll_leaf: bytes, proof: ParticipationProof, tree_root: bytes) -> Found:
    """What the decision says of this roll leaf: a signed participation, an unsigned one, or
    none. ValueError when the proof does not hold against ``tree_root`` (then the node that
    gave it is not telling the truth about its own signed decision)."""
    for step in proof.steps:
        if not verify_inclusion(participation_leaf(step.entry), step.index, proof.size, step.path, tree_root):
            raise ValueError(f"entry {step.index} is not in the decision's participation tree")
    if proof.size == 0:
        if tree_root != EMPTY_ROOT or proof.steps:
            raise ValueError("an empty tree has no entries")
        return "absent"
    mine = [s for s in proof.steps if s.entry.roll_leaf == roll_leaf]
    if mine:
        return "signed" if mine[0].entry.signed is not None else "unsigned"
    # Absent: the entries either side of where the leaf would be are neighbours in the tree.
    below = [s for s in proof.steps if s.entry.roll_leaf < roll_leaf]
    above = [s for s in proof.steps if s.entry.roll_leaf > roll_leaf]
    low = below[0].index if below else -1
    high = above[0].index if above else proof.size
    if high - low != 1 or len(below) > 1 or len(above) > 1:
        raise ValueError("the entries given are not the neighbours of where this roll leaf would be")
    return "absent"


def ballot_kind(decision: Decision) -> BallotKind:
    """Which of the rules' kinds of ballot a decision is (``Rules.signed_participation``)."""
    if decision.selection is not None:
        return "selection"
    return "election" if decision.method == "ranked" else "motion"


def participation_problem(decision: Decision, rules: Rules) -> tuple[Code, str] | None:
    """Where the federation's rules say every vote on this kind of ballot is signed by its
    voter's own key: ``unsigned_participation`` unless the decision commits to its
    participations and every vote counted was signed. (Checked with the rules in force when
    the ballot opened; the signatures themselves are checked by the members' scrutineers,
    who hold them: docs/decisions.md.)"""
    kind = ballot_kind(decision)
    if kind not in (rules.signed_participation or ()):
        return None
    if decision.signed is None:
        return Code.UNSIGNED_PARTICIPATION, f"every vote on a {kind} is signed by its voter here; none is said to be"
    votes = votes_counted(decision)
    if decision.signed != votes:
        return (Code.UNSIGNED_PARTICIPATION,
                f"every vote on a {kind} is signed by its voter here; {votes - decision.signed} of {votes} are not")
    return None


# --- a candidate's signed consent, carried by their nomination -----------------------------------


def selection_contest(selection: bytes) -> str:
    """The contest a nomination's candidate consents to stand in: ``selection:<id in hex>``."""
    return "selection:" + selection.hex()


def consent_problem(nomination: Envelope, roll: Envelope | None, federation: bytes, rules: Rules
                    ) -> tuple[Code, str] | None:  # fmt: skip
    """Why a nomination's consent does not stand (None: it does, or it carries none and the
    rules in force ask for none). ``roll``: the envelope its consent names, as the verifier
    holds it (None: not held; the roll comes earlier in the nominating body's own log, so a
    node refuses the nomination and an audit of a set that holds the body's log flags it).

    ``unsigned_consent``: none, where the rules say ``signed_consent``; ``wrong_roll``: the
    roll is not a keyed roll of the nominating body earlier in its log, or the candidate's
    leaf is not on it; ``bad_member_signature``: the candidate's key did not sign their
    candidacy under this name, in this selection, nominated by this body."""
    body = nomination.payload.body
    assert isinstance(body, Nomination)
    consent = body.consent
    if consent is None:
        if rules.signed_consent:
            return Code.UNSIGNED_CONSENT, "every nomination carries its candidate's own signed consent here"
        return None
    held = roll.payload.body if roll is not None else None
    if (roll is None or roll.id != consent.roll or not isinstance(held, Roll) or held.keyed is None
            or roll.author != nomination.author or roll.seq >= nomination.seq):  # fmt: skip
        return Code.WRONG_ROLL, "the roll its consent names is not a roll of the nominating body's, with keys, " \
                                "earlier in its log"
    leaf = roll_leaf_v2(consent.salt, consent.member, consent.keys)
    if not verify_inclusion(leaf, consent.index, held.count, consent.path, held.root):
        return Code.WRONG_ROLL, "the candidate's leaf is not on the roll its consent names"
    if consent.signer >= len(consent.keys):
        return Code.BAD_MEMBER_SIGNATURE, "the consent names a key the candidate's leaf does not hold"
    statement = candidacy_statement(federation, nomination.author, selection_contest(body.selection), body.candidate)
    try:
        verify_member_signature(consent.keys[consent.signer], statement, consent.signature)
    except SignatureFailure as exc:
        return Code.BAD_MEMBER_SIGNATURE, f"the candidate's consent: {exc.message}"
    return None
