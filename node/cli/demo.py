"""`branchnet demo`: a small federation of real `branchnet serve` processes on 127.0.0.1.

A national node, two regions, four branches and a youth section. The genesis and the joins go
through the same functions as `branchnet genesis` and `branchnet join`; the genesis lists every
act as its bodies' members' decision (as `branchnet genesis` does by default), so each charter
is put to the parent's members (`branchnet charter --propose`), who carry it, and the parent's
node signs it; every node publishes its profile; then the demo waits until every node holds
identical heads and prints a table. It stops every process it started, on Ctrl-C or, with
``--once``, as soon as the nodes converged (exit 1, with the reason, if they do not
within ``--timeout`` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from node.cli.setup import found_federation, init_node
from node.federation import acts, judging
from node.gossip.client import HttpTransport
from node.rules.passwords import hash_password
from node.service import Node
from node.storage.members import Member, MemberIn
from protocol import NodeProfile, open_envelope, parse_node_id
from protocol.authority import AUTHORITY_ACTS

STARTUP_TIMEOUT_S = 30.0
LAYOUT: list[tuple[str, str, str | None]] = [  # name, level, parent name
    ("National Committee", "national", None),
    ("North Region", "region", "National Committee"),
    ("South Region", "region", "National Committee"),
    ("Leeds Branch", "branch", "North Region"),
    ("York Branch", "branch", "North Region"),
    ("Bristol Branch", "branch", "South Region"),
    ("Exeter Branch", "branch", "South Region"),
    ("Youth Section", "youth", "National Committee"),
]
WORDS = [
    "amber",
    "bridge",
    "candle",
    "delta",
    "ember",
    "fable",
    "garnet",
    "harbour",
    "island",
    "juniper",
    "kettle",
    "lantern",
    "meadow",
    "nectar",
    "orchard",
    "pebble",
    "quill",
    "river",
    "saffron",
    "thistle",
]
DEMO_ENV = {
    "BRANCHNET_FEDERATION_SYNC_INTERVAL_MS": "300",
    "BRANCHNET_FEDERATION_PUSH_INTERVAL_MS": "50",
    "BRANCHNET_LOG_LEVEL": "warning",
}


@dataclass
class RunningNode:
    name: str
    level: str
    parent: str | None
    directory: Path
    process: asyncio.subprocess.Process | None = None
    url: str = ""
    node_id: str = ""
    info: dict[str, Any] = field(default_factory=dict)


async def start_serve(
    directory: Path,
    env: dict[str, str],
    args: tuple[str, ...] = (),
    preexec: Callable[[], None] | None = None,
    log_path: Path | None = None,
) -> tuple[asyncio.subprocess.Process, str, str]:
    """Start `branchnet serve` and read its "listening on URL as NODE_ID" line (its log goes
    to ``log_path``, by default DIRECTORY/serve.log)."""
    log_path = log_path or directory / "serve.log"
    with open(log_path, "ab") as log:  # noqa: ASYNC230 (opened once, handed to the child)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "node", "serve", "--dir", str(directory), *args,
            stdout=asyncio.subprocess.PIPE, stderr=log, env={**os.environ, **env},
            start_new_session=True,  # Ctrl-C reaches the demo, which stops its children itself
            preexec_fn=preexec,
        )  # fmt: skip
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), STARTUP_TIMEOUT_S)).decode()
    except TimeoutError:
        line = ""
    if not line.startswith("branchnet: listening on "):
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        release(process)
        raise RuntimeError(f"{directory.name} did not start; its log says:\n{log_path.read_text()[-2000:]}")
    parts = line.split()
    return process, parts[3], parts[5]


def release(process: asyncio.subprocess.Process) -> None:
    """Close an exited child's transport (its pipes) now: left to the garbage collector, it
    warns about an unclosed transport whenever the loop did not see the pipes' end first."""
    transport = getattr(process, "_transport", None)
    if transport is not None and process.returncode is not None:
        transport.close()


