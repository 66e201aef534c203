"""A candidate's own signed consent, carried by their nomination (issue 25): checked by every
node against the nominating body's roll (protocol.member_keys.consent_problem), required
where the rules say ``signed_consent``, and named by the audit as a node names it."""

from __future__ import annotations

import msgspec
import pytest

from protocol.audit import audit
from protocol.member_keys import candidacy_statement, consent_problem, roll_leaf_v2, selection_contest
from protocol.merkle import inclusion_proof
from protocol.merkle import root as merkle_root
from protocol.models import Envelope, Nomination, Roll
from protocol.models_keys import SignedConsent
from tests.factories import T0, charter, next_envelope, profile, rules, seal_genesis
from tests.passkeys import KeyFile, SoftPasskey
from tests.protocol.test_audit import NATIONAL, NORTH, NOW, bundle, codes

SELECTION = bytes(range(32))
CANDIDATE = 7  # Ann's number on North's roll


def _roll(ann: list[KeyFile | SoftPasskey], salt: bytes = b"\x01" * 32) -> tuple[list[bytes], int]:
    """North's roll leaves: Ann's (holding ``ann``'s keys), and five other members'; Ann's place."""
    mine = roll_leaf_v2(salt, CANDIDATE, [k.key for k in ann])
    leaves = sorted([mine] + [roll_leaf_v2(bytes([i]) * 32, 100 + i, []) for i in range(5)])
    return leaves, leaves.index(mine)


def federation(consent: bool = True, required: bool = True, *, signed_by: KeyFile | SoftPasskey | None = None,
               name: str = "Ann", **changes: object) -> list[Envelope]:  # fmt: skip
    """The national genesis (``signed_consent``: ``required``), North chartered with its roll,
    and North's nomination of Ann, carrying her consent (signed by ``signer``, else her own
    key file, for ``name``) unless ``consent`` is off; ``changes`` bend the consent."""
    gen = seal_genesis(NATIONAL, msgspec.structs.replace(rules(), signed_consent=required))
    chartered = next_envelope(NATIONAL, gen, charter(NORTH), gen.id)
    north = next_envelope(NORTH, None, profile("North Region"), gen.id)
    ann = KeyFile()
    leaves, at = _roll([ann])
    roll = next_envelope(NORTH, north, Roll(count=len(leaves), root=merkle_root(leaves), as_of=T0 + 10_000, keyed=1),
                         gen.id)  # fmt: skip
    statement = candidacy_statement(gen.id, NORTH.public, selection_contest(SELECTION), name)
    signed = SignedConsent(roll=roll.id, salt=b"\x01" * 32, member=CANDIDATE, keys=[ann.key], signer=0, index=at,
                           path=inclusion_proof(leaves, at), signature=(signed_by or ann).sign(statement))  # fmt: skip
    body = Nomination(selection=SELECTION, candidate="Ann", statement="", consented=T0,
                      consent=msgspec.structs.replace(signed, **changes) if consent else None)  # fmt: skip
    return [gen, chartered, north, roll, next_envelope(NORTH, roll, body, gen.id)]


def _problem(envelopes: list[Envelope]) -> tuple[str, str] | None:
    gen, roll, nomination = envelopes[0], envelopes[3], envelopes[-1]
    required = gen.payload.body.rules  # type: ignore[union-attr]
    found = consent_problem(nomination, roll, gen.id, required)
    return (str(found[0]), found[1]) if found is not None else None


def test_a_consent_signed_by_a_key_on_the_roll_stands() -> None:
    assert _problem(federation()) is None
    assert _problem(federation(consent=False, required=False)) is None  # none asked, none given


