"""The audit: what several sources published about one federation, merged and checked alone.

Pure: the caller reads each source (an export file, a node's URL) into bytes; this module
merges them and checks, in this order (docs/auditing.md):

1. each source is a bundle (a truncated or corrupt one is a problem of that source, and what
   it held up to the fault is still audited);
2. encoding, limits and signatures, each kind's own rules, every author's chain (gaps,
   forks with their proofs), and the checks between envelopes of the set (a decision against
   its roll, a second decision on a ballot): :func:`protocol.chain.check_logs`, the same code
   a node runs on every envelope it takes in;
3. trust from the genesis, replayed from the set alone (charters, revocations, rotations,
   freezes by forks, in any order): an envelope whose author was never chartered, or was cut
   before it, is a problem with the code a node refuses it with;
4. every aggregate recounted from the mandates and rolls the set holds, by the same code a
   node recounts with (:func:`protocol.upward.judge_item`, :func:`protocol.upward.recount`):
   a dropped mandate, a wrong weight, wrong totals, each with the code a node records;
5. every selection's ballot paper against its nominations (a second paper is
   ``paper_twice``) and every result recounted from the bundles the set holds
   (:func:`protocol.selections.judge_selection`, as a node judges them);
6. split views: where two sources hold different envelopes at one author and sequence, that
   is a fork (its proof is in the report); where a source holds less of an author's log than
   another, it is behind (or withholding).

Every problem names the object (its id, where it has one), its author, and a reason code.
The verdict does not depend on the order of the sources or of their envelopes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .bundle import read_bundle
from .chain import Head, check_logs, verify_fork_proof
from .errors import Code, ProtocolError
from .models import (
    AgendaItem,
    Aggregate,
    BallotPaper,
    Decision,
    Delegates,
    Envelope,
    ForkProof,
    Genesis,
    Mandate,
    Nomination,
    Roll,
    Selection,
    SelectionResult,
    kind_of,
)
from .rolls import IMPLAUSIBLE_ROLL, RECENT_DECISIONS, doubt
from .selections import Signed, judge_selection
from .trust import STRUCTURAL, Trust
from .upward import judge_item, recount

NO_GENESIS = "no_genesis"  # the set holds no genesis (or several): trust cannot be computed


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold: a reason code, the object, its author, and where."""

    code: str
    message: str
    object: bytes | None = None  # the envelope's id, when it has one
    author: bytes | None = None
    kind: str = ""
    source: str = ""  # the source it concerns, when it concerns one


@dataclass(frozen=True)
class Behind:
    """A source that holds less of an author's log than another source does."""

    source: str
    author: bytes
    holds: int  # its highest sequence of that author (0: none)
    highest: int  # the highest any source holds


@dataclass
class Report:
    sources: list[str]
    envelopes: int = 0  # distinct envelopes read
    kinds: Counter[str] = field(default_factory=Counter)  # of the envelopes that hold
    heads: dict[bytes, Head] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    forks: list[ForkProof] = field(default_factory=list)
    behind: list[Behind] = field(default_factory=list)
    unchecked: list[bytes] = field(default_factory=list)  # aggregates whose item the set lacks
    trust: Trust | None = None

    @property
    def holds(self) -> bool:
        """Everything checked holds (a source that is behind is reported, not a failure)."""
        return not self.problems


def _problem(code: Code | str, message: str, envelope: Envelope | None = None, object_id: bytes | None = None,
             source: str = "") -> Problem:  # fmt: skip
    if envelope is not None:
        return Problem(str(code), message, envelope.id, envelope.author, envelope.kind, source)
    return Problem(str(code), message, object_id, None, "", source)


