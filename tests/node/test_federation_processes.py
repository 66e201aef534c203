"""Federation with real `branchnet serve` processes on 127.0.0.1 (7 nodes: the demo's layout).

Charters and profiles converge to identical heads everywhere; a node stopped while others
write catches up after its restart; two groups that were apart (each writing while the
other was down) converge once together again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.demo import DEMO_ENV, RunningNode, build, start_serve, stop_all, wait_until_converged
from node.service import Node
from protocol import NodeProfile

BOUND_S = 60.0


@pytest.fixture
async def federation(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    nodes = await build(tmp_path, DEMO_ENV)
    try:
        yield nodes
    finally:
        await stop_all(nodes)


async def write_profile(running: RunningNode, text: str) -> None:
    """Append to a node's own log (as `branchnet` would, beside the running server)."""
    node = await Node.open(running.directory)
    try:
        await node.own_log.append(NodeProfile(name=running.name, endpoints=[running.url], contact=text))
    finally:
        await node.close()


async def restart(running: RunningNode) -> None:
    """Start the node again at the address the others know (a real node keeps its address)."""
    address = running.url.removeprefix("http://")
    env = {**DEMO_ENV, "BRANCHNET_HTTP_LISTEN": address, "BRANCHNET_HTTP_PUBLIC_URL": running.url}
    running.process, url, _ = await start_serve(running.directory, env)
    assert url == running.url


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


async def test_a_stopped_node_catches_up(federation: list[RunningNode]) -> None:
    assert await wait_until_converged(federation, BOUND_S) is not None
    leeds = federation[3]
    await stop_all([leeds])
    for n in federation[:3] + federation[4:]:
        for i in range(3):
            await write_profile(n, f"while Leeds was down #{i}")
    others = [n for n in federation if n is not leeds]
    assert await wait_until_converged(others, BOUND_S) is not None
    await restart(leeds)
    await write_profile(leeds, "back")
    assert await wait_until_converged(federation, BOUND_S) is not None
    heads = assert_identical(federation, authors=7)
    assert sum(heads.values()) == 14 + 6 * 3 + 1


async def test_separated_groups_converge(federation: list[RunningNode]) -> None:
    assert await wait_until_converged(federation, BOUND_S) is not None
    by_name = {n.name: n for n in federation}
    north = [by_name[k] for k in ("North Region", "Leeds Branch", "York Branch")]
    south = [n for n in federation if n not in north]
    # North goes dark; the south and the national node write.
    await stop_all(north)
    for n in south:
        await write_profile(n, "south side, north dark")
    assert await wait_until_converged(south, BOUND_S) is not None
    # Now the south goes dark and the north comes back alone and writes too.
    await stop_all(south)
    for n in north:
        await restart(n)
        await write_profile(n, "north side, south dark")
    assert await wait_until_converged(north, BOUND_S) is not None
    # Together again.
    for n in south:
        await restart(n)
    took = await wait_until_converged(federation, BOUND_S)
    assert took is not None, [(n.name, n.info.get("heads")) for n in federation]
    heads = assert_identical(federation, authors=7)
    assert sum(heads.values()) == 14 + len(south) + len(north)
