"""Turn msgspec validation errors into messages a branch secretary can act on."""

from __future__ import annotations

import re

import msgspec

_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_CHOICES = {
    "role": "member, secretary, chair, treasurer, officer, admin",
    "status": "active, lapsed, suspended",
    "level": "branch, region, national, youth",
}


def describe(exc: msgspec.ValidationError | msgspec.DecodeError) -> tuple[str, str | None]:
    """(message, field path or None) for a decoding or validation error."""
    text = str(exc)
    match = _PATH.search(text)
    field = match.group("path") or None if match else None
    message = _PATH.sub("", text)
    leaf = (field or "").rsplit(".", 1)[-1]
    if not isinstance(exc, msgspec.ValidationError):  # (ValidationError subclasses DecodeError)
        return f"the body is not valid JSON: {message}", None
    if message.startswith("Expected `str` matching regex"):
        if leaf == "email":
            return "not a valid email address", field
        if leaf == "name":
            return "must not be blank or contain control characters", field
        return "has a form that is not allowed", field
    if message == "Expected `str` of length >= 1":
        return "must not be empty", field
    if message.startswith("Invalid enum value") and leaf in _CHOICES:
        return f"{message.removeprefix('Invalid enum value ')} is not one of {_CHOICES[leaf]}", field
    if message.startswith(("Invalid date", "Invalid RFC3339 encoded date")) or message == "Expected `date`, got `str`":
        return "not a date (YYYY-MM-DD)", field
    unknown = _UNKNOWN.match(message)
    if unknown:
        name = unknown.group("name")
        return f"unknown field {name!r}", f"{field}.{name}" if field else name
    return message, field
