"""Node ids in text form and key files."""

from __future__ import annotations

import pytest

from protocol import Code, ProtocolError, SigningKey, node_id_text, parse_node_id
from tests.factories import key


def test_text_form_round_trips_and_is_stable() -> None:
    k = key("national")
    text = k.node_id
    assert text.startswith("bn1") and len(text) == 59
    assert set(text[3:]) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert parse_node_id(text) == k.public
    assert node_id_text(k.public) == text
    # RFC 8032 TEST 1 key, literal, so the text format is pinned.
    rfc = SigningKey.from_seed(bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
    assert rfc.public.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    assert rfc.node_id == "bn125njqamcweflpvkl73j4szahhihoc4xt3ktcgjnpaingr5yhkengp2bj"


@pytest.mark.parametrize(
    ("mangle", "code", "words"),
    [
        (lambda t: "xx" + t[2:], Code.BAD_ID_TEXT, "starts with"),
        (lambda t: t[:-1], Code.BAD_ID_TEXT, "59 characters"),
        (lambda t: t + "a", Code.BAD_ID_TEXT, "59 characters"),
        (lambda t: t[:10] + t[10].upper() + t[11:], Code.BAD_ID_TEXT, "a-z and 2-7"),
        (lambda t: t[:10] + "1" + t[11:], Code.BAD_ID_TEXT, "a-z and 2-7"),
        (lambda t: t[:10] + ("a" if t[10] != "a" else "b") + t[11:], Code.BAD_ID_TEXT, "checksum"),
    ],
)
def test_strict_parsing_names_the_problem(mangle, code: Code, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ProtocolError) as info:
        parse_node_id(mangle(key("national").node_id))
    assert info.value.code == code and words in info.value.message


def test_small_order_key_refused_even_with_good_checksum() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_node_id(node_id_text(b"\x01" + bytes(31)))
    assert info.value.code == Code.BAD_KEY


def test_pem_round_trip_and_errors() -> None:
    k = key("national")
    assert SigningKey.from_pem(k.to_pem()).public == k.public
    with pytest.raises(ProtocolError) as info:
        SigningKey.from_pem(b"not a key")
    assert info.value.code == Code.BAD_KEY
    with pytest.raises(ProtocolError):
        SigningKey.from_seed(b"short")
