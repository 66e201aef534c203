"""Members' signed participation in a ballot (issue 25; docs/decisions.md, "Members' own keys").

When a ballot opens, its roll commits to each elector's keys in force then (version 2 leaves,
:func:`protocol.member_keys.roll_leaf_v2`) and says how many hold one. A vote comes with its
voter's entry in the marked register: their roll leaf, and, when they signed with one of the
keys the roll froze, their signed statement (checked here as every scrutineer will check it,
and for a passkey, on this site: :func:`node.rules.member_keys.signed_by`). The decision
commits to the register (:func:`commitment`), and a member proves their own entry, or its
absence, against it (:func:`proof_for`).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import msgspec

from node.errors import BadInput, Conflict, NotFound
from node.federation.ingest import Federation
from node.rules.member_keys import Keyed, check_signed, signed_by
from node.storage.access import AccessStore
from node.storage.ballots import BallotRow, BallotStore
from node.storage.envelopes import EnvelopeStore
from node.storage.member_keys import ScrutineerStore
from node.storage.members import Member, MemberStore
from node.storage.votes import Participated
from protocol import Roll, open_envelope
from protocol.ballots import roll_leaf
from protocol.encoding import encode
from protocol.member_keys import (
    MemberKey,
    MemberSignature,
    Participation,
    ParticipationProof,
    key_id,
    participation_proof,
    participation_root,
    participation_statement,
    roll_leaf_v2,
    signature_digest,
)
from protocol.register import MarkedRegister

_KEYS = msgspec.msgpack.Decoder(list[MemberKey])


class Participating(Keyed, Protocol):
    """What signed participation needs of a node (``node.service.Node``)."""

    @property
    def federation_state(self) -> Federation: ...

    @property
    def ballots(self) -> BallotStore: ...

    @property
    def envelopes(self) -> EnvelopeStore: ...


@dataclass(frozen=True)
class SignedIn:
    """A member's signature of their participation, as a vote brings it: the key by its id
    (a key file) or a passkey by its credential id, and the signature."""

    signed: MemberSignature
    key_id: bytes | None = None
    credential: bytes | None = None


def leaf_of(salt: bytes, member: int, keys: bytes | None) -> bytes:
    """A member's roll leaf: version 2 (committing to ``keys``) or, on an older roll, 1."""
    return roll_leaf(salt, member) if keys is None else roll_leaf_v2(salt, member, _KEYS.decode(keys))


async def frozen_keys(node: Keyed, members: Iterable[int]) -> tuple[dict[int, bytes], int]:
    """Each member's keys in force now, as a roll freezes them (canonical bytes; a member with
    none has the empty list), and how many hold one."""
    held = await node.member_keys.in_force(members)
    return {m: encode(held.get(m, [])) for m in members}, sum(1 for keys in held.values() if keys)


def statement_of(node: Participating, row: BallotRow) -> bytes:
    """What a member signs to take part in this ballot."""
    federation = node.federation_state.federation
    if federation is None:
        raise Conflict("this node holds no federation yet", code="not_federated")
    return participation_statement(federation, node.key.public, row.ballot)


async def participated(node: Participating, who: Member, row: BallotRow, signed: SignedIn | None
                       ) -> Participated | None:  # fmt: skip
    """``who``'s entry in the marked register for this vote (None: a ballot on an older roll,
    which keeps none); with ``signed``, their signature checked first (Forbidden
    ``bad_member_signature``: the vote is not taken)."""
    elector = await node.ballots.elector(row.id, who.id)
    if elector is None:
        return None  # the vote itself is refused: not an elector
    salt, keys = elector
    if keys is None:
        if signed is not None:
            raise BadInput("this ballot opened before members' keys: its votes are not signed", field="participation")
        return None
    leaf = roll_leaf_v2(salt, who.id, _KEYS.decode(keys))
    if signed is None:
        return Participated(leaf)
    allowed = _KEYS.decode(keys)
    chosen = signed.key_id
    if signed.credential is not None:
        found = await node.member_keys.by_credential(signed.credential)
        chosen = found.key_id if found is not None and found.member_id == who.id else None
    if chosen is None:
        raise BadInput("that passkey is not one of yours here", field="participation")
    key, counter = signed_by(node, statement_of(node, row), signed.signed, chosen, allowed)
    # Whether the key is still in force, and a passkey's counter went forward: in the vote's
    # own transaction (node/storage/votes.py), one read for the whole batch.
    return Participated(leaf, chosen, encode(signed.signed), signature_digest(key, signed.signed), counter)


