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
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from .audit_index import Fact, Index, MemoryIndex, held_parts, link_of
from .audit_index import shared as _shared
from .audit_members import members_signatures
from .ballots import FirstDecisions, check_against_roll, votes_counted
from .bundle import read_bundle
from .chain import MAX_FUTURE_MS, ChainWalk, Head, make_fork_proof, verify_fork_proof
from .envelope import open_envelope, reopen
from .errors import Code, ProtocolError
from .models import (
    TAG_OF,
    AgendaItem,
    Aggregate,
    Decision,
    Envelope,
    ForkProof,
    Roll,
    SelectionResult,
)
from .parts import check_parts, signed_whole
from .rolls import IMPLAUSIBLE_ROLL, RECENT_DECISIONS, roll_problem
from .selections import Signed, judge_selection
from .trust import STRUCTURAL, Trust, cut_code
from .upward import judge_item, recount

NO_GENESIS = "no_genesis"  # the set holds no genesis (or several): trust cannot be computed
STRUCTURAL_KINDS = tuple(sorted(TAG_OF[t] for t in STRUCTURAL))
SELECTION_PARTS = ("ballot_paper", "nomination", "decision", "selection_result")
_LAST = 1 << 64  # above any roll count: a bisection key after every roll of one time


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


@dataclass(frozen=True)
class Recount:
    """One aggregate recounted: each direct child with its weight and the mandate of it that
    counts (None: none counts), the totals it claims and the problems found (none: it holds).
    Tuples, not dicts: an audit keeps thousands."""

    aggregate: bytes
    author: bytes
    item: bytes
    title: str
    weighting: str
    children: tuple[tuple[bytes, int, bytes | None], ...]  # (child, weight, counted mandate's id)
    totals: dict[str, int]
    outcome: str
    problems: tuple[str, ...]


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
    recounts: list[Recount] = field(default_factory=list)
    trust: Trust | None = None
    now_ms: int | None = None  # the clock interim freezes are judged by (set by walk)

    @property
    def holds(self) -> bool:
        """Everything checked holds (a source that is behind is reported, not a failure)."""
        return not self.problems


def _problem(code: Code | str, message: str, envelope: Envelope | None = None, object_id: bytes | None = None,
             source: str = "") -> Problem:  # fmt: skip
    if envelope is not None:
        return Problem(str(code), message, envelope.id, envelope.author, envelope.kind, source)
    return Problem(str(code), message, object_id, None, "", source)


def _of_fact(code: Code | str, message: str, fact: Fact) -> Problem:
    return Problem(str(code), message, fact.id, fact.author, fact.kind)


def unopened(raw: bytes, exc: ProtocolError) -> Problem:
    """An envelope that does not open (encoding, limits, signature, its kind's rules): named by
    the digest of its bytes, since it has no id one may trust."""
    return Problem(str(exc.code), exc.message, hashlib.sha256(raw).digest())


def bad_source(name: str, exc: ProtocolError) -> Problem:
    """A source that is not a whole bundle: what it held before the fault is still audited."""
    return _problem(exc.code, f"{name}: {exc.message}", source=name)


def audit(sources: Sequence[tuple[str, bytes]], now_ms: int) -> Report:
    """Merge ``sources`` (name, bundle bytes) in memory and check everything (see the module's
    text); ``branchnet audit`` does the same on an index on disk, for sets of any size."""
    report = Report([name for name, _ in sources])
    index = MemoryIndex()
    for number, (name, data) in enumerate(sources):
        try:
            raws = list(read_bundle(data))
        except ProtocolError as exc:
            raws = list(_salvage(data))
            report.problems.append(bad_source(name, exc))
        for raw in raws:
            try:
                index.add(number, open_envelope(raw))
            except ProtocolError as exc:
                report.problems.append(unopened(raw, exc))
    check(index, now_ms, report)
    return report


