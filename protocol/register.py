"""A ballot's marked register, checked offline by the members' scrutineers (issue 25;
docs/decisions.md, "Members' own keys").

After the close, a scrutineer downloads from the body's node the register: the ballot's signed
roll and decision, every elector (member id, the roll salt, the keys the roll froze) and every
participation (who took part, never how, with their signed statement where they signed). From
those alone, :func:`check_register` recomputes the roll (its root, count and keyed count), the
participation tree the decision commits to and its signed count, checks every signature
against the member's keys and the ballot's statement, and names what does not hold. Pure: no
clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from .ballots import votes_counted
from .envelope import open_envelope
from .errors import Code, ProtocolError
from .member_keys import (
    MemberKey,
    MemberSignature,
    Participation,
    key_id,
    participation_root,
    participation_statement,
    roll_leaf_v2,
    signature_digest,
    verify_member_signature,
)
from .merkle import root
from .models import Decision, Roll

FORMAT = "branchnet marked register v1"


class Elector(msgspec.Struct, frozen=True):
    member: int
    salt: bytes
    keys: list[MemberKey]
    name: str = ""


class Entry(msgspec.Struct, frozen=True):
    member: int | None  # None: a member since forgotten (their roll leaf stays)
    roll_leaf: bytes
    key_id: bytes | None = None
    signature: MemberSignature | None = None


class MarkedRegister(msgspec.Struct, frozen=True):
    format: str
    roll: bytes  # the roll envelope, as signed
    decision: bytes  # the decision envelope, as signed
    electors: list[Elector]
    participations: list[Entry]


@dataclass(frozen=True)
class Finding:
    code: str
    message: str
    member: int | None = None


def check_register(register: MarkedRegister) -> list[Finding]:
    """Everything in the register that does not hold, in a fixed order (none: it holds).

    * ``not_the_roll``: the electors do not make the signed roll (root, count, keyed);
    * ``not_the_decision``: the participations do not make the decision's tree or its signed
      count, or their number is not the decision's votes;
    * ``not_on_roll``: a participation whose roll leaf is no elector's;
    * ``bad_member_signature``: a signature that does not hold, by a key the roll did not
      freeze for that member, or over another statement;
    * ``unsigned_keyholder`` (to look into, not proof of fraud): an unsigned vote in the name
      of a member who held a key: ask them whether they voted without it."""
    found: list[Finding] = []
    roll_env, decision_env = open_envelope(register.roll), open_envelope(register.decision)
    roll, decided = roll_env.payload.body, decision_env.payload.body
    if not isinstance(roll, Roll) or not isinstance(decided, Decision) or decided.roll != roll_env.id:
        return [Finding("not_the_decision", "the register's decision does not name its roll")]
    leaves = {roll_leaf_v2(e.salt, e.member, e.keys): e for e in register.electors}
    keyed = sum(1 for e in register.electors if e.keys)
    if (root(sorted(leaves)), len(leaves), keyed) != (roll.root, roll.count, roll.keyed):
        found.append(Finding("not_the_roll", f"the electors make a roll of {len(leaves)} ({keyed} holding a key) "
                             f"that is not the signed one of {roll.count} ({roll.keyed})"))  # fmt: skip
    federation = roll_env.payload.federation or b""
    statement = participation_statement(federation, roll_env.author, decided.ballot)
    tree = []
    for entry in register.participations:
        elector = leaves.get(entry.roll_leaf)
        if elector is None:
            found.append(Finding("not_on_roll", "a participation by no elector of the roll", entry.member))
            continue
        if entry.signature is None:
            tree.append(Participation(entry.roll_leaf))
            if elector.keys:
                who = elector.name or "a member"
                found.append(Finding("unsigned_keyholder", f"an unsigned vote in the name of {who}, who held a key",
                                     elector.member))  # fmt: skip
            continue
        key = next((k for k in elector.keys if key_id(k) == entry.key_id), None)
        try:
            if key is None:
                raise ProtocolError(Code.BAD_MEMBER_SIGNATURE, "by a key the roll did not freeze for this member")
            verify_member_signature(key, statement, entry.signature)
        except ProtocolError as exc:
            found.append(Finding("bad_member_signature", exc.message, elector.member))
            continue
        tree.append(Participation(entry.roll_leaf, signature_digest(key, entry.signature)))
    try:
        tree_root, signed = participation_root(tree)
    except ValueError:
        return [*found, Finding("not_the_decision", "two participations of one member")]
    votes = votes_counted(decided)
    if (tree_root, signed, len(tree)) != (decided.participations, decided.signed, votes):
        found.append(Finding("not_the_decision", f"the register makes {len(tree)} participations ({signed} "
                             f"signed), not the decision's {votes} votes ({decided.signed} signed)"))  # fmt: skip
    return sorted(found, key=lambda f: (f.code, f.member or 0, f.message))
