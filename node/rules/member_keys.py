"""Members' own keys on this node (issue 25; docs/decisions.md, "Members' own keys"): a
member adds a passkey from a signed-in browser or a key file's public key from a terminal,
lists and revokes their own; and a statement a member signs with one is checked here as
every node and scrutineer would (protocol/member_keys.py), plus what only this node can
check of a passkey: that it was made for this site and used on it. The pages, the API and
the command line all call these.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any, Protocol
from urllib.parse import urlsplit

from node.config import Config
from node.errors import BadInput, Conflict, Forbidden
from node.rules.members import access
from node.storage.member_keys import KeyRow, MemberKeyStore, ScrutineerStore
from node.storage.members import Member, MemberStore
from protocol import ProtocolError, SigningKey
from protocol.member_keys import MemberKey, MemberSignature, key_problem, verify_member_signature

LABEL_MAX = 60
MAX_CREDENTIAL = 16_384  # bytes of a browser's new passkey as JSON (they are about 1,000)


class Scrutinised(Protocol):
    @property
    def members(self) -> MemberStore: ...

    @property
    def scrutineers(self) -> ScrutineerStore: ...


class Keyed(Protocol):
    @property
    def config(self) -> Config: ...

    @property
    def key(self) -> SigningKey: ...

    @property
    def member_keys(self) -> MemberKeyStore: ...


@dataclass(frozen=True)
class Site:
    """Where this node's pages are: a passkey is bound to the name (``rp_id``), and each of
    its signatures to the origin it was made on."""

    rp_id: str
    origin: str


def site_of(config: Config) -> Site:
    """This node's site, from ``http.public_url``; Conflict ``no_site_name`` when it is a bare
    IP address (a passkey cannot be bound to one: reach the node by a name, or ``localhost``)."""
    url = urlsplit(config.http.public_url)
    host = url.hostname or ""
    try:
        ip_address(host)
    except ValueError:
        pass
    else:
        raise Conflict("passkeys need this node reached by a name, not an IP address (set http.public_url to its "
                       "name; on one machine, http://localhost:PORT)", code="no_site_name")  # fmt: skip
    if not host:
        raise Conflict("http.public_url says no host: set it to where members reach this node", code="no_site_name")
    default = {"http": 80, "https": 443}.get(url.scheme)
    port = f":{url.port}" if url.port and url.port != default else ""
    return Site(host, f"{url.scheme}://{host}{port}")


def _label(label: str) -> str:
    label = label.strip()
    if len(label) > LABEL_MAX or any(ord(c) < 32 for c in label):
        raise BadInput(f"a key's name is up to {LABEL_MAX} characters on one line", field="label")
    return label


def _user_handle(node: Keyed, member_id: int) -> bytes:
    """The passkey's user id: stable per member on this node, telling nothing of who."""
    return hmac.new(node.key.seed, b"branchnet passkey user v1\x00" + member_id.to_bytes(8, "big"),
                    hashlib.sha256).digest()[:16]  # fmt: skip


async def registration_options(node: Keyed, who: Member) -> dict[str, Any]:
    """The options a browser passes to ``navigator.credentials.create`` to make a passkey for
    ``who`` on this site (ES256 or Ed25519, no attestation asked: the node trusts the member,
    not the device maker); the challenge is kept for five minutes, one at a time."""
    from webauthn import generate_registration_options, options_to_json
    from webauthn.helpers.cose import COSEAlgorithmIdentifier
    from webauthn.helpers.structs import (
        AuthenticatorSelectionCriteria,
        PublicKeyCredentialDescriptor,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    site = site_of(node.config)
    held = [k.credential for k in await node.member_keys.of(who.id, revoked=False) if k.credential]
    options = generate_registration_options(
        rp_id=site.rp_id, rp_name=node.config.node.name, user_id=_user_handle(node, who.id), user_name=who.email,
        user_display_name=who.name,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in held],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.PREFERRED),
        supported_pub_key_algs=[COSEAlgorithmIdentifier.EDDSA, COSEAlgorithmIdentifier.ECDSA_SHA_256],
    )  # fmt: skip
    await node.member_keys.new_challenge(who.id, options.challenge)
    out: dict[str, Any] = json.loads(options_to_json(options))
    return out


async def add_passkey(node: Keyed, who: Member, credential: dict[str, Any], label: str = "") -> KeyRow:
    """The browser's answer to :func:`registration_options`: checked (this site, this
    challenge, once, the member present) and the passkey's public key kept."""
    from webauthn import verify_registration_response
    from webauthn.helpers import decode_credential_public_key
    from webauthn.helpers.cose import COSEAlgorithmIdentifier
    from webauthn.helpers.decode_credential_public_key import DecodedEC2PublicKey, DecodedOKPPublicKey
    from webauthn.helpers.exceptions import WebAuthnException

    label = _label(label)
    if len(json.dumps(credential)) > MAX_CREDENTIAL:
        raise BadInput("the browser's answer is too long to be a passkey", field="credential")
    site = site_of(node.config)
    challenge = await node.member_keys.take_challenge(who.id)
    if challenge is None:
        raise Conflict("no passkey is being made for you now (or it took more than five minutes): start again",
                       code="no_challenge")  # fmt: skip
    try:
        made = verify_registration_response(
            credential=credential, expected_challenge=challenge, expected_rp_id=site.rp_id,
            expected_origin=site.origin,
            supported_pub_key_algs=[COSEAlgorithmIdentifier.EDDSA, COSEAlgorithmIdentifier.ECDSA_SHA_256])  # fmt: skip
        public = decode_credential_public_key(made.credential_public_key)
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"the browser's new passkey does not hold: {exc}", field="credential") from None
    if isinstance(public, DecodedEC2PublicKey):
        key = MemberKey(alg="es256", public=b"\x04" + public.x + public.y, passkey=True)
    elif isinstance(public, DecodedOKPPublicKey) and len(public.x) == 32:
        key = MemberKey(alg="ed25519", public=public.x, passkey=True)
    else:
        raise BadInput("a passkey here is ES256 or Ed25519", field="credential")
    return await node.member_keys.add(who.id, key, label, credential=made.credential_id, sign_count=made.sign_count)