def audit(sources: Sequence[tuple[str, bytes]], now_ms: int) -> Report:
    """Merge ``sources`` (name, bundle bytes) and check everything (see the module's text)."""
    report = Report([name for name, _ in sources])
    merged: dict[bytes, bytes] = {}
    for name, data in sources:
        try:
            raws = list(read_bundle(data))
        except ProtocolError as exc:
            raws = list(_salvage(data))  # what comes before the fault is still audited
            report.problems.append(_problem(exc.code, f"{name}: {exc.message}", source=name))
        for raw in raws:
            merged.setdefault(hashlib.sha256(raw).digest(), raw)
    report.envelopes = len(merged)
    ordered = [merged[k] for k in sorted(merged)]  # any order of sources gives this one
    logs = check_logs(ordered, now_ms)
    report.heads, report.forks = logs.heads, logs.forks
    by_id = {e.id: e for e in logs.accepted}
    for failure in logs.failures:
        envelope = by_id.get(failure.id) if failure.id is not None else None
        object_id = failure.id if failure.id is not None else hashlib.sha256(ordered[failure.index]).digest()
        report.problems.append(Problem(str(failure.error.code), failure.error.message, object_id,
                                       envelope.author if envelope else None, envelope.kind if envelope else ""))
    report.trust = _trust(logs.accepted, logs.forks, report)
    report.kinds = Counter(e.kind for e in logs.accepted)
    if report.trust is not None:
        admitted = _admitted(logs.accepted, report.trust)
        _recount_aggregates(admitted, report.trust, report)
        _judge_selections(admitted, report.trust, report)
    _split_views(sources, logs.accepted, report)
    report.problems.sort(key=lambda p: (p.code, p.object or b"", p.source))
    return report


def _salvage(data: bytes) -> Iterable[bytes]:
    """The records of a bundle up to its first fault."""
    try:
        yield from read_bundle(data)
    except ProtocolError:
        return


def _trust(accepted: list[Envelope], forks: list[ForkProof], report: Report) -> Trust | None:
    """Trust replayed from the genesis the set holds; every envelope whose author it does not
    admit at that sequence is a problem."""
    geneses = [e for e in accepted if isinstance(e.payload.body, Genesis)]
    if len(geneses) != 1:
        why = "no genesis: trust cannot be computed" if not geneses else f"{len(geneses)} geneses in one set"
        report.problems.append(Problem(NO_GENESIS, why))
        return None
    genesis = geneses[0]
    forked = [(a.author, a.seq) for a, _ in map(verify_fork_proof, forks)]
    trust = Trust.replay(genesis, [e for e in accepted if type(e.payload.body) in STRUCTURAL], forked)
    for envelope in accepted:
        if envelope.payload.federation not in (None, genesis.id):
            report.problems.append(_problem(Code.WRONG_FEDERATION, "it belongs to another federation", envelope))
            continue
        body = trust.bodies.get(envelope.author)
        if body is None:
            report.problems.append(_problem(Code.UNKNOWN_AUTHOR, "its author was never chartered in this federation",
                                            envelope))  # fmt: skip
        elif body.cut is not None and envelope.seq > body.cut:
            report.problems.append(_problem(Code.REVOKED, f"its author was cut after seq {body.cut} "
                                                          f"({body.cut_reason})", envelope))  # fmt: skip
    return trust


def _admitted(accepted: list[Envelope], trust: Trust) -> list[Envelope]:
    """The envelopes a node would hold: by an author the trust admits, within its cut."""
    out = []
    for envelope in accepted:
        body = trust.bodies.get(envelope.author)
        if body is not None and (body.cut is None or envelope.seq <= body.cut):
            out.append(envelope)
    return out


def _recount_aggregates(held: list[Envelope], trust: Trust, report: Report) -> None:
    """Every aggregate recounted from the mandates and rolls the set holds, by the code a node
    recounts with (:func:`protocol.upward.judge_item` and :func:`protocol.upward.recount`)."""
    by_id = {e.id: e for e in held}
    ordered = sorted(held, key=lambda e: (e.author, e.seq))
    rolls: dict[bytes, list[Envelope]] = {}
    delegates: dict[bytes, list[Envelope]] = {}
    mandates: dict[bytes, list[Envelope]] = {}
    decisions: dict[bytes, list[Decision]] = {}
    for e in ordered:
        body = e.payload.body
        if isinstance(body, Decision):
            decisions.setdefault(e.author, []).append(body)
        if isinstance(body, Roll):
            rolls.setdefault(e.author, []).append(e)
        elif isinstance(body, Delegates):
            delegates.setdefault(body.to, []).append(e)
        elif isinstance(body, Mandate):
            mandates.setdefault(body.item, []).append(e)

    def parent_of(key: bytes) -> bytes | None:
        body = trust.bodies.get(key)
        return body.parent if body is not None else None

    for aggregate in (e for e in ordered if isinstance(e.payload.body, Aggregate)):
        item = by_id.get(aggregate.payload.body.item)  # type: ignore[union-attr]
        if item is None or not isinstance(item.payload.body, AgendaItem):
            report.unchecked.append(aggregate.id)  # its item is not in the set: a node would wait for it
            continue
        agenda = item.payload.body
        children = [k for k, b in trust.bodies.items() if b.parent == item.author and b.cut is None]
        counts: dict[bytes, int] = {}
        doubted: list[tuple[bytes, Envelope, str]] = []
        if agenda.weighting == "card_vote":
            for child in children:
                before = [r for r in rolls.get(child, []) if r.payload.created <= agenda.opens]
                if before:
                    weighing = before[-1]
                    counts[child] = weighing.payload.body.count  # type: ignore[union-attr]
                    log = rolls[child]
                    at = log.index(weighing)
                    previous = log[at - 1].payload.body.count if at > 0 else None  # type: ignore[union-attr]
                    recent = decisions.get(child, [])[::-1][:RECENT_DECISIONS]
                    why = doubt(counts[child], previous, recent)
                    if why is not None:
                        doubted.append((child, weighing, why))
        seats: dict[bytes, int] = {}
        if agenda.weighting == "delegates":
            for d in delegates.get(item.author, []):  # the latest by then wins
                if d.payload.created <= agenda.opens:
                    seats[d.author] = d.payload.body.count  # type: ignore[union-attr]
        judged = judge_item(item, children, parent_of, counts, seats, mandates.get(item.id, []), by_id)
        for finding in recount(aggregate, item, judged.weights, judged.mandates, judged.latest):
            report.problems.append(_problem(finding.code, finding.message, aggregate))
        for child, roll, why in sorted(doubted, key=lambda d: d[0]):  # as a node flags them: both
            name = trust.bodies[child].name
            report.problems.append(_problem(IMPLAUSIBLE_ROLL, f"{name} weighs by {why}", aggregate))
            report.problems.append(_problem(IMPLAUSIBLE_ROLL, why, roll))


