"""`branchnet audit` on a synthetic federation of 1,000,000 envelopes: envelopes/s against the
fastest raw Ed25519 verify on one core, and peak memory.

The generator (no checked-in data) signs a whole federation in worker processes: a national
body charters REGIONS regions, each charters BRANCHES branches; each region tables agenda
items in turn (card vote), and for each item every branch signs a roll, a decision with its
receipts (a secret ballot of its members), a mandate following it and a campaign notice;
the region then signs the aggregate of its branches' mandates. Everything holds: the audit
must say so (exit 0), having checked every signature, every log, every decision against its
roll, and recounted every aggregate from its mandates and rolls.

In the same run, the raw rate: libsodium's and OpenSSL's Ed25519 verify of 20,000 of the same
envelopes' signing inputs with pre-loaded keys on one core, best of three rounds (the faster
library counts). The audit runs as `python -m node audit FILE --json` in a child process; its
peak memory (``peak_rss_mb``) is the largest sum of the proportional resident memory (PSS:
each page shared between processes divided among them) of it and all its workers, sampled
every 50 ms; beside it the same sum of RSS (shared pages counted in each process) and the
main process's own peak (``ru_maxrss``).

    .venv/bin/python bench/audit.py [--envelopes N] [--keep FILE] [--workers N]

``--keep FILE`` keeps the generated bundle (and reuses it when it exists). Targets: ratio >= 1.5
(the audit on both cores against raw verify on one), peak RSS under 300 MB. The last line is
JSON with "ratio" and "peak_rss_mb".
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from nacl.bindings import crypto_sign_open

from protocol import (
    AgendaItem,
    BallotRules,
    Campaign,
    Charter,
    CharterRule,
    Decision,
    Envelope,
    Genesis,
    Mandate,
    Payload,
    Ratio,
    Roll,
    Rules,
    SigningKey,
    seal,
)
from protocol.ballots import ABSTAIN, AGAINST, FOR, records, roll_leaf
from protocol.bundle import MAGIC, record
from protocol.bundle import records as bundle_records
from protocol.encoding import decode_wire
from protocol.envelope import signing_input
from protocol.merkle import root
from protocol.upward import build, text_hash

T0 = 1_767_225_600_000  # 2026-01-01
STEP = 60_000  # one agenda item a minute
REGIONS, BRANCHES = 8, 50
RULES = BallotRules(quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2))


def key(label: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(f"bench audit: {label}".encode()).digest())


class Log:
    """One author's log, signed as it grows."""

    def __init__(self, author: SigningKey, federation: bytes | None) -> None:
        self.author, self.federation = author, federation
        self.last: Envelope | None = None
        self.out: list[bytes] = []

    def sign(self, body: object, created: int) -> Envelope:
        seq = 1 if self.last is None else self.last.seq + 1
        prev = self.last.id if self.last else None
        payload = Payload(author=self.author.public, seq=seq, created=created, body=body,  # type: ignore[arg-type]
                          federation=self.federation, prev=prev)  # fmt: skip
        env = seal(self.author, payload)
        self.last = env
        self.out.append(record(env.raw))
        return env


def genesis() -> Envelope:
    rules = Rules(levels=["national", "region", "branch"], charter_rules=[
        CharterRule(parent="national", child="region"), CharterRule(parent="region", child="branch")],
        weighting="card_vote", quorum=Ratio(num=1, den=4), threshold=Ratio(num=1, den=2))  # fmt: skip
    national = key("national")
    body = Genesis(name="Bench Federation", founder_name="National", founder_level="national", rules=rules)
    return seal(national, Payload(author=national.public, seq=1, created=T0, body=body))


