"""What every signed object is made of: the limits, the field types, and the strict,
immutable base every Struct of :mod:`protocol.models` derives from (its body kinds from
``_Body``, whose tag key is ``kind``)."""

from __future__ import annotations

import sys
from typing import Annotated

import msgspec
from msgspec import Meta

# --- limits (docs/protocol.md, "Limits") -------------------------------------------------
MAX_ENVELOPE_BYTES = 64 * 1024
# A fork proof carries two whole envelopes, so it may be a little over twice the limit.
MAX_FORK_PROOF_ENVELOPE_BYTES = 2 * MAX_ENVELOPE_BYTES + 1024
MAX_TIME_MS = 2**48  # about the year 10889
MAX_SEQ = 2**53

Key = Annotated[bytes, Meta(min_length=32, max_length=32)]
Hash = Annotated[bytes, Meta(min_length=32, max_length=32)]
Name = Annotated[str, Meta(min_length=1, max_length=200)]
Text = Annotated[str, Meta(max_length=2000)]
Url = Annotated[str, Meta(min_length=8, max_length=2048, pattern=r"^https?://[^\s]+\Z")]
Level = Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_]{0,31}\Z")]
Seq = Annotated[int, Meta(ge=1, le=MAX_SEQ)]
TimeMs = Annotated[int, Meta(ge=0, le=MAX_TIME_MS)]
EnvelopeBytes = Annotated[bytes, Meta(min_length=1, max_length=MAX_ENVELOPE_BYTES)]


class _Object(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every encoded Struct: immutable, strict, defaults omitted."""


def _intern(obj: _Object, *names: str) -> None:
    """Intern string fields that have a non-empty default. msgspec leaves a field out when it
    *is* its default (the same object), so an equal string made elsewhere (read from a
    database, or decoded from a payload that wrote the default out) would be encoded: two
    byte strings for one object, and a non-canonical payload accepted. Interned, it is the
    default, whichever way it came."""
    for name in names:
        msgspec.structs.force_setattr(obj, name, sys.intern(getattr(obj, name)))


class Ratio(_Object, frozen=True):
    """An exact fraction ``num/den`` (signed data never holds floats)."""

    num: Annotated[int, Meta(ge=0, le=1_000_000)]
    den: Annotated[int, Meta(ge=1, le=1_000_000)]



class _Body(_Object, frozen=True, tag_field="kind"):
    """Base of the body kinds; the tag key is ``kind``."""

