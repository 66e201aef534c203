"""Device cookies (OWASP): bound to the account and the node's key, and expiring."""

from __future__ import annotations

from dataclasses import dataclass

from node.rules.accounts import DEVICE_DAYS, device_cookie, known_device
from protocol import SigningKey


@dataclass
class _Node:
    key: SigningKey


def test_a_device_cookie_is_bound_to_its_account_its_node_and_its_time() -> None:
    node, other = _Node(SigningKey.generate()), _Node(SigningKey.generate())
    now = 1_800_000_000.0
    cookie = device_cookie(node, "Ann@Example.org", now)  # type: ignore[arg-type]
    assert known_device(node, "ann@example.org", cookie, now + 60)  # type: ignore[arg-type]
    assert not known_device(node, "bob@example.org", cookie, now)  # type: ignore[arg-type]
    assert not known_device(other, "ann@example.org", cookie, now)  # type: ignore[arg-type]
    assert not known_device(node, "ann@example.org", cookie, now + DEVICE_DAYS * 86_400 + 1)  # type: ignore[arg-type]
    issued, mac = cookie.split(".")
    for forged in (f"{int(issued) + 1}.{mac}", f"{issued}.{'0' * 32}", "", "x", f"{'9' * 5000}.{mac}", None):
        assert not known_device(node, "ann@example.org", forged, now)  # type: ignore[arg-type]