async def add_key_file(node: Keyed, who: Member, public: bytes, label: str = "") -> KeyRow:
    """A key file's Ed25519 public key (`branchnet member key add`): it signs statements itself."""
    key = MemberKey(alg="ed25519", public=public)
    problem = key_problem(key)
    if problem is not None:
        raise BadInput(problem, field="public")
    return await node.member_keys.add(who.id, key, _label(label))


async def keys(node: Keyed, who: Member) -> list[KeyRow]:
    return await node.member_keys.of(who.id)


async def revoke(node: Keyed, who: Member, key_row: int) -> KeyRow:
    """A member revokes one of their own keys (an officer cannot: it is the member's)."""
    return await node.member_keys.revoke(who.id, key_row)


def signed_by(node: Keyed, statement: bytes, signed: MemberSignature, key_id: bytes, allowed: list[MemberKey],
              field: str = "participation") -> tuple[MemberKey, int]:  # fmt: skip
    """The key ``key_id``, one of ``allowed``, signed ``statement`` (for a passkey: on this
    site): the key and, for a passkey, its signature counter (0: none). What holds of the
    signature alone, with nothing read; whether the key is still in force, and a passkey's
    counter went forward, are the caller's to check where it writes (:func:`check_signed`, or
    the vote's own transaction). Forbidden ``bad_member_signature`` otherwise."""
    from protocol.member_keys import key_id as id_of

    key = next((k for k in allowed if id_of(k) == key_id), None)
    if key is None:
        raise Forbidden("that key is not one of yours in force (on this ballot's roll, for a vote)", field=field,
                        code="bad_member_signature")  # fmt: skip
    try:
        verify_member_signature(key, statement, signed)
    except ProtocolError as exc:
        raise Forbidden(exc.message, field=field, code="bad_member_signature") from None
    if not key.passkey:
        return key, 0
    site = site_of(node.config)
    client = json.loads(signed.client_data)
    if client.get("origin") != site.origin or signed.authenticator_data[:32] != hashlib.sha256(
            site.rp_id.encode()).digest():  # fmt: skip
        raise Forbidden("that passkey signed for another site", field=field, code="bad_member_signature")
    return key, int.from_bytes(signed.authenticator_data[33:37], "big")


COUNTER_BACK = "that passkey's counter went back: it may have been copied; revoke it and make another"


async def check_signed(node: Keyed, statement: bytes, signed: MemberSignature, key_id: bytes,
                       in_force: list[KeyRow], field: str) -> MemberKey:  # fmt: skip
    """The key ``key_id``, one of the member's keys ``in_force`` (as just read), signed
    ``statement`` (:func:`signed_by`); a passkey's counter moves forward in the same statement
    that checks it (two signatures sent at once with one counter: one stands). Returns the key;
    Forbidden ``bad_member_signature`` otherwise (nothing is taken as signed)."""
    key, counter = signed_by(node, statement, signed, key_id, [r.key for r in in_force], field)
    row = next(r for r in in_force if r.key_id == key_id)  # signed_by found it among them
    if key.passkey and counter and not await node.member_keys.used(row.id, counter):
        raise Forbidden(COUNTER_BACK, field=field, code="bad_member_signature")
    return key


# --- scrutineers: members appointed to check each ballot's marked register --------------------


async def appoint_scrutineer(node: Scrutinised, who: Member, member_id: int) -> None:
    """An officer appoints a member as a scrutineer. A scrutineer holds no office (they check
    the officers' node) and is a member in good standing; every member sees who they are."""
    if access(who.role) < 1:
        raise Forbidden("officers appoint scrutineers")
    member = await node.members.require(member_id)
    if access(member.role) >= 1:
        raise BadInput("a scrutineer holds no office: they check the officers' node", field="member_id")
    if member.status != "active":
        raise BadInput("a scrutineer is a member in good standing", field="member_id")
    await node.scrutineers.appoint(member_id, who.id)


async def dismiss_scrutineer(node: Scrutinised, who: Member, member_id: int) -> None:
    if access(who.role) < 1:
        raise Forbidden("officers dismiss scrutineers")
    await node.scrutineers.dismiss(member_id)


async def check_may_scrutinise(node: Scrutinised, who: Member) -> None:
    if not await node.scrutineers.has(who.id):
        raise Forbidden("only the branch's scrutineers download a ballot's marked register", code="not_a_scrutineer")
