"""A candidate's own signed consent on real nodes (issue 25): where the federation's rules say
``signed_consent``, a branch cannot nominate a member who did not sign their consent, and a
nomination its operator signs anyway without one, or with a consent bent, is refused by every
other node and named by the audit; a member signs their consent with a key file or a passkey,
and a consent whose key was revoked since is not carried (node/federation/consents.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from node.errors import BadInput, Conflict, Forbidden
from node.federation import consents
from node.federation import elections as el
from node.federation.participations import SignedIn
from node.rules import member_keys as keys_rules
from protocol import Envelope, Nomination
from tests.node.federation.test_upward import HOUR, Body, Clock, Federation, audited
from tests.passkeys import KeyFile


@pytest.fixture
async def fed(tmp_path: Path) -> AsyncIterator[Federation]:
    f = Federation(Clock(), rules={"signed_consent": True})
    await f.add(tmp_path, "national", "national", None)
    await f.add(tmp_path, "north", "region", "national")
    for name in ("leeds", "york"):
        await f.add(tmp_path, name, "branch", "north", 3)
    try:
        yield f
    finally:
        await f.close()


async def _selection(fed: Federation) -> Envelope:
    north, clock = fed["north"], fed.clock
    now = clock.ms()
    selection = await el.publish_selection(north.node, north.officer, "Treasurer", 1, nominations_close=now + HOUR,
                                           voting_close=now + 2 * HOUR, clock=clock)  # fmt: skip
    await fed.sync()
    return selection


async def _signed_stand(b: Body, selection: Envelope, name: str, clock: Clock) -> tuple[KeyFile, int]:
    """The branch's first voter adds a key file and stands under ``name``, signing their consent."""
    member, keyfile = b.voters[0], KeyFile()
    row = await keys_rules.add_key_file(b.node, member, keyfile.key.public, "laptop")
    contest = el.SELECTION + selection.id.hex()
    signed = keyfile.sign(consents.statement(b.node, contest, name))
    await el.stand(b.node, member, contest, name, f"{name} for treasurer.", clock=clock,
                   consent=SignedIn(signed, key_id=row.key_id))  # fmt: skip
    return keyfile, row.id


async def test_a_consent_signed_by_the_candidate_is_carried_and_held_everywhere(fed: Federation) -> None:
    leeds, clock = fed["leeds"], fed.clock
    selection = await _selection(fed)
    await _signed_stand(leeds, selection, "Ann", clock)
    nominated = await el.nominate(leeds.node, leeds.officer, selection.id, leeds.voters[0].id, clock)
    body = nominated.payload.body
    assert isinstance(body, Nomination) and body.consent is not None and body.candidate == "Ann"
    await fed.sync()
    for b in fed.bodies.values():  # every node took it in
        assert await b.node.envelopes.get(nominated.id) == nominated.raw, b.name
    assert await audited(fed["national"].node, clock) == set()


async def test_without_a_signed_consent_the_branch_cannot_nominate(fed: Federation) -> None:
    york, clock = fed["york"], fed.clock
    selection = await _selection(fed)
    contest = el.SELECTION + selection.id.hex()
    await el.stand(york.node, york.voters[0], contest, "Bob", "Bob for treasurer.", clock=clock)
    with pytest.raises(Conflict, match="every nomination carry its candidate's own signed consent") as refused:
        await el.nominate(york.node, york.officer, selection.id, york.voters[0].id, clock)
    assert refused.value.code == "unsigned_consent"
    assert await york.node.envelopes.own_of_kind(york.node.key.public, "nomination") == []


async def _operator_signs(b: Body, body: Nomination, fed: Federation) -> tuple[Envelope, list[tuple[str, str | None]]]:
    """The branch's operator, holding its key, signs ``body`` past every rule of its own node;
    what every other node says of it."""
    envelope = await b.node.own_log.append(body)
    said: list[tuple[str, str | None]] = []
    for other in fed.bodies.values():
        if other is not b:
            (outcome,) = await other.node.federation_state.ingest([envelope.raw])
            said.append((outcome.status, outcome.code))
    return envelope, said


async def test_a_nomination_signed_without_the_candidates_consent_is_refused_everywhere(fed: Federation) -> None:
    york, clock = fed["york"], fed.clock
    selection = await _selection(fed)
    body = Nomination(selection=selection.id, candidate="Bob", statement="", consented=clock.ms())
    envelope, said = await _operator_signs(york, body, fed)
    assert said == [("rejected", "unsigned_consent")] * 3
    assert (envelope.id, "unsigned_consent") in await audited(york.node, clock)


