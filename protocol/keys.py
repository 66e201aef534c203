"""Node keys: Ed25519 key pairs, node ids and their text form.

The node id is the raw 32-byte Ed25519 public key. Its text form for humans is
``bn1`` followed by 56 characters of lowercase RFC 4648 base32 (alphabet
``a-z2-7``, no padding) encoding 35 bytes: the key, then the first 3 bytes of
``SHA-256(b"branchnet/1/node-id\\x00" + key)`` as a checksum against typos.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .ed25519 import key_problem
from .errors import Code, ProtocolError

ID_PREFIX = "bn1"
_ID_TAG = b"branchnet/1/node-id\x00"
_ID_TEXT_LEN = len(ID_PREFIX) + 56
_BASE32 = frozenset("abcdefghijklmnopqrstuvwxyz234567")


class SigningKey:
    """An Ed25519 private key with the node id that goes with it."""

    __slots__ = ("_key", "public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public: bytes = key.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> SigningKey:
        """The key pair for a 32-byte RFC 8032 private key (the "seed")."""
        if len(seed) != 32:
            raise ProtocolError(Code.BAD_KEY, f"a private key seed is 32 bytes, got {len(seed)}")
        return cls(Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_pem(cls, data: bytes) -> SigningKey:
        """Load an unencrypted PKCS#8 PEM private key, as written by :meth:`to_pem`."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise ProtocolError(Code.BAD_KEY, f"not a PEM private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ProtocolError(Code.BAD_KEY, "the PEM key is not an Ed25519 key")
        return cls(key)

    def to_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def seed(self) -> bytes:
        return self._key.private_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    @property
    def node_id(self) -> str:
        return node_id_text(self.public)


def _checksum(key: bytes) -> bytes:
    return hashlib.sha256(_ID_TAG + key).digest()[:3]


def node_id_text(key: bytes) -> str:
    """The text form of a 32-byte node id."""
    if len(key) != 32:
        raise ProtocolError(Code.BAD_KEY, f"a node id is 32 bytes, got {len(key)}")
    return ID_PREFIX + base64.b32encode(key + _checksum(key)).decode("ascii").lower()


def parse_node_id(text: str) -> bytes:
    """Parse the text form strictly: prefix, length, alphabet, checksum and key policy."""
    if not text.startswith(ID_PREFIX):
        raise ProtocolError(Code.BAD_ID_TEXT, f"a node id starts with {ID_PREFIX!r}")
    if len(text) != _ID_TEXT_LEN:
        raise ProtocolError(Code.BAD_ID_TEXT, f"a node id is {_ID_TEXT_LEN} characters, got {len(text)}")
    body = text[len(ID_PREFIX) :]
    bad = sorted(set(body) - _BASE32)
    if bad:
        raise ProtocolError(Code.BAD_ID_TEXT, f"a node id uses only a-z and 2-7, found {''.join(bad)!r}")
    raw = base64.b32decode(body.upper())
    key, check = raw[:32], raw[32:]
    if _checksum(key) != check:
        raise ProtocolError(Code.BAD_ID_TEXT, "node id checksum does not match (a typo?)")
    problem = key_problem(key)
    if problem is not None:
        raise ProtocolError(Code.BAD_KEY, problem)
    return key
