"""Routes for members' own keys (issue 25): a member's passkeys and key files, their own to
add, list and revoke (node/rules/member_keys.py)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import msgspec
from aiohttp import web
from msgspec import Meta

from node.errors import BadInput
from node.rules import member_keys as rules
from node.storage.member_keys import KeyRow
from node.storage.members import Member
from node.web.common import int_param, json_response, node_of, read_json
from node.web.routing import Route

Label = Annotated[str, Meta(max_length=60)]


class KeyView(msgspec.Struct):
    id: int
    alg: str  # ed25519 or es256
    passkey: bool  # made in a browser (else a key file's, made on a terminal)
    label: str
    key_id: str  # hex: what a roll and a participation name it by
    added_at: int
    revoked_at: int | None


class PasskeyIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    credential: dict[str, Any]  # what navigator.credentials.create gave, in its JSON form
    label: Label = ""


class KeyFileIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    public: Annotated[str, Meta(max_length=100)]  # the Ed25519 public key, base64url or hex
    label: Label = ""


class ScrutineerView(msgspec.Struct):
    member_id: int
    name: str
    appointed_at: int


class ScrutineerIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    member_id: Annotated[int, Meta(ge=1, le=2**62)]


def view(row: KeyRow) -> KeyView:
    return KeyView(row.id, row.key.alg, row.key.passkey, row.label, row.key_id.hex(), row.added_at, row.revoked_at)


def public_bytes(text: str) -> bytes:
    """An Ed25519 public key written as 64 hex digits or 43 base64url characters."""
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 64 else base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise BadInput("the public key is 32 bytes: 64 hex digits or 43 base64url characters", field="public")
    return raw


async def my_keys(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return json_response([view(k) for k in await rules.keys(node_of(request), who)])


async def passkey_options(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return json_response(await rules.registration_options(node_of(request), who))


async def add_passkey(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, PasskeyIn)
    return json_response(view(await rules.add_passkey(node_of(request), who, body.credential, body.label)), status=201)


async def add_key_file(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, KeyFileIn)
    row = await rules.add_key_file(node_of(request), who, public_bytes(body.public), body.label)
    return json_response(view(row), status=201)


async def revoke_key(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    return json_response(view(await rules.revoke(node_of(request), who, int_param(request, "key_id"))))


async def scrutineers(request: web.Request, who: Member | None) -> web.StreamResponse:
    found = await node_of(request).scrutineers.all()
    return json_response([ScrutineerView(s.member_id, s.name, s.appointed_at) for s in found])


async def appoint(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    body = await read_json(request, ScrutineerIn)
    await rules.appoint_scrutineer(node_of(request), who, body.member_id)
    return web.Response(status=204)


async def dismiss(request: web.Request, who: Member | None) -> web.StreamResponse:
    assert who is not None
    await rules.dismiss_scrutineer(node_of(request), who, int_param(request, "member_id"))
    return web.Response(status=204)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/me/keys", my_keys, "member", "My own keys: passkeys and key files, revoked ones too",
          response=list[KeyView]),
    Route("POST", "/api/v1/me/keys/passkey-options", passkey_options, "member",
          "Options for navigator.credentials.create: a passkey for me on this site (a challenge good for 5 minutes)",
          response=dict[str, Any]),
    Route("POST", "/api/v1/me/keys/passkeys", add_passkey, "member", "Keep the passkey my browser made", PasskeyIn,
          KeyView, 201),
    Route("POST", "/api/v1/me/keys/files", add_key_file, "member", "Keep a key file's Ed25519 public key", KeyFileIn,
          KeyView, 201),
    Route("DELETE", "/api/v1/me/keys/{key_id}", revoke_key, "member", "Revoke one of my keys: it signs nothing more",
          response=KeyView),
    Route("GET", "/api/v1/scrutineers", scrutineers, "member",
          "The members appointed to check each ballot's marked register", response=list[ScrutineerView]),
    Route("POST", "/api/v1/scrutineers", appoint, "officer", "Appoint a member (holding no office) as a scrutineer",
          ScrutineerIn, status=204),
    Route("DELETE", "/api/v1/scrutineers/{member_id}", dismiss, "officer", "Dismiss a scrutineer", status=204),
)  # fmt: skip
