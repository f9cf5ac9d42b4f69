"""``modelport serve``: the real console script, as a user runs it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from .conftest import script

pytestmark = pytest.mark.process

MODELPORT = str(Path(sys.executable).with_name("modelport"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_init_failure_exits_nonzero_with_traceback(tmp_path: Path) -> None:
    started = time.monotonic()
    out = subprocess.run(
        [MODELPORT, "serve", "--entry-script", str(script("init_fails.py")), "--port", str(_free_port())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert time.monotonic() - started < 5
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "Traceback" in text and "init" in text


def test_serve_scores_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    log_file = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [
            MODELPORT,
            "serve",
            "--entry-script",
            str(script("plain_echo.py")),
            "--port",
            str(port),
            "--log-file",
            str(log_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        r = requests.post(f"http://127.0.0.1:{port}/score", data='{"a": 1}', timeout=10)
        assert r.status_code == 200
        assert r.json() == {"echo": {"a": 1}, "type": "str"}
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).text.strip('"') == "Healthy"
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "POST /score 200" in log_file.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
