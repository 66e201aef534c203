"""Running a ballot: open it (freeze the electorate, sign a roll), take votes (each with a
receipt for the voter alone), close it (count, sign and publish the decision).

Every step checks :mod:`node.rules.ballots` first; the API, the pages and the CLI call
these functions and nothing else. The counting is :mod:`protocol.ballots`, the same code
every receiving node runs to check the decision.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from node.config import Config
from node.errors import BadInput, Conflict, NotFound
from node.federation import decided, participations
from node.federation.ingest import Federation
from node.federation.own_log import OwnLog, none_signed
from node.rules import notices
from node.rules.ballots import check_may_run_ballots, check_may_vote, check_shape
from node.storage.acts import ActStore
from node.storage.ballots import BallotRow, BallotStore, ElectionSpec, NewBallot
from node.storage.envelopes import EnvelopeStore
from node.storage.member_keys import MemberKeyStore
from node.storage.members import Member, MemberStore
from node.storage.outbox import OutboxStore
from protocol import BallotRules, Charter, Decision, Delegates, Envelope, Revocation, Roll, SigningKey, open_envelope
from protocol.authority import act_text
from protocol.ballots import (
    CHOICES,
    DIGEST_BYTES,
    approval_choice,
    choice_width,
    decide,
    decide_ranked,
    ranked_choice,
    ranking_of,
    receipt_digest,
    roll_leaf,
    split_records,
    tally,
)
from protocol.counting import RON
from protocol.member_keys import MemberKey, key_id
from protocol.merkle import inclusion_proof, root
from protocol.models import MAX_RECEIPT_BYTES, Body
from protocol.parts import in_parts
from protocol.quota import DEFAULT_QUOTA
from protocol.upward import text_hash

RECEIPT_PREFIX = "r-"


PART_OVERHEAD = 512  # bytes of a part's envelope besides its records (header, ballot, counts, signature)


class Deciding(Protocol):
    """What running a ballot needs: a node (``node.service.Node``) has these."""

    @property
    def federation_state(self) -> Federation: ...

    @property
    def own_log(self) -> OwnLog: ...

    @property
    def members(self) -> MemberStore: ...

    @property
    def ballots(self) -> BallotStore: ...

    @property
    def envelopes(self) -> EnvelopeStore: ...

    @property
    def config(self) -> Config: ...

    @property
    def outbox(self) -> OutboxStore: ...

    @property
    def acts(self) -> ActStore: ...

    @property
    def key(self) -> SigningKey: ...

    @property
    def member_keys(self) -> MemberKeyStore: ...


@dataclass(frozen=True)
class BallotSpec:
    motion: str
    subject: str
    text: str
    method: str = "for_against_abstain"
    options: tuple[str, ...] = ()
    rules: BallotRules | None = None  # None: the federation's defaults (genesis rules)
    secrecy: str = "secret"
    may_change: bool = False
    amendment: str = ""
    opens: int | None = None  # ms; None: now
    closes: int | None = None  # ms; None: when an officer closes it
    election: ElectionSpec | None = None  # ranked: seats, counting, what for
    once: bool = False  # at most one ballot ever on ``motion`` (checked where it is written)
    act: tuple[str, bytes] | None = None  # the act of power it decides: (kind, canonical body)
    join: int | None = None  # the join request whose charter it decides


def now_ms(clock: Callable[[], float] = time.time) -> int:
    return int(clock() * 1000)


def receipt_text(receipt: bytes) -> str:
    return RECEIPT_PREFIX + base64.b32encode(receipt).decode().rstrip("=").lower()


def change_tag(ballot: bytes, member: int, receipt: bytes) -> bytes:
    """What binds a vote to its voter, kept beside the voter: only the receipt gives it, so
    the node cannot link the voter to their vote, and a receipt alone changes nothing."""
    return hashlib.sha256(b"branchnet change tag v1\x00" + ballot + member.to_bytes(8, "big") + receipt).digest()


def parse_receipt(text: str) -> bytes:
    cleaned = text.strip().lower().removeprefix(RECEIPT_PREFIX).replace("-", "").replace(" ", "")
    try:
        raw = base64.b32decode(cleaned.upper() + "=" * (-len(cleaned) % 8))
    except ValueError:
        raw = b""
    if len(raw) != 16:
        raise BadInput("a receipt is the code the node showed when you voted (r-…, 26 letters and digits)",
                       field="receipt")  # fmt: skip
    if receipt_text(raw) != RECEIPT_PREFIX + cleaned:  # 26 letters carry 130 bits: the last 2 must be 0
        raise BadInput("that is not a receipt this node gave: check its last letter", field="receipt")
    return raw


def default_rules(node: Deciding) -> BallotRules:
    trust = node.federation_state.trust
    if trust is None:
        raise Conflict("this node is not in a federation yet: it cannot publish a decision", code="not_federated")
    return BallotRules(quorum=trust.rules.quorum, threshold=trust.rules.threshold)


async def publish_roll(node: Deciding, who: Member, clock: Callable[[], float] = time.time) -> Envelope:
    """Sign a roll of the members in good standing now (on demand: what card votes weight
    by). The salts are not kept: this roll proves a count, not anyone's place on it."""
    check_may_run_ballots(who)
    default_rules(node)  # in a federation: the roll must be publishable
    members = await node.members.list("active")
    leaves = sorted(roll_leaf(os.urandom(32), m.id) for m in members)
    return await node.own_log.append(Roll(count=len(leaves), root=root(leaves), as_of=now_ms(clock)))


