"""Turn msgspec validation errors into messages a branch secretary can act on: each names the
field (as a path, ``body.name``) and the rule, in plain words, never the library's."""

from __future__ import annotations

import re

import msgspec

_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`$")
_LENGTH = re.compile(r"^Expected `(?P<type>str|bytes|array)` of length (?P<op>[<>]=) (?P<n>\d+)$")
_RANGE = re.compile(r"^Expected `int` (?P<op>[<>]=?) (?P<n>-?\d+)$")
_TYPE = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_WORDS = {"str": "text", "int": "a whole number", "bool": "true or false", "array": "a list", "object": "an object",
          "bytes": "bytes", "float": "a number", "null": "null", "date": "a date (YYYY-MM-DD)"}  # fmt: skip
_CHOICES = {  # by the field's full path first, then by its last name
    "log.level": "debug, info, warning, error",
    "log.format": "text, json",
    "role": "member, secretary, chair, treasurer, officer, admin",
    "status": "active, lapsed, suspended",
    "level": "branch, region, national, youth",
}


def whole_number(text: str, low: int, high: int) -> int | None:
    """``text`` as a whole number from ``low`` to ``high`` (ASCII digits only: ``int`` also
    takes "²" and Arabic-Indic digits, and refuses more than 4,300 digits with an error),
    or None when it is not one."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _plural(n: int, one: str) -> str:
    return f"{n} {one}" if n == 1 else f"{n} {one}s"


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
            return "must not be blank or hold control characters or direction overrides", field
        return "has a form that is not allowed", field
    if message == "Expected `str` of length >= 1":
        return "must not be empty", field
    if (length := _LENGTH.match(message)) is not None:
        unit = {"str": "character", "bytes": "byte", "array": "item"}[length.group("type")]
        bound = "at most" if length.group("op") == "<=" else "at least"
        return f"must have {bound} {_plural(int(length.group('n')), unit)}", field
    if (rng := _RANGE.match(message)) is not None:
        words = {"<=": "at most", ">=": "at least", "<": "less than", ">": "more than"}[rng.group("op")]
        return f"must be {words} {rng.group('n')}", field
    if message.startswith("Invalid enum value"):
        choices = _CHOICES.get(field or "") or _CHOICES.get(leaf)
        if choices:
            return f"{message.removeprefix('Invalid enum value ')} is not one of {choices}", field
    if message.startswith(("Invalid date", "Invalid RFC3339 encoded date")) or message == "Expected `date`, got `str`":
        return "not a date (YYYY-MM-DD)", field
    if (wrong := _TYPE.match(message)) is not None:
        want = " or ".join(_WORDS.get(w.strip(), w.strip()) for w in wrong.group("want").split("|"))
        return f"must be {want}, not {_WORDS.get(wrong.group('got'), wrong.group('got'))}", field
    if (missing := _MISSING.match(message)) is not None:
        name = missing.group("name")
        return "is required", f"{field}.{name}" if field else name
    if (unknown := _UNKNOWN.match(message)) is not None:
        name = unknown.group("name")
        return f"unknown field {name!r}", f"{field}.{name}" if field else name
    return message, field


def share(text: str) -> dict[str, int] | None:
    """``text`` as a share ``N/D`` (a Ratio's wire form: num 0 to 1,000,000, den 1 to
    1,000,000, ASCII digits only), or None when it is not one."""
    num, slash, den = text.partition("/")
    n, d = whole_number(num, 0, 1_000_000), whole_number(den, 1, 1_000_000)
    if not slash or n is None or d is None:
        return None
    return {"num": n, "den": d}
