"""`branchnet keygen` and `branchnet verify`, run as real processes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from protocol import SigningKey, parse_node_id, write_bundle
from tests.factories import T0, charter, genesis, key, next_envelope, profile

NOW = str(T0 + 10_000_000)


def branchnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=60)


def test_keygen_writes_private_key_file(tmp_path: Path) -> None:
    out = tmp_path / "node.key"
    result = branchnet("keygen", "--out", str(out))
    assert result.returncode == 0, result.stderr
    node_id = result.stdout.strip()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert SigningKey.from_pem(out.read_bytes()).public == parse_node_id(node_id)


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "node.key"
    out.write_text("precious")
    result = branchnet("keygen", "--out", str(out))
    assert result.returncode == 2
    assert "already exists" in result.stderr and "Traceback" not in result.stderr
    assert out.read_text() == "precious"


@pytest.fixture(scope="module")
def federation() -> list[bytes]:
    gen = genesis()
    national, north = key("national"), key("north")
    c = next_envelope(national, gen, charter(north), gen.id)
    p1 = next_envelope(north, None, profile("North"), gen.id)
    p2 = next_envelope(north, p1, profile("North, renamed"), gen.id)
    return [gen.raw, c.raw, p1.raw, p2.raw]


def test_verify_good_bundle(tmp_path: Path, federation: list[bytes]) -> None:
    path = tmp_path / "good.bundle"
    path.write_bytes(write_bundle(federation))
    result = branchnet("verify", str(path), "--now-ms", NOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok: 4 envelopes from 2 authors")


def test_verify_reports_each_failure_on_one_line(tmp_path: Path, federation: list[bytes]) -> None:
    gen = genesis()
    tampered = bytearray(federation[1])
    tampered[-1] ^= 1  # last byte of the signature
    fork = next_envelope(key("north"), None, profile("North, the other story"), gen.id)
    path = tmp_path / "bad.bundle"
    path.write_bytes(write_bundle([federation[0], bytes(tampered), federation[2], b"garbage", fork.raw]))
    result = branchnet("verify", str(path), "--now-ms", NOW)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("envelope 2: bad_signature:")
    assert lines[1].startswith("envelope 4: malformed:")
    assert "fork" in (lines[2]) and (lines[2].startswith("envelope 5") or lines[2].startswith("envelope 3"))
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "words"), [(b"not a bundle", "bad magic"), (b"BRANCHNET-BUNDLE-1\n\x00\x00\x01\x00ab", "truncated")]
)
def test_verify_damaged_bundle(tmp_path: Path, content: bytes, words: str) -> None:
    path = tmp_path / "damaged.bundle"
    path.write_bytes(content)
    result = branchnet("verify", str(path))
    assert result.returncode == 1 and words in result.stdout and "Traceback" not in result.stderr


def test_verify_missing_file(tmp_path: Path) -> None:
    result = branchnet("verify", str(tmp_path / "nope"))
    assert result.returncode == 2 and "cannot read" in result.stderr and "Traceback" not in result.stderr


def test_every_option_has_help_and_there_is_a_version() -> None:
    import argparse

    from node.cli.main import parser

    missing: list[str] = []

    def walk(p: argparse.ArgumentParser, path: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction | argparse._VersionAction) and not action.help:
                missing.append(f"{path} {action.option_strings or action.dest}")

    walk(parser(), "branchnet")
    assert missing == []
    version = subprocess.run([sys.executable, "-m", "node", "--version"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0 and version.stdout.startswith("branchnet ")


def test_branchnet_dir_is_the_default_folder(tmp_path: Path) -> None:
    folder = tmp_path / "n"
    env = {**os.environ, "BRANCHNET_DIR": str(folder)}
    run = [sys.executable, "-m", "node"]
    made = subprocess.run([*run, "init", "--name", "N", "--level", "branch"], capture_output=True, text=True,
                          timeout=60, env=env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    shown = subprocess.run([*run, "id"], capture_output=True, text=True, timeout=60, env=env)
    assert shown.returncode == 0 and shown.stdout.startswith("bn1")
    without = subprocess.run([*run, "id"], capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if k != "BRANCHNET_DIR"})  # fmt: skip
    assert without.returncode == 2 and "--dir" in without.stderr
