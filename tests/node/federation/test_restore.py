"""Restoring a backup must not fork a federated node.

Back up a node, let it sign once more (its peers get that envelope), restore the backup:
the restored node holds an older head than its peers know. Before it signs anything it
learns its latest sequence from its peers, takes its own newer envelope back, and signs
after it: no fork, no frozen key. Until then every signing path refuses (`catching_up`).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from node.cli.demo import RunningNode, stop_all, wait_until_converged
from node.errors import Unavailable
from node.service import Node
from protocol import NodeProfile
from tests.node.processes import held_everywhere, restart, running, write_profile


@pytest.fixture
async def trio(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    async with running(tmp_path, authority=None) as nodes:  # (charters by an officer: quicker, and beside the point)
        yield nodes


def branchnet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("how", ["branchnet restore", "copy by hand"])
async def test_a_restored_node_learns_its_sequence_before_signing(
    trio: list[RunningNode], tmp_path: Path, how: str
) -> None:
    assert await wait_until_converged(trio, 60) is not None
    north = trio[1]
    backup = tmp_path / "north-backup.db"
    done = await asyncio.to_thread(branchnet, "backup", "--dir", str(north.directory), "--out", str(backup), "--plain")
    assert done.returncode == 0, done.stderr
    after_backup = await write_profile(north, "signed after the backup")
    await held_everywhere(trio, north.node_id, after_backup)  # the peers got it

    await stop_all([north])
    if how == "branchnet restore":
        done = await asyncio.to_thread(branchnet, "restore", "--dir", str(north.directory), "--from", str(backup))
        assert done.returncode == 0, done.stderr
    else:  # what the operating guide used to say: the node stopped, the backup copied over
        for suffix in ("-wal", "-shm"):
            (north.directory / f"node.db{suffix}").unlink(missing_ok=True)
        shutil.copyfile(backup, north.directory / "node.db")
    async with Node.opened(north.directory) as node:
        assert node.federation_state.heads[node.key.public].seq == after_backup - 1  # older than its peers know
        assert await node.federation_state.store.unconfirmed()
        with pytest.raises(Unavailable) as refused:  # no server to learn from: nothing is signed
            await node.own_log.append(NodeProfile(name="North Region", endpoints=[north.url]))
        assert refused.value.code == "catching_up"

    await restart(north)
    seq = await write_profile(north, "the first after the restore")  # waits while the server learns
    assert seq == after_backup + 1  # after what it signed before, not over it
    await held_everywhere(trio, north.node_id, seq)
    assert await wait_until_converged(trio, 60) is not None
    assert all(n.info["forks"] == 0 for n in trio)


async def test_restore_refuses_while_the_node_serves(trio: list[RunningNode], tmp_path: Path) -> None:
    north = trio[1]
    backup = tmp_path / "b.db"
    assert (
        await asyncio.to_thread(branchnet, "backup", "--dir", str(north.directory), "--out", str(backup), "--plain")
    ).returncode == 0
    done = await asyncio.to_thread(branchnet, "restore", "--dir", str(north.directory), "--from", str(backup))
    assert done.returncode == 1 and "stop it before restoring" in done.stderr
    # and a second server on the same folder is refused
    second = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "node", "serve", "--dir", str(north.directory)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode == 2 and "another `branchnet serve` is running" in second.stderr
