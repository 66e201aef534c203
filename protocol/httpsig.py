"""HTTP Message Signatures (RFC 9421) with Ed25519, as branchnet nodes sign requests to each other.

Pure: this module builds and checks signature bases from values the caller passes in; the
HTTP layer (``node/``) takes them from aiohttp requests.

branchnet's profile (docs/federation.md, "Signed requests"): label ``bn``; covered
components ``"@method" "@authority" "@path" "@query" "content-digest"``; parameters
``created`` (seconds), ``keyid`` (the node id in text form), ``alg="ed25519"`` and a random
``nonce``. ``Content-Digest`` is RFC 9530's ``sha-256=:…:``. The general functions
(:func:`signature_base`, :func:`serialize_params`) also reproduce the RFC's own examples.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import ed25519
from .errors import Code, SignatureFailure

LABEL = "bn"
COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest")
Param = tuple[str, int | str]

_TOKEN = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_INNER = re.compile(r'^\((?P<items>(?:"[^"\\]*"(?: "[^"\\]*")*)?)\)(?P<params>.*)$')
_PARAM = re.compile(r';(?P<key>[a-z*][a-z0-9_\-.*]*)=(?:(?P<int>-?\d{1,15})|"(?P<str>[\x20-\x21\x23-\x5b\x5d-\x7e]*)")')


def serialize_params(components: Sequence[str], params: Sequence[Param]) -> str:
    """The ``@signature-params`` value: an inner list of component names with parameters."""
    items = " ".join(f'"{c}"' for c in components)
    rendered = "".join(f";{k}={v}" if isinstance(v, int) else f';{k}="{v}"' for k, v in params)
    return f"({items}){rendered}"


def signature_base(components: Sequence[tuple[str, str]], params: str) -> bytes:
    """RFC 9421 section 2.5: one ``"name": value`` line per covered component, then the params."""
    lines = [f'"{name}": {value}' for name, value in components]
    lines.append(f'"@signature-params": {params}')
    text = "\n".join(lines)
    if any(ord(ch) > 0x7E or (ord(ch) < 0x20) for ch in text.replace("\n", "")):
        raise SignatureFailure(Code.MALFORMED, "signature base components must be printable ASCII", "signature")
    return text.encode("ascii")


def content_digest(body: bytes) -> str:
    """RFC 9530 ``Content-Digest`` value with SHA-256."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


@dataclass(frozen=True)
class SignatureInput:
    label: str
    components: tuple[str, ...]
    params: tuple[Param, ...]
    raw_params: str  # exactly as received: the signature covers these bytes

    def param(self, name: str) -> int | str | None:
        return next((v for k, v in self.params if k == name), None)


def parse_signature_input(header: str) -> SignatureInput:
    """Parse a ``Signature-Input`` header holding one signature (the only form branchnet sends)."""
    label, sep, value = header.strip().partition("=")
    if not sep or not _TOKEN.fullmatch(label):
        raise SignatureFailure(Code.MALFORMED, "Signature-Input is not label=(...)", "Signature-Input")
    match = _INNER.match(value)
    if match is None:
        raise SignatureFailure(Code.MALFORMED, "Signature-Input is not an inner list", "Signature-Input")
    components = tuple(item.strip('"') for item in match.group("items").split(" ") if item)
    params: list[Param] = []
    rest = match.group("params")
    position = 0
    while position < len(rest):
        pm = _PARAM.match(rest, position)
        if pm is None:
            raise SignatureFailure(Code.MALFORMED, f"bad signature parameter near {rest[position:][:20]!r}",
                                   "Signature-Input")  # fmt: skip
        params.append((pm.group("key"), int(pm.group("int")) if pm.group("int") else pm.group("str")))
        position = pm.end()
    if len({k for k, _ in params}) != len(params) or len(set(components)) != len(components):
        raise SignatureFailure(Code.MALFORMED, "repeated component or parameter", "Signature-Input")
    return SignatureInput(label, components, tuple(params), value)


def parse_signature(header: str, label: str) -> bytes:
    """The signature bytes for ``label`` from a ``Signature`` header (``label=:base64:``)."""
    name, sep, value = header.strip().partition("=")
    if not sep or name != label or not (value.startswith(":") and value.endswith(":")) or len(value) < 3:
        raise SignatureFailure(Code.MALFORMED, f"Signature is not {label}=:base64:", "Signature")
    try:
        signature = base64.b64decode(value[1:-1], validate=True)
    except (binascii.Error, ValueError):
        raise SignatureFailure(Code.MALFORMED, "Signature is not base64", "Signature") from None
    if len(signature) != 64:
        raise SignatureFailure(Code.BAD_SIGNATURE, "an Ed25519 signature is 64 bytes", "Signature")
    return signature


def request_components(method: str, authority: str, path: str, query: str, digest: str) -> list[tuple[str, str]]:
    """branchnet's covered components, in order. ``query`` includes its leading ``?``
    (RFC 9421 section 2.2.7: ``?`` alone when there is none)."""
    return [("@method", method.upper()), ("@authority", authority.lower()), ("@path", path or "/"),
            ("@query", query or "?"), ("content-digest", digest)]  # fmt: skip


def sign_request(
    sign: Callable[[bytes], bytes], keyid: str, created: int, nonce: str, components: list[tuple[str, str]]
) -> dict[str, str]:
    """The ``Signature-Input`` and ``Signature`` headers for a request.

    ``sign`` is a callable taking the signature base and returning 64 bytes (a node key's
    ``sign``)."""
    signed: list[Param] = [("created", created), ("keyid", keyid), ("alg", "ed25519"), ("nonce", nonce)]
    params = serialize_params([n for n, _ in components], signed)
    base = signature_base(components, params)
    signature = sign(base)
    return {
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:{base64.b64encode(signature).decode()}:",
    }


def verify_request(public_key: bytes, signature_input: SignatureInput, signature: bytes,
                   components: list[tuple[str, str]]) -> None:  # fmt: skip
    """Check a request signature over ``components`` (as this server sees the request)."""
    if signature_input.components != tuple(n for n, _ in components):
        raise SignatureFailure(Code.BAD_SIGNATURE, f"the signature must cover {' '.join(COMPONENTS)}",
                               "Signature-Input")  # fmt: skip
    if signature_input.param("alg") not in (None, "ed25519"):
        raise SignatureFailure(Code.BAD_SIGNATURE, "alg must be ed25519", "Signature-Input")
    base = signature_base(components, signature_input.raw_params)
    if not ed25519.verify(public_key, signature, base):
        raise SignatureFailure(Code.BAD_SIGNATURE, "the request signature does not verify", "Signature")