def test_a_passkey_signs_a_consent_as_it_signs_a_vote() -> None:
    passkey = SoftPasskey()
    leaves, at = _roll([passkey])
    envelopes = federation(signed_by=passkey, keys=[passkey.key], index=at, path=inclusion_proof(leaves, at))
    # The roll in the set is the key file's: rebuild it for the passkey.
    roll = next_envelope(NORTH, envelopes[2], Roll(count=len(leaves), root=merkle_root(leaves), as_of=T0 + 10_000,
                                                   keyed=1), envelopes[0].id)  # fmt: skip
    body = msgspec.structs.replace(envelopes[-1].payload.body, consent=msgspec.structs.replace(
        envelopes[-1].payload.body.consent, roll=roll.id))  # type: ignore[union-attr]  # fmt: skip
    nomination = next_envelope(NORTH, roll, body, envelopes[0].id)
    assert consent_problem(nomination, roll, envelopes[0].id, envelopes[0].payload.body.rules) is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("bent", "code", "words"), [
    ({"consent": False}, "unsigned_consent", "every nomination carries its candidate's own signed consent"),
    ({"signed_by": KeyFile()}, "bad_member_signature", "does not hold"),  # a key the operator made
    ({"name": "Bob"}, "bad_member_signature", "does not hold"),  # she stood as Ann, not as Bob
    ({"member": 8}, "wrong_roll", "leaf is not on the roll"),  # another member's number
    ({"keys": [KeyFile().key]}, "wrong_roll", "leaf is not on the roll"),  # a key the roll did not freeze
    ({"index": 0, "path": []}, "wrong_roll", "leaf is not on the roll"),
    ({"signer": 1}, "bad_member_signature", "names a key the candidate's leaf does not hold"),
    ({"roll": bytes(32)}, "wrong_roll", "not a roll of the nominating body's"),
])  # fmt: skip
def test_a_consent_that_does_not_hold_is_named(bent: dict[str, object], code: str, words: str) -> None:
    found = _problem(federation(**bent))  # type: ignore[arg-type]
    assert found is not None and found[0] == code and words in found[1]


def test_a_consent_against_a_roll_of_another_body_or_later_is_refused() -> None:
    envelopes = federation()
    gen, roll, nomination = envelopes[0], envelopes[3], envelopes[-1]
    rules_now = gen.payload.body.rules  # type: ignore[union-attr]
    later = next_envelope(NORTH, nomination, roll.payload.body, gen.id)  # the same roll, after the nomination
    bent = msgspec.structs.replace(nomination.payload.body.consent, roll=later.id)  # type: ignore[union-attr]
    moved = next_envelope(NORTH, roll, msgspec.structs.replace(nomination.payload.body, consent=bent), gen.id)
    assert consent_problem(moved, later, gen.id, rules_now)[0] == "wrong_roll"  # type: ignore[index]
    unkeyed = next_envelope(NORTH, envelopes[2], msgspec.structs.replace(roll.payload.body, keyed=None), gen.id)
    assert consent_problem(nomination, unkeyed, gen.id, rules_now)[0] == "wrong_roll"  # type: ignore[index]
    assert consent_problem(nomination, None, gen.id, rules_now)[0] == "wrong_roll"  # type: ignore[index]
    # The consent is bound to its federation: the same signature in another does not hold.
    assert consent_problem(nomination, roll, bytes(32), rules_now)[0] == "bad_member_signature"  # type: ignore[index]


@pytest.mark.parametrize(("bent", "code"), [({}, None), ({"consent": False}, "unsigned_consent"),
                                            ({"name": "Bob"}, "bad_member_signature"),
                                            ({"member": 8}, "wrong_roll")])  # fmt: skip
def test_the_audit_names_a_nomination_as_every_node_does(bent: dict[str, object], code: str | None) -> None:
    envelopes = federation(**bent)  # type: ignore[arg-type]
    found = codes(audit([("all", bundle(*envelopes))], NOW))
    assert found == ([] if code is None else [(code, envelopes[-1].id)])


def test_the_text_members_vote_on_says_what_their_keys_must_sign() -> None:
    from protocol import DecodeFailure
    from protocol.authority import rules_text
    from protocol.envelope import check_rules

    base = rules()
    assert "signed" not in rules_text(base)  # rules that ask for none: the text as before
    asked = msgspec.structs.replace(base, signed_participation=["selection", "election"], signed_consent=True)
    assert rules_text(asked).endswith("; every vote signed by its voter's own key on: selection, election; every "
                                      "nomination carries its candidate's own signed consent.")  # fmt: skip
    # So a change that turns them on cannot pass under the text of rules that do not.
    assert rules_text(asked) != rules_text(msgspec.structs.replace(asked, signed_consent=False))
    for kinds in ([], ["motion", "motion"]):
        with pytest.raises(DecodeFailure, match="names each kind once"):
            check_rules(msgspec.structs.replace(base, signed_participation=kinds))

