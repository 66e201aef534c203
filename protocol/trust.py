"""Trust: which authors may speak in a federation, derived from its genesis and charters.

A federation's trust state is a table of **bodies** (chartered nodes). The founder is the
genesis author. Every other body was admitted by an envelope of an *issuer*: a Charter by
its parent, or a KeyRotation by its own previous key. A body may be **cut** at a sequence
number: its envelopes after that sequence are no longer accepted, and any already held are
set aside. Cuts come from

* a Revocation by the body's parent or any ancestor (``revoked``, at ``after_seq``);
* a KeyRotation by the body itself (``retired``, at the rotation's own sequence);
* a ForkProof about the body (``frozen``, just before the forked sequence), until its
  parent revokes it and, if it wishes, charters a new key.

A cut cascades: a body whose admitting envelope falls after its issuer's cut loses its
charter (it is cut at 0), and so on down the tree.

Every rule here depends only on envelopes already accepted, and the state changes only by
:meth:`Trust.apply` on an envelope that was accepted, so nodes that accept the same
envelopes reach the same state. The rules in prose: docs/federation.md, "Trust".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .chain import verify_fork_proof
from .errors import Code, TrustFailure
from .models import Charter, Envelope, ForkProof, Genesis, KeyRotation, Revocation, Rules

# The bodies that change trust when accepted; every other kind leaves it as it was.
# Trust.apply ignores any kind not listed here, and the node accepts those without it.
STRUCTURAL = frozenset({Genesis, Charter, Revocation, KeyRotation, ForkProof})

CutReason = Literal["revoked", "retired", "frozen"]
_CUT_CODE: dict[str, Code] = {"revoked": Code.REVOKED, "retired": Code.RETIRED, "frozen": Code.FROZEN}


@dataclass
class Body:
    """A chartered node: its key, what it is called, who admitted it, and any cut."""

    key: bytes
    name: str
    level: str
    parent: bytes | None  # the organisational parent (None for the founder)
    issuer: bytes | None  # who admitted this key: the parent (charter) or the old key (rotation)
    issued_at: int  # the sequence of the admitting envelope in the issuer's log (0 for the founder)
    admitted_by: bytes  # id of the admitting envelope (the genesis for the founder)
    url: str | None = None
    cut: int | None = None  # envelopes with seq > cut are not accepted
    cut_reason: CutReason | None = None
    successor: bytes | None = None  # the key this one rotated to


@dataclass(frozen=True)
class Change:
    """What applying one envelope changed; the node stores these in the same transaction."""

    kind: Literal["chartered", "updated", "cut", "ineffective"]
    key: bytes
    cut: int | None = None
    reason: str = ""


@dataclass
class Trust:
    """The trust state of one federation."""

    federation: bytes
    rules: Rules
    founder: bytes
    bodies: dict[bytes, Body] = field(default_factory=dict)

    @classmethod
    def from_genesis(cls, genesis: Envelope) -> Trust:
        body = genesis.payload.body
        if not isinstance(body, Genesis):
            raise TrustFailure(Code.BAD_FIELD, "a federation starts from a genesis envelope", "body.kind")
        founder = Body(key=genesis.author, name=body.founder_name, level=body.founder_level, parent=None,
                       issuer=None, issued_at=0, admitted_by=genesis.id)  # fmt: skip
        return cls(genesis.id, body.rules, genesis.author, {genesis.author: founder})

    # --- questions ------------------------------------------------------------------------
    def may_charter(self, parent_level: str, child_level: str) -> bool:
        return any(r.parent == parent_level and r.child == child_level for r in self.rules.charter_rules)

    def check(self, envelope: Envelope) -> None:
        """Raise TrustFailure unless ``envelope``'s author may speak at its sequence.

        ``wrong_federation``: another federation's object; ``unknown_author``: no charter
        known (yet: the node quarantines it); ``revoked`` / ``retired`` / ``frozen``: after
        the author's cut."""
        p = envelope.payload
        if isinstance(p.body, Genesis):
            if envelope.id != self.federation:
                raise TrustFailure(Code.WRONG_FEDERATION, "the genesis of another federation", "payload")
            return
        if p.federation != self.federation:
            raise TrustFailure(Code.WRONG_FEDERATION, "envelope names another federation", "payload.federation")
        body = self.bodies.get(p.author)
        if body is None:
            raise TrustFailure(Code.UNKNOWN_AUTHOR, "no charter of this author is known", "payload.author")
        if body.cut is not None and p.seq > body.cut:
            reason = body.cut_reason or "revoked"
            raise TrustFailure(_CUT_CODE[reason], f"the author was {reason} after seq {body.cut}", "payload.seq")

    def ancestors(self, key: bytes) -> list[bytes]:
        """The organisational parents of ``key``, nearest first."""
        found: list[bytes] = []
        body = self.bodies.get(key)
        while body is not None and body.parent is not None and body.parent not in found:
            found.append(body.parent)
            body = self.bodies.get(body.parent)
        return found

    # --- changes --------------------------------------------------------------------------
    def apply(self, envelope: Envelope) -> list[Change]:
        """Update the state for an accepted envelope; returns what changed."""
        author, seq, body = envelope.author, envelope.seq, envelope.payload.body
        if type(body) not in STRUCTURAL:
            return []  # the node's plain ingest path relies on exactly this: see STRUCTURAL
        if author not in self.bodies:
            return []  # not chartered here (a node's own envelopes before its charter): no effect
        match body:
            case Charter():
                return self._charter(envelope, body)
            case Revocation(key=key, after_seq=after_seq):
                target = self.bodies.get(key)
                if target is None:
                    return [Change("ineffective", key, reason="revocation of a key that is not chartered")]
                if author not in self.ancestors(key):
                    return [Change("ineffective", key, reason="only a parent or an ancestor revokes")]
                return self._cut(key, after_seq, "revoked")
            case KeyRotation(new_key=new_key):
                old = self.bodies[author]
                if new_key in self.bodies:
                    return [Change("ineffective", new_key, reason="the new key is already chartered")]
                changes = self._cut(author, seq, "retired")
                old.successor = new_key
                self.bodies[new_key] = Body(key=new_key, name=old.name, level=old.level, parent=old.parent,
                                            issuer=author, issued_at=seq, admitted_by=envelope.id,
                                            url=old.url)  # fmt: skip
                for child in self.bodies.values():  # the children now answer to the new key
                    if child.parent == author:
                        child.parent = new_key
                return [Change("chartered", new_key), *changes]
            case ForkProof():
                return self.record_fork(body)
            case _:
                return []

    def record_fork(self, proof: ForkProof) -> list[Change]:
        """Freeze the forked author just before the forked sequence (the proof is checked)."""
        a, _ = verify_fork_proof(proof)
        if a.author not in self.bodies:
            return [Change("ineffective", a.author, reason="fork of an author that is not chartered")]
        return self._cut(a.author, a.seq - 1, "frozen")

    def _charter(self, envelope: Envelope, charter: Charter) -> list[Change]:
        parent = self.bodies[envelope.author]
        existing = self.bodies.get(charter.key)
        if existing is not None:
            if existing.parent == envelope.author and existing.level == charter.level and existing.cut is None:
                existing.name, existing.url = charter.name, charter.url
                return [Change("updated", charter.key)]
            return [Change("ineffective", charter.key, reason="this key is already chartered")]
        if charter.level not in self.rules.levels or not self.may_charter(parent.level, charter.level):
            reason = f"a {parent.level} may not charter a {charter.level} in this federation"
            return [Change("ineffective", charter.key, reason=reason)]
        self.bodies[charter.key] = Body(key=charter.key, name=charter.name, level=charter.level,
                                        parent=envelope.author, issuer=envelope.author, issued_at=envelope.seq,
                                        admitted_by=envelope.id, url=charter.url)  # fmt: skip
        return [Change("chartered", charter.key)]

    def _cut(self, key: bytes, after_seq: int, reason: CutReason) -> list[Change]:
        body = self.bodies[key]
        if body.cut is not None and body.cut <= after_seq:
            return []  # already cut at or before this point
        body.cut, body.cut_reason = after_seq, reason
        changes = [Change("cut", key, after_seq, reason)]
        for other in list(self.bodies.values()):  # cascade: charters issued after the cut lapse
            if other.issuer == key and other.issued_at > after_seq:
                changes += self._cut(other.key, 0, "revoked")
        return changes
