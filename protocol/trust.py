"""Trust: which authors may speak in a federation, derived from its genesis and charters.

A federation's trust state is a table of **bodies** (chartered nodes). The founder is the
genesis author. Every other body was admitted by an envelope of an *issuer*: a Charter by
its parent, or a KeyRotation by its own previous key. A body may be **cut** at a sequence
number: its envelopes after that sequence are no longer accepted, and any already held are
set aside. Cuts come from

* a Revocation by the body's parent or any ancestor (``revoked``, at ``after_seq``);
* a KeyRotation by the body itself (``retired``, at the rotation's own sequence);
* a ForkProof about the body (``frozen``, just before the forked sequence), until its
  parent revokes it and, if it wishes, charters a new key;
* a Freeze by an ancestor (``suspended``, at ``after_seq``), only while it is in force: once
  the clock the state is judged by (:attr:`Trust.now_ms`) reaches its ``until``, it lapses and
  what it set aside counts again, unless a revocation cut the body meanwhile.

A revocation's cut takes effect from there forward: what the body signed before stays valid,
and it stays in the electorate of every question opened before the revocation was signed
(:meth:`Trust.children_at`), so every aggregate and result counted before it recounts the
same. A RulesChange by the founding body replaces the rules from its place in the order on.

A cut cascades: a body whose admitting envelope falls after its issuer's cut was never
chartered (its charter does not count), and so on down the tree.

The state is a function of the **set** of structural envelopes held, not of the order they
arrived in: :meth:`Trust.replay` computes it (docs/federation.md, "The order rule").
:meth:`Trust.apply` is the same computation one envelope at a time; it agrees with
``replay`` whenever envelopes arrive in their canonical order, and the node replays when
they did not. The rules in prose: docs/federation.md, "Trust".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from .authority import (
    DAY_MS,
    act_text,
    authority_problem,
    election_problem,
    evidence_problem,
    freeze_days,
    freeze_problem,
    needs_authority,
    rules_change_problem,
)
from .chain import verify_fork_proof
from .errors import Code, TrustFailure
from .models import (
    AgendaItem,
    Aggregate,
    Charter,
    Delegates,
    Envelope,
    ForkProof,
    Freeze,
    Genesis,
    KeyRotation,
    Revocation,
    Rules,
    RulesChange,
)

# The bodies that change trust when accepted; every other kind leaves it as it was.
# Trust.apply ignores any kind not listed here, and the node accepts those without it.
STRUCTURAL = frozenset({Genesis, Charter, Revocation, KeyRotation, ForkProof, Freeze, RulesChange})

CutReason = Literal["revoked", "retired", "frozen", "suspended"]
_CUT_CODE: dict[str, Code] = {"revoked": Code.REVOKED, "retired": Code.RETIRED, "frozen": Code.FROZEN,
                              "suspended": Code.SUSPENDED}  # fmt: skip
# at one sequence, the first wins
_REASON_RANK: dict[str, int] = {"revoked": 0, "retired": 1, "frozen": 2, "suspended": 3}
MAX_REPLAY_ROUNDS = 16


def cut_code(reason: str | None) -> Code:
    """The code an envelope beyond its author's cut is refused or set aside with."""
    return _CUT_CODE[reason or "revoked"]


@dataclass
class CharteredBody:
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
    cut_created: int | None = None  # ``created`` of the revocation or freeze that cut it


@dataclass(frozen=True)
class Frozen:
    """An interim freeze in force: who froze the body, by which envelope, until when, why."""

    by: bytes
    freeze: bytes
    after_seq: int
    until: int
    reason: str


@dataclass(frozen=True)
class Change:
    """What applying one envelope changed; the node stores these in the same transaction."""

    kind: Literal["chartered", "updated", "cut", "ineffective", "rules"]
    key: bytes
    cut: int | None = None
    reason: str = ""


