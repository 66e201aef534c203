"""JSON views of signed objects, for humans and the HTTP API (never signed, never parsed back).

Byte strings are shown as lowercase hex; everything else as in the payload. The
``author_id`` field adds the author's node id in text form."""

from __future__ import annotations

from typing import Any

import msgspec

from .keys import node_id_text
from .models import Envelope, Payload


def _hexify(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _hexify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hexify(v) for v in value]
    return value


def payload_view(payload: Payload) -> dict[str, Any]:
    """The payload as JSON-ready builtins with sorted keys and defaults left out."""
    builtins = msgspec.to_builtins(payload, builtin_types=(bytes,), order="sorted")
    view: dict[str, Any] = _hexify(builtins)
    return view


def envelope_view(envelope: Envelope) -> dict[str, Any]:
    """An envelope for display: id, author id, payload and signature."""
    return {
        "id": envelope.id.hex(),
        "author_id": node_id_text(envelope.author),
        "kind": envelope.kind,
        "payload": payload_view(envelope.payload),
        "signature": envelope.signature.hex(),
    }
