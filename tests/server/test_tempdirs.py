"""The temporary folders of ``modelport serve``: gone when it stops, and when it was killed, gone
at the next server's start (not one folder per crash left in /tmp)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from modelport.deploy.ports import free_port
from modelport.server import tempdirs
from tests.fixtures import script, stop_group, wait_http_ready

pytestmark = pytest.mark.process


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=60)
    return child.pid


def test_only_the_folders_of_servers_that_are_gone_are_removed(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    gone = [tmp_path / f"modelport-metrics-{dead}-ab12", tmp_path / f"modelport-model-dir-{dead}-cd34"]
    kept = [
        tmp_path / f"modelport-metrics-{alive}-ef56",  # its server runs
        tmp_path / "modelport-metrics-x1y2z3w4",  # no pid in the name: not ours to judge
        tmp_path / f"modelport-batch-{dead}-gh78",  # another kind of folder
    ]
    for folder in gone + kept:
        folder.mkdir()
        (folder / "counter_1.db").write_bytes(b"x")
    (tmp_path / f"modelport-metrics-{dead}-file").write_text("a file, not a folder")

    assert sorted(tempdirs.remove_stale(tmp_path)) == sorted(gone)
    assert not any(folder.exists() for folder in gone)
    assert all((folder / "counter_1.db").exists() for folder in kept)
    assert (tmp_path / f"modelport-metrics-{dead}-file").exists()


def _serve(tmp: Path, cwd: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp)}
    cmd = [sys.executable, "-m", "modelport.cli", "serve", "--entry-script", str(script("plain_echo.py"))]
    proc = subprocess.Popen(
        [*cmd, "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_http_ready(proc, f"http://127.0.0.1:{port}/health/ready")
    return proc, port


def _ours(tmp: Path) -> set[str]:
    kinds = ("modelport-metrics-", "modelport-model-dir-")
    return {p.name for p in tmp.iterdir() if p.name.startswith(kinds)}


def test_a_killed_servers_folders_go_at_the_next_start(tmp_path: Path) -> None:
    tmp, cwd = tmp_path / "tmp", tmp_path / "cwd"
    tmp.mkdir()
    cwd.mkdir()
    first, _ = _serve(tmp, cwd)
    try:
        left = _ours(tmp)
        # no --model-dir: an empty model folder, and the workers' counters
        assert {n.split("-")[1] for n in left} == {"metrics", "model"} and len(left) == 2, left
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        stop_group(first)
    assert _ours(tmp) == left  # a SIGKILL leaves them

    second, port = _serve(tmp, cwd)
    try:
        now = _ours(tmp)
        assert not now & left and len(now) == 2, (left, now)
        assert requests.post(f"http://127.0.0.1:{port}/score", data="{}", timeout=30).status_code == 200
    finally:
        stop_group(second)  # SIGTERM: it removes its own
    assert _ours(tmp) == set()
