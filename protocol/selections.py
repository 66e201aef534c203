"""Selections: a body's members choose delegates or candidates by ranked ballots run in each
of its direct children, counted together (docs/elections.md, "Selections").

Pure functions over decoded envelopes; the node gathers what it holds and calls these, the
selecting body to build its ballot paper and its result, every other node to check them.

* The **ballot paper** lists, in order of candidate name then nomination id, every
  nomination for the selection signed by a direct child of the selecting body no later
  than ``nominations_close`` (a second nomination of the same name is left off), then
  "re-open nominations" when ``reopen`` is on.
* A **bundle** is a child's ranked decision with ``selection`` set and outcome ``bundled``:
  its receipt records are the anonymised ballots (a digest only the voter can link to them,
  sorted by digest: an order that says nothing of who voted when). A bundle counts when
  its author is a direct child of the selecting body, its options are the paper's
  candidates, and its ballot closed no later than ``voting_close`` (it may be signed later:
  a result omits only bundles signed before it); one per child (the first by signing time,
  then id).
* The **result** counts every counted bundle's ballots together by the selection's method,
  lot seeded by the selection's id; its rounds are the count's stages in whole units; the
  ordered list is successive counts for 1 .. seats, then balanced by the declared rule.
  :func:`recount` gives the findings of a published result against the bundles held.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from .ballots import ranked_election
from .counting import MEEK_UNIT, RON, UNIT, CountError, Election, Result, balance, ordered_list
from .errors import Code, DecodeFailure
from .models import MAX_OPTIONS, BallotPaper, Decision, Nomination, ResultPart, Round, Selection, SelectionResult


@dataclass(frozen=True)
class Signed:
    """An envelope's id, author and signing time with its body: what these checks read."""

    id: bytes
    author: bytes
    created: int
    body: object
    # A result or bundle in parts whose parts do not gather (protocol.parts): why, as
    # "code: message"; it is then not counted.
    unread: str | None = None


def check_alone(body: Selection | BallotPaper | SelectionResult | ResultPart) -> None:
    """Rules each of these keeps by itself; DecodeFailure ``bad_selection`` naming the field."""
    if isinstance(body, ResultPart):
        if body.bundles != sorted(set(body.bundles)):
            raise _bad("the bundles are listed once each, sorted", "bundles")
        return
    if isinstance(body, Selection):
        if body.voting_close <= body.nominations_close:
            raise _bad("voting closes after nominations close", "voting_close")
    elif isinstance(body, BallotPaper):
        if len(set(body.candidates)) != len(body.candidates):
            raise _bad("a candidate is on the ballot paper twice", "candidates")
        if len(body.nominations) not in (len(body.candidates), len(body.candidates) - 1):
            raise _bad("each candidate but re-open nominations comes from one nomination", "nominations")
    else:
        if body.bundles != sorted(set(body.bundles)):
            raise _bad("the bundles are listed once each, sorted", "bundles")
        if body.parts and body.bundles:
            raise _bad("a result in parts lists its bundles in its parts, not itself", "bundles")
        if len(set(body.winners)) != len(body.winners):
            raise _bad("a winner is named twice", "winners")


def _bad(message: str, field: str) -> DecodeFailure:
    return DecodeFailure(Code.BAD_SELECTION, message, f"body.{field}")


def ballot_paper(selection_id: bytes, selection: Selection, nominations: Iterable[Signed],
                 children: set[bytes]) -> BallotPaper:  # fmt: skip
    """The paper the nominations held make (see the module's rules)."""
    valid = sorted(
        (n for n in nominations if isinstance(n.body, Nomination) and n.body.selection == selection_id
         and n.author in children and n.created <= selection.nominations_close),
        key=lambda n: (n.body.candidate, n.id),  # type: ignore[attr-defined]
    )  # fmt: skip
    names: list[str] = []
    ids: list[bytes] = []
    for n in valid:
        assert isinstance(n.body, Nomination)
        if n.body.candidate not in names and n.body.candidate != RON:
            names.append(n.body.candidate)
            ids.append(n.id)
    if selection.reopen == "on":
        names.append(RON)
    if len(names) > MAX_OPTIONS:
        raise ValueError(f"{len(names)} candidates: a ballot paper holds at most {MAX_OPTIONS}")
    return BallotPaper(selection=selection_id, candidates=names, nominations=ids)


