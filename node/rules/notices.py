"""What members are told by mail, and their say over it (docs/operating.md, "Mail").

Invites and password links go to the one member they are for. Notices go to members who
have them on (ballot notices are on until a member turns them off; decision and election
notices are off until turned on): a ballot they may vote on opened, a reminder before it closes to those who
have not voted, a decision of this body published, an election of this body or one above it
open for candidates, and (for those who ask) a daily digest of what is open and what was
decided. A notice
never holds a receipt or a choice. Each notice carries a one-click unsubscribe link (RFC
8058) whose token is a MAC under a key derived from the node's: no table of tokens, nothing
to guess, and it turns off that one kind of notice for that one member.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any

from node.config import Config
from node.storage.outbox import NOTICE_KINDS

# Which member choice each kind of mail obeys (None: always sent: it was asked for).
NOTICE_OF: dict[str, str | None] = {
    "invite": None,
    "reset": None,
    "ballot_opened": "ballots",
    "ballot_reminder": "ballots",
    "decision": "decisions",
    "elections": "elections",
    "digest": "digest",
}


def _mac(seed: bytes, member_id: int, notice: str) -> str:
    secret = hashlib.sha256(b"branchnet unsubscribe v1\x00" + seed).digest()
    return hmac.new(secret, f"{member_id}|{notice}".encode(), hashlib.sha256).hexdigest()[:32]


def unsubscribe_token(seed: bytes, member_id: int, notice: str) -> str:
    assert notice in NOTICE_KINDS
    return f"{member_id}.{notice}.{_mac(seed, member_id, notice)}"


def read_unsubscribe(seed: bytes, token: str) -> tuple[int, str] | None:
    """The member and the notice an unsubscribe token turns off, or None if it is not one
    this node gave."""
    parts = token.split(".")
    if len(token) > 100 or len(parts) != 3 or parts[1] not in NOTICE_KINDS:
        return None
    if not (parts[0].isascii() and parts[0].isdigit()) or len(parts[0]) > 18:
        return None
    member_id = int(parts[0])
    if not hmac.compare_digest(parts[2], _mac(seed, member_id, parts[1])):
        return None
    return member_id, parts[1]


def link(config: Config, path: str) -> str:
    return f"{config.http.public_url.rstrip('/')}{path}"


def when_text(at_ms: int | None) -> str:
    """A time in mail: UTC, spelled out (a mail reader has no clock of ours)."""
    if at_ms is None:
        return "when an officer closes it"
    return dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC).strftime("%A %d %B %Y, %H:%M UTC")


def ballot_params(config: Config, ballot_id: int, subject: str, closes: int | None) -> dict[str, Any]:
    return {"subject": subject, "closes": when_text(closes), "url": link(config, f"/ballots/{ballot_id}")}


def link_params(url: str, expires: int) -> dict[str, Any]:
    return {"url": url, "expires": when_text(expires * 1000)}


def decision_params(config: Config, decision: bytes, subject: str, outcome: str) -> dict[str, Any]:
    url = link(config, f"/decisions/{decision.hex()}")
    return {"subject": subject, "outcome": outcome.replace("_", " "), "url": url}


def elections_params(config: Config, selection: bytes, office: str, by: str, closes: int) -> dict[str, Any]:
    url = link(config, f"/selections/{selection.hex()}")
    return {"office": office, "by": by, "closes": when_text(closes), "url": url}


def digest_params(config: Config, day: str, open_ballots: list[tuple[int, str, int | None]],
                  decided: list[tuple[str, str]]) -> dict[str, Any]:  # fmt: skip
    return {"day": day,
            "ballots": [{"subject": s, "closes": when_text(c), "url": link(config, f"/ballots/{i}")}
                        for i, s, c in open_ballots],
            "decided": [{"subject": s, "url": link(config, f"/decisions/{d}")} for d, s in decided]}  # fmt: skip
