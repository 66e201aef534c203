"""Ed25519 verification policy, against outside vectors (RFC 8032, Wycheproof, speccheck)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocol import ed25519
from protocol.keys import SigningKey

# Copies of ../shared/vectors (published, Apache-2.0), kept in the tree so a fresh clone tests alone.
VECTORS = Path(__file__).resolve().parents[1] / "vectors"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "vectors"


def _load(name: str) -> object:
    return json.loads((VECTORS / name).read_text())


@pytest.mark.parametrize("name", ["wycheproof-ed25519_test.json", "speccheck-ed25519-cases.json"])
def test_vector_copies_match_shared(name: str) -> None:
    if not SHARED.exists():
        pytest.skip("no shared/ beside this checkout")
    assert (VECTORS / name).read_bytes() == (SHARED / name).read_bytes()


def _wycheproof_cases() -> list[tuple[int, bytes, bytes, bytes, bool]]:
    data = _load("wycheproof-ed25519_test.json")
    assert isinstance(data, dict)
    cases = []
    for group in data["testGroups"]:
        pk = bytes.fromhex(group["publicKey"]["pk"])
        for t in group["tests"]:
            cases.append((t["tcId"], pk, bytes.fromhex(t["sig"]), bytes.fromhex(t["msg"]), t["result"] == "valid"))
    return cases


WYCHEPROOF = _wycheproof_cases()


def test_wycheproof_has_all_151_cases() -> None:
    assert len(WYCHEPROOF) == 151
    assert sum(1 for c in WYCHEPROOF if c[4]) == 88


@pytest.mark.parametrize(("tc_id", "pk", "sig", "msg", "valid"), WYCHEPROOF, ids=[f"tc{c[0]}" for c in WYCHEPROOF])
def test_wycheproof_verdict(tc_id: int, pk: bytes, sig: bytes, msg: bytes, valid: bool) -> None:
    assert ed25519.verify(pk, sig, msg) is valid


# docs/protocol.md, "Ed25519 verification policy": only case 3 is accepted.
SPECCHECK_POLICY = [False, False, False, True, False, False, False, False, False, False, False, False]


def test_speccheck_cases_follow_documented_policy() -> None:
    cases = _load("speccheck-ed25519-cases.json")
    assert isinstance(cases, list) and len(cases) == 12
    verdicts = [
        ed25519.verify(bytes.fromhex(c["pub_key"]), bytes.fromhex(c["signature"]), bytes.fromhex(c["message"]))
        for c in cases
    ]
    assert verdicts == SPECCHECK_POLICY


# RFC 8032 section 7.1, TEST 1, 2 and 3: (secret key, public key, message, signature).
RFC8032 = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]


@pytest.mark.parametrize(("sk", "pk", "msg", "sig"), RFC8032)
def test_rfc8032_sign_and_verify(sk: str, pk: str, msg: str, sig: str) -> None:
    key = SigningKey.from_seed(bytes.fromhex(sk))
    assert key.public.hex() == pk
    assert key.sign(bytes.fromhex(msg)).hex() == sig
    assert ed25519.verify(key.public, bytes.fromhex(sig), bytes.fromhex(msg))


# --- the small-order set, checked by curve arithmetic written independently here ---------
P = 2**255 - 19
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _decompress(encoding: bytes) -> tuple[int, int] | None:
    y = int.from_bytes(encoding, "little") & ((1 << 255) - 1)
    sign = encoding[31] >> 7
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = (u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P)) % P
    if (v * x * x - u) % P != 0:
        x = (x * SQRT_M1) % P
    if (v * x * x - u) % P != 0:
        return None
    if x & 1 != sign:
        x = (-x) % P
    return x, y


def _add(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = a, b
    t = D * x1 * x2 * y1 * y2
    return ((x1 * y2 + x2 * y1) * pow(1 + t, P - 2, P)) % P, ((y1 * y2 + x1 * x2) * pow(1 - t, P - 2, P)) % P


def _times8(point: tuple[int, int]) -> tuple[int, int]:
    for _ in range(3):
        point = _add(point, point)
    return point


def test_small_order_set_matches_curve_arithmetic() -> None:
    small = {y for y in range(0, 20)} | {P - y for y in range(1, 20)} | {ed25519.Y8, P - ed25519.Y8}
    for y in sorted(small):
        for sign in (0, 1):
            enc = bytearray(y.to_bytes(32, "little"))
            enc[31] |= sign << 7
            point = _decompress(bytes(enc))
            if point is None:
                continue
            assert ed25519.is_small_order(bytes(enc)) == (_times8(point) == (0, 1)), (y, sign)


def test_real_keys_are_not_small_order() -> None:
    for _, pk, *_ in RFC8032:
        assert not ed25519.is_small_order(bytes.fromhex(pk))
        assert ed25519.key_problem(bytes.fromhex(pk)) is None


def test_key_problems_are_named() -> None:
    assert ed25519.key_problem(b"\x01" + bytes(31)) == "public key is a point of small order"
    assert ed25519.key_problem(b"\xed" + b"\xff" * 30 + b"\x7f") == "public key is not a canonical point encoding"
    assert ed25519.key_problem(bytes(31)) == "public key must be 32 bytes, got 31"
