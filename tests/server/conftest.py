"""Server fixtures: an in-process app (starlette's TestClient) and a real server subprocess."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.runtime.conftest import SCRIPTS, script

__all__ = ["REPO", "SCRIPTS", "TUTORIAL_SCORE", "script", "wait_until"]

REPO = Path(__file__).resolve().parents[2]
TUTORIAL_SCORE = REPO / "examples" / "mnist" / "score.py"  # the seed tutorial's, unchanged


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.02) -> Any:
    """Poll ``check`` until it returns a truthy value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# -- in process ---------------------------------------------------------------------------------
@dataclass
class InProcess:
    """A ScoringApp in this process, behind starlette's TestClient (lifespan included)."""

    client: Any
    app: Any
    exits: list[tuple[int, str]] = field(default_factory=list)

    def wait_ready(self, timeout: float = 10, headers: dict[str, str] | None = None) -> None:
        wait_until(lambda: self.app.service.ready or self.exits, timeout, "init() in process")


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., InProcess]]:
    """Build and start an in-process app: ``make_app("plain_echo.py", debug=True)``."""
    from starlette.testclient import TestClient

    from modelport.server.app import create_app
    from modelport.server.config import ServerConfig

    clients: list[Any] = []

    def build(name: str | Path, wait: bool = True, **settings: Any) -> InProcess:
        path = name if isinstance(name, Path) else script(name)
        config = ServerConfig.from_mapping({"entry_script": str(path), **settings})
        exits: list[tuple[int, str]] = []
        app = create_app(config, on_exit=lambda code, reason: exits.append((code, reason)))
        client = TestClient(app, raise_server_exceptions=True)
        client.__enter__()
        clients.append(client)
        handle = InProcess(client, app, exits)
        if wait:
            handle.wait_ready()
        return handle

    yield build
    for client in clients:
        client.__exit__(None, None, None)


# -- real server --------------------------------------------------------------------------------
@dataclass
class ServerProcess:
    """``python -m modelport.server`` in its own session, on a port the OS chose."""

    proc: subprocess.Popen[bytes]
    ready_file: Path
    log_file: Path
    stdout_file: Path
    url: str = ""

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                pytest.fail(f"server exited with {self.proc.returncode}:\n{self.output()}")
            return self.ready_file.exists()

        wait_until(ready, timeout, "the server's ready file", interval=0.05)
        info = json.loads(self.ready_file.read_text())
        self.url = f"http://127.0.0.1:{info['port']}"

    def output(self) -> str:
        return self.stdout_file.read_text(errors="replace")

    def log(self) -> str:
        return self.log_file.read_text(errors="replace") if self.log_file.exists() else ""

    def post(self, body: Any = None, **kwargs: Any) -> requests.Response:
        data = json.dumps(body) if isinstance(body, dict | list) else body
        kwargs.setdefault("timeout", 30)
        return requests.post(f"{self.url}/score", data=data, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return requests.get(f"{self.url}{path}", **kwargs)

    def worker_pids(self) -> list[int]:
        import psutil

        return [c.pid for c in psutil.Process(self.proc.pid).children() if c.status() != psutil.STATUS_ZOMBIE]

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """Start a real server: ``start_server("plain_echo.py", "--workers", "2", env={...})``."""
    started: list[ServerProcess] = []

    def start(
        name: str | Path, *args: str, wait: bool = True, env: dict[str, str] | None = None
    ) -> ServerProcess:
        path = name if isinstance(name, Path) else script(name)
        n = len(started)
        ready_file = tmp_path / f"ready-{n}.json"
        log_file = tmp_path / f"server-{n}.log"
        stdout_file = tmp_path / f"stdout-{n}.txt"
        cmd = [sys.executable, "-m", "modelport.server", "--entry-script", str(path), "--port", "0"]
        cmd += ["--ready-file", str(ready_file), "--log-file", str(log_file), *args]
        with open(stdout_file, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=tmp_path,
                env={**os.environ, **(env or {})},
            )
        server = ServerProcess(proc, ready_file, log_file, stdout_file)
        started.append(server)
        if wait:
            server.wait_ready()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def digits_model_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """A small MNIST-like classifier (sklearn's bundled 8x8 digits) saved as the tutorial names it.

    Returns (model_dir, fitted model, test images)."""
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    x = digits.data / 16.0
    y = digits.target
    model = LogisticRegression(max_iter=500).fit(x[:1500], y[:1500])
    folder = tmp_path_factory.mktemp("model")
    joblib.dump(model, folder / "sklearn_mnist_model.pkl")
    return folder, model, x[1500:]
