"""`branchnet charter | revoke | freeze | rules | rotate-key | peer | join | joins`: a body acting
in its federation.

These work on the node folder directly, whether or not `branchnet serve` is running (a
running node notices the change within a second and gossips it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import msgspec

from node.cli.common import add_dir, proposed
from node.config import KEY_FILE
from node.errors import BadInput, NodeError, NotFound
from node.federation import authority, rules_change
from node.federation.acts import (
    add_seed_peer,
    approve_join,
    freeze,
    issue_charter,
    join_code,
    join_federation,
    leave_federation,
    refuse_join,
    revoke,
    rotate,
)
from node.gossip.client import HttpTransport, check_url
from node.gossip.engine import PeerError
from node.keyfile import write_new_key
from node.service import Node
from node.storage.members import Member
from node.validation import share
from protocol import Freeze, ProtocolError, SigningKey, node_id_text, parse_node_id
from protocol.authority import rules_text
from protocol.wire import JoinRequest, JoinState


def add_arguments(command: Any) -> None:
    """Register the federation sub-commands on the CLI's ``command(name, run, help)`` helper."""
    c = command("charter", lambda a: _run("charter", _charter, a), "admit a child node (a charter signed by this node)")
    add_dir(c, "the parent's node folder")
    c.add_argument("--node-id", required=True, help="the child's node id (branchnet id --dir CHILD)")
    c.add_argument("--name", required=True, help="the child body's name, as its members know it")
    c.add_argument("--level", required=True, help="its level: one the genesis rules let this node charter")
    c.add_argument("--url", default=None, help="where the child is reached")
    _propose_arguments(c, "charter")

    c = command("revoke", lambda a: _run("revoke", _revoke, a), "revoke a descendant's key")
    add_dir(c)
    c.add_argument("--node-id", required=True, help="the node id of the key to revoke")
    c.add_argument("--after-seq", type=int, default=None,
                   help="keep its envelopes up to this sequence (default: all it signed up to now, held here)")
    c.add_argument("--reason", default="", help="why, in a sentence (signed with the revocation)")
    _propose_arguments(c, "revocation")

    c = command("freeze", lambda a: _run("freeze", _freeze, a),
                "freeze a body below at once (its new envelopes set aside) while its revocation is put to a vote")
    add_dir(c)
    c.add_argument("--node-id", required=True, help="the node id of the body to freeze")
    c.add_argument("--days", type=int, required=True, help="how long, at most the federation's limit (14 by default)")
    c.add_argument("--reason", required=True, help="why, in a sentence: the frozen body's members are shown it")
    c.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the officer acting")

    c = command("rules", lambda a: _run("rules", _rules, a), "show the federation's rules, or propose a change")
    add_dir(c)
    c.add_argument("action", choices=["show", "propose"], help="show: the rules in force and each change put; "
                   "propose: put a change to the founding body's children (the node signs it once carried)")
    for name in ("quorum", "threshold", "amend-quorum", "amend-threshold"):
        c.add_argument(f"--{name}", default=None, metavar="N/D", help=f"the new {name.replace('-', ' ')}, a share")
    c.add_argument("--freeze-days", type=int, default=None, help="the new longest interim freeze, in days")
    c.add_argument("--authority", default=None, metavar="ACTS",
                   help="the acts needing a decision, comma-separated (charter,revocation,...; 'none' for none)")
    c.add_argument("--signed-votes", default=None, metavar="KINDS",
                   help="the kinds of ballot whose every vote is signed by its voter's own key, comma-separated "
                   "(selection,election,motion; 'none' for none)")
    c.add_argument("--signed-consent", default=None, choices=["on", "off"],
                   help="on: every nomination carries its candidate's own signed consent")
    c.add_argument("--closes-in-hours", type=float, default=72.0, help="when the children's mandates close")
    c.add_argument("--as", dest="as_email", default=None, metavar="EMAIL", help="with propose: the officer acting")

    c = command("rotate-key", lambda a: _run("rotate-key", _rotate, a), "hand this body over to a new key")
    add_dir(c)

    c = command("peer", lambda a: _run("peer", _peer, a), "add, list or remove gossip peers")
    peers = c.add_subparsers(dest="peer_action", required=True, metavar="ACTION")
    p = peers.add_parser("add", help="add a peer to gossip with (kept in the node's database)")
    p.add_argument("url", help="the peer's http(s) URL")
    add_dir(p)
    p = peers.add_parser("list", help="list the peers this node knows, and where each came from")
    add_dir(p)
    p = peers.add_parser("remove", help="forget a peer (one learnt from a charter or profile comes back)")
    p.add_argument("url", help="the peer's URL, as `peer list` shows it")
    add_dir(p)

    c = command("join", lambda a: _run("join", _join, a), "join a federation through a parent node")
    add_dir(c)
    c.add_argument("--federation", help="the federation id (64 hex digits), from the parent")
    c.add_argument("--peer", help="the parent's URL (it must serve that federation's genesis)")
    c.add_argument("--request", action="store_true", help="ask the parent for a charter (an officer approves it)")
    c.add_argument("--code", default="", help="with --request: the one-time join code the parent's officers gave you "
                   "(the request passes a full queue)")  # fmt: skip
    c.add_argument("--wait", type=float, default=0,
                   help="with --request: wait this many seconds for the answer (exit 1 if still pending)")  # fmt: skip
    c.add_argument("--undo", action="store_true",
                   help="forget the federation joined, while nothing but its genesis was accepted")  # fmt: skip

    c = command("joins", lambda a: _run("joins", _joins, a), "list, approve or refuse join requests")
    joins = c.add_subparsers(dest="joins_action", required=True, metavar="ACTION")
    p = joins.add_parser("list", help="list join requests (newest last)")
    add_dir(p)
    p = joins.add_parser("code", help="make a one-time join code for a node this body expects (shown once)")
    add_dir(p)
    for action, text in (("approve", "approve a pending request: sign the charter it asks for"),
                         ("propose", "put the charter a pending request asks for to this body's members (where a "
                                     "charter needs their decision: the node signs it once carried)"),
                         ("refuse", "refuse a pending request")):  # fmt: skip
        p = joins.add_parser(action, help=text)
        p.add_argument("id", type=int, help="the request's number, as `joins list` shows it")
        if action == "propose":
            p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL", help="the officer proposing it")
        add_dir(p)


