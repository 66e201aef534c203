"""Ed25519 verification with one documented policy, used by every verifier.

Nodes, the auditor and the CLI all call :func:`verify`; nothing else in the code base
calls ``cryptography``'s verify directly. The policy (docs/protocol.md, "Ed25519
verification policy") is RFC 8032 verification as implemented by OpenSSL through
``cryptography`` (cofactorless equation, S must be < L, encodings checked by OpenSSL),
plus three rejections of our own, taken before the library is called:

1. the public key A must be a canonical encoding (y < p);
2. A must not be a point of small order (order 1, 2, 4 or 8);
3. R (the first half of the signature) must not be a point of small order.

With these, of the 12 ed25519-speccheck cases only case 3 is accepted (as libsodium
does), and every Wycheproof vector gets its labelled verdict.

A point is of small order exactly when its y coordinate is one of five values
(1, p-1, 0, and the pair of y values of the order-8 points); the sign bit of x does
not matter. So both checks are a mask and a set look-up on 32 bytes.
"""

from __future__ import annotations

import functools

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

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


def is_small_order(encoding: bytes) -> bool:
    """True when the encoded point (canonical or not) has order dividing 8."""
    return len(encoding) == 32 and (_y(encoding) % P) in _SMALL_ORDER_Y


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
def _load(public_key: bytes) -> Ed25519PublicKey | None:
    if key_problem(public_key) is not None:
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError:
        return None


def verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Verify an Ed25519 signature under the project's policy. Never raises."""
    if len(signature) != 64 or is_small_order(signature[:32]):
        return False
    key = _load(bytes(public_key))
    if key is None:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