def region_part(region: int, federation: bytes, items: int, path: str) -> int:
    """In a worker: region ``region``'s log and its branches' logs, as bundle records in ``path``."""
    log = Log(key(f"region {region}"), federation)
    branches = [Log(key(f"region {region} branch {b}"), federation) for b in range(BRANCHES)]
    for b, branch in enumerate(branches):
        log.sign(Charter(key=branch.author.public, name=f"Branch {region}-{b}", level="branch",
                         url=f"https://b{region}-{b}.example.org"), T0 + 1000 + b)  # fmt: skip
    members = [20 + (b * 7) % 40 for b in range(BRANCHES)]  # a roll that stays put: 20 to 59 members
    for k in range(items):
        at = T0 + 10_000 + k * STEP
        text = f"Region {region} motion {k}: the branches agree to fund the food bank in the year {2027 + k}."
        item = log.sign(AgendaItem(title=f"Motion {k}", text=text, opens=at + 1000, closes=at + 40_000,
                                   weighting="card_vote", rules=RULES), at)  # fmt: skip
        counted = {}
        for b, branch in enumerate(branches):
            count = members[b]
            ballot = hashlib.sha256(f"{region}/{b}/{k}".encode()).digest()[:16]
            leaves = sorted(roll_leaf(hashlib.sha256(f"{region}/{b}/{m}".encode()).digest(), m) for m in range(count))
            roll = branch.sign(Roll(count=count, root=root(leaves), as_of=at + 100, ballot=ballot), at + 100)
            cast = [FOR] * (count // 2 + 1) + [AGAINST] * (count // 8) + [ABSTAIN] * 2
            votes = [(hashlib.sha256(ballot + bytes([i])).digest()[:16], bytes([c])) for i, c in enumerate(cast)]
            tally = [cast.count(FOR), cast.count(AGAINST), cast.count(ABSTAIN)]
            decided = branch.sign(Decision(
                ballot=ballot, motion=f"m{k}", subject=f"Motion {k}", text_hash=text_hash(text),
                method="for_against_abstain", rules=RULES, electorate=count, roll=roll.id, opened=at + 200,
                closed=at + 900, counts=tally, receipts=records(ballot, votes), outcome="carried", secrecy="secret",
            ), at + 1000)  # fmt: skip
            mandate = branch.sign(Mandate(item=item.id, position="for", basis=decided.id), at + 2000)
            branch.sign(Campaign(title=f"Food bank drive {k}", text="Collecting on Saturdays at the market.",
                                 asks="Volunteers for two hours.", starts=at + 3000), at + 3000)  # fmt: skip
            counted[branch.author.public] = mandate
        weights = {b.author.public: members[i] for i, b in enumerate(branches)}
        log.sign(build(item, weights, counted), at + 41_000)
    with open(path, "wb") as out:
        for part in [log, *branches]:
            out.write(b"".join(part.out))
    return len(log.out) + sum(len(b.out) for b in branches)


def generate(target: Path, envelopes: int, workers: int) -> int:
    per_item = 2 + 4 * BRANCHES
    items = max(1, (envelopes - 1 - REGIONS - REGIONS * BRANCHES) // (REGIONS * per_item))
    gen = genesis()
    national = Log(key("national"), gen.id)
    national.last = gen
    for r in range(REGIONS):
        national.sign(Charter(key=key(f"region {r}").public, name=f"Region {r}", level="region",
                              url=f"https://r{r}.example.org"), T0 + 100 + r)  # fmt: skip
    with tempfile.TemporaryDirectory() as folder, ProcessPoolExecutor(workers) as pool:
        paths = [os.path.join(folder, f"{r}.part") for r in range(REGIONS)]
        counts = list(pool.map(region_part, range(REGIONS), [gen.id] * REGIONS, [items] * REGIONS, paths))
        with open(target, "wb") as out:
            out.write(MAGIC + record(gen.raw) + b"".join(national.out))
            for path in paths:
                with open(path, "rb") as part:
                    while chunk := part.read(1 << 24):
                        out.write(chunk)
    return 1 + len(national.out) + sum(counts)


def sample(path: Path, count: int) -> list[bytes]:
    with open(path, "rb") as f:
        data = f.read(count * 1200)
    view = memoryview(data)
    out = []
    try:
        for offset, size in bundle_records(view):
            out.append(bytes(view[offset : offset + size]))
            if len(out) == count:
                break
    except Exception:  # the last record read may be cut short by the sample's size
        pass
    return out


def raw_rates(raws: list[bytes]) -> tuple[float, float]:
    """libsodium's and OpenSSL's one-core verify rates of these envelopes (keys pre-loaded)."""
    from protocol import open_envelope

    items = []
    for raw in raws:
        _, payload, signature = decode_wire(raw)
        items.append((signing_input(payload), signature, open_envelope(raw).author))
    keys = {a: Ed25519PublicKey.from_public_bytes(a) for _, _, a in items}
    start = time.perf_counter()
    for message, signature, author in items:
        crypto_sign_open(signature + message, author)
    sodium = len(items) / (time.perf_counter() - start)
    start = time.perf_counter()
    for message, signature, author in items:
        keys[author].verify(signature, message)
    openssl = len(items) / (time.perf_counter() - start)
    return sodium, openssl


def tree_memory(pid: int) -> tuple[int, int]:
    """Resident bytes of ``pid`` and every process below it: the sum of their RSS (which counts
    a page shared by several processes, as the workers share their parent's, in each) and of
    their PSS (which divides each shared page among those sharing it: the memory they take)."""
    rss = pss = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1]) * 1024
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1]) * 1024
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return rss, pss


