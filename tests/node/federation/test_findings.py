"""The one list of findings (node/federation/findings.py, node/storage/findings.py): a second
decision by one body on one ballot is a finding where both are held, the first counts."""

from __future__ import annotations

import time

import msgspec

from node.federation import ballots, judging
from node.federation.ballots import BallotSpec
from node.service import Node
from node.storage.members import MemberIn
from protocol import Decision, write_bundle
from protocol.audit import audit


async def test_a_second_decision_on_one_ballot_is_a_finding_and_the_first_counts(node: Node) -> None:
    sec = await node.members.add(MemberIn(name="Sec", email="sec@example.org", role="secretary"))
    voter = await node.members.add(MemberIn(name="Voter", email="v@example.org"))
    row = await ballots.open_ballot(node, sec, BallotSpec(motion="m1", subject="s", text="t"))
    await ballots.vote(node, voter, row.id, "for")
    first = await ballots.close_ballot(node, sec, row.id)
    assert await judging.findings(node) == []
    body = first.payload.body
    assert isinstance(body, Decision)
    # A key holder signing around the node's rules (a second decision on the same ballot):
    second = await node.own_log.append(msgspec.structs.replace(body, closed=body.closed + 1))
    found = await judging.findings(node)
    assert [(f.object, f.code, f.kind, f.about) for f in found] == [(second.id, "decision_twice", "decision",
                                                                     body.ballot)]  # fmt: skip
    assert first.id.hex()[:16] in found[0].message
    held = audit([("node", write_bundle(await node.envelopes.all_raw()))], int(time.time() * 1000) + 60_000)
    assert [(p.object, p.code) for p in held.problems] == [(second.id, "decision_twice")]  # the audit agrees
    assert await judging.findings(node) == found  # judged once, kept


async def test_findings_page_newest_first_with_a_cursor(node: Node) -> None:
    for i in range(5):
        await node.findings.replace(bytes([i]) * 32, "aggregate", b"\x09" * 32, None, [("omits_mandate", "m"),
                                    ("wrong_totals", "t")], found_at=1000 + i)  # fmt: skip
    first = await node.findings.page(limit=4)
    assert [(f.object[0], f.code) for f in first] == [(4, "omits_mandate"), (4, "wrong_totals"),
                                                     (3, "omits_mandate"), (3, "wrong_totals")]  # fmt: skip
    last = first[-1]
    rest = await node.findings.page(limit=10, before=(last.found_at, last.object, last.code))
    assert [(f.object[0], f.code) for f in rest] == [(i, c) for i in (2, 1, 0) for c in ("omits_mandate",
                                                                                         "wrong_totals")]  # fmt: skip
    await node.findings.replace(bytes([4]) * 32, "aggregate", b"\x09" * 32, None, [], found_at=2000)  # adds up now
    assert await node.findings.count() == 8
