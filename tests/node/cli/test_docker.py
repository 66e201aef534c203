"""The Docker image's promises, checked without a Docker daemon: the Dockerfile's shape and
the entrypoint that initialises an empty data volume on first start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def instructions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.setdefault(word, []).append(rest.strip())
    return found


def test_dockerfile_shape() -> None:
    found = instructions()
    assert found["FROM"] == ["python:3.11-slim"]
    assert found["USER"] == ["branchnet"]  # not root
    assert found["VOLUME"] == ['["/data"]']
    assert found["CMD"] == ['["branchnet", "serve", "--dir", "/data"]']
    assert "/healthz" in found["HEALTHCHECK"][0]


def test_entrypoint_initialises_once_then_runs_the_command(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "BRANCHNET_DATA": str(data), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    script = str(ROOT / "docker-entrypoint.sh")
    missing = subprocess.run(["sh", script, "true"], env=env, capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "set BRANCHNET_NODE_NAME" in missing.stderr
    env["BRANCHNET_NODE_NAME"] = "Docker Branch"
    first = subprocess.run(["sh", script, "echo", "served"], env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert "created node" in first.stdout and first.stdout.strip().endswith("served")
    key = (data / "node.key").read_bytes()
    again = subprocess.run(["sh", script, "echo", "served"], env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout.strip() == "served"  # no second init
    assert (data / "node.key").read_bytes() == key