def paper_findings(paper: BallotPaper, expected: BallotPaper) -> list[str]:
    if (paper.candidates, paper.nominations) == (expected.candidates, expected.nominations):
        return []
    return [f"paper_differs: the nominations held give {', '.join(expected.candidates)}"]


def bundle_problem(bundle: Signed, selection_id: bytes, selection: Selection, paper: BallotPaper,
                   children: set[bytes]) -> str | None:  # fmt: skip
    """Why a bundle does not count, or None when it does."""
    if bundle.unread is not None:  # in parts, not all held in their places
        return bundle.unread.partition(":")[0]
    body = bundle.body
    if not isinstance(body, Decision) or body.selection != selection_id or body.method != "ranked":
        return "not_a_bundle"
    if bundle.author not in children:
        return "not_a_child"
    if list(body.options) != list(paper.candidates):
        return "other_paper"
    if body.closed > selection.voting_close:
        return "late"
    return None


def counted_bundles(bundles: Iterable[Signed], selection_id: bytes, selection: Selection, paper: BallotPaper,
                    children: set[bytes]) -> list[Signed]:  # fmt: skip
    """The bundles that count: one per child, its first by signing time then id."""
    first: dict[bytes, Signed] = {}
    for b in sorted(bundles, key=lambda b: (b.created, b.id)):
        if bundle_problem(b, selection_id, selection, paper, children) is None:
            first.setdefault(b.author, b)
    return sorted(first.values(), key=lambda b: b.id)


def election_of(selection_id: bytes, selection: Selection, paper: BallotPaper, bundles: Sequence[Signed]) -> Election:
    groups: dict[tuple[int, ...], int] = {}
    for b in bundles:
        assert isinstance(b.body, Decision)
        one = ranked_election(paper.candidates, selection.seats, b.body.receipts, b.body.ballot)
        for ranking, weight in one.ballots:
            groups[ranking] = groups.get(ranking, 0) + weight
    return Election(tuple(paper.candidates), min(selection.seats, len(paper.candidates)),
                    tuple(sorted(groups.items())), title=selection.office, lot_seed=selection_id)  # fmt: skip


def _units(x: Fraction | None, unit: int) -> int:
    return 0 if x is None else int(x * unit)


def rounds_of(result: Result, candidates: int) -> list[Round]:
    unit = MEEK_UNIT if result.method == "meek" else UNIT
    return [
        Round(action=s.action, votes=[_units(s.votes.get(c, Fraction(0)), unit) for c in range(candidates)],  # type: ignore[arg-type]
              exhausted=_units(s.exhausted, unit), candidate=s.candidate, elected=s.elected, excluded=s.excluded,
              transfer_value=_units(s.transfer_value, unit), loss=_units(s.loss, unit), quota=_units(s.quota, unit),
              keep=[_units(s.keep.get(c, Fraction(0)), unit) for c in range(candidates)] if s.quota is not None else [],
              note=s.note[:2000])
        for s in result.stages
    ]  # fmt: skip


def categories_of(paper: BallotPaper, nominations: dict[bytes, Nomination]) -> list[str]:
    """Each candidate's declared category, in paper order ("" for re-open nominations or a
    nomination not held)."""
    found = [nominations[i].category if i in nominations else "" for i in paper.nominations]
    return found + [""] * (len(paper.candidates) - len(found))


def count_selection(selection_id: bytes, selection: Selection, paper_id: bytes, paper: BallotPaper,
                    bundles: Sequence[Signed], categories: Sequence[str]) -> SelectionResult:  # fmt: skip
    """The result of the counted bundles (built by the selecting body, rebuilt by any other)."""
    election = election_of(selection_id, selection, paper, bundles)
    ballots = sum(w for _, w in election.ballots)
    try:  # the ordered list's last count (of every seat) is the count of the result itself
        order, counts = ordered_list(election, method=selection.method)
    except CountError:  # no ballot ranks anyone: nobody is elected
        return SelectionResult(selection=selection_id, paper=paper_id, bundles=sorted(b.id for b in bundles),
                               ballots=ballots, quota=0, rounds=[], winners=[])  # fmt: skip
    result = counts[-1]
    balanced = balance(order, categories, selection.balancing) if selection.balancing else []
    unit = MEEK_UNIT if selection.method == "meek" else UNIT
    return SelectionResult(selection=selection_id, paper=paper_id, bundles=sorted(b.id for b in bundles),
                           ballots=ballots, quota=_units(result.quota, unit),
                           rounds=rounds_of(result, len(paper.candidates)), winners=result.winners, order=order,
                           balanced=balanced)  # fmt: skip


