"""A software passkey and a key file for tests: they sign statements as a member's
authenticator and `branchnet member key` do (protocol/member_keys.py), with real keys."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from protocol.member_keys import MemberKey, MemberSignature, challenge_of


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class SoftPasskey:
    """An ES256 passkey for the relying party ``rp_id``: each assertion has the user present."""

    def __init__(self, rp_id: str = "leeds.example", origin: str = "https://leeds.example") -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        point = self.private.public_key().public_bytes(serialization.Encoding.X962,
                                                       serialization.PublicFormat.UncompressedPoint)  # fmt: skip
        self.key = MemberKey(alg="es256", public=point, passkey=True)
        self.rp_id, self.origin, self.counter = rp_id, origin, 0

    def register(self, options: dict[str, Any]) -> dict[str, Any]:
        """What a browser gives for ``navigator.credentials.create(options)`` with this
        authenticator: no attestation, the user present and verified, this key's credential."""
        from webauthn.helpers import encode_cbor

        self.credential = os.urandom(16)
        numbers = self.private.public_key().public_numbers()
        cose = encode_cbor({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
        data = (hashlib.sha256(options["rp"]["id"].encode()).digest() + bytes([0x45]) + bytes(4) + bytes(16)
                + len(self.credential).to_bytes(2, "big") + self.credential + cose)  # fmt: skip
        client = json.dumps({"type": "webauthn.create", "challenge": options["challenge"], "origin": self.origin},
                            separators=(",", ":")).encode()  # fmt: skip
        attestation = encode_cbor({"fmt": "none", "attStmt": {}, "authData": data})
        return {"id": _b64(self.credential), "rawId": _b64(self.credential), "type": "public-key",
                "response": {"clientDataJSON": _b64(client), "attestationObject": _b64(attestation)},
                "clientExtensionResults": {}}  # fmt: skip

    def sign(self, statement: bytes, *, flags: int = 0x05, kind: str = "webauthn.get") -> MemberSignature:
        self.counter += 1
        data = hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags]) + self.counter.to_bytes(4, "big")
        challenge = base64.urlsafe_b64encode(challenge_of(statement)).decode().rstrip("=")
        client = json.dumps({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False},
                            separators=(",", ":")).encode()  # fmt: skip
        signature = self.private.sign(data + hashlib.sha256(client).digest(), ec.ECDSA(hashes.SHA256()))
        return MemberSignature(signature=signature, authenticator_data=data, client_data=client)


class KeyFile:
    """An Ed25519 key file's key: it signs the statement itself."""

    def __init__(self) -> None:
        self.private = Ed25519PrivateKey.generate()
        public = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key = MemberKey(alg="ed25519", public=public)

    def sign(self, statement: bytes) -> MemberSignature:
        return MemberSignature(signature=self.private.sign(statement))