def _signed(e: Envelope) -> Signed:
    return Signed(e.id, e.author, e.payload.created, e.payload.body)


def _judge_selections(held: list[Envelope], trust: Trust, report: Report) -> None:
    """Every selection's ballot paper against its nominations, every later paper, and every
    result recounted from the bundles the set holds, by the code a node judges with
    (:func:`protocol.selections.judge_selection`)."""
    ordered = sorted(held, key=lambda e: (e.author, e.seq))
    by_selection: dict[bytes, dict[str, list[Envelope]]] = {}
    for e in ordered:
        body = e.payload.body
        if isinstance(body, BallotPaper | Nomination | SelectionResult) or (
                isinstance(body, Decision) and body.selection is not None):  # fmt: skip
            part = by_selection.setdefault(body.selection, {})  # type: ignore[arg-type]
            part.setdefault(e.kind, []).append(e)
    by_id = {e.id: e for e in held}
    for selection in (e for e in ordered if isinstance(e.payload.body, Selection)):
        part = by_selection.get(selection.id, {})
        children = {k for k, b in trust.bodies.items() if b.parent == selection.author and b.cut is None}
        judged = judge_selection(_signed(selection), [_signed(e) for e in part.get("ballot_paper", [])],
                                 [_signed(e) for e in part.get("nomination", [])],
                                 [_signed(e) for e in part.get("decision", [])],
                                 [_signed(e) for e in part.get("selection_result", [])], children)  # fmt: skip
        found = [(judged.paper, f) for f in judged.paper_findings] if judged.paper is not None else []
        found += [(paper, why) for paper, why in judged.later_papers]
        found += [(result, f) for result, findings in judged.results for f in findings]
        for about, finding in found:
            code, _, message = finding.partition(": ")
            report.problems.append(_problem(code, message or code, by_id[about.id]))


def _split_views(sources: Sequence[tuple[str, bytes]], accepted: list[Envelope], report: Report) -> None:
    """Forks across sources are in ``report.forks`` already (the merged logs show them); here,
    which source holds less of an author's log than another (of the envelopes that hold)."""
    if len(sources) < 2:
        return
    slot = {e.id: (e.author, e.seq) for e in accepted}
    highest: dict[str, dict[bytes, int]] = {}
    for name, data in sources:
        tops: dict[bytes, int] = {}
        for raw in _salvage(data):
            found = slot.get(hashlib.sha256(raw).digest())
            if found is not None:
                tops[found[0]] = max(tops.get(found[0], 0), found[1])
        highest[name] = tops
    for author in sorted({a for tops in highest.values() for a in tops}):
        top = max(tops.get(author, 0) for tops in highest.values())
        for name in sorted(highest):
            holds = highest[name].get(author, 0)
            if holds < top:
                report.behind.append(Behind(name, author, holds, top))


__all__ = ["Behind", "Problem", "Report", "audit", "kind_of"]
