"""Backups are encrypted to age recipients: a copy taken off the server reveals nothing
without an identity kept elsewhere; a plain backup needs --plain; restore decrypts with the
identity, and refuses, changing nothing, without it or with another."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.node.cli.test_node_cli import branchnet

# ~35 s of `branchnet` processes: `make test-slow`, which CI runs after `make test`.
pytestmark = pytest.mark.slow

CANARY_NAME, CANARY_EMAIL = "Ottoline Canarybird", "ottoline.canarybird@example.org"


def members_of(d: Path) -> str:
    listed = branchnet("member", "list", "--dir", str(d))
    assert listed.returncode == 0, listed.stderr
    return listed.stdout


def test_a_backup_with_a_recipient_needs_its_identity_to_restore(node_dir: Path, tmp_path: Path) -> None:
    d = str(node_dir)
    assert branchnet("member", "add", "--dir", d, "--name", CANARY_NAME, "--email", CANARY_EMAIL).returncode == 0
    out = tmp_path / "backup.age"
    refused = branchnet("backup", "--dir", d, "--out", str(out))
    assert refused.returncode == 1 and "--to RECIPIENT" in refused.stderr and "--plain" in refused.stderr
    assert not out.exists()
    bad = branchnet("backup", "--dir", d, "--out", str(out), "--to", "age1nothing")
    assert bad.returncode == 1 and "'age1nothing' is not an age recipient" in bad.stderr and not out.exists()

    made = branchnet("backup-key", "--out", str(tmp_path / "identity.txt"))
    assert made.returncode == 0, made.stderr
    recipient = made.stdout.split("its recipient: ")[1].split()[0]
    assert recipient.startswith("age1") and stat.S_IMODE((tmp_path / "identity.txt").stat().st_mode) == 0o600
    again = branchnet("backup-key", "--out", str(tmp_path / "identity.txt"))
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr
    done = branchnet("backup", "--dir", d, "--out", str(out), "--to", recipient)
    assert done.returncode == 0 and "encrypted to 1 recipient" in done.stdout, done.stderr
    data = out.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n")
    for canary in (CANARY_NAME, CANARY_EMAIL, "Canarybird", "SQLite format 3"):
        assert canary.encode() not in data, canary
    assert [p.name for p in node_dir.iterdir() if ".backup-" in p.name] == []  # no plain copy left behind

    # Restore: the member is removed meanwhile, so a restore that worked brings them back.
    assert branchnet("member", "remove", "1", "--dir", d).returncode == 0
    without = branchnet("restore", "--dir", d, "--from", str(out))
    assert without.returncode == 1 and "is encrypted: give --identity FILE" in without.stderr
    assert branchnet("backup-key", "--out", str(tmp_path / "other.txt")).returncode == 0
    wrong = branchnet("restore", "--dir", d, "--from", str(out), "--identity", str(tmp_path / "other.txt"))
    assert wrong.returncode == 1 and "cannot be decrypted with this identity" in wrong.stderr
    assert "Traceback" not in without.stderr + wrong.stderr
    assert CANARY_NAME not in members_of(node_dir)  # nothing was restored
    right = branchnet("restore", "--dir", d, "--from", str(out), "--identity", str(tmp_path / "identity.txt"))
    assert right.returncode == 0, right.stderr
    assert CANARY_NAME in members_of(node_dir)


def test_recipients_from_the_config_and_a_plain_backup_only_when_asked(node_dir: Path, tmp_path: Path) -> None:
    d = str(node_dir)
    made = branchnet("backup-key", "--out", str(tmp_path / "id.txt"))
    recipient = made.stdout.split("its recipient: ")[1].split()[0]
    env = {"BRANCHNET_BACKUP_RECIPIENTS": f'["{recipient}"]'}
    sealed = branchnet("backup", "--dir", d, "--out", str(tmp_path / "a.age"), env=env)
    assert sealed.returncode == 0 and (tmp_path / "a.age").read_bytes().startswith(b"age-encryption.org/v1\n")
    both = branchnet("backup", "--dir", d, "--out", str(tmp_path / "b.db"), "--plain", env=env)
    assert both.returncode == 1 and "--plain writes an unencrypted backup" in both.stderr
    plain = branchnet("backup", "--dir", d, "--out", str(tmp_path / "c.db"), "--plain")
    assert plain.returncode == 0 and (tmp_path / "c.db").read_bytes().startswith(b"SQLite format 3")
