"""Decisions go up: the rules of submissions, agenda items, mandates and aggregates
(docs/decisions.md, "Decisions go up"; docs/protocol.md section 6).

Pure: every function takes the envelopes it judges (the node finds them) and returns a
verdict. Three layers:

* **alone** (:func:`check_alone`, run by ``open_envelope``): what an object must keep by
  itself; an agenda item that closes before it opens, a split without its counts, an
  aggregate whose records, totals or outcome do not add up are ``bad_*`` rejections;
* **a mandate against what it cites** (:func:`mandate_problem`): a reason code when it is
  not one the aggregate may count (late, not from a direct child, no decision on this
  text, not following its decision, ...);
* **an aggregate against what the checking node holds** (:func:`recount`): findings, each
  with a reason code, when it cites what it may not count, omits what it must, or weighs
  a child otherwise than its roll (or delegates) say.

An aggregate's records are 12 bytes each: the first 8 bytes of a mandate's id (``counted``)
or of a child's key (``absent``), then the weight given, 4 bytes big-endian; each list
sorted, no prefix twice. ``cited`` is SHA-256 over the full ids of the counted mandates in
record order, so a prefix names exactly one mandate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .aggregates import Counted, apportion, outcome_of, totals
from .errors import Code, DecodeFailure
from .models import (
    MAX_AGGREGATE_RECORD_BYTES,
    AgendaItem,
    Aggregate,
    Body,
    Campaign,
    Composite,
    Decision,
    Envelope,
    Mandate,
    Ratio,
)

PREFIX = 8
RECORD = PREFIX + 4
MAX_CHILDREN = MAX_AGGREGATE_RECORD_BYTES // RECORD  # 5,000

# Why a mandate is not counted (mandate_problem).
NOT_A_CHILD = "not_a_child"
EARLY = "early"
LATE = "late"
NO_BASIS = "no_basis"
NOT_ITS_OWN = "not_its_own"
OTHER_MOTION = "other_motion"
NOT_FOLLOWING = "not_following"
BAD_REPLACEMENT = "bad_replacement"
REPLACED = "replaced"

# What a recount finds wrong with an aggregate (recount).
NOT_ITEM_AUTHOR = "not_item_author"
WRONG_ITEM = "wrong_item"
EARLY_AGGREGATE = "early_aggregate"
CITES_UNKNOWN = "cites_unknown_mandate"
CITES_INVALID = "cites_invalid_mandate"
OMITS_MANDATE = "omits_mandate"
WRONG_WEIGHT = "wrong_weight"
WRONG_TOTALS = "wrong_totals"
MISSING_CHILD = "missing_child"
NOT_CHILD_ABSENT = "absent_not_a_child"
CITED_MISMATCH = "cited_mismatch"

# What is wrong with an agenda item itself (found by the node: it needs the composite and consents).
NO_COMPOSITE = "no_composite"
WITHOUT_CONSENT = "composited_without_consent"


def text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def record(name: bytes, weight: int) -> bytes:
    return name[:PREFIX] + weight.to_bytes(4, "big")


def split_records(data: bytes) -> list[tuple[bytes, int]]:
    """(prefix, weight) pairs; ValueError when not whole, sorted, distinct records."""
    if len(data) % RECORD:
        raise ValueError(f"records are not whole records of {RECORD} bytes")
    out = [(data[i : i + PREFIX], int.from_bytes(data[i + PREFIX : i + RECORD], "big"))
           for i in range(0, len(data), RECORD)]  # fmt: skip
    for n in range(1, len(out)):
        if out[n][0] <= out[n - 1][0]:
            raise ValueError(f"record {n + 1} is out of order or repeats a prefix")
    return out


def _bad(code: Code, message: str, field: str) -> DecodeFailure:
    return DecodeFailure(code, message, f"body.{field}")


def _ratios_at_most_one(rules: object, code: Code) -> None:
    for name in ("quorum", "threshold"):
        ratio: Ratio = getattr(rules, name)
        if ratio.num > ratio.den:
            raise _bad(code, f"the {name} is more than 1", f"rules.{name}")


def check_alone(body: Body) -> None:
    """What an upward object must keep by itself (DecodeFailure naming the first rule broken)."""
    match body:
        case AgendaItem():
            if body.closes <= body.opens:
                raise _bad(Code.BAD_AGENDA_ITEM, "an agenda item closes after it opens", "closes")
            _ratios_at_most_one(body.rules, Code.BAD_AGENDA_ITEM)
            if len(set(body.sources)) != len(body.sources):
                raise _bad(Code.BAD_AGENDA_ITEM, "a source is named twice", "sources")
            if body.composite is not None and len(body.sources) < 2:
                raise _bad(Code.BAD_AGENDA_ITEM, "a composite item names its two or more sources", "sources")
        case Composite():
            if len(set(body.sources)) != len(body.sources):
                raise _bad(Code.BAD_AGENDA_ITEM, "a source is named twice", "sources")
        case Mandate():
            if (body.position == "split") != bool(body.split):
                raise _bad(Code.BAD_MANDATE, "a split mandate, and only a split one, gives its counts", "split")
            if body.split and (len(body.split) != 3 or sum(body.split) == 0):
                raise _bad(Code.BAD_MANDATE, "a split gives for, against and abstain counts, not all zero", "split")
        case Aggregate():
            _check_aggregate(body)
        case Campaign():
            if body.ends is not None and body.ends < body.starts:
                raise _bad(Code.BAD_FIELD, "a campaign ends after it starts", "ends")
        case _:
            pass


def _check_aggregate(body: Aggregate) -> None:
    _ratios_at_most_one(body.rules, Code.BAD_AGGREGATE)
    if len(body.counted) + len(body.absent) > MAX_AGGREGATE_RECORD_BYTES:
        raise _bad(Code.BAD_AGGREGATE, f"at most {MAX_CHILDREN} children in one aggregate", "absent")
    parts = {}
    for name in ("counted", "absent"):
        try:
            parts[name] = split_records(getattr(body, name))
        except ValueError as exc:
            raise _bad(Code.BAD_AGGREGATE, str(exc), name) from None
    sent = sum(w for _, w in parts["counted"])
    everyone = sent + sum(w for _, w in parts["absent"])
    if body.weight_sent != sent:
        raise _bad(Code.BAD_AGGREGATE, f"weight sent is {body.weight_sent}, the counted records give {sent}",
                   "weight_sent")  # fmt: skip
    if body.weight_all != everyone:
        raise _bad(Code.BAD_AGGREGATE, f"weight of all is {body.weight_all}, the records give {everyone}",
                   "weight_all")  # fmt: skip
    if sum(body.votes) > sent:
        raise _bad(Code.BAD_AGGREGATE, f"{sum(body.votes)} votes from a weight of {sent} that sent mandates", "votes")
    outcome = outcome_of(body.votes, sent, everyone, body.rules)
    if outcome != body.outcome:
        raise _bad(Code.BAD_AGGREGATE, f"the outcome is {body.outcome}, but the totals and rules give {outcome}",
                   "outcome")  # fmt: skip


# --- mandates ------------------------------------------------------------------------------


def follows(position: str, split: Sequence[int], outcome: str, counts: Sequence[int]) -> bool:
    """Whether a mandate's position follows what its basis decided: carried is for, lost is
    against, not quorate is abstain; a split gives the basis's own counts (in proportion,
    for a body carrying its aggregate: a region may scale them); a free vote follows any."""
    if position == "free":
        return True
    if position == "split":
        return len(counts) == 3 and all(a * sum(counts) == b * sum(split) for a, b in zip(split, counts, strict=True))
    return {"carried": "for", "lost": "against", "not_quorate": "abstain"}.get(outcome) == position


def mandate_problem(
    mandate: Envelope,
    item: Envelope,
    parent: bytes | None,
    basis: Envelope | None,
    basis_item: Envelope | None,
    earlier: bytes | None,
) -> str | None:
    """Why ``mandate`` may not be counted on ``item`` (None: it may). ``parent`` is the
    organisational parent of the mandate's author as the node knows it; ``basis`` the
    envelope it cites, if held; ``basis_item`` the agenda item of that basis when it is an
    aggregate; ``earlier`` the id of the author's latest earlier mandate on the item."""
    body, agenda = mandate.payload.body, item.payload.body
    assert isinstance(body, Mandate) and isinstance(agenda, AgendaItem)
    if parent != item.author:
        return NOT_A_CHILD
    created = mandate.payload.created
    if created < agenda.opens:
        return EARLY
    if created > agenda.closes:
        return LATE
    if body.replaces != earlier:
        return BAD_REPLACEMENT
    if basis is None:
        return NO_BASIS
    if basis.author != mandate.author:
        return NOT_ITS_OWN
    wanted = text_hash(agenda.text)
    cited = basis.payload.body
    if isinstance(cited, Decision):
        if cited.text_hash != wanted or cited.method != "for_against_abstain":
            return OTHER_MOTION
        outcome, counts = cited.outcome, list(cited.counts)
    elif isinstance(cited, Aggregate):
        below = basis_item.payload.body if basis_item is not None else None
        if not isinstance(below, AgendaItem) or text_hash(below.text) != wanted or cited.item != basis_item.id:  # type: ignore[union-attr]
            return OTHER_MOTION
        outcome, counts = cited.outcome, list(cited.votes)
    else:
        return NO_BASIS
    if basis.payload.created > created:
        return NO_BASIS
    return None if follows(body.position, body.split, outcome, counts) else NOT_FOLLOWING