async def own_signature(node: Keyed, who: Member, statement: bytes, signed: SignedIn, field: str
                        ) -> tuple[bytes, bytes]:  # fmt: skip
    """``who``'s signature of ``statement`` by one of their keys in force (a key file by its id,
    a passkey by its credential, on this site): the key's id and the signature's canonical
    bytes, to keep with what they signed. Forbidden ``bad_member_signature`` otherwise."""
    in_force = await node.member_keys.of(who.id, revoked=False)
    chosen = signed.key_id
    if signed.credential is not None:
        chosen = next((r.key_id for r in in_force if r.credential == signed.credential), None)
    if chosen is None:
        raise BadInput("that passkey is not one of yours in force here", field=field)
    await check_signed(node, statement, signed.signed, chosen, in_force, field)
    return chosen, encode(signed.signed)


async def roll_of(node: Participating, row: BallotRow) -> Roll | None:
    raw = await node.envelopes.get(row.roll)
    body = open_envelope(raw).payload.body if raw is not None else None
    return body if isinstance(body, Roll) else None


async def commitment(node: Participating, row: BallotRow) -> tuple[bytes, int] | None:
    """What the decision publishes of the register: its tree head and how many signed (None:
    a ballot on an older roll)."""
    roll = await roll_of(node, row)
    if roll is None or roll.keyed is None:
        return None
    register = await node.ballots.participations(row.id)
    return participation_root([Participation(leaf, digest) for leaf, digest in register])


async def entry_of(node: Participating, who: Member, row: BallotRow) -> str | None:
    """What the register holds in ``who``'s name on this ballot, as the node's pages show it:
    signed, unsigned or absent (None: not on its roll, or a roll from before keys). One row
    read; the proof a member's own software checks against the signed decision is
    :func:`proof_for`."""
    elector = await node.ballots.elector(row.id, who.id)
    if elector is None or elector[1] is None:
        return None
    held = await node.ballots.participation(row.id, leaf_of(elector[0], who.id, elector[1]))
    return "absent" if held is None else "signed" if held else "unsigned"


@dataclass(frozen=True)
class ParticipationCheck:
    """A member's entry in a decided ballot's register, with the proof against the decision."""

    found: str  # signed, unsigned or absent
    roll_leaf: bytes
    proof: ParticipationProof
    root: bytes


async def proof_for(node: Participating, who: Member, row: BallotRow) -> ParticipationCheck:
    """Whether the decision holds a participation in ``who``'s name, and the proof of it."""
    from protocol import Decision
    from protocol.member_keys import check_participation_proof

    elector = await node.ballots.elector(row.id, who.id)
    if elector is None:
        raise NotFound("you are not on this ballot's roll (not a member in good standing when it opened)")
    if row.decision is None:
        raise Conflict("this ballot is not decided yet: its register is committed to when it closes",
                       code="not_decided")  # fmt: skip
    raw = await node.envelopes.get(row.decision)
    decided = open_envelope(raw).payload.body if raw is not None else None
    if not isinstance(decided, Decision) or decided.participations is None:
        raise Conflict("this ballot's decision commits to no register (it opened before members' keys)",
                       code="no_register")  # fmt: skip
    leaf = leaf_of(elector[0], who.id, elector[1])
    entries = [Participation(leaf_, digest) for leaf_, digest in await node.ballots.participations(row.id)]
    proof = participation_proof(entries, leaf)
    found = check_participation_proof(leaf, proof, decided.participations)  # the node checks its own answer
    return ParticipationCheck(found, leaf, proof, decided.participations)


@dataclass(frozen=True)
class SigningOptions:
    """What a member's browser or terminal needs to sign their participation in a ballot: the
    statement, a passkey's challenge (its SHA-256) and site, and which of their keys the
    ballot's roll froze that are still in force (their ids; a passkey's credential id)."""

    statement: bytes
    rp_id: str | None  # None: this node is reached at an address no passkey can be bound to
    keys: list[tuple[bytes, bytes | None]]


