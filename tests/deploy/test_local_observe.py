"""How the local target reads a running server's status file (this test process plays the server)."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import psutil

from modelport.deploy.targets.local import LAUNCH_FILE, STATUS_FILE, LocalTarget


def _handle(root: Path, status: dict[str, Any]) -> dict[str, Any]:
    (root / STATUS_FILE).write_text(json.dumps(status))
    me = psutil.Process(os.getpid())
    return {"pid": me.pid, "create_time": me.create_time(), "port": 1, "root": str(root)}


def test_a_recycling_server_is_not_ready_and_says_why(tmp_path: Path) -> None:
    now = time.time()
    recycle = {"time": now - 1, "pid": 4242, "rss_mb": 301.0, "limit_mb": 256.0}
    status = {"state": "replacing", "ready_workers": 0, "recycles": [recycle], "updated": now}
    seen = LocalTarget().observe(_handle(tmp_path, status))
    assert seen.running and not seen.ready and not seen.failed
    assert seen.reason == "worker 4242 recycled: rss 301 MB > limit 256 MB; its replacement is starting"


def test_a_crashed_worker_being_replaced_is_not_blamed_on_an_old_recycle(tmp_path: Path) -> None:
    now = time.time()
    old = {"time": now - 3600, "pid": 4242, "rss_mb": 301.0, "limit_mb": 256.0}
    status = {"state": "replacing", "ready_workers": 0, "recycles": [old], "updated": now}
    seen = LocalTarget().observe(_handle(tmp_path, status))
    assert not seen.ready
    assert seen.reason is not None and "a worker exited" in seen.reason and "4242" not in seen.reason


def test_a_server_too_busy_to_answer_the_probe_in_time_is_still_ready(tmp_path: Path) -> None:
    """Its status file says it has ready workers and it took the probe's connection: on 2 busy
    cores a loaded server can take longer than the probe's 2 s to answer it (busy, not down).
    A port where nothing listens is not ready, whatever the status file says."""
    (tmp_path / LAUNCH_FILE).write_text(json.dumps({"keys_file": None}))
    status = {"state": "ready", "ready_workers": 1, "recycles": [], "updated": time.time()}
    with socket.socket() as silent:  # accepts connections (the backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        handle = {**_handle(tmp_path, status), "port": silent.getsockname()[1]}
        started = time.monotonic()
        seen = LocalTarget().observe(handle)
        assert seen.running and seen.ready and time.monotonic() - started >= 1.5  # the probe timed out
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # bound, not listening: connections are refused
        seen = LocalTarget().observe({**_handle(tmp_path, status), "port": port})
        assert seen.running and not seen.ready
