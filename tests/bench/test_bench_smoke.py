"""The benchmark's smoke mode, end to end, against modelport's own server only (no comparator installs)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SMOKE_TIMEOUT_S = 240  # the run itself takes well under a minute on 2 idle cores

pytestmark = pytest.mark.process


def _run_bench(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.run", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=SMOKE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)  # the bench stops its servers on SIGTERM
        out, _ = proc.communicate(timeout=30)
        pytest.fail(f"bench --smoke still running after {SMOKE_TIMEOUT_S} s:\n{out[-3000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, None)


def test_smoke_run_writes_sane_results(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = _run_bench(
        ["--smoke", "--servers", "modelport", "--out", str(out), "--cache", str(tmp_path / "cache")], REPO
    )
    assert done.returncode == 0, done.stdout[-3000:]

    for name in ("results.json", "results.md", "results.png"):
        assert (out / name).stat().st_size > 0, name
    assert (out / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    results = json.loads((out / "results.json").read_text())
    assert results["plan"]["smoke"] is True
    assert results["machine"]["cores"] >= 1
    server = results["servers"]["modelport"]
    assert server["error"] is None
    assert all(address.startswith("127.0.0.1:") for address in server["listening"])
    assert 0 < server["cold_start"]["seconds"] < 60
    big = server["big"]
    assert big["rows"] == 200 and len(big["seconds"]) == 5
    assert 0 < big["median_s"] < 30
    assert big["agreement_with_in_process"] == 1.0
    assert 0.8 < big["accuracy"] <= 1.0
    assert [level["concurrency"] for level in server["load"]] == [1, 8, 64]
    for level in server["load"]:
        assert level["ok"] > 0 and level["rps"] > 0, level
        assert 0 < level["p50_ms"] <= level["p99_ms"], level
        assert sum(level["errors"].values()) < level["ok"], level
    for phase in ("idle", "peak_big", "after_big", "after_load"):
        assert 10 < server["memory"][phase]["rss_mb"] < 8192, phase

    markdown = (out / "results.md").read_text()
    assert "| figure | modelport" in markdown and "cold start" in markdown

    for pid, created in server["pids"].items():  # every server process is gone
        assert not (psutil.pid_exists(int(pid)) and psutil.Process(int(pid)).create_time() == created), pid


def test_unknown_server_is_refused(tmp_path: Path) -> None:
    done = _run_bench(["--smoke", "--servers", "nosuch", "--out", str(tmp_path)], REPO)
    assert done.returncode == 2
    assert "unknown server" in done.stdout
