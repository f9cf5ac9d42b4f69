"""How the local target reads a running server's status file (this test process plays the server)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import psutil

from modelport.deploy.targets.local import STATUS_FILE, LocalTarget


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