@dataclass
class Trust:
    """The trust state of one federation."""

    federation: bytes
    rules: Rules
    founder: bytes
    bodies: dict[bytes, CharteredBody] = field(default_factory=dict)
    # acts of power that changed nothing for want of their authority: id -> (code, why)
    refused: dict[bytes, tuple[str, str]] = field(default_factory=dict)
    # where an act's authorising decision is looked up (None: nowhere; see apply)
    lookup: Callable[[bytes], Envelope | None] | None = field(default=None, repr=False, compare=False)
    # the clock interim freezes are judged by, in ms (None: every freeze is in force)
    now_ms: int | None = field(default=None, compare=False)
    # the freezes in force, by the frozen key (the earliest cut wins)
    frozen: dict[bytes, Frozen] = field(default_factory=dict)
    # when the latest freeze of each key ends (lapsed or not): the next may follow only a limit later
    last_freeze: dict[bytes, int] = field(default_factory=dict)
    # the rules in force from each change on: (created, the change's id, rules); the genesis first
    history: list[tuple[int, bytes, Rules]] = field(default_factory=list)

    @classmethod
    def from_genesis(cls, genesis: Envelope) -> Trust:
        body = genesis.payload.body
        if not isinstance(body, Genesis):
            raise TrustFailure(Code.BAD_FIELD, "a federation starts from a genesis envelope", "body.kind")
        founder = CharteredBody(key=genesis.author, name=body.founder_name, level=body.founder_level, parent=None,
                       issuer=None, issued_at=0, admitted_by=genesis.id)  # fmt: skip
        return cls(genesis.id, body.rules, genesis.author, {genesis.author: founder},
                   history=[(genesis.payload.created, genesis.id, body.rules)])  # fmt: skip

    @classmethod
    def replay(
        cls, genesis: Envelope, structural: Iterable[Envelope], forks: Iterable[tuple[bytes, int]] = (),
        lookup: Callable[[bytes], Envelope | None] | None = None, now_ms: int | None = None,
    ) -> Trust:  # fmt: skip
        """The trust state of a federation from its genesis, a set of its structural envelopes
        (charters, revocations, key rotations, fork proofs; each already verified) and the
        forks known (author, forked sequence), in any order: the same set gives the same state.
        ``lookup`` finds the decision an act of power cites (protocol.authority), by its id;
        ``now_ms`` is the clock interim freezes are judged by (None: all in force).

        1. Envelopes are taken in canonical order, (created, author, seq); a fork freezes its
           author just before the forked sequence, whoever reported it.
        2. A fold applies each envelope once its author is a body, in pass after pass (so an
           author's charter may come later in the order than its own envelopes), skipping any
           beyond its author's cut.
        3. Envelopes beyond the cuts the fold ended with never count: the fold runs again
           without them, until the cuts no longer change. So a revocation or a charter signed
           after its author's cut has no effect, whichever arrived first.
        """
        ordered = sorted(
            {e.id: e for e in structural if e.id != genesis.id and type(e.payload.body) in STRUCTURAL}.values(),
            key=lambda e: (e.payload.created, e.author, e.seq),
        )
        frozen: dict[bytes, int] = {}
        for author, seq in forks:
            frozen[author] = min(frozen.get(author, seq - 1), seq - 1)
        limits: dict[bytes, int] = dict(frozen)
        trust = cls.from_genesis(genesis)
        for _ in range(MAX_REPLAY_ROUNDS):
            trust = cls.from_genesis(genesis)
            trust.lookup, trust.now_ms = lookup, now_ms
            trust._fold(ordered, limits)
            for author, cut in sorted(frozen.items()):
                if author in trust.bodies:
                    trust._cut(author, cut, "frozen")
            found = {key: body.cut for key, body in trust.bodies.items() if body.cut is not None}
            settled = {**frozen, **found}
            if settled == limits:
                break
            limits = settled
        return trust

    def _fold(self, ordered: list[Envelope], limits: dict[bytes, int]) -> None:
        pending = ordered
        while pending:
            waiting: list[Envelope] = []
            held_back: set[bytes] = set()
            for envelope in pending:
                author, seq = envelope.author, envelope.seq
                if seq > limits.get(author, seq):
                    continue  # beyond its author's cut: never counts
                body = self.bodies.get(author)
                if body is None or author in held_back:
                    waiting.append(envelope)  # not chartered (yet); its later envelopes wait with it
                    held_back.add(author)
                    continue
                if body.cut is not None and seq > body.cut:
                    continue
                self.apply(envelope)
            if len(waiting) == len(pending):
                return  # a pass that applied nothing: the rest never will
            pending = waiting

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
            raise TrustFailure(cut_code(reason), f"the author was {reason} after seq {body.cut}", "payload.seq")

    def children_at(self, parent: bytes, when_ms: int) -> list[bytes]:
        """The direct children of ``parent`` in its electorate for a question opened at
        ``when_ms``: not cut, or cut by a revocation or freeze signed after it (so what was
        counted before a revocation stays counted), in key order. (A body chartered later
        joins the electorate of questions still open, as before.)"""
        return sorted(k for k, b in self.bodies.items() if b.parent == parent
                      and (b.cut is None or (b.cut_reason in ("revoked", "suspended") and b.cut_created is not None
                                             and b.cut_created > when_ms)))  # fmt: skip

    def rules_at(self, created_ms: int) -> Rules:
        """The rules in force for an envelope created at ``created_ms`` (asked for every envelope
        taken in: most come after the latest change, answered at once)."""
        if not self.history or created_ms >= self.history[-1][0]:
            return self.rules
        found = self.history[0][2]
        for since, _, rules in self.history:
            if since <= created_ms:
                found = rules
        return found

    def next_lapse(self) -> int | None:
        """When the first freeze in force lapses (ms), if any: the state changes then."""
        return min((f.until for f in self.frozen.values()), default=None)

    def name_of(self, key: bytes) -> str | None:
        body = self.bodies.get(key)
        return body.name if body is not None else None

    def ancestors(self, key: bytes) -> list[bytes]:
        """The organisational parents of ``key``, nearest first."""
        found: list[bytes] = []
        body = self.bodies.get(key)
        while body is not None and body.parent is not None and body.parent not in found:
            found.append(body.parent)
            body = self.bodies.get(body.parent)
        return found

    # --- changes --------------------------------------------------------------------------
    def apply(self, envelope: Envelope, authority: Envelope | None = None) -> list[Change]:
        """Update the state for an accepted envelope; returns what changed. An act of power
        the rules say needs authority changes nothing unless ``authority`` (or what
        :attr:`lookup` finds for it) is the carried decision on exactly that act."""
        author, seq, body = envelope.author, envelope.seq, envelope.payload.body
        if type(body) not in STRUCTURAL:
            return []  # the node's plain ingest path relies on exactly this: see STRUCTURAL
        if author not in self.bodies:
            return []  # not chartered here (a node's own envelopes before its charter): no effect
        problem = self.act_problem(envelope, authority)
        if problem is not None:
            self.refused[envelope.id] = (str(problem[0]), problem[1])
            subject = body.key if isinstance(body, Charter | Revocation | Freeze) else author
            return [Change("ineffective", subject, reason=f"{problem[0]}: {problem[1]}")]
        match body:
            case Charter():
                return self._charter(envelope, body)
            case Revocation(key=key, after_seq=after_seq):
                target = self.bodies.get(key)
                if target is None:
                    return [Change("ineffective", key, reason="revocation of a key that is not chartered")]
                if author not in self.ancestors(key):
                    return [Change("ineffective", key, reason="only a parent or an ancestor revokes")]
                return self._cut(key, after_seq, "revoked", envelope.payload.created)
            case Freeze(key=key, after_seq=after_seq, until=until, reason=reason):
                target = self.bodies.get(key)
                if target is None:
                    return [Change("ineffective", key, reason="freeze of a key that is not chartered")]
                if author not in self.ancestors(key):
                    return [Change("ineffective", key, reason="only a parent or an ancestor freezes")]
                # Freezes end to end would hold a body without a vote forever: after one, the body
                # stands free for as long again as the limit before it can be frozen again.
                last = self.last_freeze.get(key)
                if last is not None and envelope.payload.created < last + freeze_days(self.rules) * DAY_MS:
                    why = "it was frozen less than the freeze limit ago: a revocation needs its members' vote"
                    self.refused[envelope.id] = (str(Code.FREEZE_AGAIN), why)
                    return [Change("ineffective", key, reason=f"{Code.FREEZE_AGAIN}: {why}")]
                self.last_freeze[key] = until
                if self.now_ms is not None and self.now_ms >= until:
                    return [Change("ineffective", key, reason="the freeze lapsed")]
                current = self.frozen.get(key)
                if current is None or after_seq < current.after_seq:
                    self.frozen[key] = Frozen(author, envelope.id, after_seq, until, reason)
                return self._cut(key, after_seq, "suspended", envelope.payload.created)
            case RulesChange(rules=rules):
                self.rules = rules
                self.history.append((envelope.payload.created, envelope.id, rules))
                return [Change("rules", author)]
            case KeyRotation(new_key=new_key):
                old = self.bodies[author]
                if new_key in self.bodies:
                    return [Change("ineffective", new_key, reason="the new key is already chartered")]
                changes = self._cut(author, seq, "retired")
                old.successor = new_key
                self.bodies[new_key] = CharteredBody(key=new_key, name=old.name, level=old.level, parent=old.parent,
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
        self.bodies[charter.key] = CharteredBody(key=charter.key, name=charter.name, level=charter.level,
                                        parent=envelope.author, issuer=envelope.author, issued_at=envelope.seq,
                                        admitted_by=envelope.id, url=charter.url)  # fmt: skip
        return [Change("chartered", charter.key)]

    def act_problem(self, envelope: Envelope, authority: Envelope | None) -> tuple[Code, str] | None:
        """Why an act of power may not take effect under the rules in force (protocol.authority):
        in the fold, the rules at its place; a delegates record (not structural, judged as it
        arrives and by the audit), the rules in force when it was signed."""
        body, lookup = envelope.payload.body, self.lookup or (lambda _: None)
        if isinstance(body, Revocation) and self.rules.authority is not None and body.evidence is not None:
            found = evidence_problem(envelope, lookup(body.evidence))
            if found is not None:
                return found
        if isinstance(body, Delegates) and body.election is not None:
            rules = self.rules_at(envelope.payload.created)
            if rules.authority is not None and "officers_delegates" in rules.authority:
                return election_problem(envelope, lookup(body.election))
        if isinstance(body, Charter | Revocation | Delegates) and needs_authority(self.rules_at(
                envelope.payload.created) if isinstance(body, Delegates) else self.rules, body):  # fmt: skip
            if authority is None and body.decision is not None:
                authority = lookup(body.decision)
            return authority_problem(envelope, authority, act_text(body, self.name_of))
        if isinstance(body, Freeze):
            return freeze_problem(self.rules, envelope)
        if isinstance(body, RulesChange):
            aggregate = lookup(body.aggregate)
            agg = aggregate.payload.body if aggregate is not None else None
            item = lookup(agg.item) if isinstance(agg, Aggregate) else None
            if item is not None and not isinstance(item.payload.body, AgendaItem):
                item = None
            signer = self.bodies.get(envelope.author)
            root = signer is not None and signer.parent is None
            return rules_change_problem(body, envelope.author, envelope.seq, aggregate, item, self.rules, root)
        return None

    def _cut(self, key: bytes, after_seq: int, reason: CutReason, when: int | None = None) -> list[Change]:
        body = self.bodies[key]
        if body.cut is not None and body.cut < after_seq:
            return []  # already cut before this point
        if body.cut == after_seq:
            if body.cut_reason is not None and _REASON_RANK[body.cut_reason] <= _REASON_RANK[reason]:
                return []  # cut here already, for a reason that ranks first
            body.cut_reason = reason
            body.cut_created = when if body.cut_created is None or when is None else min(when, body.cut_created)
            return [Change("cut", key, after_seq, reason)]
        body.cut, body.cut_reason = after_seq, reason
        body.cut_created = when if body.cut_created is None or when is None else min(when, body.cut_created)
        changes = [Change("cut", key, after_seq, reason)]
        for other in list(self.bodies.values()):  # cascade: charters issued after the cut never counted
            if other.issuer == key and other.issued_at > after_seq and other.key in self.bodies:
                changes += self._uncharter(other.key)
        return changes

    def _uncharter(self, key: bytes) -> list[Change]:
        """``key`` was admitted by an envelope that no longer counts: it is not a body, nor is
        anything it admitted. (Its envelopes are set aside: a cut at 0.)"""
        body = self.bodies.pop(key)
        changes = [Change("cut", key, 0, "revoked")]
        issuer = self.bodies.get(body.issuer) if body.issuer is not None else None
        if issuer is not None and issuer.successor == key:
            issuer.successor = None
        for other in list(self.bodies.values()):
            if other.issuer == key and other.key in self.bodies:
                changes += self._uncharter(other.key)
        return changes
