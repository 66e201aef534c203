"""Elections: members stand (their consent), a branch elects its delegates by ranked ballot,
and a body runs a selection across its branches (docs/elections.md).

* **Candidacies**: a member stands in a contest under a name, with a statement (and, for
  a selection with a balancing rule, a declared category). Only the member can stand:
  standing is the consent. ``delegates:<body key>`` is the branch's delegates to a body
  above; ``selection:<selection id>`` a body's selection.
* **Delegate elections**: officers open a ranked ballot of the standing members (and
  "re-open nominations" for a single seat, unless turned off); when it closes, the decision
  names the winners and the node signs the branch's delegates record citing it, in place
  of the officers' record.
* **Selections**: the selecting body publishes a selection; each direct child's officers
  nominate standing members; after nominations close the body signs the ballot paper; each
  child runs its members' ranked ballot on it, and its decision (outcome ``bundled``) is
  the anonymised bundle; after voting closes the body counts every bundle it holds and
  signs the result. Every node recounts a result it holds (:func:`selection_view`).

The counting and the checks are :mod:`protocol.selections`, the same code on every node.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from node.errors import BadInput, Conflict, NotFound
from node.federation import consents, decided
from node.federation.ballots import BallotSpec, now_ms, open_ballot
from node.federation.own_log import none_signed
from node.federation.participations import SignedIn
from node.federation.upward import Upward, ancestors, held, index, name_of
from node.rules.ballots import check_may_run_ballots, check_may_vote
from node.rules.elections import check_candidacy, check_selection
from node.storage.ballots import BallotRow, ElectionSpec
from node.storage.elections import Candidacy, CandidacyStore
from node.storage.members import Member
from protocol import BallotPaper, Decision, Envelope, Nomination, Selection, SelectionResult
from protocol import selections as sel
from protocol.counting import RON
from protocol.envelope import reopen
from protocol.models import MAX_BUNDLES, MAX_OPTIONS
from protocol.parts import result_in_parts


class Electing(Upward, consents.Consenting, Protocol):
    @property
    def candidacies(self) -> CandidacyStore: ...


DELEGATES = "delegates:"
SELECTION = "selection:"


def _signed(e: Envelope) -> sel.Signed:
    return sel.Signed(e.id, e.author, e.payload.created, e.payload.body)


def _me(node: Upward) -> bytes:
    return node.own_log.key.public


def _children(node: Electing, body: bytes, when: int | None = None) -> set[bytes]:
    """The direct children of ``body``: in good standing now, or (``when``, a selection's
    time) in its electorate then, as the audit judges it (protocol.trust.Trust.children_at)."""
    trust = node.federation_state.trust
    if trust is None:
        return set()
    if when is not None:
        return set(trust.children_at(body, when))
    return {b.key for b in trust.bodies.values() if b.parent == body and b.cut is None}


async def _referring(node: Electing, ref: bytes, kind: str) -> list[Envelope]:
    await index(node)
    return [reopen(raw) for raw in await node.upward.referring(ref, kind, limit=None)]


async def selection_of(node: Electing, selection_id: bytes) -> Envelope:
    return await held(node, selection_id, Selection, "selection")


def normal_contest(contest: str) -> str:
    """A contest as stored: its kind and the id in lower-case hex (as typed, it may differ)."""
    kind, _, ident = contest.strip().partition(":")
    try:
        return f"{kind}:{bytes.fromhex(ident).hex()}"
    except ValueError:
        return contest


async def contest_check(node: Electing, contest: str, clock: Callable[[], float]) -> str:
    """A contest this node's members may stand in: delegates to a body above this one, or a
    selection of the body directly above, while its nominations are open. Returns it as stored."""
    contest = normal_contest(contest)
    kind, _, ident = contest.partition(":")
    try:
        raw = bytes.fromhex(ident)
    except ValueError:
        raw = b""
    if kind + ":" == DELEGATES and raw in ancestors(node, _me(node)):
        return contest
    if kind + ":" == SELECTION and len(raw) == 32:
        envelope = await selection_of(node, raw)
        if envelope.author not in ancestors(node, _me(node))[:1]:
            raise Conflict("that selection is not of the body directly above this one", code="not_a_child")
        assert isinstance(envelope.payload.body, Selection)
        if now_ms(clock) > envelope.payload.body.nominations_close:
            raise Conflict("nominations for that selection have closed", code="nominations_closed")
        return contest
    raise BadInput("the contest is delegates:<a body above this one> or selection:<a selection id>", field="contest")


async def stand(node: Electing, who: Member, contest: str, name: str, statement: str, category: str = "",
                clock: Callable[[], float] = time.time, *, consent: SignedIn | None = None) -> Candidacy:  # fmt: skip
    """The member stands in ``contest`` (their consent), under ``name``, with a statement;
    with ``consent``, their own key's signature of it (a selection's candidacy: checked
    first, then carried by their nomination; :mod:`node.federation.consents`)."""
    check_may_vote(who)
    check_candidacy(name, statement, category)
    contest = await contest_check(node, contest, clock)
    signed = await consents.checked(node, who, contest, name, consent) if consent is not None else (None, None)
    await node.candidacies.stand(Candidacy(contest, who.id, name.strip(), statement, category.strip(),
                                           now_ms(clock), None, *signed))  # fmt: skip
    found = await node.candidacies.get(contest, who.id)
    assert found is not None
    return found


async def withdraw(node: Electing, who: Member, contest: str) -> None:
    if not await node.candidacies.withdraw(normal_contest(contest), who.id):
        raise Conflict("you are not standing there, or your nomination is already signed", code="not_standing")


# --- a branch elects its delegates --------------------------------------------------------


async def open_delegate_election(node: Electing, who: Member, to: bytes, seats: int, *, counting: str = "stv",
                                 reopen_nominations: bool | None = None, closes: int | None = None,
                                 clock: Callable[[], float] = time.time) -> BallotRow:  # fmt: skip
    """A ranked ballot of this branch's members for its ``seats`` delegates to ``to``."""
    check_may_run_ballots(who)
    if to not in ancestors(node, _me(node)):
        raise BadInput("delegates go to a body above this one", field="to")
    standing = await node.candidacies.of(DELEGATES + to.hex())
    names = [c.name for c in standing]
    if len(set(names)) != len(names):
        raise Conflict("two candidates stand under the same name: one must change it", code="same_name")
    if reopen_nominations if reopen_nominations is not None else seats == 1:
        names.append(RON)
    if len(names) < seats + 1:
        raise Conflict(f"{len(standing)} members stand for {seats} seats: an election needs more candidates "
                       "than seats", code="too_few_candidates")  # fmt: skip
    title = f"Delegates to {name_of(node, to)}"
    election = ElectionSpec(seats, counting, delegates_to=to)
    spec = BallotSpec(motion="delegates", subject=title, text=title + ": " + ", ".join(names), method="ranked",
                      options=tuple(names), closes=closes, election=election)  # fmt: skip
    return await open_ballot(node, who, spec, clock)