async def open_ballot(node: Deciding, who: Member, spec: BallotSpec, clock: Callable[[], float] = time.time
                      ) -> BallotRow:  # fmt: skip
    """Freeze the electorate (members active now), sign its roll, and open the ballot."""
    check_may_run_ballots(who)
    rules = spec.rules or default_rules(node)
    check_shape(spec.method, list(spec.options), rules, spec.election)
    started = now_ms(clock)
    opens = spec.opens if spec.opens is not None else started
    if spec.closes is not None and spec.closes <= opens:
        raise BadInput("a ballot closes after it opens", field="closes")
    default_rules(node)  # in a federation: the decision must be publishable
    active = [m.id for m in await node.members.list("active")]
    _check_publishable(node, spec, len(active))
    keys, keyed = await participations.frozen_keys(node, active)  # the roll commits to each one's keys
    electors = [(member, os.urandom(32), keys[member]) for member in active]
    leaves = sorted(participations.leaf_of(salt, member, held) for member, salt, held in electors)
    ballot = os.urandom(16)
    roll = await node.own_log.append(Roll(count=len(leaves), root=root(leaves), as_of=started, ballot=ballot,
                                          keyed=keyed))  # fmt: skip
    new = NewBallot(ballot=ballot, motion=spec.motion, amendment=spec.amendment, subject=spec.subject,
                    text_hash=hashlib.sha256(spec.text.encode()).digest(), method=spec.method,
                    options=list(spec.options), rules=rules, secrecy=spec.secrecy, may_change=spec.may_change,
                    opened=started, opens=opens, closes=spec.closes, roll=roll.id, created_by=who.id,
                    election=spec.election, text=spec.text)  # fmt: skip
    config = node.config

    def notice(ballot_id: int) -> dict[str, Any]:
        return notices.ballot_params(config, ballot_id, spec.subject, spec.closes)

    row = await node.ballots.create(new, electors, notice if config.mail.enabled else None, once=spec.once,
                                    act=spec.act, join=spec.join)  # fmt: skip
    node.outbox.queued()
    return row


