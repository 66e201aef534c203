"""10,000 notices sent through a local SMTP server while members read: do reads suffer?

Three processes on 127.0.0.1 (OS-chosen ports): an SMTP server (aiosmtpd, counting what it
accepts), a real `branchnet serve` on a fresh node of 10,000 members with ``[mail]`` pointing
at it (no rate limit), and this process, the load generator. It measures, in one run:

* idle: member reads (``GET /api/v1/members/{id}`` with an API token, C connections) for S
  seconds with nothing to send: their p99;
* busy: 10,000 ballot notices queued in one transaction (as opening a ballot on a roll of
  10,000 does), then the same reads while the node sends them all: their p99, and how long
  the sending took.

    .venv/bin/python bench/mail.py [--members N] [--seconds S] [--connections C]

The last line is JSON: {"mails", "send_s", "mails_per_s", "idle_p99_ms", "busy_p99_ms",
"ratio", ...}. Target: ratio (busy p99 / idle p99) <= 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from node.cli.demo import start_serve
from node.cli.setup import found_federation, init_node
from node.service import Node
from node.storage import outbox
from node.storage.members import MemberIn

SMTP_SERVER = """
import asyncio, sys
from aiosmtpd.smtp import SMTP
class Count:
    accepted = 0
    async def handle_DATA(self, server, session, envelope):
        Count.accepted += 1
        return "250 OK"
async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Count()), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def reads(url: str, token: str, ids: list[int], seconds: float, connections: int) -> list[float]:
    """Member reads for ``seconds`` over ``connections`` connections: each one's time (ms)."""
    times: list[float] = []
    stop = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=connections)) as http:

        async def worker(k: int) -> None:
            i = k
            while time.perf_counter() < stop:
                started = time.perf_counter()
                async with http.get(f"/api/v1/members/{ids[i % len(ids)]}", headers=headers) as r:
                    await r.read()
                    assert r.status == 200, r.status
                times.append((time.perf_counter() - started) * 1000)
                i += connections

        await asyncio.gather(*(worker(k) for k in range(connections)))
    return times


def p99(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[int(len(ordered) * 0.99)]


async def sent(url: str, token: str) -> int:
    async with aiohttp.ClientSession(url) as http, http.get(
            "/api/v1/outbox?limit=1", headers={"Authorization": f"Bearer {token}"}) as r:  # fmt: skip
        return int((await r.json())["counts"]["sent"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0, help="idle reads last this long")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()

    smtp = await asyncio.create_subprocess_exec(sys.executable, "-c", SMTP_SERVER, stdout=asyncio.subprocess.PIPE)
    assert smtp.stdout is not None
    port = int((await smtp.stdout.readline()).decode())
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "node"
        await init_node(directory, "Bench Branch", "branch", "127.0.0.1:0", None)
        await found_federation(directory, "Bench Federation")
        with (directory / "node.toml").open("a") as f:
            f.write(f'\n[mail]\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\nsecurity = "none"\n'
                    f'from = "Bench <bench@example.org>"\nper_minute = 100000\n')  # fmt: skip
        async with Node.opened(directory) as node:
            officer = await node.members.add(MemberIn(name="Officer", email="officer@example.org", role="secretary"))
            _, token = await node.auth.create_token(officer.id, "bench")
            rows = [(i + 2, MemberIn(name=f"Member {i}", email=f"m{i}@example.org")) for i in range(args.members)]
            await node.members.import_all(rows)
            ids = [m.id for m in await node.members.list("active")]
        serve, url, _ = await start_serve(directory, {"BRANCHNET_LOG_LEVEL": "warning"})
        try:
            await reads(url, token, ids, 1.0, args.connections)  # warm up
            idle = await reads(url, token, ids, args.seconds, args.connections)
            params = {"subject": "Fund the food bank", "closes": "Friday", "url": f"{url}/ballots/1"}
            now = int(time.time())
            # As a ballot opening on this roll queues them: in one transaction.
            async with Node.opened(directory) as node, node.db.write("bench.queue") as conn:
                for member_id in ids[1:]:
                    await outbox.queue(conn, member_id, "ballot_opened", params, now, f"bench:{member_id}")
            queued = len(ids) - 1
            started = time.perf_counter()
            busy: list[float] = []
            while await sent(url, token) < queued and time.perf_counter() - started < 1800:
                busy += await reads(url, token, ids, 2.0, args.connections)
            send_s = time.perf_counter() - started
            done = await sent(url, token)
        finally:
            serve.terminate()
            await serve.wait()
            smtp.terminate()
            await smtp.wait()
    result = {
        "mails": done,
        "queued": queued,
        "send_s": round(send_s, 1),
        "mails_per_s": round(done / send_s, 1),
        "idle_reads": len(idle),
        "busy_reads": len(busy),
        "idle_p99_ms": round(p99(idle), 2),
        "busy_p99_ms": round(p99(busy), 2),
        "ratio": round(p99(busy) / p99(idle), 2),
        "cpus": os.cpu_count(),
    }
    print(f"sent {done} of {queued} notices in {send_s:.1f} s; member reads' p99 {result['idle_p99_ms']} ms idle, "
          f"{result['busy_p99_ms']} ms while sending (x{result['ratio']}; target <= 2)")  # fmt: skip
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