# --- a body's selection ---------------------------------------------------------------------


async def publish_selection(node: Electing, who: Member, office: str, seats: int, *, method: str = "stv",
                            nominations_close: int, voting_close: int, reopen_nominations: bool | None = None,
                            balancing: str = "", text: str = "", clock: Callable[[], float] = time.time
                            ) -> Envelope:  # fmt: skip
    check_may_run_ballots(who)
    check_selection(office, seats, method, nominations_close, voting_close, balancing, text, now_ms(clock))
    if not _children(node, _me(node)):
        raise Conflict("this body has no branches below it to run a selection in", code="no_children")
    ron = reopen_nominations if reopen_nominations is not None else seats == 1
    body = Selection(office=office.strip(), seats=seats, method=method, nominations_close=nominations_close,  # type: ignore[arg-type]
                     voting_close=voting_close, reopen="on" if ron else "off", balancing=balancing, text=text)  # type: ignore[arg-type]  # fmt: skip
    return await node.own_log.append(body)


async def nominate(node: Electing, who: Member, selection_id: bytes, member_id: int,
                   clock: Callable[[], float] = time.time) -> Envelope:  # fmt: skip
    """Sign this branch's nomination of a member who stands for the selection."""
    check_may_run_ballots(who)
    contest = SELECTION + selection_id.hex()
    await contest_check(node, contest, clock)
    candidacy = await node.candidacies.get(contest, member_id)
    if candidacy is None:
        raise Conflict("that member has not stood for this selection: only they can consent", code="no_consent")
    if candidacy.nomination is not None:
        raise Conflict("that member is already nominated", code="already_nominated")
    selection = (await selection_of(node, selection_id)).payload.body
    assert isinstance(selection, Selection)
    nominated = [e.payload.body for e in await _referring(node, selection_id, "nomination")]
    if any(isinstance(n, Nomination) and n.candidate == candidacy.name for n in nominated):
        raise Conflict(f"someone named {candidacy.name} is already nominated: the member must stand under a name "
                       "that tells them apart", code="same_name")  # fmt: skip
    room = MAX_OPTIONS - (1 if selection.reopen == "on" else 0)
    if len(nominated) >= room:
        raise Conflict(f"the ballot holds {room} candidates and {len(nominated)} are nominated", code="ballot_full")
    rules = node.federation_state.trust.rules if node.federation_state.trust is not None else None
    if candidacy.consent is None and rules is not None and rules.signed_consent:
        raise Conflict(f"the federation's rules ask that every nomination carry its candidate's own signed consent: "
                       f"{candidacy.name} stands again, signing with their key", code="unsigned_consent")  # fmt: skip
    once = none_signed(_me(node), "nomination", lambda b: isinstance(b, Nomination) and b.selection == selection_id
                       and b.candidate == candidacy.name, Conflict("that member is already nominated",
                                                                   code="already_nominated"))  # fmt: skip
    body = Nomination(
        selection=selection_id,
        candidate=candidacy.name,
        statement=candidacy.statement,
        consented=candidacy.consented,
        category=candidacy.category,
        consent=await consents.carried(node, candidacy, once, clock) if candidacy.consent is not None else None,
    )
    envelope = await node.own_log.append(body, check=once)
    await node.candidacies.mark_nominated(contest, member_id, envelope.id)
    return envelope