async def options_for(node: Participating, who: Member, row: BallotRow) -> SigningOptions:
    from node.rules.member_keys import site_of

    elector = await node.ballots.elector(row.id, who.id)
    if elector is None:
        raise NotFound("you are not on this ballot's roll (not a member in good standing when it opened)")
    frozen = {key_id(k) for k in _KEYS.decode(elector[1])} if elector[1] is not None else set()
    keys = [] if not frozen else [(r.key_id, r.credential) for r in await node.member_keys.of(who.id, revoked=False)
                                  if r.key_id in frozen]  # (no key on the roll: nothing to read)
    try:
        rp_id: str | None = site_of(node.config).rp_id
    except Conflict:
        rp_id = None
    return SigningOptions(statement_of(node, row), rp_id, keys)


class Scrutinising(Participating, Protocol):
    @property
    def scrutineers(self) -> ScrutineerStore: ...

    @property
    def members(self) -> MemberStore: ...

    @property
    def access(self) -> AccessStore: ...


async def register_for(node: Scrutinising, who: Member, row: BallotRow, via: str) -> MarkedRegister:
    """A decided ballot's marked register, for one of the branch's scrutineers: its signed roll
    and decision, every elector (id, name, salt, the keys the roll froze) and every
    participation (never a choice), to check offline (`branchnet audit --register`). The
    download is recorded where members see who looked at their data."""
    from node.rules.member_keys import check_may_scrutinise
    from protocol.register import FORMAT, Elector, Entry

    await check_may_scrutinise(node, who)
    if row.decision is None:
        raise Conflict("this ballot is not decided yet: its register is checked after the close", code="not_decided")
    if row.register_swept is not None:
        raise Conflict("the retention rule cleared this ballot's register's signatures (they are kept [retention] "
                       "register_months after the count): there is nothing left to check", code="register_swept")
    roll, decision = await node.envelopes.get(row.roll), await node.envelopes.get(row.decision)
    if roll is None or decision is None:
        raise NotFound("this ballot's roll or decision is not held here")
    names = {m.id: m.name for m in await node.members.list(None)}
    electors = [Elector(member, salt, _KEYS.decode(keys) if keys is not None else [], names.get(member, ""))
                for member, salt, keys in await node.ballots.electors(row.id)]  # fmt: skip
    signature = msgspec.msgpack.Decoder(MemberSignature)
    entries = [Entry(member, leaf, key, None if signed is None else signature.decode(signed))
               for member, leaf, key, signed in await node.ballots.register(row.id)]  # fmt: skip
    await node.access.record(who.id, "register", via, rows=len(electors))
    return MarkedRegister(FORMAT, roll, decision, electors, entries)


def b64url(data: bytes) -> str:
    """Bytes as the browser's WebAuthn and the API carry them: base64url, unpadded."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed_in(signature: str, authenticator_data: str = "", client_data: str = "", *, key_id: str | None = None,
              credential: str | None = None, field: str = "participation") -> SignedIn:  # fmt: skip
    """A member's signature (of their participation in a vote, or of their consent) as the
    API's JSON or a form carry it (base64url; a key file's by its hex ``key_id``, a passkey's
    by its ``credential``), within the protocol's limits; BadInput naming ``field`` otherwise."""
    if (key_id is None) == (credential is None):
        raise BadInput(f"a signed {field} names its key_id (a key file) or its credential (a passkey)",
                       field=field)  # fmt: skip
    try:
        raw = [base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)) for t in (signature, authenticator_data, client_data)]
        signed = msgspec.msgpack.decode(msgspec.msgpack.encode(MemberSignature(
            signature=raw[0], authenticator_data=raw[1], client_data=raw[2])), type=MemberSignature)  # fmt: skip
        key = bytes.fromhex(key_id) if key_id is not None else None
        passkey = base64.urlsafe_b64decode(credential + "=" * (-len(credential) % 4)) if credential else None
    except (ValueError, msgspec.ValidationError):
        raise BadInput(f"the signature of the {field} did not arrive whole (base64url, within its limits)",
                       field=field) from None  # fmt: skip
    if key is not None and len(key) != 32:
        raise BadInput("a key_id is 64 hex digits", field=field)
    return SignedIn(signed, key, passkey)