def _check_publishable(node: Deciding, spec: BallotSpec, electorate: int) -> None:
    """Refuse (``too_many_voters``) a ballot whose decision could not be signed when every
    member votes: more bytes than this node may sign in a day under the federation's quota (its
    decision would never close). (A decision's parts hold every electorate a roll may count:
    protocol.parts.most_votes.)"""
    quota = node.federation_state.quota() or DEFAULT_QUOTA
    size = DIGEST_BYTES + choice_width(spec.method, len(spec.options))
    largest = electorate * size + -(-electorate * size // MAX_RECEIPT_BYTES) * PART_OVERHEAD
    if largest > quota.bytes_per_day:
        raise Conflict(f"if every one of its {electorate:,} members votes, this ballot's decision takes "
                       f"{_size(largest)}, more than the {_size(quota.bytes_per_day)} a day the federation's "
                       "quota lets a node sign: it could not be published", code="too_many_voters")  # fmt: skip


def _size(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB" if n >= 1_000_000 else f"{n:,} bytes"


def choice_bytes(row: BallotRow, choice: str | list[str]) -> bytes:
    if row.method == "ranked":  # the options in order of preference; fewer than all is fine
        ranking = [choice] if isinstance(choice, str) else choice
        unknown = [c for c in ranking if c not in row.options]
        if unknown:
            raise BadInput(f"not a candidate on this ballot: {unknown[0]}", field="choice")
        if len(set(ranking)) != len(ranking):
            raise BadInput("a candidate is ranked twice", field="choice")
        return ranked_choice([row.options.index(c) for c in ranking], len(row.options))
    if row.method == "for_against_abstain":
        if not isinstance(choice, str) or choice not in CHOICES:
            raise BadInput("the choice is for, against or abstain", field="choice")
        return bytes([CHOICES.index(choice)])
    picked = [choice] if isinstance(choice, str) else choice
    unknown = [c for c in picked if c not in row.options]
    if unknown or len(set(picked)) != len(picked):
        raise BadInput(f"not an option on this ballot: {unknown[0] if unknown else 'one option twice'}", field="choice")
    return approval_choice([row.options.index(c) for c in picked], len(row.options))


async def vote(node: Deciding, who: Member, ballot_id: int, choice: str | list[str], *, replaces: str | None = None,
               signed: participations.SignedIn | None = None,
               clock: Callable[[], float] = time.time) -> str:  # fmt: skip
    """Cast (or, where allowed, change) a vote; the receipt, shown to this voter only. With
    ``signed``, the voter's own signature of their participation (checked before the vote is
    taken; the decision counts it as signed)."""
    check_may_vote(who)
    row = await node.ballots.as_opened(ballot_id)  # its state is checked in the vote's transaction
    encoded = choice_bytes(row, choice)
    old = parse_receipt(replaces) if replaces is not None else None
    entry = await participations.participated(node, who, row, signed)
    receipt = os.urandom(16)
    await node.ballots.vote(
        row.id, who.id, receipt_digest(row.ballot, receipt), encoded, now_ms(clock),
        replaces=receipt_digest(row.ballot, old) if old is not None else None,
        tag=change_tag(row.ballot, who.id, receipt),
        replaces_tag=change_tag(row.ballot, who.id, old) if old is not None else None, participated=entry,
    )  # fmt: skip
    return receipt_text(receipt)


async def _published(node: Deciding, row: BallotRow) -> Envelope | None:
    """This ballot's decision if our log already holds it (a close cut short after signing)."""
    for raw in await node.envelopes.own_of_kind(node.own_log.key.public, "decision"):
        envelope = open_envelope(raw)
        body = envelope.payload.body
        if isinstance(body, Decision) and body.ballot == row.ballot:
            return envelope
    return None


async def close_ballot(node: Deciding, who: Member, ballot_id: int, clock: Callable[[], float] = time.time
                       ) -> Envelope:  # fmt: skip
    """Stop the votes, count them, sign and publish the decision: an officer's act."""
    check_may_run_ballots(who)
    return await count_and_publish(node, ballot_id, clock)


async def count_and_publish(node: Deciding, ballot_id: int, clock: Callable[[], float] = time.time) -> Envelope:
    """Close a ballot, count it, sign and publish the decision: as an officer asks, or by the
    node itself at the ballot's closing time (nobody's click: the time was set when it opened)."""
    async with node.ballots.closing(ballot_id):  # one close at a time: the others then find it closed
        row = await node.ballots.require(ballot_id)
        votes = await node.ballots.begin_close(row.id, now_ms(clock))
        row = await node.ballots.require(ballot_id)
        envelope = await _published(node, row) if row.state == "closing" else None
        if envelope is None:
            records = b"".join(digest + choice for digest, choice in votes)
            counts, cast = tally(row.method, len(row.options), records)
            closed = row.closed if row.closed is not None else now_ms(clock)
            if row.closes is not None:  # no vote was taken after its closing time
                closed = min(closed, row.closes)
            election = row.election or ElectionSpec(0, "")
            body = Decision(ballot=row.ballot, motion=row.motion, amendment=row.amendment, subject=row.subject,
                            text_hash=row.text_hash, method=row.method, options=row.options, rules=row.rules,  # type: ignore[arg-type]
                            electorate=row.electorate, roll=row.roll, opened=row.opened, closed=max(closed, row.opened),
                            counts=counts, receipts=records, outcome="lost", secrecy=row.secrecy,  # type: ignore[arg-type]
                            seats=election.seats, counting=election.counting, selection=election.selection)  # type: ignore[arg-type]  # fmt: skip
            if row.method == "ranked":
                outcome, chosen = decide_ranked(body, cast)
            else:
                outcome, chosen = decide(row.method, counts, cast, row.electorate, row.rules)
            body = msgspec.structs.replace(body, outcome=outcome, chosen=chosen)
            register = await participations.commitment(node, row)
            if register is not None:  # who took part, signed or not, committed to
                body = msgspec.structs.replace(body, participations=register[0], signed=register[1])
            once = none_signed(node.own_log.key.public, "decision",
                               lambda b: isinstance(b, Decision) and b.ballot == row.ballot, _CLOSED)  # fmt: skip
            signing: list[Body] = [body]
            if len(records) > MAX_RECEIPT_BYTES:  # too many votes for one envelope: in parts, then the decision
                parts, whole = in_parts(body, records)
                signing = [*parts, whole]
            try:
                envelope = (await node.own_log.append_all(signing, check=once))[-1]
            except Conflict as exc:
                if exc is not _CLOSED:
                    raise
                # Another officer's close signed it a moment ago (inside the same check): one
                # decision per ballot. That close finishes it (settling its motion); were it cut
                # short, the next close finds the decision signed and finishes it then.
                raise Conflict("this ballot is already closed", code="ballot_closed") from None
        decided = envelope.payload.body
        assert isinstance(decided, Decision)
        notice = notices.decision_params(node.config, envelope.id, decided.subject, decided.outcome) \
            if node.config.mail.enabled else None  # fmt: skip
        await node.ballots.finish_close(row.id, envelope.id, notice)
        node.outbox.queued()
    if row.election is not None and row.election.delegates_to is not None:
        await _delegates_elected(node, row.election.delegates_to, envelope)
    await act_decided(node, row.id, envelope)
    return envelope


async def _delegates_elected(node: Deciding, to: bytes, decision: Envelope) -> None:
    """A delegate election closed: its winners (not re-open nominations, whose seat stays
    empty) become the branch's delegates to ``to``, citing the decision; once."""
    body = decision.payload.body
    assert isinstance(body, Decision)
    if body.outcome != "elected":
        return
    names = [body.options[i] for i in body.chosen if body.options[i] != RON]
    once = none_signed(node.own_log.key.public, "delegates",
                       lambda b: isinstance(b, Delegates) and b.election == decision.id, _ALREADY)  # fmt: skip
    try:
        await node.own_log.append(Delegates(to=to, count=len(names), names=names, election=decision.id), check=once)
    except Conflict as exc:
        if exc is not _ALREADY:  # signed already (a close cut short after it): it stands
            raise


async def act_decided(node: Deciding, ballot_id: int, decision: Envelope) -> None:
    """A ballot on an act of power closed (node/federation/authority.py): carried, the node
    signs the act citing the decision, by itself and once; else the act is lost."""
    act = await node.acts.for_ballot(ballot_id)
    if act is None or act.state != "voting":
        return
    decided = decision.payload.body
    assert isinstance(decided, Decision)
    if decided.outcome != "carried":
        await node.acts.settle(ballot_id, "lost")
        return
    body = msgspec.structs.replace(msgspec.msgpack.decode(act.body, type=Charter | Revocation | Delegates),
                                   decision=decision.id)  # fmt: skip
    trust = node.federation_state.trust
    if trust is None or text_hash(act_text(body, trust.name_of)) != decided.text_hash:
        # What the members voted on is not this act (its row was changed, or the body it names
        # was renamed since): every node would refuse it, and this body's log with it.
        await node.acts.settle(ballot_id, "void")
        return
    once = none_signed(node.own_log.key.public, act.kind,
                       lambda b: isinstance(b, Charter | Revocation | Delegates) and b.decision == decision.id,
                       _ACTED)  # fmt: skip
    try:
        signed: Envelope | None = await node.own_log.append(body, check=once)
    except Conflict as exc:
        if exc is not _ACTED:
            raise
        signed = None  # signed already, by a close cut short after it: it stands; find it
        for raw in await node.envelopes.own_of_kind(node.own_log.key.public, act.kind):
            held = open_envelope(raw)
            body_held = held.payload.body
            if isinstance(body_held, Charter | Revocation | Delegates) and body_held.decision == decision.id:
                signed = held
    await node.acts.settle(ballot_id, "signed", signed.id if signed is not None else None)


async def settle_acts(node: Deciding) -> int:
    """Every act whose ballot closed but which was not signed or settled (the node stopped
    between the two): finished now, as the close would have (the closer calls this)."""
    done = 0
    for ballot_id, decision_id in await node.acts.unsettled():
        raw = await node.envelopes.get(decision_id)
        if raw is not None:
            await act_decided(node, ballot_id, open_envelope(raw))
            done += 1
    return done


_CLOSED = Conflict("this ballot's decision is signed already", code="ballot_closed")
_ACTED = Conflict("the act this ballot decided is signed already", code="already_signed")
_ALREADY = Conflict("the delegates this election elected are recorded already", code="already_recorded")


@dataclass(frozen=True)
class ReceiptCheck:
    counted: bool
    choice: str | list[str] | None


async def check_receipt(node: Deciding, ballot_id: int, receipt: str) -> ReceiptCheck:
    """Whether the published decision counted this receipt, and as what."""
    row = await node.ballots.require(ballot_id)
    if row.decision is None:
        raise Conflict("this ballot has not been counted yet", code="ballot_open")
    raw = await node.envelopes.get(row.decision)
    if raw is None:
        raise NotFound("the decision of this ballot is not held here")
    body = await decided.whole(node, open_envelope(raw))
    digest = receipt_digest(row.ballot, parse_receipt(receipt))
    for found, choice in split_records(body.receipts, choice_width(body.method, len(body.options))):
        if found == digest:
            value = int.from_bytes(choice, "little")
            if body.method == "ranked":
                return ReceiptCheck(True, [body.options[i] for i in ranking_of(choice, len(body.options))])
            if body.method == "for_against_abstain":
                return ReceiptCheck(True, CHOICES[value])
            return ReceiptCheck(True, [o for i, o in enumerate(body.options) if value >> i & 1])
    return ReceiptCheck(False, None)


@dataclass(frozen=True)
class RollProof:
    roll: bytes
    count: int
    index: int
    salt: bytes
    member: int
    path: list[bytes]
    keys: list[bytes] | None = None  # a version 2 roll: the ids of the keys it says this member held


async def roll_proof(node: Deciding, who: Member, ballot_id: int) -> RollProof:
    """The member's place in the ballot's roll: what they need to check it against the root."""
    row = await node.ballots.require(ballot_id)
    electors = await node.ballots.electors(row.id)
    mine = next(((salt, keys) for member, salt, keys in electors if member == who.id), None)
    if mine is None:
        raise NotFound("you are not on this ballot's roll (not a member in good standing when it opened)")
    leaves = sorted(participations.leaf_of(salt, member, keys) for member, salt, keys in electors)
    index = leaves.index(participations.leaf_of(mine[0], who.id, mine[1]))
    held = [key_id(k) for k in msgspec.msgpack.decode(mine[1], type=list[MemberKey])] if mine[1] is not None else None
    return RollProof(row.roll, len(leaves), index, mine[0], who.id, inclusion_proof(leaves, index), held)