def check(index: Index, now_ms: int, report: Report, progress: Callable[[int], object] | None = None) -> None:
    """Every check after opening, in order, on what ``index`` holds; ``report`` gathers what
    is found (it may hold the sources' and the unopened envelopes' problems already).
    ``progress`` is told how many more envelopes the chain walk passed, now and then. The
    steps may also be run apart (``branchnet audit`` runs :func:`later` in parts on several
    cores while it walks): :func:`walk`, then :func:`later`, then :func:`finish`."""
    walk(index, now_ms, report, progress)
    index.settle()
    later(index, report)
    finish(index, report)


def later(index: Index, report: Report, part: tuple[int, int] = (0, 1)) -> None:
    """The checks after the walk: between envelopes, trust, aggregates and selections. With
    ``part`` (i, n), only the i-th of n shares of the work, by author (each share's problems
    together are the whole's; trust problems in share 0)."""
    _across(index, report, part)
    report.trust = _trust(index, report.forks, report, part[0] == 0)
    if report.trust is not None:
        _recount_aggregates(index, report.trust, report, part)
        _judge_selections(index, report.trust, report, part)
        for code, message, envelope in members_signatures(index, report.trust, part):
            report.problems.append(_problem(code, message, envelope))


def finish(index: Index, report: Report) -> None:
    """What holds, counted; sources compared; problems in a fixed order."""
    unopened_ids = {p.object for p in report.problems if p.object is not None and not p.kind}
    report.envelopes = index.held() + len(unopened_ids)
    report.kinds = index.kinds()
    _split_views(index, report)
    report.problems = sorted(set(report.problems), key=lambda p: (p.code, p.object or b"", p.source, p.message))
    report.recounts.sort(key=lambda r: (r.author, r.aggregate))
    report.unchecked.sort()


def _salvage(data: bytes) -> Iterable[bytes]:
    """The records of a bundle up to its first fault."""
    try:
        yield from read_bundle(data)
    except ProtocolError:
        return


PROGRESS_EVERY = 4096


def walk(index: Index, now_ms: int, report: Report, progress: Callable[[int], object] | None = None,
         authors: tuple[bytes, bytes] | None = None) -> None:  # fmt: skip
    """Every author's log, by :class:`protocol.chain.ChainWalk` (as :func:`protocol.chain.check_logs`
    walks them): what does not extend its log is a problem and leaves the index (once it
    settles); ``report`` takes the heads and the fork proofs. ``authors`` (low, high): only
    those authors' logs (each log is walked alone, so shares may be walked apart)."""
    report.now_ms = now_ms
    chains = ChainWalk(now_ms, MAX_FUTURE_MS)
    forks: list[ForkProof] = []
    passed = 0
    for fact in index.links(authors):
        passed += 1
        if progress is not None and passed % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
        try:
            step = chains.step(link_of(fact))
        except ProtocolError as exc:
            index.reject(fact.id)
            report.problems.append(_of_fact(exc.code, exc.message, fact))
            continue
        if step == "fork":
            assert chains.first is not None
            forks.append(make_fork_proof(reopen(index.raw(chains.first.id)), reopen(index.raw(fact.id))))
            index.reject(fact.id)
            report.problems.append(_of_fact(Code.FORK, f"fork at seq {fact.seq}", fact))
    if progress is not None:
        progress(passed % PROGRESS_EVERY)
    report.heads, report.forks = chains.heads, forks


