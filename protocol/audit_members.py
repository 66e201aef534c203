"""The audit's checks of what members' own keys sign (protocol.member_keys): decisions on a
kind of ballot whose every vote the rules say is signed, and each nomination's candidate's
consent. A part of :func:`protocol.audit.later`, kept apart by what it does."""

from __future__ import annotations

from collections.abc import Iterator

from .audit_index import Index, shared
from .errors import Code
from .member_keys import consent_problem, participation_problem
from .models import Decision, Envelope, Nomination
from .trust import Trust


def members_signatures(index: Index, trust: Trust, part: tuple[int, int]) -> Iterator[tuple[Code, str, Envelope]]:
    """Each problem found, with the envelope it concerns (share ``part`` of the authors)."""
    yield from _signed_participation(index, trust, part)
    yield from _signed_consents(index, trust, part)


def _signed_participation(index: Index, trust: Trust, part: tuple[int, int]) -> Iterator[tuple[Code, str, Envelope]]:
    """Decisions on a kind of ballot whose every vote the rules (in force when its roll froze
    the electorate) say is signed by its voter's own key, that do not say so
    (``unsigned_participation``)."""
    if not any(rules.signed_participation for _, _, rules in trust.history) and not trust.rules.signed_participation:
        return
    for envelope in shared(index, "decision", part):
        body = envelope.payload.body
        assert isinstance(body, Decision)
        roll = index.envelope(body.roll)
        opened = roll.payload.created if roll is not None else envelope.payload.created
        problem = participation_problem(body, trust.rules_at(opened))
        if problem is not None:
            yield problem[0], problem[1], envelope


def _signed_consents(index: Index, trust: Trust, part: tuple[int, int]) -> Iterator[tuple[Code, str, Envelope]]:
    """Nominations without their candidate's consent where the rules (in force when signed)
    ask for it, and every consent carried checked against the roll it names, where the set
    holds that roll (as a decision against its roll: a set without the roll cannot judge)."""
    for envelope in shared(index, "nomination", part):
        body = envelope.payload.body
        assert isinstance(body, Nomination)
        roll = index.envelope(body.consent.roll) if body.consent is not None else None
        if body.consent is not None and roll is None:
            continue
        problem = consent_problem(envelope, roll, trust.federation, trust.rules_at(envelope.payload.created))
        if problem is not None:
            yield problem[0], problem[1], envelope