def run_audit(path: Path, workers: int | None) -> tuple[float, int, int, int, dict[str, object]]:
    command = [sys.executable, "-m", "node", "audit", str(path), "--json", "--now-ms", str(T0 + 10**10)]
    if workers is not None:
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    # Files, not pipes: a report larger than a pipe holds would stall the child while we poll.
    with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
        return _measure(command, output, errors, start)


def _measure(command: list[str], output: IO[bytes], errors: IO[bytes], start: float
             ) -> tuple[float, int, int, int, dict[str, object]]:  # fmt: skip
    child = subprocess.Popen(command, cwd=ROOT, stdout=output, stderr=errors)
    peak = peak_rss = 0
    deadline = start + 3600
    while child.poll() is None and time.perf_counter() < deadline:
        rss, pss = tree_memory(child.pid)
        peak, peak_rss = max(peak, pss), max(peak_rss, rss)
        time.sleep(0.05)
    child.wait(timeout=60)
    took = time.perf_counter() - start
    output.seek(0)
    errors.seek(0)
    out, err = output.read(), errors.read()
    own = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # the largest child reaped: the audit
    if child.returncode != 0:
        raise SystemExit(f"the audit exited {child.returncode}: {err.decode()[-2000:]}{out.decode()[-2000:]}")
    return took, peak, peak_rss, own, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envelopes", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None, help="keep the generated bundle here (reused if present)")
    parser.add_argument("--workers", type=int, default=None, help="the audit's --workers (default: one per core)")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory(prefix="bench-audit-")
    path = args.keep or Path(folder.name) / "federation.bundle"
    if not path.exists():
        start = time.perf_counter()
        made = generate(path, args.envelopes, os.cpu_count() or 1)
        took = time.perf_counter() - start
        print(f"generated {made:,} envelopes ({path.stat().st_size / 2**20:,.0f} MiB) in {took:.0f} s")
    raws = sample(path, 20_000)
    rates = [raw_rates(raws) for _ in range(3)]
    sodium, openssl = max(r[0] for r in rates), max(r[1] for r in rates)
    fastest = max(sodium, openssl)
    took, peak, peak_rss, own, report = run_audit(path, args.workers)
    envelopes = int(report["envelopes"])  # type: ignore[call-overload]
    rate = envelopes / took
    print(f"raw Ed25519 verify, one core: libsodium {sodium:,.0f}/s, OpenSSL {openssl:,.0f}/s")
    print(f"audit: {envelopes:,} envelopes in {took:.1f} s = {rate:,.0f}/s ({rate / fastest:.2f} x the fastest raw); "
          f"holds: {report['holds']}; {len(report['problems'])} problems")  # type: ignore[arg-type]
    print(f"peak memory: {peak / 2**20:.0f} MB PSS of the audit and its workers ({peak_rss / 2**20:.0f} MB counting "
          f"shared pages in each); its main process {own / 2**20:.0f} MB")
    if not report["holds"]:
        raise SystemExit(f"the audit found problems in an honest federation: {report['problems'][:5]}")  # type: ignore[index]
    print(json.dumps({"envelopes": envelopes, "seconds": round(took, 2), "audit_per_s": round(rate),
                      "raw_per_s": round(fastest), "raw_sodium_per_s": round(sodium),
                      "raw_cryptography_per_s": round(openssl), "ratio": round(rate / fastest, 3),
                      "peak_rss_mb": round(peak / 2**20), "peak_rss_shared_counted_mb": round(peak_rss / 2**20),
                      "main_rss_mb": round(own / 2**20),
                      "workers": args.workers, "kinds": report["kinds"]}))  # fmt: skip


if __name__ == "__main__":
    main()