@dataclass(frozen=True)
class Judged:
    """An item's direct children with their weights, every mandate on it with its problem
    (None: it may count), and each child's mandate to count: what building an aggregate and
    recounting one both use."""

    weights: dict[bytes, int]
    mandates: dict[bytes, tuple[Envelope, str | None]]
    latest: dict[bytes, Envelope]


def judge_item(item: Envelope, children: Iterable[bytes], parent_of: Callable[[bytes], bytes | None],
               rolls: Mapping[bytes, int], delegates: Mapping[bytes, int], mandates: Sequence[Envelope],
               held: Mapping[bytes, Envelope]) -> Judged:  # fmt: skip
    """Judge an item as one node, or an audit, holds it: ``children`` the direct children of
    the item's body (in good standing), ``parent_of`` each author's organisational parent,
    ``rolls`` each child's latest roll count signed by the item's opening (card vote),
    ``delegates`` each child's latest delegate count by then, ``mandates`` every mandate on
    the item in author and sequence order, ``held`` the envelopes a mandate may cite (its
    basis, and an aggregate basis's item)."""
    agenda = item.payload.body
    assert isinstance(agenda, AgendaItem)
    weights = {k: weight_for(agenda.weighting, rolls.get(k), delegates.get(k)) for k in sorted(children)}
    judged: dict[bytes, tuple[Envelope, str | None]] = {}
    latest: dict[bytes, Envelope] = {}
    earlier: dict[bytes, bytes] = {}
    for mandate in mandates:
        body = mandate.payload.body
        assert isinstance(body, Mandate)
        basis = held.get(body.basis)
        basis_item = held.get(basis.payload.body.item) if basis is not None and isinstance(
            basis.payload.body, Aggregate) else None  # fmt: skip
        problem = mandate_problem(mandate, item, parent_of(mandate.author), basis, basis_item,
                                  earlier.get(mandate.author))  # fmt: skip
        judged[mandate.id] = (mandate, problem)
        earlier[mandate.author] = mandate.id
        if problem is None and mandate.author in weights:
            latest[mandate.author] = mandate
    return Judged(weights, judged, latest)