def _across(index: Index, report: Report, part: tuple[int, int]) -> None:
    """A decision against its roll where the set holds it (``wrong_roll``) and against its
    parts (:func:`protocol.parts.check_parts`), and a second
    decision by one author on one ballot (``decision_twice``), as :func:`protocol.chain.check_logs`
    judges them (the envelopes stay held: a node records these as findings)."""
    first = FirstDecisions()
    rolls: dict[bytes, Envelope] = {}  # the author's rolls so far: where its decisions' rolls are, as a rule
    for envelope in _shared(index, "decision", part, ("decision", "roll")):
        body = envelope.payload.body
        if rolls and next(iter(rolls.values())).author != envelope.author:
            rolls.clear()
        if isinstance(body, Roll):
            rolls[envelope.id] = envelope
            continue
        assert isinstance(body, Decision)
        roll = rolls.get(body.roll) or index.envelope(body.roll)
        try:
            if roll is not None:
                check_against_roll(envelope, roll)
            if body.parts:  # a part the set lacks: missing_part (not counted, not called wrong)
                check_parts(envelope, held_parts(index, envelope))
        except ProtocolError as exc:
            report.problems.append(_problem(exc.code, exc.message, envelope))
        if first.later(envelope):
            report.problems.append(_problem(Code.DECISION_TWICE, "its author decided this ballot already: the first "
                                            "decision counts", envelope))  # fmt: skip


def _trust(index: Index, forks: list[ForkProof], report: Report, problems: bool = True) -> Trust | None:
    """Trust replayed from the genesis the set holds; every envelope whose author it does not
    admit at that sequence is a problem."""
    geneses = list(index.accepted(("genesis",)))
    if len(geneses) != 1:
        why = "no genesis: trust cannot be computed" if not geneses else f"{len(geneses)} geneses in one set"
        if problems:
            report.problems.append(Problem(NO_GENESIS, why))
        return None
    genesis = geneses[0]
    forked = [(a.author, a.seq) for a, _ in map(verify_fork_proof, forks)]
    trust = Trust.replay(genesis, index.accepted(STRUCTURAL_KINDS), forked, lookup=index.envelope,
                         now_ms=report.now_ms)  # fmt: skip
    unauthorised = _unauthorised_delegates(index, trust)
    trust.lookup = None  # the report keeps the state, not the index it was replayed from
    trust.refused.update(unauthorised)
    if not problems:
        return trust
    for act_id, (code, why) in sorted(trust.refused.items()):  # an act of power without its authority
        report.problems.append(_problem(code, why, index.envelope(act_id), act_id))
    foreign = set()
    for fact in index.foreign(genesis.id):
        foreign.add(fact.id)
        report.problems.append(_of_fact(Code.WRONG_FEDERATION, "it belongs to another federation", fact))
    for author in index.authors():
        body = trust.bodies.get(author)
        if body is None:
            for fact in index.facts(author):
                if fact.id not in foreign:
                    report.problems.append(_of_fact(Code.UNKNOWN_AUTHOR, "its author was never chartered in this "
                                                    "federation", fact))  # fmt: skip
        elif body.cut is not None:
            for fact in index.facts(author, above=body.cut):
                if fact.id not in foreign:
                    report.problems.append(_of_fact(cut_code(body.cut_reason), f"its author was cut after seq "
                                                    f"{body.cut} ({body.cut_reason})", fact))  # fmt: skip
    return trust


def _unauthorised_delegates(index: Index, trust: Trust) -> dict[bytes, tuple[str, str]]:
    """Officers' delegates records without the decision the rules ask (protocol.authority): a
    node refuses them, so they weigh nothing here either."""
    if trust.rules.authority is None and all(r.authority is None for _, _, r in trust.history):
        return {}
    found = {}
    for envelope in index.accepted(("delegates",)):
        problem = trust.act_problem(envelope, None)
        if problem is not None:
            found[envelope.id] = (str(problem[0]), problem[1])
    return found


def _admits(trust: Trust) -> Callable[[Envelope], bool]:
    """Whether a node would hold an envelope: by an author the trust admits, within its cut."""

    def admits(envelope: Envelope) -> bool:
        body = trust.bodies.get(envelope.author)
        return body is not None and (body.cut is None or envelope.seq <= body.cut)

    return admits


