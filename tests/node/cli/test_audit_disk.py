"""`branchnet audit` on its index on disk, in one process and in worker processes, gives the
very report the audit in memory gives (protocol.audit.audit), on an honest federation and on
every tamper of tests/protocol/test_audit.py: the same problems (code, object, author, kind,
message), forks, sources behind, trust and recounts."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from node.cli.audit_read import audit_files
from protocol import Envelope, Payload
from protocol.audit import Report, audit
from protocol.upward import build
from tests.factories import T0, next_envelope, profile, signed_raw
from tests.protocol.test_audit import (
    NATIONAL,
    NORTH,
    NOW,
    SOUTH,
    STRANGER,
    a_selection,
    bundle,
    decision,
    decisions_go_up,
    federation,
)

Sources = list[tuple[str, bytes]]


def honest() -> Sources:
    f = federation()
    return [("national", bundle(f["genesis"], f["charter"])), ("north", bundle(*f.values()))]


def flipped() -> Sources:
    f = federation()
    raw = bytearray(f["profile"].raw)
    raw[-5] ^= 1
    return [("all", bundle(f["genesis"], f["charter"], bytes(raw), f["roll"], f["decision"]))]


def removed() -> Sources:
    f = federation()
    return [("all", bundle(f["genesis"], f["charter"], f["profile"], f["decision"]))]


def reordered() -> Sources:
    """North re-signs its log with its roll before its profile, each keeping its time."""
    f = federation()
    fed = f["genesis"].id
    roll = next_envelope(NORTH, None, f["roll"].payload.body, fed, created=f["roll"].payload.created)
    moved = next_envelope(NORTH, roll, f["profile"].payload.body, fed, created=f["profile"].payload.created)
    decided = next_envelope(NORTH, moved, decision(roll), fed)
    return [("all", bundle(f["genesis"], f["charter"], roll, moved, decided))]


def forked() -> Sources:
    f = federation()
    other = next_envelope(NORTH, f["profile"], profile("North Region (the other side)"), f["genesis"].id)
    return [("a", bundle(*f.values())), ("b", bundle(f["genesis"], f["charter"], f["profile"], other))]


def unchartered() -> Sources:
    f = federation()
    return [("all", bundle(*f.values(), next_envelope(STRANGER, None, profile("Not Chartered"), f["genesis"].id)))]


def receipts_wrong() -> Sources:
    f = federation()
    roll = f["roll"]
    bent = signed_raw(NORTH, Payload(author=NORTH.public, seq=3, created=T0 + 3000, federation=f["genesis"].id,
                                     prev=roll.id, body=decision(roll, counts=[6, 1, 1])))  # fmt: skip
    return [("all", bundle(*list(f.values())[:4], bent))]


def decided_twice() -> Sources:
    f = federation()
    again = next_envelope(NORTH, f["decision"], decision(f["roll"], closed=T0 + 30_000), f["genesis"].id)
    return [("all", bundle(*f.values(), again))]


def wrong_electorate() -> Sources:
    f = federation()
    return [("all", bundle(*list(f.values())[:4], next_envelope(NORTH, f["roll"], decision(f["roll"], electorate=30),
                                                               f["genesis"].id)))]  # fmt: skip


def truncated() -> Sources:
    f = federation()
    return [("cut", bundle(*f.values())[:-10]), ("whole", bundle(f["genesis"], f["charter"]))]


def aggregate(weights: dict[bytes, int] | None = None, drop: bool = False, inflated: int | None = None) -> Sources:
    held, item, mandates = decisions_go_up(inflated)
    counted = {NORTH.public: mandates["for"], SOUTH.public: mandates["against"]}
    if drop:
        del counted[SOUTH.public]
    weights = weights or {NORTH.public: inflated or 10, SOUTH.public: 20}
    made = next_envelope(NATIONAL, held[3], build(item, weights, counted), item.payload.federation or b"",
                         created=T0 + 41_000)  # fmt: skip
    return [("all", bundle(*held, made))]


def selection(tamper: str = "") -> Sources:
    from protocol import selections as sel

    held, parts = a_selection()
    paper: Envelope = parts["paper"]
    fed = paper.payload.federation or b""
    body = parts["result_body"]
    if tamper == "drop":
        south = [b for b in held if b.kind == "decision" and b.author == SOUTH.public]
        body = sel.count_selection(parts["selection"].id, parts["selection"].payload.body,  # type: ignore[arg-type]
                                   paper.id, paper.payload.body,  # type: ignore[arg-type]
                                   [sel.Signed(b.id, b.author, b.payload.created, b.payload.body) for b in south],
                                   ["", "", ""])  # fmt: skip
    if tamper == "paper":
        return [("all", bundle(*held, next_envelope(NATIONAL, paper, paper.payload.body, fed, created=T0 + 52_000)))]
    return [("all", bundle(*held, next_envelope(NATIONAL, paper, body, fed, created=T0 + 61_000)))]  # type: ignore[arg-type]


def by_decision(bare: bool = False) -> Sources:
    from tests.protocol.test_authority import chartered_by_decision

    f = chartered_by_decision(cites=None) if bare else chartered_by_decision()
    return [("all", bundle(*f.values()))]


SCENARIOS: dict[str, Callable[[], Sources]] = {
    "honest": honest, "flipped byte": flipped, "removed envelope": removed, "reordered log": reordered,
    "fork across sources": forked, "unchartered author": unchartered, "receipts do not add up": receipts_wrong,
    "second decision": decided_twice, "electorate not its roll's": wrong_electorate, "truncated export": truncated,
    "honest aggregate": aggregate, "aggregate drops a mandate": lambda: aggregate(drop=True),
    "aggregate inflates a weight": lambda: aggregate({NORTH.public: 100, SOUTH.public: 20}),
    "implausible roll": lambda: aggregate(inflated=10_000), "honest selection": selection,
    "result drops a bundle": lambda: selection("drop"), "second paper": lambda: selection("paper"),
    "honest charter by decision": by_decision, "charter without its decision": lambda: by_decision(bare=True),
}  # fmt: skip


def on_disk(sources: Sources, folder: Path, workers: int) -> Report:
    folder.mkdir()
    files = []
    for number, (name, data) in enumerate(sources):
        path = folder / f"source-{number}.bundle"
        path.write_bytes(data)
        files.append((name, path))
    return audit_files(files, folder, NOW, workers, lambda _: None, lambda _: None)


def summary(report: Report) -> dict[str, object]:
    return {
        "problems": [(p.code, p.object, p.author, p.kind, p.source, p.message) for p in report.problems],
        "envelopes": report.envelopes, "kinds": dict(report.kinds), "forks": report.forks,
        "behind": report.behind, "unchecked": report.unchecked, "recounts": report.recounts,
        "trust": report.trust.bodies if report.trust else None, "heads": report.heads,
    }  # fmt: skip


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_index_on_disk_reports_as_the_audit_in_memory(scenario: str, tmp_path: Path) -> None:
    sources = SCENARIOS[scenario]()
    expected = summary(audit(sources, NOW))
    assert summary(on_disk(sources, tmp_path / "one", workers=0)) == expected
    if not scenario.startswith("honest"):
        assert expected["problems"], "a tamper the audit does not see"


def test_worker_processes_report_as_one_process(tmp_path: Path) -> None:
    """The logs walked in ranges of authors and the later checks in shares, each in a worker
    process: what they find together is what one process finds, whether the walk rejects
    something (a removed envelope, a fork) or not."""
    scenarios = ("honest aggregate", "aggregate drops a mandate", "implausible roll", "removed envelope",
                 "fork across sources", "result drops a bundle")  # fmt: skip
    for number, scenario in enumerate(scenarios):
        sources = SCENARIOS[scenario]()
        assert summary(on_disk(sources, tmp_path / f"{number}", workers=2)) == summary(audit(sources, NOW)), scenario


def test_an_unopened_envelope_is_named_by_the_digest_of_its_bytes(tmp_path: Path) -> None:
    sources = flipped()
    report = on_disk(sources, tmp_path / "x", workers=0)
    bent = [p for p in report.problems if p.code == "bad_signature"]
    assert len(bent) == 1 and bent[0].object is not None
    assert any(hashlib.sha256(raw).digest() == bent[0].object for raw in _records(sources[0][1]))


def _records(data: bytes) -> list[bytes]:
    from protocol import read_bundle

    return list(read_bundle(data))


def test_the_reports_show_each_recount(tmp_path: Path) -> None:
    """`--json` and `--html` carry every aggregate's recount: each child's weight, the mandate
    of it that counts, and the codes where it does not hold."""
    import json

    from tests.node.cli.test_node_cli import branchnet

    source = tmp_path / "dropped.bundle"
    source.write_bytes(SCENARIOS["aggregate drops a mandate"]()[0][1])
    done = branchnet("audit", str(source), "--json", "--html", str(tmp_path / "report.html"))
    assert done.returncode == 1, done.stderr
    (recount,) = json.loads(done.stdout)["recounts"]
    assert recount["holds"] is False and recount["problems"] == ["omits_mandate"]
    assert {(c["name"], c["weight"], c["counted"] is not None) for c in recount["children"]} == {
        ("North Region", 10, True), ("South Region", 20, True)}  # the recount counts South's mandate
    page = (tmp_path / "report.html").read_text()
    assert "Every aggregate, recounted" in page and "<code>omits_mandate</code>" in page and "South Region" in page


def test_a_source_cut_short_while_it_is_read_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    from node.cli.audit_read import open_piece

    path = tmp_path / "shrinking.bundle"
    path.write_bytes(honest()[1][1])
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size - 10])  # as if cut after the pieces were measured
    facts, problems = open_piece(str(path), 19, size, "north.bundle")
    assert [(p.code, p.source) for p in problems] == [("bad_bundle", "north.bundle")]
    assert "changed while it was read" in problems[0].message
    assert len(facts) == 4  # what came before the cut is still read
