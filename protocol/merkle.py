"""Merkle trees as in RFC 6962 section 2.1 (RFC 9162 section 2.1): SHA-256, a leaf hashed
with a 0x00 prefix, an inner node with 0x01, the tree split at the largest power of two
below its size (an odd node is carried up, never paired with itself).

Membership rolls commit to their members with a root of this kind; a member holds an
inclusion proof (:func:`inclusion_proof`) that anyone checks against the signed root
(:func:`verify_inclusion`, the algorithm of RFC 9162 section 2.1.3.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head over ``leaves`` (already leaf-hashed), RFC 6962 MTH."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    # Bottom-up, carrying an odd last node up unpaired: the same tree as the recursive split.
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` (RFC 6962 PATH), from the leaf's sibling upwards."""
    if not 0 <= index < len(leaves):
        raise ValueError(f"leaf {index} is not in a tree of {len(leaves)}")
    proof: list[bytes] = []
    lo, hi = 0, len(leaves)
    stack: list[bytes] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            stack.append(root(leaves[lo + k : hi]))
            hi = lo + k
        else:
            stack.append(root(leaves[lo : lo + k]))
            lo = lo + k
    proof.extend(reversed(stack))
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes) -> bool:
    """Whether ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` leaves whose
    head is ``expected_root`` (RFC 9162 section 2.1.3.2)."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root
