"""RFC 9421 HTTP Message Signatures: the RFC's own Ed25519 example (appendix B.2.6), then
branchnet's request profile."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from protocol import Code, ProtocolError, SigningKey
from protocol.httpsig import (
    content_digest,
    parse_signature,
    parse_signature_input,
    parse_signature_inputs,
    parse_signatures,
    request_components,
    serialize_params,
    sign_request,
    signature_base,
    verify_request,
)

# RFC 9421 appendix B.1.4, "test-key-ed25519".
RFC_PRIVATE = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
RFC_PUBLIC = b"""-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""
# RFC 9421 appendix B.2.6: the signature base (RFC 8792 line wrapping undone) and signature.
RFC_BASE = (
    b'"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    b'"@method": POST\n'
    b'"@path": /foo\n'
    b'"@authority": example.com\n'
    b'"content-type": application/json\n'
    b'"content-length": 18\n'
    b'"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length")'
    b';created=1618884473;keyid="test-key-ed25519"'
)
RFC_SIGNATURE_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
RFC_SIGNATURE = "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:"
RFC_COMPONENTS = [
    ("date", "Tue, 20 Apr 2021 02:07:55 GMT"),
    ("@method", "POST"),
    ("@path", "/foo"),
    ("@authority", "example.com"),
    ("content-type", "application/json"),
    ("content-length", "18"),
]


def rfc_public_raw() -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return load_pem_public_key(RFC_PUBLIC).public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_rfc9421_b26_signature_base_and_signature() -> None:
    params = serialize_params([n for n, _ in RFC_COMPONENTS], [("created", 1618884473), ("keyid", "test-key-ed25519")])
    assert signature_base(RFC_COMPONENTS, params) == RFC_BASE
    private = load_pem_private_key(RFC_PRIVATE, password=None)
    signature = private.sign(RFC_BASE)  # type: ignore[call-arg, union-attr]
    assert f"sig-b26=:{base64.b64encode(signature).decode()}:" == RFC_SIGNATURE  # Ed25519 is deterministic


def test_rfc9421_b26_verifies_through_our_parser_and_policy() -> None:
    parsed = parse_signature_input(RFC_SIGNATURE_INPUT)
    assert parsed.label == "sig-b26"
    assert parsed.components == tuple(n for n, _ in RFC_COMPONENTS)
    assert parsed.params == (("created", 1618884473), ("keyid", "test-key-ed25519"))
    signature = parse_signature(RFC_SIGNATURE, "sig-b26")
    verify_request(rfc_public_raw(), parsed, signature, RFC_COMPONENTS, required=())
    tampered = [*RFC_COMPONENTS[:2], ("@path", "/bar"), *RFC_COMPONENTS[3:]]
    with pytest.raises(ProtocolError) as caught:
        verify_request(rfc_public_raw(), parsed, signature, tampered, required=())
    assert caught.value.code == Code.BAD_SIGNATURE


def test_rfc9530_content_digest_example() -> None:
    # RFC 9530 section 2, example: {"hello": "world"} followed by a newline.
    assert content_digest(b'{"hello": "world"}\n') == "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"


def test_branchnet_profile_round_trip() -> None:
    key = SigningKey.from_seed(bytes(32))
    components = request_components("POST", "Node.Example:8470", "/fed/v1/sync", "", content_digest(b"body"))
    headers = sign_request(key.sign, key.node_id, 1_800_000_000, "bm9uY2U", components)
    assert headers["Signature-Input"].startswith('bn=("@method" "@authority" "@path" "@query" "content-digest")')
    parsed = parse_signature_input(headers["Signature-Input"])
    assert parsed.param("keyid") == key.node_id and parsed.param("nonce") == "bm9uY2U"
    signature = parse_signature(headers["Signature"], "bn")
    verify_request(key.public, parsed, signature, components)
    other = request_components("POST", "node.example:8470", "/fed/v1/sync", "", content_digest(b"other body"))
    with pytest.raises(ProtocolError):
        verify_request(key.public, parsed, signature, other)


@pytest.mark.parametrize(
    "header",
    ["", "bn", "bn=", 'bn=("@method"', 'bn=("@method");created=x', 'bn=("a" "a")', "bn=();k=1;k=2", "BN=()"],
)
def test_malformed_signature_input(header: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_signature_input(header)
    assert caught.value.code == Code.MALFORMED


@pytest.mark.parametrize("header", ["", "bn=abc", "bn=:!!:", "xx=:AAAA:", "bn=:AAAA:"])
def test_malformed_signature(header: str) -> None:
    with pytest.raises(ProtocolError):
        parse_signature(header, "bn")


def test_rfc8941_spacing_and_several_signatures_parse_to_the_canonical_list() -> None:
    spaced = 'a=(  "@method"  "@path" );created=1; keyid="k";  nonce="n", b=("@path");x;y=?0;z=-3'
    first, second = parse_signature_inputs(spaced)
    assert first.serialized == '("@method" "@path");created=1;keyid="k";nonce="n"'
    assert second.label == "b" and second.params == (("x", True), ("y", False), ("z", -3))
    assert second.serialized == '("@path");x;y=?0;z=-3'
    assert parse_signatures("a=:" + "A" * 86 + "==:, b=:" + "B" * 86 + "==:").keys() == {"a", "b"}
    for bad in ('a=("@method";bs)', 'a=("x")("y")', 'a=("x"),', "a=(\"x\"), a=(\"y\")", 'a=("x");k="un"terminated'):
        with pytest.raises(ProtocolError):
            parse_signature_inputs(bad)