def _run(name: str, work: Any, args: argparse.Namespace) -> int:
    from node.cli.common import run_async

    return run_async(name, lambda: work(args))


def _propose_arguments(c: Any, act: str) -> None:
    c.add_argument("--propose", action="store_true",
                   help=f"put the {act} to this body's members: a ballot on its text, and the node signs it once "
                        "carried (where the federation's rules say it needs their decision, the only way)")  # fmt: skip
    c.add_argument("--as", dest="as_email", default=None, metavar="EMAIL", help="with --propose: the officer acting")


async def _proposer(node: Node, args: argparse.Namespace) -> Member | None:
    if not args.propose:
        return None
    if not args.as_email:
        raise BadInput("--propose needs --as EMAIL: the officer proposing it", field="as")
    record = await node.members.login_record(args.as_email)
    if record is None:
        raise BadInput(f"no member with email {args.as_email}", field="as")
    return record[0]


def _node_id(text: str) -> bytes:
    try:
        return parse_node_id(text)
    except ProtocolError as exc:
        raise BadInput(f"--node-id: {exc.message}") from None


async def _charter(args: argparse.Namespace) -> int:
    child = _node_id(args.node_id)
    async with Node.opened(Path(args.dir)) as node:
        who = await _proposer(node, args)
        if who is not None:
            return proposed(await authority.propose_charter(node, who, child, args.name, args.level, args.url))
        envelope = await issue_charter(node, child, args.name, args.level, args.url)
    print(f"chartered {args.node_id} as {args.name} ({args.level}): envelope {envelope.id.hex()} seq {envelope.seq}")
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    target = _node_id(args.node_id)
    async with Node.opened(Path(args.dir)) as node:
        who = await _proposer(node, args)
        if who is not None:
            return proposed(await authority.propose_revocation(node, who, target, args.after_seq, args.reason))
        envelope = await revoke(node, target, args.after_seq, args.reason)
    print(f"revoked {args.node_id} after seq {args.after_seq}: envelope {envelope.id.hex()}")
    return 0


