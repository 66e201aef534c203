"""RFC 9421 against an independent implementation (issue 21, item 12): the
``http-message-signatures`` package signs requests a live node accepts, and verifies the
requests this node's client signs. Then what RFC 9421 and RFC 8941 allow at no cost to
safety is accepted (a space after ``;``, components in another order, extra components, a
second signature beside a valid one), and what stays refused is refused, with its reason.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)

from node.gossip.client import HttpTransport
from protocol import SigningKey
from protocol.httpsig import COMPONENTS, content_digest
from protocol.wire import JoinRequest
from tests.node.conftest import Live, new_node_dir


@pytest.fixture
async def node_dir(tmp_path: Path) -> Path:
    return await new_node_dir(tmp_path, "National Committee", level="national")


class Message:
    """What the package signs and verifies: a method, an absolute URL and headers."""

    def __init__(self, method: str, url: str, headers: dict[str, str]) -> None:
        self.method, self.url, self.headers = method, url, headers


def _body(name: str = "East Region") -> bytes:
    return msgspec.msgpack.encode(JoinRequest(name=name, level="region", url="https://east.example.org"))


def _package_signed(key: SigningKey, url: str, body: bytes, components: tuple[str, ...] = COMPONENTS,
                    label: str = "pyhms", nonce: str | None = "n") -> dict[str, str]:  # fmt: skip
    private = Ed25519PrivateKey.from_private_bytes(key.seed)
    keys = MappingKeyResolver(public_keys={}, private_keys={key.node_id: private})
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=keys)
    message = Message("POST", url, {"Content-Digest": content_digest(body), "Content-Type": "application/msgpack"})
    fresh = None if nonce is None else nonce + secrets.token_hex(8)
    signer.sign(message, key_id=key.node_id, covered_component_ids=components, label=label, use_existing_digest=True,
                nonce=fresh, created=dt.datetime.now(dt.UTC))  # fmt: skip
    return message.headers


async def _post(live: Live, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    async with live.http.post("/fed/v1/join", data=body, headers=headers) as r:
        return r.status, (await r.json() if r.content_type == "application/json" else await r.read())


async def test_the_package_signs_and_the_node_accepts(live: Live) -> None:
    key = SigningKey.generate()
    body = _body()
    status, answer = await _post(live, _package_signed(key, f"{live.url}/fed/v1/join", body), body)
    assert status == 200, answer
    assert [j.node_id for j in await live.node.joins.list("pending")] == [key.node_id]


async def test_the_node_signs_and_the_package_verifies(live: Live) -> None:
    key = SigningKey.generate()
    body = _body()
    url = f"{live.url}/fed/v1/join?x=1"
    headers = HttpTransport(key, allow_private=True, timeout_s=10).signed_headers("POST", url, body)
    public = Ed25519PublicKey.from_public_bytes(key.public)
    keys = MappingKeyResolver(public_keys={key.node_id: public}, private_keys={})
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=keys)
    (result,) = verifier.verify(Message("POST", url, dict(headers)), require_components=COMPONENTS, body=body)
    assert result.parameters["keyid"] == key.node_id and result.nonce
    tampered = Message("POST", url.replace("x=1", "x=2"), dict(headers))
    with pytest.raises(InvalidSignature):
        verifier.verify(tampered, require_components=COMPONENTS)


def _variants(key: SigningKey, url: str, body: bytes) -> Iterator[tuple[str, dict[str, str]]]:
    def ours() -> dict[str, str]:  # a fresh nonce each time: each variant is a new request
        return HttpTransport(key, allow_private=True, timeout_s=10).signed_headers("POST", url, body)

    spaced = ours()
    yield "a space after each ;", {**spaced, "Signature-Input": spaced["Signature-Input"].replace(";", "; ")}
    padded = ours()
    inner = padded["Signature-Input"].replace('("', '(  "').replace('" "', '"  "').replace('")', '" )')
    yield "spaces inside the list", {**padded, "Signature-Input": inner}
    reordered = ("content-digest", "@query", "@path", "@authority", "@method")
    yield "components in another order", _package_signed(key, url, body, reordered)
    yield "extra components", _package_signed(key, url, body, (*COMPONENTS, "content-type", "@target-uri"))
    beside = ours()
    bogus = "other=:" + base64.b64encode(bytes(64)).decode() + ":"
    second = 'other=("@method");created=1;keyid="someone-else", ' + beside["Signature-Input"]
    yield "a second signature beside a valid one", {**beside, "Signature-Input": second,
                                                    "Signature": f"{bogus}, {beside['Signature']}"}  # fmt: skip


async def test_what_the_rfcs_allow_at_no_cost_to_safety_is_accepted(live: Live) -> None:
    body = _body()
    for what, headers in _variants(SigningKey.generate(), f"{live.url}/fed/v1/join", body):
        status, answer = await _post(live, headers, body)
        assert status == 200, (what, answer)


async def test_what_stays_refused_is_refused_with_its_reason(live: Live) -> None:
    key = SigningKey.generate()
    url, body = f"{live.url}/fed/v1/join", _body()
    ours = HttpTransport(key, allow_private=True, timeout_s=10).signed_headers("POST", url, body)
    cases = [
        ("no nonce (replay)", _package_signed(key, url, body, nonce=None), "replay"),
        ("not every required component", _package_signed(key, url, body, ("@method", "@authority", "@path")),
         "bad_signature"),
        ("a component with parameters", {**ours, "Signature-Input": ours["Signature-Input"].replace(
            '"@query"', '"@query";bs')}, "malformed"),
        ("another algorithm", {**ours, "Signature-Input": ours["Signature-Input"].replace('alg="ed25519"',
                                                                                           'alg="rsa-pss-sha512"')},
         "bad_signature"),
        ("a replayed request", ours, "replay"),
    ]  # fmt: skip
    status, _ = await _post(live, ours, body)  # the first time it is fresh
    assert status == 200
    for what, headers, code in cases:
        status, answer = await _post(live, headers, body)
        assert status == 401 and answer["error"]["code"] == code, (what, answer)
