"""`branchnet member key`: a member makes and adds a key file from a terminal, with their own
password; lists and revokes their keys; the node keeps the public half only."""

from __future__ import annotations

import stat
from pathlib import Path

from node.keyfile import read_key
from node.service import Node
from node.storage.members import MemberIn
from tests.node.cli.test_elections_cli import member_cli
from tests.node.conftest import PASSWORD, new_node_dir


async def test_a_member_adds_a_key_file_lists_and_revokes_it(tmp_path: Path, password_hash: str) -> None:
    d = await new_node_dir(tmp_path)
    async with Node.opened(d) as node:
        val = await node.members.add(MemberIn(name="Val Voter", email="val@example.org"))
        await node.auth.change_password(val.id, password_hash)
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