def recount(published: Signed, selection_id: bytes, selection: Selection, paper_id: bytes, paper: BallotPaper,
            held: Iterable[Signed], categories: Sequence[str], author: bytes, children: set[bytes]
            ) -> list[str]:  # fmt: skip
    """What is wrong with a published result, against the bundles this node holds; [] when
    the count is exactly the one these bundles give."""
    body = published.body
    assert isinstance(body, SelectionResult)
    if published.unread is not None:
        return [published.unread]  # its parts are not all held, or not in place: not counted
    held = list(held)
    by_id = {b.id: b for b in held}
    findings: list[str] = []
    if published.author != author:
        findings.append("not_selection_author: only the selecting body publishes its result")
    if published.created < selection.voting_close:
        findings.append("early_result: published before voting closed")
    if body.paper != paper_id:
        findings.append("other_paper: the result is not of the selection's ballot paper")
    cited = set(body.bundles)
    counted = [b for b in held if b.id in cited]
    for bundle_id in body.bundles:
        if bundle_id not in by_id:
            findings.append(f"cites_unknown_bundle: {bundle_id.hex()[:16]} is not held here")
    signed_before = [b for b in held if b.created <= published.created]  # later ones could not be counted
    expected = counted_bundles(signed_before, selection_id, selection, paper, children)
    for b in counted:
        problem = bundle_problem(b, selection_id, selection, paper, children)
        if problem is not None:
            findings.append(f"cites_invalid_bundle: {b.id.hex()[:16]} ({problem})")
    for b in expected:
        if b.id not in cited:
            findings.append(f"omits_bundle: {b.id.hex()[:16]} from {b.author.hex()[:16]}")
    if any(f.startswith("cites_unknown") for f in findings):
        return findings  # the count cannot be redone without every cited bundle
    again = count_selection(selection_id, selection, paper_id, paper, counted, categories)
    if again != body:
        differs = [f for f in ("ballots", "quota", "rounds", "winners", "order", "balanced")
                   if getattr(again, f) != getattr(body, f)]  # fmt: skip
        findings.append(f"wrong_count: the cited bundles give other {', '.join(differs) or 'fields'}")
    return findings


PAPER_TWICE = "paper_twice"


@dataclass
class Judgement:
    """One selection as a node or an audit holds it: its paper (the selecting body's first),
    what is wrong with that paper, every later paper (each a ``paper_twice``), and each
    published result with what is wrong with it ([] when it is exactly the bundles' count)."""

    paper: Signed | None
    paper_findings: list[str]
    later_papers: list[tuple[Signed, str]]
    results: list[tuple[Signed, list[str]]]


def judge_selection(selection: Signed, papers: Sequence[Signed], nominations: Sequence[Signed],
                    bundles: Sequence[Signed], results: Sequence[Signed], children: set[bytes]
                    ) -> Judgement:  # fmt: skip
    """Judge a selection from what is held: ``papers`` every ballot paper for it in its
    author's log order (others' papers mean nothing: left out by the caller or here),
    ``nominations``, ``bundles`` (the branches' decisions for it), ``results`` and the
    selecting body's direct ``children`` in good standing."""
    body = selection.body
    assert isinstance(body, Selection)
    own = [p for p in papers if p.author == selection.author]
    if not own:
        return Judgement(None, [], [], [])
    paper = own[0]
    paper_body = paper.body
    assert isinstance(paper_body, BallotPaper)
    later = [(p, f"{PAPER_TWICE}: a second ballot paper {p.id.hex()[:16]}… for this selection: the first, "
                 f"{paper.id.hex()[:16]}…, counts") for p in own[1:]]  # fmt: skip
    try:
        expected = ballot_paper(selection.id, body, nominations, children)
        paper_problems = paper_findings(paper_body, expected)
    except ValueError as exc:
        paper_problems = [f"paper_differs: {exc}"]
    by_id = {n.id: n.body for n in nominations if isinstance(n.body, Nomination)}
    categories = categories_of(paper_body, by_id)
    judged = [(r, recount(r, selection.id, body, paper.id, paper_body, bundles, categories, selection.author,
                          children)) for r in results]  # fmt: skip
    return Judgement(paper, paper_problems, later, judged)
