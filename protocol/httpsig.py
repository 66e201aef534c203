"""HTTP Message Signatures (RFC 9421) with Ed25519, as branchnet nodes sign requests to each other.

Pure: this module builds and checks signature bases from values the caller passes in; the
HTTP layer (``node/``) takes them from aiohttp requests.

branchnet's profile (docs/federation.md, "Signed requests"): label ``bn``; covered
components ``"@method" "@authority" "@path" "@query" "content-digest"``; parameters
``created`` (seconds), ``keyid`` (the node id in text form), ``alg="ed25519"`` and a random
``nonce``. ``Content-Digest`` is RFC 9530's ``sha-256=:…:``. The general functions
(:func:`signature_base`, :func:`serialize_params`) also reproduce the RFC's own examples.

Verifying accepts what RFC 9421 and RFC 8941 allow where it costs no safety: spaces inside
the inner list and after ``;``, the components in any order, more components than required,
and several signatures in one dictionary (the verifier takes one that holds). What stays
refused is in docs/federation.md.
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
MAX_SIGNATURES = 4  # members of one Signature-Input / Signature dictionary that a verifier looks at
Param = tuple[str, int | str | bool]

_TOKEN = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_COMPONENT = re.compile(r'"(?P<name>[\x20-\x21\x23-\x5b\x5d-\x7e]*)"')
_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_INT = re.compile(r"-?\d{1,15}")
_STRING = re.compile(r'"(?P<str>[\x20-\x21\x23-\x5b\x5d-\x7e]*)"')


def _bad(message: str, field: str = "Signature-Input") -> SignatureFailure:
    return SignatureFailure(Code.MALFORMED, message, field)


def serialize_params(components: Sequence[str], params: Sequence[Param]) -> str:
    """The ``@signature-params`` value: an inner list of component names with parameters, as
    RFC 8941 serializes it (one space between items, none after ``;``)."""
    items = " ".join(f'"{c}"' for c in components)
    rendered = "".join(
        (f";{k}" if v else f";{k}=?0") if isinstance(v, bool) else f";{k}={v}" if isinstance(v, int) else f';{k}="{v}"'
        for k, v in params
    )
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
    serialized: str  # the inner list as RFC 8941 serializes it: what the signature base holds

    def param(self, name: str) -> int | str | bool | None:
        return next((v for k, v in self.params if k == name), None)


def _members(header: str, field: str) -> list[tuple[str, str]]:
    """An RFC 8941 Dictionary's members (key, value text), split at the commas outside strings
    and inner lists; optional spaces around each member dropped."""
    members: list[tuple[str, str]] = []
    depth, quoted, escaped, start = 0, False, False, 0
    for i, ch in enumerate(header + ","):
        if quoted:
            escaped, quoted = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            quoted = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            member = header[start:i].strip(" \t")
            start = i + 1
            key, sep, value = member.partition("=")
            if not sep or not _TOKEN.fullmatch(key):
                raise _bad(f"{field} is not a dictionary of label=value", field)
            members.append((key, value))
    if quoted or depth:
        raise _bad(f"{field} ends inside a string or a list", field)
    if len({k for k, _ in members}) != len(members):
        raise _bad(f"{field} names a label twice", field)
    if len(members) > MAX_SIGNATURES:
        raise _bad(f"{field} holds more than {MAX_SIGNATURES} signatures", field)
    return members


def _inner_list(label: str, value: str) -> SignatureInput:
    """RFC 8941 section 3.1.1: ``(`` *SP items separated by 1*SP *SP ``)``, then parameters,
    each ``;`` *SP key [``=`` value]; a covered component with parameters of its own is refused."""
    if not value.startswith("("):
        raise _bad("Signature-Input is not an inner list")
    i, components = 1, list[str]()
    while True:
        while value[i : i + 1] == " ":
            i += 1
        if value[i : i + 1] == ")":
            i += 1
            break
        if components and value[i - 1 : i] != " ":
            raise _bad("covered components are separated by spaces")
        match = _COMPONENT.match(value, i)
        if match is None:
            raise _bad(f"bad covered component near {value[i:][:20]!r}")
        if value[match.end() : match.end() + 1] == ";":
            raise _bad("covered components with parameters (;sf, ;key, ;bs, ;req, ;name) are not accepted")
        components.append(match.group("name"))
        i = match.end()
    params: list[Param] = []
    while i < len(value):
        if value[i] != ";":
            raise _bad(f"bad signature parameter near {value[i:][:20]!r}")
        i += 1
        while value[i : i + 1] == " ":
            i += 1
        key = _KEY.match(value, i)
        if key is None:
            raise _bad(f"bad signature parameter near {value[i:][:20]!r}")
        i = key.end()
        if value[i : i + 1] != "=":
            params.append((key.group(), True))
            continue
        i += 1
        if (number := _INT.match(value, i)) is not None and not value[number.end() : number.end() + 1].isdigit():
            params.append((key.group(), int(number.group())))
            i = number.end()
        elif (text := _STRING.match(value, i)) is not None:
            params.append((key.group(), text.group("str")))
            i = text.end()
        elif value[i : i + 2] in ("?0", "?1"):
            params.append((key.group(), value[i + 1] == "1"))
            i += 2
        else:
            raise _bad(f"bad value for the signature parameter {key.group()}")
    if len({k for k, _ in params}) != len(params) or len(set(components)) != len(components):
        raise _bad("repeated component or parameter")
    return SignatureInput(label, tuple(components), tuple(params), serialize_params(components, params))


def parse_signature_inputs(header: str) -> list[SignatureInput]:
    """Every signature a ``Signature-Input`` header describes (a dictionary, RFC 9421 4.1)."""
    members = _members(header.strip(" \t"), "Signature-Input")
    if not members:
        raise _bad("Signature-Input is empty")
    return [_inner_list(label, value) for label, value in members]


def parse_signature_input(header: str) -> SignatureInput:
    """The one signature a ``Signature-Input`` header holding one describes."""
    inputs = parse_signature_inputs(header)
    if len(inputs) != 1:
        raise _bad("Signature-Input holds more than one signature")
    return inputs[0]


def parse_signatures(header: str) -> dict[str, bytes]:
    """Every signature in a ``Signature`` header (a dictionary of ``label=:base64:``)."""
    found: dict[str, bytes] = {}
    for label, value in _members(header.strip(" \t"), "Signature"):
        if not (value.startswith(":") and value.endswith(":")) or len(value) < 3:
            raise SignatureFailure(Code.MALFORMED, f"Signature is not {label}=:base64:", "Signature")
        try:
            signature = base64.b64decode(value[1:-1], validate=True)
        except (binascii.Error, ValueError):
            raise SignatureFailure(Code.MALFORMED, "Signature is not base64", "Signature") from None
        if len(signature) != 64:
            raise SignatureFailure(Code.BAD_SIGNATURE, "an Ed25519 signature is 64 bytes", "Signature")
        found[label] = signature
    return found


def parse_signature(header: str, label: str) -> bytes:
    """The signature bytes for ``label`` from a ``Signature`` header."""
    found = parse_signatures(header) if header.strip() else {}
    if label not in found:
        raise SignatureFailure(Code.MALFORMED, f"Signature has no {label}=:base64:", "Signature")
    return found[label]


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
                   value_of: Callable[[str], str | None] | Sequence[tuple[str, str]],
                   required: Sequence[str] = COMPONENTS) -> None:  # fmt: skip
    """Check a request signature: it covers at least ``required`` (in any order, with any
    other components), each covered component has a value in this request (``value_of``: a
    component's value as this server sees the request, or None), ``alg`` is absent or
    ``ed25519``, and the signature over the base those values make holds."""
    resolve = value_of if callable(value_of) else dict(value_of).get
    missing = [c for c in required if c not in signature_input.components]
    if missing:
        raise SignatureFailure(Code.BAD_SIGNATURE, f"the signature must cover {' '.join(required)}",
                               "Signature-Input")  # fmt: skip
    if signature_input.param("alg") not in (None, "ed25519"):
        raise SignatureFailure(Code.BAD_SIGNATURE, "alg must be ed25519", "Signature-Input")
    covered: list[tuple[str, str]] = []
    for name in signature_input.components:
        value = resolve(name)
        if value is None:
            raise SignatureFailure(Code.BAD_SIGNATURE, f"the signature covers {name}, which this request does not"
                                   " have", "Signature-Input")  # fmt: skip
        covered.append((name, value))
    base = signature_base(covered, signature_input.serialized)
    if not ed25519.verify(public_key, signature, base):
        raise SignatureFailure(Code.BAD_SIGNATURE, "the request signature does not verify", "Signature")
