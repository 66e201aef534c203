"""A decision in parts: a ballot whose receipt records do not fit one envelope
(docs/protocol.md section 6, `decision_part`; docs/decisions.md, "Decisions in parts"); and a
selection result in parts, citing more bundles than one envelope lists (`result_part`, the
same way, at the end of this module).

Its author signs the records in **parts** of at most ``MAX_RECEIPT_BYTES`` each, whole records
in order, as ``decision_part`` envelopes numbered from 1, and then, as the very next envelope
of its log, the ``decision`` with ``parts`` (how many) and ``cast`` (the votes counted) and no
receipts of its own: the parts of a decision of ``n`` parts are the ``n`` envelopes just
before it in its author's log, part ``i`` at the decision's sequence minus ``n`` plus ``i``
minus 1. Three checks, each by anyone holding the envelopes:

1. **each part alone**, on arrival (:func:`check_part`): whole, ordered records of valid
   choices for its method and number of options, and the counts it states are theirs;
2. **the decision alone**, on arrival (:func:`protocol.ballots.check_decision`): its counts
   against ``cast``, and its outcome where counts give it;
3. **the whole**, once every part is held (:func:`check_parts`): each part is this ballot's,
   in its place; the records run in order across parts (no digest twice in the whole
   decision); the parts' counts add up to the decision's and their records to ``cast``; and a
   ranked ballot's winners are those of every part's records counted together.

A part that is not held where the decision says is ``missing_part``: the decision is not
counted, which is not to say its count is wrong. (A node holds every earlier envelope of an
author's log, so there a part is missing only if its author never signed it.)

Pure functions over envelopes and bytes, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import msgspec

from .ballots import DIGEST_BYTES, check_outcome, choice_width, decide_ranked, quorate, tally
from .errors import ChainFailure, Code, DecodeFailure, ProtocolError
from .models import (
    MAX_BUNDLES,
    MAX_OPTIONS,
    MAX_PARTS,
    MAX_RECEIPT_BYTES,
    Decision,
    DecisionPart,
    Envelope,
    ResultPart,
    SelectionResult,
)
from .selections import Signed


def part_bytes(method: str, options: int) -> int:
    """The most bytes of records one part holds: whole records within ``MAX_RECEIPT_BYTES``."""
    size = DIGEST_BYTES + choice_width(method, options)
    return MAX_RECEIPT_BYTES // size * size


def most_votes(method: str, options: int) -> int:
    """The most votes a decision of this kind can count, in ``MAX_PARTS`` parts."""
    return MAX_PARTS * (part_bytes(method, options) // (DIGEST_BYTES + choice_width(method, options)))


def split(records: bytes, method: str, options: int) -> list[bytes]:
    """Sorted records cut into parts of whole records, each as full as it may be."""
    step = part_bytes(method, options)
    return [records[i : i + step] for i in range(0, len(records), step)]


def in_parts(decision: Decision, records: bytes) -> tuple[list[DecisionPart], Decision]:
    """The parts a decision's ``records`` make and the decision that follows them (``parts``,
    ``cast``, no receipts of its own); ``decision`` as its author counted it, records inline."""
    options = len(decision.options)
    chunks = split(records, decision.method, options)
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"{len(chunks)} parts: a decision has at most {MAX_PARTS}")
    parts = []
    for number, chunk in enumerate(chunks, 1):
        counts, _ = tally(decision.method, options, chunk)
        parts.append(DecisionPart(ballot=decision.ballot, part=number, method=decision.method, options=options,
                                  counts=counts, receipts=chunk))  # fmt: skip
    size = DIGEST_BYTES + choice_width(decision.method, options)
    whole = msgspec.structs.replace(decision, receipts=b"", parts=len(parts), cast=len(records) // size)
    return parts, whole


def _bad_part(message: str, field: str) -> DecodeFailure:
    return DecodeFailure(Code.BAD_DECISION, message, f"body.{field}")


def check_part(body: DecisionPart) -> None:
    """One part by itself (DecodeFailure ``bad_decision``): its records and its counts."""
    if body.method == "for_against_abstain":
        if body.options:
            raise _bad_part("a for/against/abstain ballot has no options", "options")
        if len(body.counts) != 3:
            raise _bad_part("a for/against/abstain part counts three choices", "counts")
    else:
        if not 2 <= body.options <= MAX_OPTIONS:
            raise _bad_part(f"an approval or ranked ballot has 2 to {MAX_OPTIONS} options", "options")
        if len(body.counts) != body.options:
            raise _bad_part("a part counts each option", "counts")
    try:
        counts, _ = tally(body.method, body.options, body.receipts)
    except ValueError as exc:
        raise _bad_part(str(exc), "receipts") from None
    if counts != list(body.counts):
        raise _bad_part(f"the counts {list(body.counts)} are not those of the part's receipts, {counts}", "counts")


def _not_whole(message: str, field: str) -> ChainFailure:
    """The whole does not add up: ``bad_decision``, as a check across envelopes."""
    return ChainFailure(Code.BAD_DECISION, message, f"body.{field}")


def _missing(message: str) -> ChainFailure:
    return ChainFailure(Code.MISSING_PART, message, "body.parts")


def places(whole: Envelope) -> range:
    """The sequence numbers of a decision's or a selection result's parts in its author's
    log (empty: none)."""
    body = whole.payload.body
    assert isinstance(body, Decision | SelectionResult)
    return range(whole.seq - body.parts, whole.seq)


def _in_place(whole: Envelope, held: Sequence[Envelope | None], kind: type) -> Iterator[tuple[int, int, object]]:
    """(number from 1, sequence, body) of each part held at the :func:`places` of ``whole`` (a
    decision or a result); ChainFailure ``missing_part`` where none is, or another envelope."""
    body = whole.payload.body
    assert isinstance(body, Decision | SelectionResult)
    where = places(whole)
    if len(held) != len(where):
        raise ValueError("one envelope (or None) for each place")
    for number, (seq, part) in enumerate(zip(where, held, strict=True), 1):
        if part is None:
            raise _missing(f"part {number} of {body.parts} is not held (seq {seq} of its author's log)")
        if not isinstance(part.payload.body, kind) or part.author != whole.author or part.seq != seq:
            raise _missing(f"part {number} of {body.parts} is not at seq {seq} of its author's log, where "
                           f"its parts are: just before it")  # fmt: skip
        yield number, seq, part.payload.body


def check_parts(decision: Envelope, held: Sequence[Envelope | None]) -> bytes:
    """The whole of a decision in parts, given what is held at each of its :func:`places`
    (None: not held); returns every record, in order. Raises ChainFailure ``missing_part``
    (a part not held, or another envelope in its place), ``wrong_part`` (a part of another
    decision there) or ``bad_decision`` (the whole does not add up)."""
    whole = gather(decision, held)
    body = decision.payload.body
    assert isinstance(body, Decision)
    if body.method == "ranked" and body.selection is None and quorate(body.cast or 0, body.electorate,
                                                                      body.rules.quorum):  # fmt: skip
        try:
            check_outcome(body, *decide_ranked(whole_decision(body, whole), body.cast or 0))
        except DecodeFailure as exc:
            raise ChainFailure(exc.code, exc.message, exc.field) from None
    return whole


def gather(decision: Envelope, held: Sequence[Envelope | None]) -> bytes:
    """Every record of a decision in parts, in order, with every check of :func:`check_parts`
    but a ranked ballot's count (for a decision already checked: a voter's receipt, a count
    shown to people)."""
    body = decision.payload.body
    assert isinstance(body, Decision)
    options = len(body.options)
    counts = [0] * len(body.counts)
    records: list[bytes] = []
    last = b""
    for number, seq, chunk in _in_place(decision, held, DecisionPart):
        assert isinstance(chunk, DecisionPart)
        if chunk.ballot != body.ballot or chunk.part != number:
            raise ChainFailure(Code.WRONG_PART, f"the envelope at seq {seq} is part {chunk.part} of ballot "
                               f"{chunk.ballot.hex()}, not part {number} of this one", "body.parts")  # fmt: skip
        if (chunk.method, chunk.options) != (body.method, options):
            raise ChainFailure(Code.WRONG_PART, f"part {number} reads its records as {chunk.method} with "
                               f"{chunk.options} options, not as this decision", "body.parts")  # fmt: skip
        if chunk.receipts[:DIGEST_BYTES] <= last:
            raise _not_whole(f"part {number}'s first record is not after part {number - 1}'s last: the records "
                            "run in order across parts, no digest twice", "parts")  # fmt: skip
        last = chunk.receipts[-(DIGEST_BYTES + choice_width(body.method, options)) :][:DIGEST_BYTES]
        counts = [a + b for a, b in zip(counts, chunk.counts, strict=True)]
        records.append(chunk.receipts)
    whole = b"".join(records)
    cast = len(whole) // (DIGEST_BYTES + choice_width(body.method, options))
    if cast != body.cast:
        raise _not_whole(f"the parts hold {cast} votes, not the {body.cast} the decision counted", "cast")
    if counts != list(body.counts):
        raise _not_whole(f"the counts {list(body.counts)} are not those of the parts, {counts}", "counts")
    return whole


def whole_decision(body: Decision, records: bytes) -> Decision:
    """A decision in parts as one, its receipts the whole's (for counting and finding a
    receipt; never encoded)."""
    return msgspec.structs.replace(body, receipts=records) if body.parts else body


# --- a selection result citing more bundles than one envelope lists -----------------------------


def result_in_parts(result: SelectionResult) -> tuple[list[ResultPart], SelectionResult]:
    """The parts listing a result's bundles (``MAX_BUNDLES`` each) and the result that follows
    them (``parts``, no bundles of its own)."""
    chunks = [result.bundles[i : i + MAX_BUNDLES] for i in range(0, len(result.bundles), MAX_BUNDLES)]
    if len(chunks) > MAX_PARTS:
        raise ValueError(f"{len(chunks)} parts: a result has at most {MAX_PARTS}")
    parts = [ResultPart(selection=result.selection, part=n, bundles=c) for n, c in enumerate(chunks, 1)]
    return parts, msgspec.structs.replace(result, bundles=[], parts=len(parts))


def gather_bundles(result: Envelope, held: Sequence[Envelope | None]) -> list[bytes]:
    """Every bundle a result in parts cites, in order, given what is held at each of its
    :func:`places`. Raises ChainFailure ``missing_part``, ``wrong_part`` or ``bad_selection``
    (the bundles not in order across parts)."""
    body = result.payload.body
    assert isinstance(body, SelectionResult)
    bundles: list[bytes] = []
    for number, seq, chunk in _in_place(result, held, ResultPart):
        assert isinstance(chunk, ResultPart)
        if chunk.selection != body.selection or chunk.part != number:
            raise ChainFailure(Code.WRONG_PART, f"the envelope at seq {seq} is part {chunk.part} of the result "
                               f"of selection {chunk.selection.hex()[:16]}, not part {number} of this one",
                               "body.parts")  # fmt: skip
        if bundles and chunk.bundles[0] <= bundles[-1]:
            raise ChainFailure(Code.BAD_SELECTION, f"part {number}'s first bundle is not after part "
                               f"{number - 1}'s last: the bundles are listed once each, sorted, across parts",
                               "body.parts")  # fmt: skip
        bundles += chunk.bundles
    return bundles


def whole_result(body: SelectionResult, bundles: list[bytes]) -> SelectionResult:
    """A result in parts as one, citing every bundle of its parts (for its recount; never
    encoded)."""
    return msgspec.structs.replace(body, bundles=bundles, parts=0) if body.parts else body


def signed_whole(envelope: Envelope, held: Sequence[Envelope | None]) -> Signed:
    """An envelope as the selection checks read it: a decision (a bundle) or a result in parts
    with every record or bundle of its parts (``held`` at its :func:`places`), or, where they
    do not gather, as signed with why (``unread``: it is not counted)."""
    body = envelope.payload.body
    try:
        if isinstance(body, Decision) and body.parts:
            body = whole_decision(body, gather(envelope, held))
        elif isinstance(body, SelectionResult) and body.parts:
            body = whole_result(body, gather_bundles(envelope, held))
    except ProtocolError as exc:
        return Signed(envelope.id, envelope.author, envelope.payload.created, body, f"{exc.code}: {exc.message}")
    return Signed(envelope.id, envelope.author, envelope.payload.created, body)