async def _papers(node: Electing, selection: Envelope) -> list[Envelope]:
    """The selecting body's papers for it, in its log's order: the first counts."""
    return [e for e in await _referring(node, selection.id, "ballot_paper") if e.author == selection.author]


async def _own_paper(node: Electing, selection: Envelope) -> Envelope | None:
    papers = await _papers(node, selection)
    return papers[0] if papers else None


PAPER_TWICE = sel.PAPER_TWICE


async def _ours(node: Electing, who: Member, selection_id: bytes, step: str) -> tuple[Envelope, Selection]:
    """A selection of this body's, for an officer's step."""
    check_may_run_ballots(who)
    selection = await selection_of(node, selection_id)
    body = selection.payload.body
    assert isinstance(body, Selection)
    if selection.author != _me(node):
        raise Conflict(f"only the selecting body {step}", code="not_ours")
    return selection, body


async def publish_paper(node: Electing, who: Member, selection_id: bytes, clock: Callable[[], float] = time.time
                        ) -> Envelope:  # fmt: skip
    """After nominations close, the selecting body fixes the ballot paper."""
    selection, body = await _ours(node, who, selection_id, "fixes its ballot paper")
    if now_ms(clock) <= body.nominations_close:
        raise Conflict("nominations are still open", code="nominations_open")
    fixed = Conflict("the ballot paper is already fixed", code="already_published")
    if await _own_paper(node, selection) is not None:
        raise fixed
    nominations = [_signed(e) for e in await _referring(node, selection_id, "nomination")]
    try:
        paper = sel.ballot_paper(selection_id, body, nominations,
                                 _children(node, _me(node), selection.payload.created))  # fmt: skip
    except ValueError as exc:  # more candidates than a ballot holds (nominations signed at once)
        raise Conflict(str(exc), code="too_many_candidates") from None
    if len(paper.candidates) <= body.seats:
        raise Conflict(f"{len(paper.candidates)} candidates for {body.seats} seats: too few nominations",
                       code="too_few_candidates")  # fmt: skip
    once = none_signed(_me(node), "ballot_paper", lambda b: isinstance(b, BallotPaper) and b.selection == selection_id,
                       fixed)  # fmt: skip
    return await node.own_log.append(paper, check=once)


