"""A candidate's own signed consent (issue 25; docs/decisions.md, "Members' own keys").

A member standing for a body's selection signs, with one of their keys, that they stand in
that selection under that name, nominated by this branch
(:func:`protocol.member_keys.candidacy_statement`): the node checks it and keeps it with their
candidacy (:func:`checked`). When an officer nominates them, the node signs a roll of its
members in good standing with their keys, and the nomination carries the consent with the
candidate's leaf in that roll (:func:`carried`), so every node checks that a member on the
branch's roll, holding that key, consented (:func:`protocol.member_keys.consent_problem`).
The other leaves' salts are not kept: that roll reveals one member, the candidate.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from typing import Protocol

from msgspec import msgpack

from node.errors import BadInput, Conflict
from node.federation.ballots import Deciding, now_ms
from node.federation.own_log import Check
from node.federation.participations import SignedIn, SigningOptions, frozen_keys, leaf_of, own_signature
from node.rules.member_keys import Keyed, site_of
from node.storage.elections import Candidacy
from node.storage.members import Member
from protocol import Nomination, Roll
from protocol.member_keys import candidacy_prefix, key_id
from protocol.merkle import inclusion_proof, root
from protocol.models_keys import MemberKey, MemberSignature, SignedConsent

SELECTION = "selection:"


class Consenting(Deciding, Keyed, Protocol):
    """What a signed consent needs of a node (``node.service.Node``)."""


def statement(node: Consenting, contest: str, name: str) -> bytes:
    """What a member signs to stand in ``contest`` under ``name``, nominated by this body."""
    return prefix(node, contest) + hashlib.sha256(name.strip().encode()).digest()


def prefix(node: Consenting, contest: str) -> bytes:
    """The statement before the name's SHA-256 (:func:`protocol.member_keys.candidacy_prefix`):
    the page's script adds the name typed."""
    federation = node.federation_state.federation
    if federation is None:
        raise Conflict("this node holds no federation yet", code="not_federated")
    if not contest.startswith(SELECTION):
        raise BadInput("a signed consent is for a selection a branch nominates to (selection:<id>); standing in "
                       "this branch's own delegate election needs none", field="consent")  # fmt: skip
    return candidacy_prefix(federation, node.key.public, contest)


async def options(node: Consenting, who: Member, contest: str, name: str) -> SigningOptions:
    """What the member's browser or terminal needs to sign their consent: the statement, the
    site a passkey is bound to, and their keys in force."""
    keys = [(r.key_id, r.credential) for r in await node.member_keys.of(who.id, revoked=False)]
    try:
        rp_id: str | None = site_of(node.config).rp_id
    except Conflict:
        rp_id = None
    return SigningOptions(statement(node, contest, name), rp_id, keys)


async def checked(node: Consenting, who: Member, contest: str, name: str, signed: SignedIn) -> tuple[bytes, bytes]:
    """``who``'s signature of their consent, checked as every node will check it (and, for a
    passkey, on this site): the key's id and the signature, to keep with the candidacy.
    Forbidden ``bad_member_signature``, nothing kept, otherwise."""
    return await own_signature(node, who, statement(node, contest, name), signed, "consent")


async def carried(node: Consenting, candidacy: Candidacy, check: Check | None = None,
                  clock: Callable[[], float] = time.time) -> SignedConsent:  # fmt: skip
    """The consent a nomination carries: a roll of the members in good standing now, with
    their keys, signed here (refused by ``check``, the nomination's own, so a nomination
    already signed leaves no roll behind), and the candidate's leaf in it. Conflict when the
    candidate is no longer on the roll or the key that signed is no longer in force."""
    assert candidacy.consent_key is not None and candidacy.consent is not None
    active = [m.id for m in await node.members.list("active")]
    if candidacy.member_id not in active:
        raise Conflict("that member is not in good standing: a consent is checked against the branch's roll",
                       code="not_on_roll")  # fmt: skip
    keys, keyed = await frozen_keys(node, active)
    mine: list[MemberKey] = msgpack.decode(keys[candidacy.member_id], type=list[MemberKey])
    signer = next((i for i, k in enumerate(mine) if key_id(k) == candidacy.consent_key), None)
    if signer is None:
        raise Conflict("the key the member consented with is revoked: they stand again, signing with a key in force",
                       code="stale_consent")  # fmt: skip
    salt = os.urandom(32)
    theirs = leaf_of(salt, candidacy.member_id, keys[candidacy.member_id])
    leaves = sorted([theirs] + [leaf_of(os.urandom(32), m, keys[m]) for m in active if m != candidacy.member_id])
    at = leaves.index(theirs)
    roll = await node.own_log.append(Roll(count=len(leaves), root=root(leaves), as_of=now_ms(clock), keyed=keyed),
                                     check=check)  # fmt: skip
    return SignedConsent(roll=roll.id, salt=salt, member=candidacy.member_id, keys=mine, signer=signer, index=at,
                         path=inclusion_proof(leaves, at),
                         signature=msgpack.decode(candidacy.consent, type=MemberSignature))  # fmt: skip


def signer_of(nomination: Nomination) -> str | None:
    """The key a nomination's candidate signed their consent with (hex id; None: unsigned), so
    the candidate can see it is one of their own."""
    consent = nomination.consent
    if consent is None or consent.signer >= len(consent.keys):
        return None
    return key_id(consent.keys[consent.signer]).hex()