async def test_a_consent_taken_from_another_branch_or_renamed_is_refused_everywhere(fed: Federation) -> None:
    leeds, york, clock = fed["leeds"], fed["york"], fed.clock
    selection = await _selection(fed)
    await _signed_stand(leeds, selection, "Ann", clock)
    honest = (await el.nominate(leeds.node, leeds.officer, selection.id, leeds.voters[0].id, clock)).payload.body
    assert isinstance(honest, Nomination) and honest.consent is not None
    await fed.sync()
    # Leeds's operator renames the candidate under her consent: it signed "Ann", not "Anne".
    _, said = await _operator_signs(leeds, msgspec.structs.replace(honest, candidate="Anne"), fed)
    assert said == [("rejected", "bad_member_signature")] * 3
    # York's operator copies her consent into its own nomination: the roll is not York's.
    _, said = await _operator_signs(york, honest, fed)
    assert said == [("rejected", "wrong_roll")] * 3


async def test_a_bad_signature_is_refused_when_standing_and_nothing_is_kept(fed: Federation) -> None:
    leeds, clock = fed["leeds"], fed.clock
    selection = await _selection(fed)
    member, keyfile = leeds.voters[1], KeyFile()
    row = await keys_rules.add_key_file(leeds.node, member, keyfile.key.public)
    contest = el.SELECTION + selection.id.hex()
    wrong = keyfile.sign(consents.statement(leeds.node, contest, "Somebody Else"))
    with pytest.raises(Forbidden) as refused:
        await el.stand(leeds.node, member, contest, "Cat", "", clock=clock, consent=SignedIn(wrong, key_id=row.key_id))
    assert refused.value.code == "bad_member_signature"
    assert await leeds.node.candidacies.get(contest, member.id) is None
    # Another member's key does not sign for her.
    other = await keys_rules.add_key_file(leeds.node, leeds.voters[2], KeyFile().key.public)
    with pytest.raises(Forbidden):
        await el.stand(leeds.node, member, contest, "Cat", "", clock=clock, consent=SignedIn(
            keyfile.sign(consents.statement(leeds.node, contest, "Cat")), key_id=other.key_id))  # fmt: skip
    # A branch's own delegate election takes no signed consent: nothing would carry it.
    with pytest.raises(BadInput, match="needs none"):
        await el.stand(leeds.node, member, el.DELEGATES + fed["north"].node.key.public.hex(), "Cat", "", clock=clock,
                       consent=SignedIn(wrong, key_id=row.key_id))  # fmt: skip


async def test_a_consent_whose_key_was_revoked_is_not_carried(fed: Federation) -> None:
    leeds, clock = fed["leeds"], fed.clock
    selection = await _selection(fed)
    _, key_row = await _signed_stand(leeds, selection, "Ann", clock)
    await keys_rules.revoke(leeds.node, leeds.voters[0], key_row)
    with pytest.raises(Conflict, match="stand again") as refused:
        await el.nominate(leeds.node, leeds.officer, selection.id, leeds.voters[0].id, clock)
    assert refused.value.code == "stale_consent"
    assert await leeds.node.envelopes.own_of_kind(leeds.node.key.public, "nomination") == []


def test_a_change_of_the_rules_may_ask_for_members_signatures_and_names_what_is_wrong() -> None:
    from node.federation.rules_change import proposed_rules
    from tests.factories import rules

    base = rules()
    new = proposed_rules(base, {"signed_participation": ["selection"], "signed_consent": True})
    assert new.signed_participation == ["selection"] and new.signed_consent is True
    for changes, field in (({"signed_participation": ["poll"]}, "signed_participation"),
                           ({"signed_participation": ["motion", "motion"]}, "signed_participation"),
                           ({"signed_consent": "yes"}, "signed_consent")):  # fmt: skip
        with pytest.raises(BadInput) as refused:
            proposed_rules(base, changes)
        assert refused.value.field is not None and field in refused.value.field, refused.value


async def test_a_passkey_whose_counter_went_back_does_not_sign_a_consent(fed: Federation) -> None:
    """A copied passkey shows as a counter that goes back: its signature is refused (the
    counter is checked and moved in one statement), and the candidacy stays as it was."""
    from tests.passkeys import SoftPasskey

    leeds, clock = fed["leeds"], fed.clock
    selection = await _selection(fed)
    leeds.node.config.http.public_url = "http://localhost:8470"
    member, passkey = leeds.voters[1], SoftPasskey("localhost", "http://localhost:8470")
    passkey.credential = b"\x05" * 16
    await leeds.node.member_keys.add(member.id, passkey.key, "phone", passkey.credential)
    contest = el.SELECTION + selection.id.hex()

    def signed(name: str) -> SignedIn:
        return SignedIn(passkey.sign(consents.statement(leeds.node, contest, name)), credential=passkey.credential)

    await el.stand(leeds.node, member, contest, "Cat", "", clock=clock, consent=signed("Cat"))  # counter 1
    await el.stand(leeds.node, member, contest, "Cat", "", clock=clock, consent=signed("Cat"))  # counter 2
    passkey.counter = 1  # a copy, behind the original
    with pytest.raises(Forbidden, match="counter went back") as refused:
        await el.stand(leeds.node, member, contest, "Cat J", "", clock=clock, consent=signed("Cat J"))
    assert refused.value.code == "bad_member_signature"
    kept = await leeds.node.candidacies.get(contest, member.id)
    assert kept is not None and kept.name == "Cat" and kept.consent_key is not None
