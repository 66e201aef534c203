"""A decision as the public reads it (signed out): the text decided, the counts, the outcome
and the rules in words. The text is shown only where this node holds one whose SHA-256 is the
decision's ``text_hash`` (so what is shown is what was voted on)."""

from __future__ import annotations

import hashlib
import re

from aiohttp import web

from node.errors import NotFound
from node.service import Node
from node.web.common import node_of
from node.web.pages.common import Page, render
from protocol import AgendaItem, BallotRules, Decision, Envelope, node_id_text, open_envelope

HEX_ID = re.compile(r"[0-9a-f]{64}")
BASES = {"for_against": "of the votes for and against (abstentions not counted)",
         "cast": "of all votes cast (an abstention counts as not for)",
         "electorate": "of everyone on the roll"}  # fmt: skip


def share(num: int, den: int) -> str:
    """A fraction in words: 1/2 → "half", 2/3 → "two thirds", else "num/den" (and a percentage)."""
    named = {(1, 2): "half", (2, 3): "two thirds", (3, 4): "three quarters", (1, 3): "a third",
             (1, 4): "a quarter", (3, 5): "three fifths", (0, 1): "none", (1, 1): "all"}  # fmt: skip
    if (num, den) in named:
        return named[(num, den)]
    return f"{num}/{den} ({100 * num / den:.3g}%)"


def rules_in_words(rules: BallotRules, electorate: int) -> list[str]:
    """What a for-against ballot needs, in sentences a member reads in a few seconds."""
    lines = []
    if rules.quorum.num == 0:
        lines.append("No quorum: it is decided however few vote.")
    else:
        needed = -(-rules.quorum.num * electorate // rules.quorum.den)  # ceiling
        lines.append(f"Quorum: {share(rules.quorum.num, rules.quorum.den)} of the {electorate} members on the roll "
                     f"must vote (at least {needed}, abstentions included); with fewer it is not quorate.")  # fmt: skip
    reach = "more than" if rules.reach == "more_than" else "at least"
    lines.append(f"Carried with {reach} {share(rules.threshold.num, rules.threshold.den)} {BASES[rules.base]} for.")
    return lines


async def decided_text(node: Node, decision: Decision, author: bytes) -> str | None:
    """The text this node holds whose hash the decision names, if any: the ballot's own (as
    opened here), or a parent's agenda item that a branch's ballot decided."""
    candidates: list[str] = []
    if author == node.key.public:
        row = await node.ballots.by_ballot(decision.ballot)
        if row is not None:
            candidates.append(row.text)
            if len(row.motion) == 64:  # an agenda question: the parent's item
                raw = await node.envelopes.get(bytes.fromhex(row.motion))
                item = open_envelope(raw).payload.body if raw is not None else None
                if isinstance(item, AgendaItem):
                    candidates.append(item.text)
    for text in candidates:
        if text and hashlib.sha256(text.encode()).digest() == decision.text_hash:
            return text
    return None


async def _decision(node: Node, decision_id: str) -> tuple[Envelope, Decision]:
    if not HEX_ID.fullmatch(decision_id):
        raise NotFound("no such decision")
    raw = await node.envelopes.get(bytes.fromhex(decision_id))
    envelope = open_envelope(raw) if raw is not None else None
    if envelope is None or not isinstance(envelope.payload.body, Decision):
        raise NotFound("no such decision here")
    return envelope, envelope.payload.body


async def decision_page(request: web.Request) -> web.StreamResponse:
    node = node_of(request)
    envelope, decision = await _decision(node, request.match_info["decision_id"])
    trust = node.federation_state.trust
    author = trust.bodies.get(envelope.author) if trust else None
    cast = sum(decision.counts) if decision.method == "for_against_abstain" else None
    motion_id = None  # this body's own motion it decided, readable by anyone once decided
    if envelope.author == node.key.public:
        row = await node.ballots.by_ballot(decision.ballot)
        if row is not None and row.motion.startswith("m") and row.motion[1:].isdigit():
            motion_id = int(row.motion[1:])
    return render(request, "decision.html", {
        "envelope": envelope, "d": decision, "by": author.name if author else node_id_text(envelope.author),
        "text": await decided_text(node, decision, envelope.author), "cast": cast, "motion_id": motion_id,
        "rules": rules_in_words(decision.rules, decision.electorate) if decision.method == "for_against_abstain"
        else []})  # fmt: skip


PAGES = [Page("GET", "/decisions/{decision_id}", decision_page, "public")]