def weight_for(weighting: str, roll_count: int | None, delegates: int | None) -> int:
    """A child's weight by the item's rule: its latest roll before the window opened (card
    vote; none: 0), 1 (one branch one vote), its delegate count (none recorded: 0)."""
    if weighting == "card_vote":
        return roll_count or 0
    if weighting == "one_branch_one_vote":
        return 1
    return delegates or 0


def counted_of(mandate: Mandate, weight: int) -> Counted:
    return Counted(mandate.position, weight, tuple(mandate.split) if mandate.split else None)  # type: ignore[arg-type]


def weighted_votes(counted: Iterable[Counted]) -> tuple[int, int, int]:
    votes = [0, 0, 0]
    for c in counted:
        if c.position == "split":
            assert c.split is not None
            for i, share in enumerate(apportion(c.weight, c.split)):
                votes[i] += share
        elif c.position != "free":
            votes[("for", "against", "abstain").index(c.position)] += c.weight
    return votes[0], votes[1], votes[2]


def build(item: Envelope, weights: Mapping[bytes, int], counted: Mapping[bytes, Envelope]) -> Aggregate:
    """The aggregate of ``item``: ``weights`` is every direct child's weight, ``counted`` each
    child's mandate to count (valid, its latest). ValueError beyond :data:`MAX_CHILDREN`."""
    agenda = item.payload.body
    assert isinstance(agenda, AgendaItem)
    if len(weights) > MAX_CHILDREN:
        raise ValueError(f"{len(weights)} children: one aggregate holds at most {MAX_CHILDREN}")
    cited = sorted(counted.values(), key=lambda m: m.id)
    records = b"".join(record(m.id, weights[m.author]) for m in cited)
    absent = b"".join(sorted(record(k, w) for k, w in weights.items() if k not in counted))
    result = totals([counted_of(m.payload.body, weights[m.author]) for m in cited], list(weights.values()),  # type: ignore[arg-type]
                    agenda.rules)  # fmt: skip
    return Aggregate(item=item.id, weighting=agenda.weighting, rules=agenda.rules, closes=agenda.closes,
                     counted=records, absent=absent, cited=hashlib.sha256(b"".join(m.id for m in cited)).digest(),
                     votes=list(result.votes), weight_sent=result.weight_sent, weight_all=result.weight_all,
                     outcome=result.outcome)  # type: ignore[arg-type]  # fmt: skip