class _Held(Mapping[bytes, Envelope]):
    """The envelopes a mandate may cite, looked up (never listed): those fetched together
    beforehand (:meth:`fetch`), else one at a time."""

    def __init__(self, index: Index, admits: Callable[[Envelope], bool]) -> None:
        self._index, self._admits = index, admits
        self._fetched: dict[bytes, Envelope] = {}

    def fetch(self, ids: list[bytes]) -> None:
        self._fetched = self._index.envelopes(ids)

    def __getitem__(self, key: bytes) -> Envelope:
        found = self._fetched.get(key) or self._index.envelope(key)
        if found is None or not self._admits(found):
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("the held envelopes are looked up, not listed")

    def __len__(self) -> int:
        raise TypeError("the held envelopes are looked up, not listed")


def _recount_aggregates(index: Index, trust: Trust, report: Report, part: tuple[int, int]) -> None:
    """Every aggregate recounted from the mandates and rolls the set holds, by the code a node
    recounts with (:func:`protocol.upward.judge_item` and :func:`protocol.upward.recount`)."""
    admits = _admits(trust)
    held = _Held(index, admits)
    rolls: dict[bytes, list[tuple[int, int, bytes]]] = {}  # each child's rolls: (created, count, id)
    recent: dict[bytes, list[int]] = {}
    doubts: dict[tuple[bytes, int], str | None] = {}  # (child, which roll): what roll_problem said of it

    def rolls_of(child: bytes) -> list[tuple[int, int, bytes]]:
        if child not in rolls:
            rolls[child] = [(r.payload.created, r.payload.body.count, r.id)  # type: ignore[union-attr]
                            for r in index.accepted(("roll",), author=child)]  # fmt: skip
        return rolls[child]

    def recent_of(child: bytes) -> list[int]:
        """The votes its recent decisions counted (:func:`protocol.rolls.doubt`'s second question)."""
        if child not in recent:
            newest = index.accepted(("decision",), author=child, newest=RECENT_DECISIONS)
            recent[child] = [votes_counted(d.payload.body) for d in newest]  # type: ignore[arg-type]
        return recent[child]

    def parent_of(key: bytes) -> bytes | None:
        body = trust.bodies.get(key)
        return body.parent if body is not None else None

    by = None
    for aggregate in filter(admits, _shared(index, "aggregate", part)):
        body = aggregate.payload.body
        assert isinstance(body, Aggregate)
        if aggregate.author != by:  # the next body's aggregates: its children are others
            by = aggregate.author
            rolls.clear()
            recent.clear()
            doubts.clear()
        item = held.get(body.item)
        if item is None or not isinstance(item.payload.body, AgendaItem):
            report.unchecked.append(aggregate.id)  # its item is not in the set: a node would wait for it
            continue
        agenda = item.payload.body
        children = trust.children_at(item.author, agenda.opens)
        counts: dict[bytes, int] = {}
        doubted: list[tuple[bytes, bytes, str]] = []
        if agenda.weighting == "card_vote":
            for child in children:  # in good standing: everything it signed is admitted
                log = rolls_of(child)
                at = bisect_right(log, (agenda.opens, _LAST, b"")) - 1  # its latest roll by then (times only grow)
                if at >= 0:
                    counts[child] = log[at][1]
                    if (child, at) not in doubts:  # as protocol.rolls.doubt asks it, once per roll
                        previous = log[at - 1][1] if at > 0 else None
                        doubts[child, at] = roll_problem(counts[child], previous, recent_of(child))
                    why = doubts[child, at]
                    if why is not None:
                        doubted.append((child, log[at][2], why))
        seats: dict[bytes, int] = {}
        if agenda.weighting == "delegates":
            for d in filter(admits, index.accepted(("delegates",), ref=item.author)):  # the latest by then wins
                if d.payload.created <= agenda.opens and d.id not in trust.refused:
                    seats[d.author] = d.payload.body.count  # type: ignore[union-attr]
        mandates = list(filter(admits, index.accepted(("mandate",), ref=item.id)))
        held.fetch([m.payload.body.basis for m in mandates])  # type: ignore[union-attr]
        judged = judge_item(item, children, parent_of, counts, seats, mandates, held)
        found = recount(aggregate, item, judged.weights, judged.mandates, judged.latest)
        for finding in found:
            report.problems.append(_problem(finding.code, finding.message, aggregate))
        for child, roll_id, why in sorted(doubted):  # as a node flags them: both
            name = trust.bodies[child].name
            report.problems.append(_problem(IMPLAUSIBLE_ROLL, f"{name} weighs by {why}", aggregate))
            report.problems.append(_problem(IMPLAUSIBLE_ROLL, why, held[roll_id]))
        codes = {f.code for f in found} | ({IMPLAUSIBLE_ROLL} if doubted else set())
        report.recounts.append(Recount(
            aggregate.id, aggregate.author, item.id, agenda.title, agenda.weighting,
            tuple((child, weight, judged.latest[child].id if child in judged.latest else None)
                  for child, weight in sorted(judged.weights.items())),
            {"for": body.votes[0], "against": body.votes[1], "abstain": body.votes[2], "weight_sent": body.weight_sent,
             "weight_all": body.weight_all}, body.outcome, tuple(sorted(codes)),
        ))  # fmt: skip


