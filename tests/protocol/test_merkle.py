"""RFC 6962 Merkle trees, against the Certificate Transparency reference vectors (the eight
leaves of CT's merkle_tree_test, their tree heads for sizes 0 to 8 and two audit paths),
which many independent implementations reproduce; then every leaf of every small tree."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.merkle import EMPTY_ROOT, inclusion_proof, leaf_hash, root, verify_inclusion

LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                                       "606162636465666768696a6b6c6d6e6f"]]  # fmt: skip
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
PATHS = [  # (leaf index, tree size, audit path), CT's reference inclusion proofs
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
]  # fmt: skip
HASHED = [leaf_hash(x) for x in LEAVES]


def test_empty_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT == hashlib.sha256(b"").digest() == bytes.fromhex(ROOTS[0])


@pytest.mark.parametrize("size", range(9))
def test_tree_heads_match_the_reference(size: int) -> None:
    assert root(HASHED[:size]).hex() == ROOTS[size]


@pytest.mark.parametrize(("index", "size", "path"), PATHS)
def test_audit_paths_match_the_reference(index: int, size: int, path: list[str]) -> None:
    proof = inclusion_proof(HASHED[:size], index)
    assert [p.hex() for p in proof] == path
    assert verify_inclusion(HASHED[index], index, size, proof, bytes.fromhex(ROOTS[size]))


def test_every_leaf_of_every_small_tree_proves_and_nothing_else_does() -> None:
    for size in range(1, 40):
        leaves = [leaf_hash(bytes([i, size])) for i in range(size)]
        head = root(leaves)
        for index in range(size):
            proof = inclusion_proof(leaves, index)
            assert verify_inclusion(leaves[index], index, size, proof, head)
            assert not verify_inclusion(leaves[index], (index + 1) % size, size, proof, head) or size == 1
            assert not verify_inclusion(leaf_hash(b"someone else"), index, size, proof, head)
            if proof:
                assert not verify_inclusion(leaves[index], index, size, proof[:-1], head)
                assert not verify_inclusion(leaves[index], index, size, [*proof, proof[0]], head)


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=70), st.data())
def test_proofs_round_trip(data: list[bytes], draw: st.DataObject) -> None:
    leaves = [leaf_hash(x) for x in data]
    index = draw.draw(st.integers(0, len(leaves) - 1))
    assert verify_inclusion(leaves[index], index, len(leaves), inclusion_proof(leaves, index), root(leaves))


def test_a_proof_for_a_tree_of_another_size_is_refused() -> None:
    """A claimed size whose audit path has another length than the proof is refused: the
    verifier (RFC 9162 section 2.1.3.2) must end with ``sn`` at 0, not merely at the root. A
    proof for leaf 0 of 5 (three hashes) reaches the root of the 5-leaf tree in three steps,
    but a tree of 9 to 16 leaves needs four: claiming one of those sizes must fail."""
    leaves = [leaf_hash(bytes([i])) for i in range(40)]
    for size in range(1, 21):
        head = root(leaves[:size])
        for index in range(size):
            proof = inclusion_proof(leaves[:size], index)
            for claimed in range(1, 41):
                if claimed == size:
                    continue
                if index >= claimed or len(inclusion_proof(leaves[:claimed], index)) != len(proof):
                    assert not verify_inclusion(leaves[index], index, claimed, proof, head), (size, index, claimed)
    five = inclusion_proof(leaves[:5], 0)
    assert len(five) == 3 and not any(verify_inclusion(leaves[0], 0, n, five, root(leaves[:5])) for n in range(9, 17))
