"""Creating a node directory, founding a federation, and reading a node's status."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec

from node.cli import backup_crypt
from node.config import CONFIG_FILE, DB_FILE, KEY_FILE, ConfigError, parse_config, render_config
from node.errors import BadInput, Conflict, DatabaseError
from node.federation import judging, upward
from node.keyfile import read_key, write_new_key
from node.serve_lock import serving
from node.service import Node
from node.storage.db import Database, fold_wal, is_node_database
from node.storage.envelopes import EnvelopeStore, store_genesis
from node.storage.federation import FederationStore
from node.storage.members import MemberStore
from protocol import BUNDLE_MAGIC, CharterRule, Genesis, Payload, Ratio, Rules, SigningKey, node_id_text, seal
from protocol.bundle import record


async def init_node(directory: Path, name: str, level: str, listen: str, public_url: str | None,
                    allow_private_peers: bool = False) -> int:  # fmt: skip
    """Create key (0600), config and database in ``directory``; never overwrite a node."""
    existing = [f for f in (CONFIG_FILE, KEY_FILE, DB_FILE) if (directory / f).exists()]
    if existing:
        raise ConfigError(f"{directory} already holds a node ({', '.join(existing)}); refusing to overwrite it")
    url = public_url or f"http://{listen}"
    text = render_config(name, level, listen, url, allow_private_peers)
    parse_config(text, "the new configuration", environ={})  # bad --name/--listen/--public-url stop here
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    created: list[Path] = []
    try:
        key = SigningKey.generate()
        write_new_key(directory / KEY_FILE, key)
        created.append(directory / KEY_FILE)
        db = await Database.open(directory / DB_FILE, create=True)
        created += [directory / DB_FILE, directory / f"{DB_FILE}-wal", directory / f"{DB_FILE}-shm"]
        await db.close()
        config_path = directory / CONFIG_FILE
        with open(config_path, "x", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    print(f"created node {key.node_id} in {directory}")
    print(f'next: branchnet admin create --dir {directory} --name "Your Name" --email you@example.org'
          " (prints the link to choose your password)")  # fmt: skip
    print(f"then: branchnet serve --dir {directory}")
    return 0


def default_rules() -> Rules:
    """The rules a new federation starts with (see docs/federation.md)."""
    return Rules(
        levels=["national", "region", "branch", "youth"],
        charter_rules=[
            CharterRule(parent="national", child="region"),
            CharterRule(parent="region", child="branch"),
            CharterRule(parent="national", child="youth"),
        ],
        weighting="card_vote",
        quorum=Ratio(num=1, den=4),
        threshold=Ratio(num=1, den=2),
    )


async def found_federation(directory: Path, federation_name: str, authority: list[str] | None = None,
                           rules: dict[str, Any] | None = None) -> int:  # fmt: skip
    """Sign the genesis; ``authority``: the acts its bodies sign only with their members'
    carried decision on them (docs/federation.md, "Authority"; None: none); ``rules``: other
    standing rules set apart from the defaults (field: value)."""
    async with Node.opened(directory) as node:
        if node.federation_state.federation is not None:
            raise Conflict("this node already belongs to a federation")
        if await node.envelopes.count() > 0:
            raise Conflict("this node already holds envelopes; a genesis must be its first")
        standing = msgspec.structs.replace(default_rules(), authority=authority, **(rules or {}))
        body = Genesis(name=federation_name, founder_name=node.config.node.name,
                       founder_level=node.config.node.level, rules=standing)  # fmt: skip
        payload = Payload(author=node.key.public, seq=1, created=int(time.time() * 1000), body=body)
        envelope = seal(node.key, payload)
        await store_genesis(node.db, envelope)
    print(f"federation {federation_name!r} founded: {envelope.id.hex()}")
    return 0


async def node_status(directory: Path) -> dict[str, Any]:
    async with Node.opened(directory) as node:
        state = node.federation_state
        now = int(time.time())
        peers = [
            {"url": p.url, "source": p.source, "failures": p.failures, "last_error": p.last_error,
             "last_ok_s_ago": (now - p.last_ok) if p.last_ok is not None else None}
            for p in await node.peers.all()
        ]  # fmt: skip
        seen = [p["last_ok_s_ago"] for p in peers if p["last_ok_s_ago"] is not None]
        counters = await state.store.counters()
        forks, held = await state.store.counts()
        me = state.body(node.key.public)
        flagged = [
            {"object": f.object.hex(), "kind": f.kind, "by": upward.name_of(node, f.author), "code": f.code,
             "message": f.message, "about": f.about.hex() if f.about is not None else None}
            for f in await judging.findings(node, limit=1000)
        ]  # fmt: skip
        return {
            "node_id": node.key.node_id,
            "name": node.config.node.name,
            "level": node.config.node.level,
            "federation": state.federation.hex() if state.federation else None,
            "chartered": me is not None and me.cut is None,
            "objects": sum(h.seq for h in state.heads.values()),
            "heads": {node_id_text(a): h.seq for a, h in sorted(state.heads.items())},
            "peers": peers,
            "lag_s": min(seen) if seen else None,
            "received": counters,
            "quarantine": state.quarantined,
            "forks": forks,
            "set_aside": held,
            "bodies": len(state.trust.bodies) if state.trust else 0,
            "members": await MemberStore(node.db).count(),
            "findings": flagged,
            "findings_total": await node.findings.count(),
        }


async def backup_node(directory: Path, target: Path, to: list[str] | None = None, *, plain: bool = False) -> int:
    """Copy the node's database (members and envelopes) to ``target``, safely while it runs,
    encrypted to the age recipients ``to`` (and those of ``[backup] recipients``); a plain
    copy only with ``plain``.

    The copy is marked so that a node started from it first learns its latest sequence from
    its peers: the node will go on signing after the backup, and must not sign those
    sequence numbers again once restored."""
    if target.exists():
        raise DatabaseError(f"{target} already exists; refusing to overwrite it")
    async with Node.opened(directory) as node:
        readers = backup_crypt.recipients([*(to or []), *node.config.backup.recipients])
        if not readers and not plain:
            raise BadInput("a backup leaves the server and holds every member's details: encrypt it with --to "
                           "RECIPIENT (an age public key, age1...; make a pair with `branchnet backup-key --out "
                           "FILE` and keep that file elsewhere), or write it unencrypted with --plain")  # fmt: skip
        if readers and plain:
            raise BadInput("--plain writes an unencrypted backup: leave it out to encrypt to the recipients given")
        copy = target if plain else directory / f"{DB_FILE}.backup-{os.getpid()}"
        try:
            await node.db.backup(copy)
            check = await Database.open(copy)
            try:
                verdict = await check.integrity_check()
                objects = await EnvelopeStore(check).count()
                members = await MemberStore(check).count()
                await FederationStore(check).set_unconfirmed(True)
                await check.checkpoint()
            finally:
                await check.close()
            if verdict != "ok":
                raise Conflict(f"the backup at {target} failed its integrity check: {verdict}")
            if not plain:
                backup_crypt.encrypt(copy, target, readers)
                os.chmod(target, 0o600)
        finally:
            if not plain:
                for leftover in (copy, copy.with_name(copy.name + "-wal"), copy.with_name(copy.name + "-shm")):
                    leftover.unlink(missing_ok=True)
    sealed = "" if plain else f", encrypted to {len(readers)} recipient{'' if len(readers) == 1 else 's'}"
    print(f"backed up {objects} envelopes and {members} members to {target} (integrity ok{sealed})")
    print(f"also keep a copy of {directory / KEY_FILE} and {directory / CONFIG_FILE} somewhere safe")
    return 0


async def export_node(directory: Path, target: Path) -> int:
    """`branchnet export`: every envelope the node holds, as a bundle (docs/protocol.md
    section 11). Envelopes only: members, logins and ballots' votes never leave the node."""
    if target.exists():
        raise Conflict(f"{target} already exists; refusing to overwrite it")
    partial = target.with_name(target.name + ".partial")
    count = 0
    async with Node.opened(directory) as node:
        try:
            with partial.open("wb") as out:
                out.write(BUNDLE_MAGIC)
                async for batch in node.envelopes.batches():
                    out.write(b"".join(record(raw) for raw in batch))
                    count += len(batch)
                out.flush()
                os.fsync(out.fileno())
            partial.replace(target)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise Conflict(f"cannot write {target}: {exc.strerror}") from None
    print(f"exported {count} envelopes to {target} (check it with: branchnet verify {target})")
    return 0