async def open_selection_ballot(node: Electing, who: Member, selection_id: bytes,
                                clock: Callable[[], float] = time.time) -> BallotRow:  # fmt: skip
    """This branch's members' ranked ballot on the selection's paper, until voting closes."""
    check_may_run_ballots(who)
    selection = await selection_of(node, selection_id)
    body = selection.payload.body
    assert isinstance(body, Selection)
    if selection.author not in ancestors(node, _me(node))[:1]:
        raise Conflict("that selection is not of the body directly above this one", code="not_a_child")
    paper_envelope = await _own_paper(node, selection)
    if paper_envelope is None:
        raise Conflict("the selecting body has not fixed the ballot paper yet (or it has not reached this node)",
                       code="no_paper")  # fmt: skip
    if now_ms(clock) >= body.voting_close:
        raise Conflict("voting in this selection has closed", code="voting_closed")
    opened = await node.ballots.for_selection(selection_id)  # (the database refuses a second one, too)
    if opened is not None:
        raise Conflict(f"this branch's ballot for the selection is ballot {opened.id}", code="already_open")
    paper = paper_envelope.payload.body
    assert isinstance(paper, BallotPaper)
    spec = BallotSpec(motion="selection", subject=body.office, text=body.office + ": " + ", ".join(paper.candidates),
                      method="ranked", options=tuple(paper.candidates), closes=body.voting_close,
                      election=ElectionSpec(body.seats, body.method, selection=selection_id))  # fmt: skip
    return await open_ballot(node, who, spec, clock)


async def publish_result(node: Electing, who: Member, selection_id: bytes, clock: Callable[[], float] = time.time
                         ) -> Envelope:  # fmt: skip
    """After voting closes, count every bundle held and sign the result."""
    selection, body = await _ours(node, who, selection_id, "counts its selection")
    if now_ms(clock) <= body.voting_close:
        raise Conflict("voting is still open", code="voting_open")
    paper = await _own_paper(node, selection)
    if paper is None:
        raise Conflict("the ballot paper was never fixed", code="no_paper")
    published = Conflict("the result is already published", code="already_published")
    if any(e.author == _me(node) for e in await _referring(node, selection_id, "selection_result")):
        raise published
    view = await _gather(node, selection, paper)
    counted = sel.counted_bundles(view.bundles, selection_id, body, view.paper, view.children)
    result = sel.count_selection(selection_id, body, paper.id, view.paper, counted, view.categories)
    once = none_signed(_me(node), "selection_result",
                       lambda b: isinstance(b, SelectionResult) and b.selection == selection_id, published)  # fmt: skip
    if len(result.bundles) <= MAX_BUNDLES:
        return await node.own_log.append(result, check=once)
    parts, whole = result_in_parts(result)  # more bundles than one envelope lists: in parts, then the result
    return (await node.own_log.append_all([*parts, whole], check=once))[-1]


@dataclass
class _Gathered:
    paper: BallotPaper
    children: set[bytes]
    bundles: list[sel.Signed]
    nominations: list[Envelope]
    categories: list[str]


async def _gather(node: Electing, selection: Envelope, paper: Envelope) -> _Gathered:
    body = paper.payload.body
    assert isinstance(body, BallotPaper)
    nominations = await _referring(node, selection.id, "nomination")
    bundles = [await decided.signed(node, e) for e in await _referring(node, selection.id, "decision")]
    by_id = {n.id: n.payload.body for n in nominations if isinstance(n.payload.body, Nomination)}
    children = _children(node, selection.author, selection.payload.created)
    return _Gathered(body, children, bundles, nominations, sel.categories_of(body, by_id))


@dataclass
class BundleView:
    id: bytes
    author: bytes
    branch: str
    ballots: int
    problem: str | None


@dataclass
class ResultView:
    envelope: Envelope
    findings: list[str]
    body: SelectionResult  # as counted: one in parts citing every bundle of its parts


@dataclass
class SelectionView:
    envelope: Envelope
    selection: Selection
    nominations: list[Envelope] = field(default_factory=list)
    paper: Envelope | None = None
    paper_findings: list[str] = field(default_factory=list)
    later_papers: list[tuple[Envelope, str]] = field(default_factory=list)  # each flagged: the first counts
    bundles: list[BundleView] = field(default_factory=list)
    results: list[ResultView] = field(default_factory=list)


