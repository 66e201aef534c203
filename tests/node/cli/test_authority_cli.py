"""`branchnet genesis` (every act needs its body's decision unless `--authority` says
otherwise), then `branchnet charter` in such a federation: refused when
an officer signs alone (needs_decision); `--propose --as EMAIL` opens the members' ballot on
the charter's text, and closing it carried signs the charter citing the decision."""

from __future__ import annotations

from pathlib import Path

from node.federation import ballots
from node.service import Node
from node.storage.members import MemberIn
from protocol import Charter, SigningKey, open_envelope
from protocol.authority import AUTHORITY_ACTS
from tests.node.cli.test_node_cli import branchnet


def test_a_charter_goes_to_the_members_from_the_command_line(tmp_path: Path) -> None:
    import asyncio

    d = str(tmp_path / "national")
    assert branchnet("init", "--dir", d, "--name", "National", "--level", "national").returncode == 0
    wrong = branchnet("genesis", "--dir", d, "--federation", "Test", "--authority", "charter,coronation")
    assert wrong.returncode == 2 and "coronation is not an act" in wrong.stderr
    empty = branchnet("genesis", "--dir", d, "--federation", "Test", "--authority", ",")
    assert empty.returncode == 2 and "no act given" in empty.stderr
    assert branchnet("genesis", "--dir", d, "--federation", "Test").returncode == 0  # every act, by default

    async def members() -> None:
        async with Node.opened(Path(d)) as node:
            trust = node.federation_state.trust
            assert trust is not None and trust.rules.authority == list(AUTHORITY_ACTS)
            await node.members.add(MemberIn(name="Sec Retary", email="sec@example.org", role="secretary"))
            await node.members.add(MemberIn(name="Val Voter", email="val@example.org"))

    asyncio.run(members())
    child = SigningKey.generate().node_id
    alone = branchnet("charter", "--dir", d, "--node-id", child, "--name", "North", "--level", "region")
    assert alone.returncode == 1 and "needs the members' carried decision" in alone.stderr, alone.stderr
    no_officer = branchnet("charter", "--dir", d, "--node-id", child, "--name", "North", "--level", "region",
                           "--propose")  # fmt: skip
    assert no_officer.returncode != 0 and "--propose needs --as EMAIL" in no_officer.stderr
    proposed = branchnet("charter", "--dir", d, "--node-id", child, "--name", "North", "--level", "region",
                         "--propose", "--as", "sec@example.org")  # fmt: skip
    assert proposed.returncode == 0, proposed.stderr
    assert "ballot 1 opened for the members on: Charter North as a region of this federation" in proposed.stdout

    async def vote() -> None:
        async with Node.opened(Path(d)) as node:
            voter = (await node.members.login_record("val@example.org"))[0]  # type: ignore[index]
            await ballots.vote(node, voter, 1, "for")

    asyncio.run(vote())
    closed = branchnet("ballot", "close", "1", "--dir", d, "--as", "sec@example.org")
    assert closed.returncode == 0, closed.stderr

    async def signed() -> list[Charter]:
        async with Node.opened(Path(d)) as node:
            raws = await node.envelopes.own_of_kind(node.key.public, "charter")
            return [open_envelope(r).payload.body for r in raws]  # type: ignore[misc]

    (charter,) = asyncio.run(signed())
    assert charter.name == "North" and charter.decision is not None


def test_a_founder_may_list_no_act_but_not_by_a_typo(tmp_path: Path) -> None:
    import asyncio

    d = str(tmp_path / "national")
    assert branchnet("init", "--dir", d, "--name", "National", "--level", "national").returncode == 0
    assert branchnet("genesis", "--dir", d, "--federation", "Test", "--authority", "none").returncode == 0

    async def rules() -> list[str] | None:
        async with Node.opened(Path(d)) as node:
            assert node.federation_state.trust is not None
            return node.federation_state.trust.rules.authority

    assert asyncio.run(rules()) == []  # no act needs a vote; a revocation still keeps the past


def test_a_federation_founded_asking_for_members_signatures(tmp_path: Path) -> None:
    import asyncio

    d = str(tmp_path / "national")
    assert branchnet("init", "--dir", d, "--name", "National", "--level", "national").returncode == 0
    wrong = branchnet("genesis", "--dir", d, "--federation", "Test", "--signed-votes", "selection,poll")
    assert wrong.returncode == 2 and "--signed-votes: name each of motion, election, selection" in wrong.stderr
    founded = branchnet("genesis", "--dir", d, "--federation", "Test", "--signed-votes", "selection,election",
                        "--signed-consent")  # fmt: skip
    assert founded.returncode == 0, founded.stderr

    async def rules() -> None:
        async with Node.opened(Path(d)) as node:
            trust = node.federation_state.trust
            assert trust is not None and trust.rules.signed_participation == ["selection", "election"]
            assert trust.rules.signed_consent is True

    asyncio.run(rules())
