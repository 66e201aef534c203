"""Ed25519 verification with one documented policy, used by every verifier.

Nodes, the auditor and the CLI all call :func:`verify`; nothing else in the code base calls a
library's verify directly. The policy (docs/protocol.md, "Ed25519 verification policy") is
libsodium's ``crypto_sign_open`` (through PyNaCl): RFC 8032 verification with the cofactorless
equation, S must be < L, R compared by its canonical encoding, and public keys and R of small
order or not canonically encoded refused. Three of those rejections are also taken here, before
the library is called, so that the policy does not rest on one library's version:

1. the public key A must be a canonical encoding (y < p);
2. A must not be a point of small order (order 1, 2, 4 or 8);
3. R (the first half of the signature) must not be a point of small order.

With these, of the 12 ed25519-speccheck cases only case 3 is accepted, and every Wycheproof
vector gets its labelled verdict (``tests/protocol/test_ed25519.py``). libsodium verifies about
twice as fast as OpenSSL through ``cryptography`` here (``bench/verify.py`` prints both), which
keeps ``cryptography`` for keys and signing.

A point is of small order exactly when its y coordinate is one of five values
(1, p-1, 0, and the pair of y values of the order-8 points); the sign bit of x does
not matter. So both checks are a mask and a set look-up on 32 bytes.
"""

from __future__ import annotations

import functools

from nacl.bindings import crypto_sign_open
from nacl.exceptions import CryptoError

P = 2**255 - 19
# y of the order-8 points; the other pair has y = p - Y8.
Y8 = int.from_bytes(bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), "little")
_SMALL_ORDER_Y = frozenset({0, 1, P - 1, Y8, P - Y8})
_Y_MASK = (1 << 255) - 1


def _y(encoding: bytes) -> int:
    return int.from_bytes(encoding, "little") & _Y_MASK


def is_canonical_point(encoding: bytes) -> bool:
    """True when the 32-byte encoding has y < p (the sign bit is not part of y)."""
    return len(encoding) == 32 and _y(encoding) < P


def _small_order_encodings() -> frozenset[bytes]:
    """Every 32-byte encoding whose y (low 255 bits) reduced mod p is of a small-order point:
    y itself or y + p where that is below 2^255, with either sign bit. 14 strings."""
    out = set()
    for y in _SMALL_ORDER_Y:
        for value in (y, y + P):
            if value < 2**255:
                for sign in (0, 1 << 255):
                    out.add((value | sign).to_bytes(32, "little"))
    return frozenset(out)


_SMALL_ORDER_ENCODINGS = _small_order_encodings()


def is_small_order(encoding: bytes) -> bool:
    """True when the encoded point (canonical or not) has order dividing 8: whose y reduced
    mod p is one of the five values (a look-up of the 32 bytes among the 14 encodings)."""
    return encoding in _SMALL_ORDER_ENCODINGS


def key_problem(public_key: bytes) -> str | None:
    """Why this public key is refused by the policy, or None if it is acceptable."""
    if len(public_key) != 32:
        return f"public key must be 32 bytes, got {len(public_key)}"
    if not is_canonical_point(public_key):
        return "public key is not a canonical point encoding"
    if is_small_order(public_key):
        return "public key is a point of small order"
    return None


@functools.lru_cache(maxsize=8192)
def _acceptable(public_key: bytes) -> bool:
    return key_problem(public_key) is None


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Verify an Ed25519 signature under the project's policy. Never raises."""
    if len(signature) != 64 or signature[:32] in _SMALL_ORDER_ENCODINGS:
        return False
    if type(public_key) is not bytes:
        public_key = bytes(public_key)
    if not _acceptable(public_key):
        return False
    try:
        crypto_sign_open(signature + message, public_key)
    except (CryptoError, ValueError, TypeError):
        return False
    return True
