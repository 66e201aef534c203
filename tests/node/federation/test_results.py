"""A branch's ranked decision counted again for people: the quota, the winners and every
round, from the decision alone (what its ballot page shows)."""

from __future__ import annotations

from node.federation import ballots
from node.federation.ballots import BallotSpec
from node.federation.results import count_for_people
from node.service import Node
from node.storage.ballots import ElectionSpec
from protocol import Decision
from tests.node.federation.test_ballots import officer, people


async def test_a_ranked_decisions_rounds_quota_and_winners(node: Node) -> None:
    sec = await officer(node)
    voters = await people(node, 9)
    spec = BallotSpec(motion="m8", subject="Delegates", text="Elect two", method="ranked",
                      options=("Ann", "Bea", "Col", "Dan"), election=ElectionSpec(2, "stv"))  # fmt: skip
    row = await ballots.open_ballot(node, sec, spec)
    rankings = [["Ann", "Bea"]] * 5 + [["Col", "Bea"]] * 2 + [["Dan", "Col"]] * 2
    for voter, ranking in zip(voters, rankings, strict=True):
        await ballots.vote(node, voter, row.id, ranking)
    body = (await ballots.close_ballot(node, sec, row.id)).payload.body
    assert isinstance(body, Decision) and body.outcome == "elected"
    shown = count_for_people(body)
    assert shown is not None
    # Scottish STV, 9 ballots, 2 seats: quota floor(9 / 3) + 1 = 4 (SSI 2007/42 rule 46).
    assert shown.quota == "4"
    assert shown.winners == [body.options[i] for i in body.chosen]
    first = shown.rounds[0]
    assert first.votes == {"Ann": "5", "Bea": "0", "Col": "2", "Dan": "2"} and first.elected == ["Ann"]
    # Ann's surplus of 1 goes on to Bea at 1/5: the transfer value in five decimals.
    assert shown.rounds[1].action == "surplus" and shown.rounds[1].votes["Bea"] == "1"


async def test_nothing_to_show_for_a_lost_or_bundled_ballot(node: Node) -> None:
    sec = await officer(node)
    spec = BallotSpec(motion="m9", subject="Delegates", text="Elect one", method="ranked",
                      options=("Ann", "Bea"), election=ElectionSpec(1, "stv"))  # fmt: skip
    row = await ballots.open_ballot(node, sec, spec)
    body = (await ballots.close_ballot(node, sec, row.id)).payload.body  # nobody voted: not quorate
    assert isinstance(body, Decision) and count_for_people(body) is None