async def selection_view(node: Electing, selection_id: bytes) -> SelectionView:
    """Everything held on one selection, with this node's recount of each result."""
    selection = await selection_of(node, selection_id)
    body = selection.payload.body
    assert isinstance(body, Selection)
    view = SelectionView(selection, body, nominations=await _referring(node, selection_id, "nomination"))
    papers = await _papers(node, selection)
    if not papers:
        return view
    view.paper = papers[0]
    gathered = await _gather(node, selection, view.paper)
    published = await _referring(node, selection_id, "selection_result")
    results = [await decided.signed(node, r) for r in published]
    # A judgement reads every bundle; asked again with the same envelopes held, it is the same.
    key = (selection.id, tuple(p.id for p in papers), tuple(n.id for n in gathered.nominations),
           tuple(sorted(b.id for b in gathered.bundles)), tuple(r.id for r in results),
           tuple(sorted(gathered.children)))  # fmt: skip
    judged = _judgements.get(key)
    if judged is None:
        judged = sel.judge_selection(_signed(selection), [_signed(p) for p in papers],
                                     [_signed(n) for n in gathered.nominations], gathered.bundles,
                                     results, gathered.children)  # fmt: skip
        if len(_judgements) >= 256:
            _judgements.pop(next(iter(_judgements)))
        _judgements[key] = judged
    by_id = {p.id: p for p in papers}
    envelopes = {r.id: r for r in published}
    view.paper_findings = judged.paper_findings
    view.later_papers = [(by_id[p.id], why) for p, why in judged.later_papers]
    for b in gathered.bundles:
        problem = sel.bundle_problem(b, selection_id, body, gathered.paper, gathered.children)
        size = len(gathered.paper.candidates) + 8
        receipts = b.body.receipts if isinstance(b.body, Decision) else b""
        view.bundles.append(BundleView(b.id, b.author, name_of(node, b.author), len(receipts) // size, problem))
    view.results = [ResultView(envelopes[r.id], findings, r.body)  # type: ignore[arg-type]
                    for r, findings in judged.results]  # fmt: skip
    return view


_judgements: dict[tuple[object, ...], sel.Judgement] = {}  # the latest judgements, by what they read


def _coded(finding: str) -> tuple[str, str]:
    code, _, message = finding.partition(": ")
    return code, message or code


async def judge_due(node: Electing, clock: Callable[[], float] = time.time) -> int:
    """Judge each selection something arrived for (its papers and results), keeping the
    findings in the one list; returns how many were judged."""
    judged = 0
    for about in await node.findings.due("selection"):
        try:
            view = await selection_view(node, about)
        except NotFound:  # not held (yet): judged when it arrives, which marks it again
            await node.findings.judged(about)
            continue
        at = now_ms(clock)
        if view.paper is not None:
            await node.findings.replace(view.paper.id, "ballot_paper", view.paper.author, about,
                                        [_coded(f) for f in view.paper_findings], at)  # fmt: skip
        for paper, why in view.later_papers:
            await node.findings.replace(paper.id, "ballot_paper", paper.author, about, [_coded(why)], at)
        for result in view.results:
            await node.findings.replace(result.envelope.id, "selection_result", result.envelope.author, about,
                                        [_coded(f) for f in result.findings], at)  # fmt: skip
        await node.findings.judged(about)
        judged += 1
    return judged


async def selections(node: Upward) -> list[Envelope]:
    """Every selection held: this body's and those of bodies above it and beside it."""
    await index(node)
    return [reopen(raw) for raw in await node.upward.of_kind("selection")]


def names_of(places: list[int], paper: BallotPaper) -> list[str]:
    return [paper.candidates[w] for w in places]


@dataclass(frozen=True)
class OpenToCandidates:
    id: str  # the selection (hex): its page is /selections/{id}
    office: str
    by: str
    closes: int  # ms: nominations close


async def open_to_candidates(node: Upward, now_ms: int) -> list[OpenToCandidates]:
    """Selections of this body and the bodies above it whose nominations are open now: a
    member may stand (and their branch nominate them)."""
    me = node.own_log.key.public
    mine = {me, *ancestors(node, me)}
    found = []
    for envelope in await selections(node):
        s = envelope.payload.body
        if isinstance(s, Selection) and envelope.author in mine and now_ms <= s.nominations_close:
            found.append(OpenToCandidates(envelope.id.hex(), s.office, name_of(node, envelope.author),
                                          s.nominations_close))  # fmt: skip
    return sorted(found, key=lambda o: o.closes)