async def _officer(node: Node, email: str | None) -> Member:
    if not email:
        raise BadInput("--as EMAIL: the officer acting", field="as")
    record = await node.members.login_record(email)
    if record is None:
        raise BadInput(f"no member with email {email}", field="as")
    return record[0]


async def _freeze(args: argparse.Namespace) -> int:
    target = _node_id(args.node_id)
    async with Node.opened(Path(args.dir)) as node:
        envelope = await freeze(node, await _officer(node, args.as_email), target, args.days, args.reason)
    body = envelope.payload.body
    assert isinstance(body, Freeze)
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(body.until / 1000))
    print(f"frozen {args.node_id} after its envelope {body.after_seq}, until {until} unless a revocation its "
          f"parent's members carry cuts it first: envelope {envelope.id.hex()}")  # fmt: skip
    return 0


def _share(text: str, field: str) -> dict[str, int]:
    found = share(text)
    if found is None:
        raise BadInput(f"--{field.replace('_', '-')}: a share as N/D, such as 2/3", field=field)
    return found


async def _rules(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        trust = node.federation_state.trust
        if trust is None:
            raise BadInput("this node holds no federation yet")
        if args.action == "show":
            print(rules_text(trust.rules).removeprefix("Change the federation's rules to: "))
            for since, envelope_id, _ in trust.history[1:]:
                day = time.strftime("%Y-%m-%d", time.gmtime(since / 1000))
                print(f"  changed by the members: {envelope_id.hex()} ({day})")
            for row in await node.rule_changes.recent(10):
                print(f"  put to the children: item {row.item.hex()[:16]}…  {row.state}  {row.why}".rstrip())
            return 0
        changes: dict[str, Any] = {name: _share(getattr(args, name), name)
                                   for name in ("quorum", "threshold", "amend_quorum", "amend_threshold")
                                   if getattr(args, name) is not None}  # fmt: skip
        if args.freeze_days is not None:
            changes["freeze_days"] = args.freeze_days
        if args.authority is not None:
            changes["authority"] = [] if args.authority == "none" else [a.strip() for a in args.authority.split(",")]
        if args.signed_votes is not None:
            kinds = [] if args.signed_votes == "none" else [k.strip() for k in args.signed_votes.split(",")]
            changes["signed_participation"] = kinds or None
        if args.signed_consent is not None:
            changes["signed_consent"] = args.signed_consent == "on"
        if not changes:
            raise BadInput("say what changes: --quorum, --threshold, --amend-quorum, --amend-threshold, "
                           "--freeze-days, --authority, --signed-votes or --signed-consent")  # fmt: skip
        closes = int((time.time() + args.closes_in_hours * 3600) * 1000)
        item = await rules_change.propose(node, await _officer(node, args.as_email), changes, closes)
        print(f"put to the children as agenda item {item.id.hex()}: {item.payload.body.text}")  # type: ignore[union-attr]
        print("once its mandates are in and it is aggregated, this node signs the change if carried under the "
              "amendment rules")  # fmt: skip
    return 0


async def _rotate(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    new_key = SigningKey.generate()
    staged = directory / "node.key.new"
    write_new_key(staged, new_key)  # the new key is on disk before anything is signed
    try:
        async with Node.opened(directory) as node:
            envelope = await rotate(node, new_key)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    old = directory / f"node.key.retired-{int(time.time())}"
    os.replace(directory / KEY_FILE, old)
    os.replace(staged, directory / KEY_FILE)
    print(f"rotated: {node_id_text(envelope.author)} -> {new_key.node_id} (envelope {envelope.id.hex()})")
    print(f"the old key is kept in {old}; restart `branchnet serve` to sign with the new one")
    return 0


async def _peer(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        if args.peer_action == "add":
            try:
                check_url(args.url, allow_private=True)
            except PeerError as exc:
                raise BadInput(str(exc)) from None
            await add_seed_peer(node, args.url)
            print(f"peer {args.url.rstrip('/')} added")
        elif args.peer_action == "remove":
            if not await node.peers.remove(args.url):
                raise NotFound(f"no peer {args.url.rstrip('/')} (see `branchnet peer list`)")
            print(f"peer {args.url.rstrip('/')} removed")
        else:
            for peer in await node.peers.all():
                print(f"{peer.url}  ({peer.source})")
    return 0


async def _join(args: argparse.Namespace) -> int:
    if args.undo:
        async with Node.opened(Path(args.dir)) as node:
            parent = await leave_federation(node)
        print(f"left the federation; {parent or 'no parent'} is no longer a seed peer")
        return 0
    if not args.federation or not args.peer:
        raise BadInput("join needs --federation and --peer (or --undo)")
    try:
        federation = bytes.fromhex(args.federation)
        assert len(federation) == 32
    except (ValueError, AssertionError):
        raise BadInput("--federation is the federation id: 64 hex digits") from None
    async with Node.opened(Path(args.dir)) as node:
        allow_private = node.config.federation.allow_private_peers
        try:
            check_url(args.peer, allow_private)
        except PeerError as exc:
            raise BadInput(f"--peer: {exc}") from None
        transport = HttpTransport(node.key, allow_private=allow_private, timeout_s=10)
        try:
            genesis = await transport.genesis(args.peer, federation)
        except PeerError as exc:
            raise NodeError(f"nothing pinned: {args.peer} does not serve federation {args.federation}: {exc}") from None
        finally:
            await transport.close()
        await join_federation(node, genesis, args.peer)
        print(f"joined federation {args.federation} through {args.peer} (gossip fetches the rest)")
        if args.request:
            await _ask_for_charter(node, args.peer, args.wait, args.code.strip().lower())
    return 0


async def _ask_for_charter(node: Node, parent: str, wait_s: float, code: str = "") -> None:
    if node.config.http.public_url.rstrip("/").endswith(":0"):
        raise BadInput("http.public_url must be where this node is reached before asking for a charter"
                       " (set it in node.toml or BRANCHNET_HTTP_PUBLIC_URL)")  # fmt: skip
    transport = HttpTransport(node.key, allow_private=node.config.federation.allow_private_peers, timeout_s=10)
    config = node.config
    asked = JoinRequest(name=config.node.name, level=config.node.level, url=config.http.public_url, code=code)
    body = msgspec.msgpack.encode(asked)
    try:
        answer = msgspec.msgpack.decode(await transport.request("POST", parent, "/fed/v1/join", body), type=JoinState)
        print(f"join request {answer.id} sent: {answer.status}")
        deadline = time.monotonic() + wait_s
        waiting = ("pending", "voting")  # voting: the parent's members decide on the charter
        while answer.status in waiting and time.monotonic() < deadline:
            await asyncio.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
            data = await transport.request("GET", parent, "/fed/v1/join")
            answer = msgspec.msgpack.decode(data, type=JoinState)
        print(f"join request {answer.id}: {answer.status}" + (f" (charter {answer.charter})" if answer.charter else ""))
        if answer.status == "refused":
            raise NodeError("the parent refused the join request")
        if answer.status in waiting and wait_s > 0:
            raise NodeError(f"still {answer.status} after {wait_s:g} s; `join --request --wait N` again to wait more")
    except PeerError as exc:
        raise NodeError(f"could not ask {parent}: {exc}") from None
    finally:
        await transport.close()


async def _joins(args: argparse.Namespace) -> int:
    async with Node.opened(Path(args.dir)) as node:
        if args.joins_action == "list":
            for join in await node.joins.list():
                ballot = f"  (members' ballot {join.ballot})" if join.status == "voting" else ""
                print(f"{join.id:>4}  {join.status:<8}  {join.level:<8}  {join.name}  {join.node_id}  {join.url}"
                      + ballot)
            return 0
        if args.joins_action == "code":
            code = await join_code(node, None)
            print(f"join code (shown once; valid 7 days; one node): {code}")
            print(f"the expected node asks with: branchnet join --federation ID --peer {node.config.http.public_url}"
                  f" --request --code {code}")  # fmt: skip
            return 0
        if args.joins_action == "refuse":
            await refuse_join(node, args.id, None)  # the same rules as the API (no member: an operator)
            print(f"refused join request {args.id}")
            return 0
        if args.joins_action == "propose":
            return proposed(await authority.propose_join(node, await _officer(node, args.as_email), args.id))
        envelope = await approve_join(node, args.id, None)
        print(f"approved join request {args.id}: charter {envelope.id.hex()}")
        return 0
