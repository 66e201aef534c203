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
    report = tmp_path / "report.html"
    assert branchnet("audit", str(bent), "--html", str(report)).returncode == 1
    html = report.read_text()
    assert "2 problems found." in html and "<code>bad_signature</code>" in html and "<code>no_genesis</code>" in html
    again = branchnet("audit", str(out), "--html", str(report))
    assert again.returncode == 2 and "refusing to overwrite" in again.stderr
    fine = tmp_path / "fine.html"
    assert branchnet("audit", str(out), "--html", str(fine)).returncode == 0
    page = fine.read_text()
    assert "Everything holds." in page and "<li>Test Branch <span>(branch)</span>" in page  # the trust tree
    missing = branchnet("audit", str(tmp_path / "nothing.bundle"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr


async def test_a_node_url_audits_as_its_export_does(node_dir: Path, tmp_path: Path) -> None:
    """Pulled through the public read API of a serving node, the same totals as its export."""
    import asyncio

    from tests.node.processes import start_serve

    out = tmp_path / "node.bundle"
    serve = await start_serve(node_dir)
    try:
        exported = await asyncio.to_thread(branchnet, "export", "--dir", str(node_dir), "--out", str(out))
        assert exported.returncode == 0, exported.stderr
        by_url = await asyncio.to_thread(branchnet, "audit", serve.url, "--json")
        assert by_url.returncode == 0, by_url.stdout + by_url.stderr
        by_file = await asyncio.to_thread(branchnet, "audit", str(out), "--json")
        pulled, read = json.loads(by_url.stdout), json.loads(by_file.stdout)
        for key in ("holds", "envelopes", "authors", "kinds", "problems", "bodies"):
            assert pulled[key] == read[key], key
        both = json.loads((await asyncio.to_thread(branchnet, "audit", serve.url, str(out), "--json")).stdout)
        assert both["envelopes"] == read["envelopes"] and both["behind"] == []
    finally:
        await serve.stop()
    gone = await asyncio.to_thread(branchnet, "audit", serve.url)
    assert gone.returncode == 2 and "did not answer as a node does" in gone.stderr
