"""`branchnet audit`: exports of real nodes merged and checked offline; exit 0 when all holds,
1 when a check fails (naming the object and the reason), 2 when a source cannot be read."""

from __future__ import annotations

import json
from pathlib import Path

from tests.node.cli.test_node_cli import branchnet


def test_an_export_holds_and_a_tampered_one_fails_naming_what(node_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "node.bundle"
    assert branchnet("export", "--dir", str(node_dir), "--out", str(out)).returncode == 0
    held = branchnet("audit", str(out))
    assert held.returncode == 0, held.stdout + held.stderr
    assert "everything holds" in held.stdout and "trust from the genesis: 1 bodies chartered" in held.stdout
    report = json.loads(branchnet("audit", str(out), "--json").stdout)
    assert report["holds"] and report["problems"] == [] and report["kinds"] == {"genesis": 1}
    data = bytearray(out.read_bytes())
    data[-3] ^= 1  # a byte of the last envelope's signature
    bent = tmp_path / "bent.bundle"
    bent.write_bytes(bytes(data))
    failed = branchnet("audit", str(bent), "--json")
    assert failed.returncode == 1
    problems = json.loads(failed.stdout)["problems"]  # the genesis broken: no trust without it
    assert [p["code"] for p in problems] == ["bad_signature", "no_genesis"] and len(problems[0]["object"]) == 64
    assert "FAIL bad_signature" in branchnet("audit", str(bent)).stdout
    truncated = tmp_path / "cut.bundle"
    truncated.write_bytes(out.read_bytes()[:-7])
    cut = branchnet("audit", str(truncated), str(out))
    assert cut.returncode == 1 and "FAIL bad_bundle" in cut.stdout and "Traceback" not in cut.stderr
    missing = branchnet("audit", str(tmp_path / "nothing.bundle"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