@dataclass(frozen=True)
class Finding:
    code: str
    message: str


def recount(
    aggregate: Envelope,
    item: Envelope,
    weights: Mapping[bytes, int],
    mandates: Mapping[bytes, tuple[Envelope, str | None]],
    latest: Mapping[bytes, Envelope],
) -> list[Finding]:
    """Everything wrong with ``aggregate`` given what the checking node holds: ``weights``
    (every direct child's weight), ``mandates`` (every mandate on the item held, by id, with
    its problem or None) and ``latest`` (each child's mandate to count). Empty: it adds up."""
    body, agenda = aggregate.payload.body, item.payload.body
    assert isinstance(body, Aggregate) and isinstance(agenda, AgendaItem)
    findings: list[Finding] = []
    if aggregate.author != item.author:
        findings.append(Finding(NOT_ITEM_AUTHOR, "only the body that tabled the item aggregates it"))
    if (body.weighting, body.rules, body.closes) != (agenda.weighting, agenda.rules, agenda.closes):
        findings.append(Finding(WRONG_ITEM, "its weighting, rules or deadline are not the item's"))
    if aggregate.payload.created < agenda.closes:
        findings.append(Finding(EARLY_AGGREGATE, "it was signed before the item closed"))
    by_prefix: dict[bytes, list[Envelope]] = {}
    for envelope, _ in mandates.values():
        by_prefix.setdefault(envelope.id[:PREFIX], []).append(envelope)
    resolved: list[Envelope] = []
    counted_children: set[bytes] = set()
    ours: list[Counted] = []
    for n, (prefix, weight) in enumerate(split_records(body.counted), 1):
        candidates = by_prefix.get(prefix, [])
        chosen = next((m for m in candidates if latest.get(m.author) is m), candidates[0] if candidates else None)
        if chosen is None:
            findings.append(Finding(CITES_UNKNOWN, f"counted record {n} cites mandate {prefix.hex()}…, not held here"))
            continue
        resolved.append(chosen)
        who = chosen.author
        counted_children.add(who)
        problem = mandates[chosen.id][1]
        if problem is not None or latest.get(who) is not chosen:
            why = problem or REPLACED
            findings.append(Finding(CITES_INVALID, f"counted record {n} cites mandate {chosen.id.hex()[:16]}…: {why}"))
        if weights.get(who) != weight:
            findings.append(Finding(WRONG_WEIGHT, f"counted record {n} weighs {who.hex()[:16]}… {weight}, "
                                                  f"not {weights.get(who, 0)}"))  # fmt: skip
        ours.append(counted_of(chosen.payload.body, weight))  # type: ignore[arg-type]
    if len(resolved) == len(body.counted) // RECORD:
        if hashlib.sha256(b"".join(m.id for m in resolved)).digest() != body.cited:
            findings.append(Finding(CITED_MISMATCH, "the counted records do not name the mandates it cited"))
        if list(weighted_votes(ours)) != list(body.votes):
            findings.append(Finding(WRONG_TOTALS, f"its totals are {list(body.votes)}; its own records give "
                                                  f"{list(weighted_votes(ours))}"))  # fmt: skip
    by_key = {k[:PREFIX]: k for k in weights}
    absent_children: set[bytes] = set()
    for n, (prefix, weight) in enumerate(split_records(body.absent), 1):
        key = by_key.get(prefix)
        if key is None:
            findings.append(Finding(NOT_CHILD_ABSENT, f"absent record {n} names {prefix.hex()}…, not a direct child"))
            continue
        absent_children.add(key)
        if key in counted_children:
            findings.append(Finding(WRONG_WEIGHT, f"absent record {n} names {key.hex()[:16]}…, counted as well"))
        if weights[key] != weight:
            findings.append(Finding(WRONG_WEIGHT, f"absent record {n} weighs {key.hex()[:16]}… {weight}, "
                                                  f"not {weights[key]}"))  # fmt: skip
    cited_ids = {m.id for m in resolved}
    for key, mandate in sorted(latest.items()):
        if mandate.id not in cited_ids:
            findings.append(Finding(OMITS_MANDATE, f"it omits mandate {mandate.id.hex()[:16]}… of {key.hex()[:16]}…, "
                                                   "valid and on time"))  # fmt: skip
    for key in sorted(weights):
        if key not in counted_children and key not in absent_children:
            findings.append(Finding(MISSING_CHILD, f"child {key.hex()[:16]}… is neither counted nor absent"))
    return findings


def outcome_position(outcome: str) -> str | None:
    """The mandate a body carrying its aggregate or decision upward sends by default."""
    return {"carried": "for", "lost": "against", "not_quorate": "abstain"}.get(outcome)
