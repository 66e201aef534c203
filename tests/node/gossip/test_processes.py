"""Federation with real `branchnet serve` processes on 127.0.0.1 (7 nodes: the demo's layout
without its youth section).

Charters and profiles converge to identical heads everywhere; a node stopped while others
write catches up after its restart; two groups that were apart (each writing while the
other was down) converge once together again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.cli.demo import (
    DEMO_ENV,
    LAYOUT,
    RunningNode,
    build,
    publish_profile,
    start_serve,
    stop_all,
    wait_until_converged,
)
from node.service import Node
from tests.node.processes import held_everywhere, restart, write_profile

BOUND_S = 60.0


@pytest.fixture
async def federation(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    nodes = await build(tmp_path, DEMO_ENV, LAYOUT[:7], authority=None)  # one charter envelope each, counted below
    try:
        yield nodes
    finally:
        await stop_all(nodes)


def assert_identical(nodes: list[RunningNode], authors: int) -> dict[str, int]:
    heads = nodes[0].info["heads"]
    assert len(heads) == authors
    for n in nodes:
        assert n.info["heads"] == heads, n.name
    return dict(heads)


async def test_charters_and_profiles_converge(federation: list[RunningNode]) -> None:
    took = await wait_until_converged(federation, BOUND_S)
    assert took is not None, [n.info for n in federation]
    heads = assert_identical(federation, authors=7)
    # genesis + 2 charters + profile; 2 regions x (2 charters + profile); 4 branches x profile
    assert sum(heads.values()) == 4 + 2 * 3 + 4
    assert all(n.info["quarantine"] == 0 and n.info["forks"] == 0 for n in federation)
    # What `branchnet status` shows of a node after it stopped: peers, counts, trust.
    await stop_all(federation)
    from node.cli.setup import node_status

    status = await node_status(federation[1].directory)
    assert status["chartered"] and status["bodies"] == 7 and status["objects"] == 14
    assert len(status["peers"]) >= 3 and any(p["last_ok_s_ago"] is not None for p in status["peers"])
    assert status["received"].get("accepted", 0) > 0 and not any(k.startswith("rejected") for k in status["received"])
    assert (status["quarantine"], status["forks"], status["set_aside"]) == (0, 0, 0)


async def test_a_stopped_node_catches_up(federation: list[RunningNode]) -> None:
    assert await wait_until_converged(federation, BOUND_S) is not None
    leeds = federation[3]
    await stop_all([leeds])
    others = [n for n in federation if n is not leeds]
    for n in others:
        for i in range(3):
            seq = await write_profile(n, f"while Leeds was down #{i}")
        await held_everywhere(others, n.node_id, seq)
    assert await wait_until_converged(others, BOUND_S) is not None
    await restart(leeds)
    await held_everywhere(federation, leeds.node_id, await write_profile(leeds, "back"))
    assert await wait_until_converged(federation, BOUND_S) is not None
    heads = assert_identical(federation, authors=7)
    assert sum(heads.values()) == 14 + 6 * 3 + 1


@pytest.mark.slow  # ~20 s of node processes: `make test-slow`, which CI runs after `make test`
async def test_separated_groups_converge(federation: list[RunningNode]) -> None:
    assert await wait_until_converged(federation, BOUND_S) is not None
    by_name = {n.name: n for n in federation}
    north = [by_name[k] for k in ("North Region", "Leeds Branch", "York Branch")]
    south = [n for n in federation if n not in north]
    # North goes dark; the south and the national node write.
    await stop_all(north)
    for n in south:
        await held_everywhere(south, n.node_id, await write_profile(n, "south side, north dark"))
    assert await wait_until_converged(south, BOUND_S) is not None
    # Now the south goes dark and the north comes back alone and writes too. (A node that
    # starts signs only once two peers confirmed its latest sequence: the three come back first.)
    await stop_all(south)
    for n in north:
        await restart(n)
    for n in north:
        await held_everywhere(north, n.node_id, await write_profile(n, "north side, south dark"))
    assert await wait_until_converged(north, BOUND_S) is not None
    # Together again.
    for n in south:
        await restart(n)
    took = await wait_until_converged(federation, BOUND_S)
    assert took is not None, [(n.name, n.info.get("heads")) for n in federation]
    heads = assert_identical(federation, authors=7)
    assert sum(heads.values()) == 14 + len(south) + len(north)


async def test_join_over_http_waits_for_the_members_vote(tmp_path: Path) -> None:
    """`branchnet join --request --wait` in a federation founded as `branchnet genesis` does: an
    officer puts the request to the parent's members, the joining node is told it is voting,
    and once the members carry it the parent's node signs the charter and the joiner hears it."""
    import asyncio
    import os
    import sys

    import aiohttp

    from node.cli.setup import init_node
    from node.storage.members import MemberIn

    layout = [("National Committee", "national", None)]
    nodes = await build(tmp_path / "fed", DEMO_ENV, layout)
    national = nodes[0]
    try:
        async with Node.opened(national.directory) as node:
            secretary = await node.members.add(MemberIn(name="Sec", email="sec@example.org", role="secretary"))
            _, token = await node.auth.create_token(secretary.id, "test")
            voter = await node.members.add(MemberIn(name="Val", email="val@example.org"))
            _, voter_token = await node.auth.create_token(voter.id, "test")
            federation = node.federation_state.federation
        assert federation is not None
        newcomer = tmp_path / "east"
        await init_node(newcomer, "East Region", "region", "127.0.0.1:0", None, allow_private_peers=True)
        east = RunningNode("East Region", "region", "National Committee", newcomer)
        east.process, east.url, east.node_id = await start_serve(newcomer, DEMO_ENV)
        nodes.append(east)
        joining = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "node", "join", "--dir", str(newcomer), "--federation", federation.hex(),
            "--peer", national.url, "--request", "--wait", "60",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "BRANCHNET_HTTP_PUBLIC_URL": east.url},
        )  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(national.url, headers=headers) as http:
            pending: list[dict[str, str]] = []
            for _ in range(200):  # bounded: 20 s
                async with http.get("/api/v1/joins?status=pending") as r:
                    pending = await r.json()
                if pending:
                    break
                await asyncio.sleep(0.1)
            assert [p["name"] for p in pending] == ["East Region"]
            async with http.post(f"/api/v1/joins/{pending[0]['id']}/approve") as r:
                assert r.status == 409 and (await r.json())["error"]["code"] == "needs_decision"
            async with http.post(f"/api/v1/joins/{pending[0]['id']}/proposals") as r:
                assert r.status == 201, await r.text()
                ballot = (await r.json())["ballot"]
            for who in (voter_token, token):
                async with http.post(f"/api/v1/ballots/{ballot}/votes", json={"choice": "for"},
                                     headers={"Authorization": f"Bearer {who}"}) as r:  # fmt: skip
                    assert r.status in (200, 201), await r.text()
            async with http.post(f"/api/v1/ballots/{ballot}/close") as r:
                assert r.status == 201, await r.text()
            async with http.get("/api/v1/acts") as r:
                (act,) = [a for a in await r.json() if a["ballot"] == ballot]
            assert act["state"] == "signed"
        out, err = await asyncio.wait_for(joining.communicate(), 60)
        assert joining.returncode == 0, err.decode()
        assert f"approved (charter {act['signed']})" in out.decode()
        await publish_profile(east)  # its first envelope: accepted everywhere now that it is chartered
        assert await wait_until_converged(nodes, BOUND_S) is not None
        assert east.info["federation"] == federation.hex()
    finally:
        await stop_all(nodes)
