"""`branchnet member key`: a member makes and adds a key file from a terminal, with their own
password; lists and revokes their keys; the node keeps the public half only."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from node.keyfile import read_key, write_new_key
from node.service import Node
from node.storage.members import Member, MemberIn
from protocol import SigningKey
from protocol.member_keys import MemberKey
from tests.node.cli.test_elections_cli import member_cli
from tests.node.conftest import PASSWORD, new_node_dir


async def with_val(tmp_path: Path, password_hash: str) -> tuple[Path, Member]:
    """A node with one member, Val, who has a password."""
    d = await new_node_dir(tmp_path)
    async with Node.opened(d) as node:
        val = await node.members.add(MemberIn(name="Val Voter", email="val@example.org"))
        await node.auth.change_password(val.id, password_hash)
    return d, val


@pytest.mark.slow  # ~10 s of nine command-line processes: `make test-slow`, which CI runs after `make test`
async def test_a_member_adds_a_key_file_lists_and_revokes_it(tmp_path: Path, password_hash: str) -> None:
    d, val = await with_val(tmp_path, password_hash)
    key_file = tmp_path / "val.key"
    args = ("member", "key", "--dir", str(d), "--as", "val@example.org")
    wrong = member_cli(*args, "add", "--key-file", str(key_file), password="not it")
    assert wrong.returncode == 1 and "wrong email or password" in wrong.stderr and not key_file.exists()
    added = member_cli(*args, "add", "--key-file", str(key_file), "--label", "my laptop", password=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert "made a new key file" in added.stdout and "key 1 added" in added.stdout
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # readable by its owner alone
    async with Node.opened(d) as node:
        (row,) = await node.member_keys.of(val.id)
        assert row.key.public == read_key(key_file).public and row.label == "my laptop"
        assert key_file.read_bytes() not in (tmp_path / "node" / "node.db").read_bytes()
    again = member_cli(*args, "add", "--key-file", str(key_file), password=PASSWORD)
    assert again.returncode == 1 and "held here already" in again.stderr  # the same file, once
    listed = member_cli(*args, "list", password=PASSWORD)
    assert listed.returncode == 0 and "key file" in listed.stdout and "my laptop" in listed.stdout
    assert "in force" in listed.stdout
    revoked = member_cli(*args, "revoke", "1", password=PASSWORD)
    assert revoked.returncode == 0 and "key 1 revoked" in revoked.stdout
    assert "revoked 20" in member_cli(*args, "list", password=PASSWORD).stdout
    missing = member_cli(*args, "revoke", password=PASSWORD)
    assert missing.returncode == 1 and "give the key's number" in missing.stderr


async def test_a_member_votes_signed_with_their_key_file(tmp_path: Path, password_hash: str) -> None:
    from node.federation import ballots
    from node.federation.participations import proof_for
    from tests.node.federation.test_ballots import SPEC, officer

    d, val = await with_val(tmp_path, password_hash)
    key_file = tmp_path / "val.key"
    args = ("--dir", str(d), "--as", "val@example.org")
    assert member_cli("member", "key", *args, "add", "--key-file", str(key_file), password=PASSWORD).returncode == 0
    async with Node.opened(d) as node:
        sec = await officer(node)
        row = await ballots.open_ballot(node, sec, SPEC)
    other = tmp_path / "other.key"
    missing = member_cli("ballot", "vote", str(row.id), "for", *args, "--key-file", str(other), password=PASSWORD)
    assert missing.returncode == 1 and "no key file at" in missing.stderr
    write_new_key(other, SigningKey.generate())  # a key file that is nobody's here
    refused = member_cli("ballot", "vote", str(row.id), "for", *args, "--key-file", str(other), password=PASSWORD)
    assert refused.returncode == 1 and "not one of yours" in refused.stderr
    voted = member_cli("ballot", "vote", str(row.id), "for", *args, "--key-file", str(key_file), password=PASSWORD)
    assert voted.returncode == 0 and "(signed with your key)" in voted.stdout, voted.stderr
    async with Node.opened(d) as node:
        await ballots.close_ballot(node, sec, row.id)
        decided = await node.ballots.require(row.id)
        assert (await proof_for(node, val, decided)).found == "signed"


async def test_a_member_stands_with_their_consent_signed_by_their_key_file(tmp_path: Path, password_hash: str) -> None:
    from node.federation import elections as el
    from protocol import Nomination
    from tests.node.federation.test_upward import HOUR, Clock, Federation

    fed = Federation(Clock(), rules={"signed_consent": True})
    await fed.add(tmp_path, "national", "national", None)
    north = await fed.add(tmp_path, "north", "region", "national")
    leeds = await fed.add(tmp_path, "leeds", "branch", "north", 1)
    val = leeds.voters[0]
    await leeds.node.auth.change_password(val.id, password_hash)
    now = fed.clock.ms()
    selection = await el.publish_selection(north.node, north.officer, "Treasurer", 1, nominations_close=now + HOUR,
                                           voting_close=now + 2 * HOUR, clock=fed.clock)  # fmt: skip
    await fed.sync()
    await fed.close()
    d, key_file = str(tmp_path / "leeds"), tmp_path / "val.key"
    args = ("--dir", d, "--as", val.email)
    assert member_cli("member", "key", *args, "add", "--key-file", str(key_file), password=PASSWORD).returncode == 0
    contest = el.SELECTION + selection.id.hex()
    stood = member_cli("election", "stand", *args, "--contest", contest, "--name", "Val", "--key-file", str(key_file),
                       password=PASSWORD)  # fmt: skip
    assert stood.returncode == 0 and "your consent signed with your key" in stood.stdout, stood.stderr
    async with Node.opened(tmp_path / "leeds") as node:
        nominated = await el.nominate(node, leeds.officer, selection.id, val.id)
    body = nominated.payload.body
    assert isinstance(body, Nomination) and body.consent is not None
    assert body.consent.keys == [MemberKey(alg="ed25519", public=read_key(key_file).public)]
