"""The running node: its configuration, key, database and stores, opened and closed together."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from node.config import DB_FILE, KEY_FILE, Config, load_config
from node.federation.ingest import Federation
from node.federation.own_log import OwnLog
from node.federation.quarantine import QuarantineLimits
from node.keyfile import read_key
from node.rules.throttle import LoginThrottle, SigningThrottle
from node.serve_lock import serving as server_holds
from node.storage.access import AccessStore
from node.storage.acts import ActStore, RuleChangeStore
from node.storage.ballots import BallotStore
from node.storage.db import Database
from node.storage.elections import CandidacyStore
from node.storage.envelopes import EnvelopeStore
from node.storage.findings import FindingStore
from node.storage.joins import JoinLimits, JoinStore
from node.storage.logins import AuthStore
from node.storage.member_keys import MemberKeyStore, ScrutineerStore
from node.storage.members import MemberStore
from node.storage.members_data import MembersData
from node.storage.motions import MotionStore
from node.storage.outbox import OutboxStore
from node.storage.peers import PeerStore
from node.storage.upward import UpwardStore
from protocol import SigningKey


@dataclass
class Node:
    directory: Path
    config: Config
    key: SigningKey
    db: Database
    members: MemberStore
    auth: AuthStore
    envelopes: EnvelopeStore
    own_log: OwnLog
    throttle: LoginThrottle
    reset_throttle: LoginThrottle  # "forgot password": 3 links an hour per account, 10 per address
    federation_state: Federation
    joins: JoinStore
    peers: PeerStore
    ballots: BallotStore
    motions: MotionStore
    upward: UpwardStore
    findings: FindingStore
    candidacies: CandidacyStore
    outbox: OutboxStore
    access: AccessStore
    acts: ActStore
    rule_changes: RuleChangeStore
    members_data: MembersData
    member_keys: MemberKeyStore
    scrutineers: ScrutineerStore

    @classmethod
    async def open(cls, directory: Path, clock: Callable[[], float] = time.time, *, serving: bool = False) -> Node:
        """Open an initialised node directory (config, key, database). Raises ConfigError,
        KeyFileError or DatabaseError with a message naming what is wrong."""
        config = load_config(directory)
        key = read_key(directory / KEY_FILE)
        db = await Database.open(directory / DB_FILE, serving=serving)
        members = MemberStore(db)
        federation = Federation(
            db,
            key.public,
            clock=clock,
            verify_threads=config.federation.verify_threads,
            verify_processes=config.federation.verify_processes,
            quarantine=QuarantineLimits(
                max_count=config.federation.quarantine_max,
                max_bytes=config.federation.quarantine_max_bytes,
                unknown_percent=config.federation.quarantine_unknown_percent,
                ttl_s=config.federation.quarantine_hours * 3600,
            ),
        )
        try:
            await federation.load()
            if await federation.store.owner() != key.public:  # once: backups then say whose they are
                await federation.store.set_owner(key.public)
        except BaseException:
            federation.close()
            await db.close()
            raise
        own_log = OwnLog(db, key, clock, federation, server_running=lambda: server_holds(directory))
        own_log.signing = SigningThrottle(time.monotonic, per_hour=config.auth.member_signatures_per_hour,
                                          per_day=config.auth.member_signatures_per_day)  # fmt: skip
        return cls(
            directory=directory,
            config=config,
            key=key,
            db=db,
            members=members,
            auth=AuthStore(db, members, clock),
            envelopes=EnvelopeStore(db),
            peers=PeerStore(db),
            ballots=BallotStore(db),
            motions=MotionStore(db),
            upward=UpwardStore(db),
            findings=FindingStore(db),
            candidacies=CandidacyStore(db),
            outbox=OutboxStore(db, clock),
            access=AccessStore(db, clock),
            acts=ActStore(db),
            rule_changes=RuleChangeStore(db),
            members_data=MembersData(db, clock),
            member_keys=MemberKeyStore(db, clock),
            scrutineers=ScrutineerStore(db, clock),
            own_log=own_log,
            throttle=LoginThrottle(
                window_s=config.auth.login_window_minutes * 60.0,
                per_account=config.auth.login_failures_per_account,
                per_address=config.auth.login_failures_per_address,
            ),
            reset_throttle=LoginThrottle(window_s=3600.0, per_account=3, per_address=10),
            federation_state=federation,
            joins=JoinStore(
                db,
                JoinLimits(
                    pending_max=config.federation.joins_pending_max,
                    per_address=config.federation.joins_per_address,
                    ttl_s=config.federation.join_hours * 3600,
                ),
            ),
        )

    @classmethod
    @contextlib.asynccontextmanager
    async def opened(cls, directory: Path) -> AsyncIterator[Node]:
        """``async with Node.opened(directory) as node:`` — what every command does: open,
        work, close whatever happens."""
        node = await cls.open(directory)
        try:
            yield node
        finally:
            await node.close()

    async def close(self) -> None:
        await self.access.flush()  # accesses still gathering: written before the database closes
        await self.own_log.stop()
        self.federation_state.close()
        await self.db.close()
