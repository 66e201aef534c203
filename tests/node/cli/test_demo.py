"""`branchnet demo`: converges and exits 0 with --once; stays up until Ctrl-C otherwise;
either way every process it started is stopped."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from pathlib import Path

import aiohttp
import pytest


async def port_closed(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        _, writer = await asyncio.open_connection(host, int(port))
    except OSError:
        return True
    writer.close()
    return False


async def demo(folder: Path, once: bool = False) -> asyncio.subprocess.Process:
    """`branchnet demo [--once] --dir FOLDER` as a child process, its output piped."""
    flags = ["--once"] if once else []
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node", "demo", *flags, "--dir", str(folder), "--timeout", "90",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def until_serving(process: asyncio.subprocess.Process) -> str:
    """What a serving demo printed up to its "Ctrl-C stops every node" (each line within 120 s)."""
    assert process.stdout is not None
    seen = ""
    while "Ctrl-C stops every node" not in seen:
        line = await asyncio.wait_for(process.stdout.readline(), 120)
        assert line, seen
        seen += line.decode()
    return seen


# A minute each (eight node processes through three acts): in the slow suite, which CI runs.
pytestmark = pytest.mark.slow


async def test_demo_once(tmp_path: Path) -> None:
    process = await demo(tmp_path, once=True)
    out, err = await asyncio.wait_for(process.communicate(), 180)
    text = out.decode()
    assert process.returncode == 0, text + err.decode()
    assert "all 8 nodes hold identical heads" in text and "every node stopped" in text
    motion = r"Leeds Branch: motion \d+ carried as amended; its decision [0-9a-f]{16}… is held by all 8 nodes"
    assert re.search(motion, text), text
    # Decisions go up: each weighting rule, each aggregate recounted by every node; a campaign.
    for body, rule in (("North Region", "card_vote"), ("South Region", "one_branch_one_vote"),
                       ("National Committee", "delegates")):  # fmt: skip
        line = rf"{body} \({rule}\): (carried|lost|not_quorate); for \d+, against \d+, abstain \d+; \d of \d children"
        assert re.search(line + r" sent mandates; every node's recount agrees", text), text
    assert "2 branches pledged support, listed on all 8 nodes" in text
    # Members elect: a branch's delegates, and a regional slate counted from every branch's ballots.
    delegates = r"Leeds Branch elected its delegates to North Region by STV: [^(]+, [^(]+ \(\d+ ranked"
    assert re.search(delegates, text), text
    assert re.search(r"North Region selected its executive across 2 branches by STV: [^(]+, [^(]+ \(\d+ ranked "
                     r"ballots, quota \d+.*; all 8 nodes' recounts agree", text), text
    assert "findings: none on any of the 8 nodes" in text  # an honest federation raises no finding
    # Each node's pages: a secretary and an ordinary member to sign in as.
    assert re.search(r"Leeds Branch +http://127\.0\.0\.1:\d+/ +secretary secretary@leeds-branch\.example +member "
                     r"member2@leeds-branch\.example", text), text
    urls = re.findall(r"http://127\.0\.0\.1:\d+", text)
    assert len(set(urls)) == 8
    assert all([await port_closed(u) for u in set(urls)])
    assert len(list(tmp_path.glob("*/node.key"))) == 8  # --dir keeps the node folders
    # A second run on the same folder resumes the federation (its nodes at new ports), and says so.
    again = await demo(tmp_path, once=True)
    out, err = await asyncio.wait_for(again.communicate(), 180)
    text = out.decode()
    assert again.returncode == 0, text + err.decode()
    assert text.count("resumed: ") == 1 and "all 8 nodes hold identical heads" in text, text
    assert "run only in a fresh folder" in text and "findings: none on any of the 8 nodes" in text, text


async def test_demo_stays_up_until_interrupted(tmp_path: Path) -> None:
    process = await demo(tmp_path)
    try:
        seen = await until_serving(process)
        assert process.returncode is None  # still serving
        # Every node's web address and a sign-in that works on its pages.
        password = re.search(r"the same password for both: ([a-z-]+)\)", seen)
        signins = re.findall(r"^  (.+?)\s+(http://127\.0\.0\.1:\d+)/  secretary (secretary@[a-z-]+\.example)"
                             r"  member (member2@[a-z-]+\.example)$", seen, re.M)  # fmt: skip
        assert password and len(signins) == 8, seen
        for _, url, email, member in signins[::3]:
            async with aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.get("/") as r:
                    token = re.search(r'name="csrf" value="([^"]+)"', await r.text())
                assert token
                form = {"csrf": token.group(1), "email": member, "password": password.group(1)}
                async with http.post("/signin", data=form) as r:
                    page = await r.text()
                assert r.status == 200 and "Waiting for you" in page and "For officers" not in page, page[:500]
            async with aiohttp.ClientSession(url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
                async with http.get("/") as r:
                    token = re.search(r'name="csrf" value="([^"]+)"', await r.text())
                assert token
                form = {"csrf": token.group(1), "email": email, "password": password.group(1)}
                async with http.post("/signin", data=form) as r:
                    page = await r.text()
                assert r.status == 200 and "Welcome" in page and re.search(r"Members</a> \(\d+\)", page), page[:500]
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    assert "every node stopped" in rest.decode()
    urls = set(re.findall(r"http://127\.0\.0\.1:\d+", seen))
    assert len(urls) == 8 and all([await port_closed(u) for u in urls])


async def test_the_demo_federation_audits_the_same_from_exports_and_from_urls(tmp_path: Path) -> None:
    """`branchnet demo --once --dir D`, then `branchnet audit` over the exports of every node of
    D and over their URLs while the demo serves: exit 0, and the same totals either way."""
    import json

    from tests.node.cli.test_node_cli import branchnet

    made = await demo(tmp_path, once=True)
    out, err = await asyncio.wait_for(made.communicate(), 180)
    assert made.returncode == 0, out.decode() + err.decode()
    folders = sorted(p.parent for p in tmp_path.glob("*/node.key"))
    assert len(folders) == 8
    serving = await demo(tmp_path)
    try:
        seen = await until_serving(serving)
        urls = sorted(set(re.findall(r"http://127\.0\.0\.1:\d+", seen)))
        assert len(urls) == 8, seen
        by_url = await asyncio.to_thread(branchnet, "audit", *urls, "--json")
        assert by_url.returncode == 0, by_url.stdout[-3000:] + by_url.stderr
        exports = []
        for folder in folders:
            target = tmp_path / f"{folder.name}.bundle"
            done = await asyncio.to_thread(branchnet, "export", "--dir", str(folder), "--out", str(target))
            assert done.returncode == 0, done.stderr
            exports.append(str(target))
        by_file = await asyncio.to_thread(branchnet, "audit", *exports, "--json")
        assert by_file.returncode == 0, by_file.stdout[-3000:] + by_file.stderr
        serving.send_signal(signal.SIGINT)
        await asyncio.wait_for(serving.communicate(), 60)
    finally:
        if serving.returncode is None:
            serving.kill()
            await serving.wait()
    pulled, read = json.loads(by_url.stdout), json.loads(by_file.stdout)
    for key in ("holds", "envelopes", "authors", "kinds", "problems", "bodies", "unchecked"):
        assert pulled[key] == read[key], key
    assert pulled["holds"] and pulled["problems"] == [] and len(pulled["bodies"]) == 8
    assert pulled["kinds"]["aggregate"] >= 3 and pulled["kinds"]["decision"] >= 3
    assert [r["holds"] for r in pulled["recounts"]] == [True] * pulled["kinds"]["aggregate"]
    assert [r["aggregate"] for r in pulled["recounts"]] == [r["aggregate"] for r in read["recounts"]]
