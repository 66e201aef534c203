"""Motions and amendments: who may do what, and how an amendment changes a text.

* Members in good standing propose motions and amendments and comment; the mover (the
  motion's proposer) submits or withdraws their motion and may accept an amendment, which
  folds it in without a vote (recorded as ``accepted``).
* Officers admit a motion or rule it out (with a reason), refer it, and open ballots:
  every amendment still proposed is voted on before the motion itself.
* A text is paragraphs separated by a blank line; an amendment replaces the words from
  ``start`` to ``end`` (code points) of one paragraph (an insertion when they are empty, a
  deletion when the replacement is). It records the words it replaces, so that when an
  earlier amendment has moved them it is applied where they now are, and **falls** when
  they are no longer there exactly once.
"""

from __future__ import annotations

import difflib
import re

from node.errors import BadInput, Forbidden
from node.rules.members import access
from node.storage.members import Member
from node.storage.motions import AmendmentRow, MotionRow

PARAGRAPH_BREAK = "\n\n"


def paragraphs(text: str) -> list[str]:
    return text.split(PARAGRAPH_BREAK)


def check_may_propose(who: Member) -> None:
    if who.status != "active":
        raise Forbidden("only members in good standing propose, amend and comment")


def check_officer(who: Member, what: str) -> None:
    if access(who.role) < 1:
        raise Forbidden(f"only officers {what}")


def check_mover(who: Member, motion: MotionRow, what: str) -> None:
    if motion.proposer_id != who.id:
        raise Forbidden(f"only the mover of the motion {what}")


def span(text: str, paragraph: int, start: int, end: int) -> str:
    """The words an amendment replaces; BadInput naming the field when the span is not in the text."""
    parts = paragraphs(text)
    if not 0 <= paragraph < len(parts):
        raise BadInput(f"the motion has paragraphs 1 to {len(parts)}", field="paragraph")  # as people count them
    if not 0 <= start <= end <= len(parts[paragraph]):
        raise BadInput(f"paragraph {paragraph} has {len(parts[paragraph])} characters; start and end are within it "
                       "and start is not after end", field="start")  # fmt: skip
    return parts[paragraph][start:end]


def apply(text: str, amendment: AmendmentRow) -> str | None:
    """The text with the amendment made; None when it falls (its words are not there)."""
    parts = paragraphs(text)
    if not 0 <= amendment.paragraph < len(parts):
        return None
    para = parts[amendment.paragraph]
    start = amendment.start
    if para[start : amendment.end] != amendment.original:
        if not amendment.original or para.count(amendment.original) != 1:
            return None
        start = para.index(amendment.original)
    parts[amendment.paragraph] = para[:start] + amendment.replacement + para[start + len(amendment.original) :]
    return PARAGRAPH_BREAK.join(parts)


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """The words of ``before`` and ``after`` as runs of ``same``, ``del`` and ``ins`` (spaces
    kept with their words), for showing an amendment in its paragraph."""
    old, new = re.findall(r"\S+\s*", before), re.findall(r"\S+\s*", after)
    runs: list[tuple[str, str]] = []
    for op, a1, a2, b1, b2 in difflib.SequenceMatcher(a=old, b=new, autojunk=False).get_opcodes():
        if op == "equal":
            runs.append(("same", "".join(old[a1:a2])))
            continue
        if a2 > a1:
            runs.append(("del", "".join(old[a1:a2])))
        if b2 > b1:
            runs.append(("ins", "".join(new[b1:b2])))
    return runs