async def stop_all(nodes: list[RunningNode], grace_s: float = 15.0) -> None:
    running = [n.process for n in nodes if n.process is not None and n.process.returncode is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            await asyncio.wait_for(process.wait(), grace_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        release(process)


async def join_federation(directory: Path, federation: bytes, parent_url: str) -> None:
    """What `branchnet join --federation ID --peer URL` does: the parent must serve the genesis."""
    async with Node.opened(directory) as node:
        transport = HttpTransport(node.key, allow_private=True, timeout_s=10)
        try:
            genesis = await transport.genesis(parent_url, federation)
        finally:
            await transport.close()
        await acts.join_federation(node, genesis, parent_url)


async def charter(parent: RunningNode, child: RunningNode, by_vote: bool = True) -> None:
    """What `branchnet charter --propose --as SECRETARY` and the parent's members' votes do (the
    demo's genesis lists every act as its members' decision, as `branchnet genesis` does): the
    parent's members carry the charter, and its node signs it by itself. Without ``by_vote`` (a
    federation whose genesis lists no charter), what `branchnet charter` does."""
    if not by_vote:
        async with Node.opened(parent.directory) as node:
            await acts.issue_charter(node, parse_node_id(child.node_id), child.name, child.level, child.url)
        return
    async with Node.opened(parent.directory) as node:
        secretary = await seed_members(node, parent)
        officer = (await node.auth.create_token(secretary.id, "demo"))[1]
        voters = [(await node.auth.create_token(m.id, "demo"))[1] for m in await node.members.list("active")
                  if m.role == "member"]  # fmt: skip
    async with aiohttp.ClientSession() as http:

        async def call(method: str, path: str, token: str, body: object = None) -> Any:
            async with http.request(method, parent.url + path, json=body,
                                    headers={"Authorization": f"Bearer {token}"}) as r:  # fmt: skip
                if r.status not in (200, 201):
                    raise RuntimeError(f"{parent.name}: {method} {path}: {r.status} {await r.text()}")
                return await r.json()

        proposed = await call("POST", "/api/v1/charters/proposals", officer, {
            "node_id": child.node_id, "name": child.name, "level": child.level, "url": child.url})  # fmt: skip
        for token in voters:
            await call("POST", f"/api/v1/ballots/{proposed['ballot']}/votes", token, {"choice": "for"})
        await call("POST", f"/api/v1/ballots/{proposed['ballot']}/close", officer)
        act = next(a for a in await call("GET", "/api/v1/acts", officer) if a["ballot"] == proposed["ballot"])
        if act["state"] != "signed":
            raise RuntimeError(f"{parent.name}'s charter of {child.name} was not signed: {act}")


DEMO_MEMBERS = ["Amira Haddad", "Tom Okafor", "Siân Davies", "Priya Raman", "Jack O'Neill", "Mei Chen"]


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


async def seed_members(node: Node, running: RunningNode) -> Member:
    """The demo's secretary and members of ``running`` (added once); the secretary."""
    email = f"secretary@{slug(running.name)}.example"
    record = await node.members.login_record(email)
    if record is not None:
        return record[0]
    member = await node.members.add(MemberIn(name=f"{running.name} Secretary", email=email, role="secretary"))
    domain = f"{slug(running.name)}.example"
    rows = [(i, MemberIn(name=name, email=f"member{i + 1}@{domain}", youth=i == 0))
            for i, name in enumerate(DEMO_MEMBERS)]  # fmt: skip
    await node.members.import_all(rows, skip_existing=True)
    return member


async def demo_sign_in(running: RunningNode, password_hash: str) -> str:
    """A secretary who can sign in to the node's pages (the password is the demo's, set anew
    at every run), and a few members to see there; the secretary's email."""
    async with Node.opened(running.directory) as node:
        member = await seed_members(node, running)
        await node.auth.change_password(member.id, password_hash)
        # And an ordinary member, to see the pages as most people will: what waits for them.
        plain = await node.members.login_record(f"member2@{slug(running.name)}.example")
        if plain is not None:
            await node.auth.change_password(plain[0].id, password_hash)
    return member.email


def member_email(running: RunningNode) -> str:
    """The ordinary member :func:`demo_sign_in` gives the demo's password."""
    return f"member2@{slug(running.name)}.example"


DEMO_TEXT = ("This branch gives £200 to the food bank.\n\n"
             "We ask the region to match it.")  # fmt: skip


async def demo_motion(branch: RunningNode, nodes: list[RunningNode], timeout_s: float = 60.0) -> str:
    """In ``branch``: a member proposes a motion, another amends it, the amendment is carried
    and the motion as amended is carried, by the branch's members over the HTTP API; returns a
    line saying what every node holds. RuntimeError if a node does not hold the decision."""
    async with Node.opened(branch.directory) as node:
        members = [m for m in await node.members.list("active")]
        tokens = {m.role: (await node.auth.create_token(m.id, "demo"))[1] for m in members if m.role != "member"}
        voters = [(await node.auth.create_token(m.id, "demo"))[1] for m in members if m.role == "member"]
    officer = tokens["secretary"]
    async with aiohttp.ClientSession(branch.url) as http:

        async def call(method: str, path: str, token: str, body: object = None) -> dict[str, Any]:
            async with http.request(method, path, json=body, headers={"Authorization": f"Bearer {token}"}) as r:
                answer: dict[str, Any] = await r.json()
                if r.status not in (200, 201):
                    raise RuntimeError(f"{method} {path}: {r.status} {answer}")
                return answer

        motion = await call("POST", "/api/v1/motions", voters[0], {"title": "Fund the food bank", "text": DEMO_TEXT})
        await call("POST", f"/api/v1/motions/{motion['id']}/admit", officer)
        amendment = await call("POST", f"/api/v1/motions/{motion['id']}/amendments", voters[1],
                               {"paragraph": 1, "start": 18, "end": 22, "text": "£300"})  # fmt: skip
        steps = [
            (f"/api/v1/amendments/{amendment['id']}/ballot", ["for", "for", "for", "against"]),
            (f"/api/v1/motions/{motion['id']}/ballot", ["for", "for", "against", "abstain", "for"]),
        ]
        for path, choices in steps:
            ballot = await call("POST", path, officer)
            for token, choice in zip(voters, choices, strict=False):
                await call("POST", f"/api/v1/ballots/{ballot['id']}/votes", token, {"choice": choice})
            closed = await call("POST", f"/api/v1/ballots/{ballot['id']}/close", officer)
        state = (await call("GET", f"/api/v1/motions/{motion['id']}", officer))["state"]
    decision = closed["decision"]
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as http:
        for n in nodes:
            while True:
                async with http.get(f"{n.url}/api/v1/envelopes/{decision}") as r:
                    if r.status == 200:
                        open_envelope(await r.read())  # every rule of a decision, checked again here
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{n.name} did not receive the decision within {timeout_s:g} s")
                await asyncio.sleep(0.2)
    return (f"{branch.name}: motion {motion['id']} {state.replace('_', ' ')}; its decision {decision[:16]}… "
            f"is held by all {len(nodes)} nodes and adds up")  # fmt: skip


async def reseed(directory: Path, urls: list[str]) -> None:
    """The node's seed peers become ``urls`` (the others' addresses now; an earlier run's are
    gone), as `branchnet peer add` and `remove` would: the running server reads them within a
    few seconds."""
    async with Node.opened(directory) as node:
        for old in await node.peers.all():
            if old.source == "seed" and old.url not in urls:
                await node.peers.remove(old.url)
        for url in urls:
            await acts.add_seed_peer(node, url)


async def publish_profile(running: RunningNode) -> None:
    """Where the node is reached now; not for a body whose charter was revoked (York, after the
    demo's acts: it signs nothing more, and serves its members the revocation)."""
    async with Node.opened(running.directory) as node:
        if node.federation_state.own_cut() is None:
            await node.own_log.append(NodeProfile(name=running.name, endpoints=[running.url]))


async def build(base: Path, env: dict[str, str], layout: list[tuple[str, str, str | None]] = LAYOUT,
                federation_name: str = "Demo Federation", authority: Sequence[str] | None = AUTHORITY_ACTS
                ) -> list[RunningNode]:  # fmt: skip
    """Create, start, found, join and charter every node of ``layout``; returns them running.
    ``authority``: the acts the genesis makes its bodies' members' decision (None: no list, as a
    federation founded before there were any; the gossip tests count envelopes that way)."""
    nodes = [RunningNode(name, level, parent, base / f"{i:02d}-{name.lower().replace(' ', '-')}")
             for i, (name, level, parent) in enumerate(layout)]  # fmt: skip
    by_name = {n.name: n for n in nodes}
    for n in nodes:
        if not (n.directory / "node.toml").exists():
            with contextlib.redirect_stdout(None):
                await init_node(n.directory, n.name, n.level, "127.0.0.1:0", None, allow_private_peers=True)
    founder = nodes[0]
    fresh = not (founder.directory / "node.db").exists() or (await _federation_of(founder.directory)) is None
    if fresh:
        with contextlib.redirect_stdout(None):
            await found_federation(founder.directory, federation_name,
                                   None if authority is None else list(authority))  # fmt: skip
    # A second run on the same folders resumes: every node's log is its own and nowhere newer (the
    # demo's nodes all stopped together), so each trusts it at once instead of waiting to hear its
    # latest sequence from peers it cannot yet find at their new ports.
    args = () if fresh else ("--trust-local-log",)
    try:
        for n in nodes:
            n.process, n.url, n.node_id = await start_serve(n.directory, env, args)
        federation = await _federation_of(founder.directory)
        assert federation is not None
        if fresh:
            for n in nodes[1:]:
                assert n.parent is not None
                parent = by_name[n.parent]
                await join_federation(n.directory, federation, parent.url)
                await wait_chartered(parent)  # a region charters once it holds its own charter
                await charter(parent, n, by_vote="charter" in (authority or ()))
        for n in nodes:  # where each can be reached now (a resumed node has a new port)
            await publish_profile(n)
        if not fresh:
            for n in nodes:  # and tell each node where the others are, straight away
                await reseed(n.directory, [other.url for other in nodes if other is not n])
    except BaseException:
        await stop_all(nodes)
        raise
    return nodes


async def wait_chartered(running: RunningNode, timeout_s: float = 60.0) -> None:
    """Wait until the node's own database shows it chartered (gossip brought its charter)."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with Node.opened(running.directory) as node:
            if node.federation_state.body(node.key.public) is not None:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{running.name} did not receive its charter within {timeout_s:g} s")
        await asyncio.sleep(0.2)


async def _federation_of(directory: Path) -> bytes | None:
    async with Node.opened(directory) as node:
        return node.federation_state.federation


async def poll(nodes: list[RunningNode], http: aiohttp.ClientSession) -> None:
    for n in nodes:
        try:
            async with http.get(f"{n.url}/api/v1/node", timeout=aiohttp.ClientTimeout(total=5)) as response:
                n.info = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            n.info = {"error": str(exc) or type(exc).__name__}


def converged(nodes: list[RunningNode]) -> bool:
    heads = [n.info.get("heads") for n in nodes]
    return all(h is not None and h == heads[0] for h in heads) and len(heads[0] or {}) >= len(nodes)


def lag(node: RunningNode, nodes: list[RunningNode]) -> int:
    """Envelopes this node lacks compared with the union of every node's heads."""
    best: dict[str, int] = {}
    for other in nodes:
        for author, seq in (other.info.get("heads") or {}).items():
            best[author] = max(best.get(author, 0), seq)
    mine = node.info.get("heads") or {}
    return sum(seq - mine.get(author, 0) for author, seq in best.items())


async def wait_until_converged(nodes: list[RunningNode], timeout_s: float) -> float | None:
    """Seconds until every node holds identical heads, or None after ``timeout_s``."""
    started = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while time.monotonic() - started < timeout_s:
            await poll(nodes, http)
            if converged(nodes):
                return time.monotonic() - started
            for n in nodes:
                if n.process is not None and n.process.returncode is not None:
                    raise RuntimeError(f"{n.name} stopped (exit {n.process.returncode}); see {n.directory}/serve.log")
            await asyncio.sleep(0.25)
    return None


def table(nodes: list[RunningNode]) -> str:
    rows = [("node", "level", "URL", "objects", "peers", "lag")]
    for n in nodes:
        rows.append((n.name, n.level, n.url, str(n.info.get("objects", "?")), str(n.info.get("peers", "?")),
                     str(lag(n, nodes))))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


async def no_findings(nodes: list[RunningNode]) -> str:
    """An honest federation: no node finds anything wrong in what it holds (RuntimeError
    naming what one does)."""
    for n in nodes:
        async with Node.opened(n.directory) as node:  # beside its server, as a command would
            found = await judging.findings(node, limit=20)
        if found:
            listed = "; ".join(f"{f.code} on {f.kind} {f.object.hex()[:16]}… ({f.message})" for f in found)
            raise RuntimeError(f"{n.name} holds findings: {listed}")
    return f"findings: none on any of the {len(nodes)} nodes (every aggregate, roll, decision, paper and result holds)"


async def run_demo(directory: str | None, once: bool, timeout_s: float) -> int:
    base = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="branchnet-demo-"))
    base.mkdir(parents=True, exist_ok=True)
    print(f"branchnet demo: {len(LAYOUT)} nodes in {base}")
    nodes: list[RunningNode] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    resumed = (base / f"00-{LAYOUT[0][0].lower().replace(' ', '-')}" / "node.db").exists()  # as build names it
    try:
        nodes = await build(base, DEMO_ENV)
        print(("resumed: " if resumed else "started: ") + ", ".join(f"{n.name} {n.url}" for n in nodes))
        took = await wait_until_converged(nodes, timeout_s)
        if took is None:
            print(table(nodes))
            print(f"branchnet demo: the nodes did not converge within {timeout_s:g} s", file=sys.stderr)
            return 1
        print(f"\nall {len(nodes)} nodes hold identical heads ({took:.1f} s):\n")
        print(table(nodes))
        password = "-".join(secrets.choice(WORDS) for _ in range(4))
        password_hash = await hash_password(password)
        print(f"\nweb pages: open a node's address and sign in as its secretary, or as a member who is no"
              f" officer (the same password for both: {password})\n")  # fmt: skip
        for n in nodes:
            secretary = await demo_sign_in(n, password_hash)
            print(f"  {n.name:<20} {n.url}/  secretary {secretary}  member {member_email(n)}")
        if resumed:  # the scripted steps assume a fresh federation: the one here goes on as it was
            print(f"\nthis is the demo federation an earlier run left in {base}: its nodes serve again as"
                  " they were; the scripted motions, mandates and elections run only in a fresh folder"
                  " (a new --dir)")  # fmt: skip
            print("\n" + await no_findings(nodes))
            if once:
                return 0
            print("\nthe API is under /api/v1/ (GET /api/v1/node), metrics at /metrics; Ctrl-C stops every node")
            await stop.wait()
            return 0
        branch = next(n for n in nodes if n.level == "branch")
        print("\n" + await demo_motion(branch, nodes, timeout_s))
        from node.cli.demo_upward import demo_upward

        print("\ndecisions go up (a question voted on in every branch, aggregated by the regions and nationally):")
        went_up = await demo_upward(nodes, timeout_s=timeout_s)
        for line in went_up.lines:
            print(f"  {line}")
        from node.cli.demo_elections import demo_elections

        print("\nmembers elect (a branch's delegates, and a regional slate across its branches, by STV):")
        for line in (await demo_elections(nodes, timeout_s=timeout_s)).lines:
            print(f"  {line}")
        from node.cli.demo_acts import demo_acts

        print("\nno lever without a vote (a revocation and a change of the rules, each carried by members):")
        for line in await demo_acts(nodes, went_up, timeout_s=timeout_s):
            print(f"  {line}")
        print("\n" + await no_findings(nodes))
        if once:
            return 0
        print("\nthe API is under /api/v1/ (GET /api/v1/node), metrics at /metrics; Ctrl-C stops every node")
        await stop.wait()
        return 0
    except RuntimeError as exc:
        print(f"branchnet demo: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await stop_all(nodes)
        if directory is None:
            shutil.rmtree(base, ignore_errors=True)
        print("branchnet demo: every node stopped")
