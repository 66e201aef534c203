"""Members' own keys as signed objects carry them (protocol.member_keys has the rules): a
member's public key, a signature by it, and a candidate's signed consent to a nomination."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from protocol.model_base import Hash, _Object

KeyAlg = Literal["ed25519", "es256"]
MAX_CLIENT_DATA = 1024  # bytes of clientDataJSON (browsers send about 150)
MAX_AUTHENTICATOR_DATA = 1024
MAX_MEMBER_KEYS = 10  # keys in force per member: a phone, a laptop, a key file, and some to spare


class MemberKey(_Object, frozen=True):
    """A member's public key: ``ed25519`` (32 bytes) or ``es256`` (a P-256 point, 65 bytes
    uncompressed); ``passkey``: it signs as a WebAuthn authenticator does (else it signs the
    statement itself: a key file, Ed25519 only)."""

    alg: KeyAlg
    public: Annotated[bytes, Meta(min_length=32, max_length=65)]
    passkey: bool = False


class MemberSignature(_Object, frozen=True):
    """A member's signature of a statement: the signature, and for a passkey the
    authenticator data and client data it was made over."""

    signature: Annotated[bytes, Meta(min_length=8, max_length=80)]
    authenticator_data: Annotated[bytes, Meta(max_length=MAX_AUTHENTICATOR_DATA)] = b""
    client_data: Annotated[bytes, Meta(max_length=MAX_CLIENT_DATA)] = b""


class SignedConsent(_Object, frozen=True):
    """A candidate's own consent, carried by their nomination: their signature of the
    candidacy statement (:func:`protocol.member_keys.candidacy_statement`: the federation, the
    nominating body, the contest ``selection:<selection id in hex>``, the name they stand
    under) by ``keys[signer]``, and their leaf in the nominating body's roll ``roll`` (a
    version 2 leaf: the salt, their number on that body's roll and every key it commits to),
    the ``index``-th of the roll's leaves with its inclusion ``path``. It shows that a member
    on the roll, holding that key, consented to stand under that name; it reveals that one
    leaf of that roll, nothing of any other."""

    roll: Hash
    salt: Annotated[bytes, Meta(min_length=32, max_length=32)]
    member: Annotated[int, Meta(ge=0, le=2**62)]
    keys: Annotated[list[MemberKey], Meta(min_length=1, max_length=MAX_MEMBER_KEYS)]
    signer: Annotated[int, Meta(ge=0, lt=MAX_MEMBER_KEYS)]
    index: Annotated[int, Meta(ge=0, lt=2**32)]
    path: Annotated[list[Hash], Meta(max_length=40)]
    signature: MemberSignature