SQLITE_HEADER = b"SQLite format 3\x00"


def _check_backup_file(source: Path, named: Path | None = None) -> None:
    """Refuse, with one clear line, a file that cannot be a backup: empty, or not SQLite
    (``named``: what the message calls it, when ``source`` is its decrypted copy)."""
    path, source = source, named or source
    try:
        with open(path, "rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise ConfigError(f"cannot read {source}: {exc.strerror}") from None
    if not head:
        raise Conflict(f"{source} is empty: it is not a backup (nothing was restored)")
    if head != SQLITE_HEADER:
        raise Conflict(f"{source} is not a backup made by `branchnet backup` (not an SQLite database)")


async def restore_node(directory: Path, source: Path, *, any_node: bool = False, identity: Path | None = None
                       ) -> int:  # fmt: skip
    """`branchnet restore`: put a backup in place of the node's database.

    Refused while `branchnet serve` runs on the folder; refused for a file that is empty, not
    a branchnet database, fails its integrity check, or is another node's (``any_node`` for a
    deliberate move). The backup is copied beside the database and checked there (the file
    given is never changed), the database it replaces is kept beside it (its WAL folded in),
    and the copy is renamed over it, so a failure leaves the old database as it was. The
    restored node signs nothing until its peers have told it its latest sequence."""
    if serving(directory):
        raise Conflict(f"`branchnet serve` is running on {directory}; stop it before restoring")
    if not (directory / CONFIG_FILE).exists():
        raise ConfigError(f"no {CONFIG_FILE} in {directory}: restore into a node folder (key and config)")
    key = read_key(directory / KEY_FILE)
    staged = directory / f"{DB_FILE}.restoring"
    if backup_crypt.is_encrypted(source):
        if identity is None:
            raise Conflict(f"{source} is encrypted: give --identity FILE, the age identity it was made for "
                           "(nothing was restored)")  # fmt: skip
        staged.unlink(missing_ok=True)
        backup_crypt.decrypt(source, staged, backup_crypt.read_identity(identity))
    else:
        _check_backup_file(source)
        shutil.copyfile(source, staged)
    os.chmod(staged, 0o600)
    try:
        _check_backup_file(staged, source)
        if not is_node_database(staged):
            raise Conflict(f"{source} is an SQLite database but not a branchnet node's")
        check = await Database.open(staged)  # brings the copy to this version's schema
        try:
            verdict = await check.integrity_check()
            objects = await EnvelopeStore(check).count()
            members = await MemberStore(check).count()
            owner = await FederationStore(check).owner()
            if verdict != "ok":
                raise Conflict(f"the backup {source} fails its integrity check: {verdict}")
            if owner != key.public and not any_node:
                whose = (f"node {node_id_text(owner)}'s" if owner is not None
                         else "from a version that did not say which node made it")  # fmt: skip
                raise Conflict(f"{source} is {whose}, not this node's ({key.node_id}); to move a node's members "
                               "and envelopes here deliberately, add --any-node")  # fmt: skip
            await FederationStore(check).set_owner(key.public)
            await FederationStore(check).set_unconfirmed(True)
            await check.checkpoint()
        finally:
            await check.close()
        with open(staged, "rb+") as f:
            os.fsync(f.fileno())
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    current = directory / DB_FILE
    kept: Path | None = None
    if current.exists():
        fold_wal(current)  # the kept file is whole without its WAL
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for n in range(1, 1000):  # two restores in one second keep both databases
            kept = directory / (f"{DB_FILE}.replaced-{stamp}" + (f"-{n}" if n > 1 else ""))
            try:
                os.link(current, kept)  # the old database stays, under a new name, whatever happens next
                break
            except FileExistsError:
                continue
        else:
            staged.unlink(missing_ok=True)
            raise Conflict(f"{directory} holds 999 databases replaced this second; move some away first")
    for suffix in ("-wal", "-shm"):
        (directory / f"{DB_FILE}{suffix}").unlink(missing_ok=True)
    os.replace(staged, current)
    print(f"restored {objects} envelopes and {members} members from {source} into {directory}")
    if kept is not None:
        print(f"the database it replaced is kept as {kept}")
    print("next: branchnet serve: it learns this node's latest sequence from its peers before it signs")
    return 0