def _signed(e: Envelope) -> Signed:
    return Signed(e.id, e.author, e.payload.created, e.payload.body)


def _wholes(index: Index, envelopes: Iterable[Envelope]) -> Iterator[Signed]:
    """Bundles and results as counted: one in parts with every record or bundle of its parts;
    a bundle whose parts the set does not hold left out (its ``missing_part`` is reported with
    decisions), a result's kept with why (its recount says so)."""
    for e in envelopes:
        body = e.payload.body
        if not isinstance(body, Decision | SelectionResult) or not body.parts:
            yield _signed(e)
            continue
        whole = signed_whole(e, held_parts(index, e))
        if whole.unread is None or isinstance(body, SelectionResult):
            yield whole


def _judge_selections(index: Index, trust: Trust, report: Report, part: tuple[int, int]) -> None:
    """Every selection's ballot paper against its nominations, every later paper, and every
    result recounted from the bundles the set holds, by the code a node judges with
    (:func:`protocol.selections.judge_selection`)."""
    admits = _admits(trust)
    for selection in filter(admits, _shared(index, "selection", part)):
        found_parts = {kind: list(_wholes(index, filter(admits, index.accepted((kind,), ref=selection.id))))
                for kind in SELECTION_PARTS}  # fmt: skip
        children = set(trust.children_at(selection.author, selection.payload.created))
        held = found_parts
        judged = judge_selection(_signed(selection), held["ballot_paper"], held["nomination"], held["decision"],
                                 held["selection_result"], children)  # fmt: skip
        found = [(judged.paper, f) for f in judged.paper_findings] if judged.paper is not None else []
        found += [(paper, why) for paper, why in judged.later_papers]
        found += [(result, f) for result, findings in judged.results for f in findings]
        for about, finding in found:
            code, _, message = finding.partition(": ")
            report.problems.append(_problem(code, message or code, index.envelope(about.id)))


def _split_views(index: Index, report: Report) -> None:
    """Forks across sources are in ``report.forks`` already (the merged logs show them); here,
    which source holds less of an author's log than another (of the envelopes that hold)."""
    if len(report.sources) < 2:
        return
    tops = index.tops()
    highest = {name: tops.get(number, {}) for number, name in enumerate(report.sources)}
    for author in sorted({a for held in highest.values() for a in held}):
        top = max(held.get(author, 0) for held in highest.values())
        for name in sorted(highest):
            holds = highest[name].get(author, 0)
            if holds < top:
                report.behind.append(Behind(name, author, holds, top))


__all__ = ["Behind", "Problem", "Recount", "Report", "audit", "bad_source", "check", "finish", "later", "unopened",
           "walk"]  # fmt: skip
