"""The status file: the supervisor's own account of its state (a real server process)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import wait_until

pytestmark = pytest.mark.process

KEYS = {
    "pid",
    "port",
    "workers",
    "ready_workers",
    "state",
    "recycles",
    "restarts",
    "last_init_error",
    "updated",
}


def read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def status_when(path: Path, check: Any, what: str, timeout: float = 30) -> dict[str, Any]:
    def ok() -> dict[str, Any] | None:
        status = read(path)
        return status if status is not None and check(status) else None

    return wait_until(ok, timeout, what, interval=0.05)


def test_ready_then_stopped(start_server, tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    server = start_server("plain_echo.py", "--workers", "2", "--status-file", str(path))
    status = status_when(path, lambda s: s["ready_workers"] == 2, "two ready workers")
    assert set(status) == KEYS
    assert status["state"] == "ready" and status["workers"] == 2
    assert status["pid"] == server.proc.pid
    assert f":{status['port']}" in server.url
    assert status["recycles"] == [] and status["restarts"] == 0 and status["last_init_error"] is None
    os.killpg(server.proc.pid, signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0
    final = read(path)
    assert final is not None and final["state"] == "stopped" and final["ready_workers"] == 0


def test_init_failure_is_failed_with_the_users_traceback(start_server, tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    server = start_server("init_fails.py", "--status-file", str(path), wait=False)
    assert server.proc.wait(timeout=60) == 3
    status = read(path)
    assert status is not None and status["state"] == "failed" and status["ready_workers"] == 0
    error = status["last_init_error"]
    assert error["type"] == "RuntimeError"
    assert error["message"] == "model file is corrupt: cannot load weights"
    assert "Traceback" in error["traceback"] and "load_weights" in error["traceback"]
    assert "init_fails.py" in error["traceback"]


def test_killed_worker_counts_a_restart(start_server, tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    server = start_server("plain_echo.py", "--status-file", str(path))
    status_when(path, lambda s: s["state"] == "ready", "ready")
    (worker,) = server.worker_pids()
    os.kill(worker, signal.SIGKILL)
    status = status_when(path, lambda s: s["restarts"] == 1 and s["ready_workers"] == 1, "a respawned worker")
    assert status["state"] == "ready"


def test_recycle_is_recorded(start_server, tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    server = start_server("grow.py", "--status-file", str(path), "--max-worker-memory-mb", "150")
    status_when(path, lambda s: s["state"] == "ready", "ready")
    for _ in range(4):
        if server.post("{}").status_code != 200:
            break
        if (read(path) or {}).get("recycles"):
            break
    status = status_when(path, lambda s: s["recycles"] and s["ready_workers"] == 1, "a recycle")
    (recycle,) = status["recycles"][:1]
    assert set(recycle) == {"time", "pid", "rss_mb", "limit_mb"}
    assert recycle["limit_mb"] == 150 and recycle["rss_mb"] > 150
    assert status["restarts"] >= 1


def test_a_server_whose_ready_workers_all_ended_is_replacing(tmp_path: Path) -> None:
    from modelport.server.status import StatusReporter

    reporter = StatusReporter(tmp_path / "status.json", workers=1, port=5001)
    assert reporter.snapshot().state == "starting"
    reporter._apply({"event": "ready", "pid": 11})
    assert reporter.snapshot().state == "ready"
    reporter._apply({"event": "recycle", "pid": 11, "time": 1.0, "rss_mb": 300.0, "limit_mb": 256.0})
    assert reporter.snapshot().state == "replacing"  # not "starting": it was ready
    reporter._apply({"event": "ready", "pid": 12})
    assert reporter.snapshot().state == "ready"
