"""The node killed with SIGKILL while it sends: after a restart each mail is delivered once,
and the server's log shows each mail sent once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from pathlib import Path

from node.rules import accounts
from node.service import Node
from node.storage.members import MemberIn
from tests.node.mail.conftest import Recorder, start_smtp, with_mail
from tests.node.processes import start_serve

MEMBERS = 20
KILL_AT = 8  # the server holds the 8th mail's RCPT: the node dies in the middle of sending it


def sent_lines(log: Path) -> list[dict[str, object]]:
    found = []
    for line in log.read_text().splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if record.get("event") == "mail sent":
                found.append(record)
    return found


async def test_killed_while_sending_each_mail_once_after_restart(node_dir: Path) -> None:
    recorder = Recorder(hold_at=KILL_AT)
    smtp = await start_smtp(recorder)
    try:
        with_mail(node_dir, smtp, retry_s=1, per_minute=6000)
        async with Node.opened(node_dir) as node:
            admin = await node.members.add(MemberIn(name="Admin", email="admin@example.org", role="admin"))
            await node.auth.change_password(admin.id, "x" * 20)  # has a password: not invited
            for i in range(MEMBERS):
                await node.members.add(MemberIn(name=f"Member {i}", email=f"m{i}@example.org"))
            assert await accounts.invite_everyone(node) == MEMBERS  # queued before the server runs
        env = {"BRANCHNET_LOG_FORMAT": "json"}
        serve = await start_serve(node_dir, env)
        try:
            async with asyncio.timeout(60):
                await recorder.held.wait()
            assert len(recorder.received) == KILL_AT - 1
            serve.process.send_signal(signal.SIGKILL)
            await serve.process.wait()
        finally:
            with contextlib.suppress(ProcessLookupError):
                serve.process.kill()
        recorder.release.set()  # the held session ends: its connection died with the node
        async with Node.opened(node_dir) as node:
            counts = await node.outbox.counts()
        assert counts == {"queued": MEMBERS - KILL_AT, "sending": 1, "sent": KILL_AT - 1, "failed": 0}, counts
        serve = await start_serve(node_dir, env)
        try:
            got = await recorder.until(MEMBERS, seconds=90)
            async with Node.opened(node_dir) as node:
                for _ in range(600):  # bounded: until the last is recorded as sent
                    if (await node.outbox.counts())["sent"] == MEMBERS:
                        break
                    await asyncio.sleep(0.1)
                assert (await node.outbox.counts())["sent"] == MEMBERS
        finally:
            serve.process.send_signal(signal.SIGTERM)
            await serve.process.wait()  # stopped: nothing more can be sent
        addresses = [r.to[0] for r in recorder.received]
        assert sorted(addresses) == sorted(f"m{i}@example.org" for i in range(MEMBERS)), addresses  # each once
        assert len({r.message["Message-ID"] for r in got}) == MEMBERS
        lines = sent_lines(serve.stderr_path)
        ids = [line.get("mail_id") for line in lines]
        assert sorted(ids) == sorted(set(ids)) and len(ids) == MEMBERS, lines  # the log: each once
        assert "were being sent when the node stopped" in serve.stderr_path.read_text()
    finally:
        await smtp.stop()
