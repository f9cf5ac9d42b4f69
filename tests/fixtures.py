"""The tests' one fixture home: paths, helpers and the fixtures more than one folder uses.

``tests/conftest.py`` imports the fixtures from here, so every test folder has them; a folder's own
conftest holds only what that folder uses, and imports from here, never from another folder's
conftest (tests/test_architecture.py checks it). Test modules import the helpers (``script``,
``wait_until``, ``TUTORIAL_SCORE``...) from here too.

- scoring scripts: ``SCRIPTS`` (tests/scripts), ``script(name)``, ``location``, ``load`` (a
  script loaded without a server), ``TUTORIAL_SCORE`` (the seed tutorial's score.py);
- servers: ``make_app`` (an in-process app behind starlette's TestClient), ``start_server`` (a
  real ``python -m modelport.server`` subprocess in its own session), ``digits_model_dir``;
- deployments: ``digits_model`` (a real scikit-learn model), ``env_cache``, ``dws`` (a workspace
  whose services are deleted at teardown), ``sk_env`` (an environment pinning this scikit-learn).
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import requests

if TYPE_CHECKING:
    from modelport.runtime import ScoringScript, ScriptLocation

__all__ = [
    "REPO",
    "SCRIPTS",
    "TUTORIAL_SCORE",
    "InProcess",
    "ServerProcess",
    "digits_model",
    "digits_model_dir",
    "dws",
    "env_cache",
    "load",
    "location",
    "make_app",
    "script",
    "sk_env",
    "start_server",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "tests" / "scripts"
"""The shared fake scoring scripts."""
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


def script(name: str) -> Path:
    """A fake scoring script from tests/scripts."""
    return SCRIPTS / name


def location(path: Path) -> ScriptLocation:
    """Where a script in a folder of its own lives (no model dir)."""
    from modelport.runtime import ScriptLocation

    return ScriptLocation(path, None, path.parent, None)


def load(path: Path) -> ScoringScript:
    """Load a script and call its init()."""
    from modelport.runtime import ScoringScript

    loaded = ScoringScript.load(location(path))
    loaded.init()
    return loaded


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


# -- deployments -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def digits_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """A LogisticRegression on scikit-learn's bundled digits, saved like the tutorial's model."""
    import joblib
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    x, y = load_digits(return_X_y=True)
    clf = LogisticRegression(max_iter=300).fit(x[:1200] / 16.0, y[:1200])
    folder = tmp_path_factory.mktemp("model")
    path = folder / "sklearn_mnist_model.pkl"
    joblib.dump(clf, path)
    test_x = x[1200:1300] / 16.0
    return path, test_x, clf.predict(test_x)


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("envcache")


@pytest.fixture
def dws(home: Path, env_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # type: ignore[type-arg]
    """A workspace whose services are all deleted (processes stopped) at teardown."""
    from modelport.deploy import engine
    from modelport.workspace import Workspace

    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(env_cache))
    ws = Workspace.create("deployws")
    yield ws
    for name in engine.names(ws):
        engine.delete(ws, name, missing_ok=True)


@pytest.fixture
def sk_env():  # type: ignore[no-untyped-def]
    """An environment pinning this interpreter's scikit-learn, as train.py does."""
    import joblib
    import sklearn

    from modelport.core.conda_dependencies import CondaDependencies
    from modelport.core.environment import Environment

    env = Environment("sk-env")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=[f"scikit-learn=={sklearn.__version__}", f"joblib=={joblib.__version__}"],
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
    )
    return env


# -- the MNIST files ---------------------------------------------------------------------------------
MNIST = REPO / "modelport" / "opendatasets" / "data" / "mnist"


def load_mnist(name: str, label: bool = False) -> np.ndarray:
    """An idx file of the MNIST files modelport ships, read with the tutorial's own loader."""
    sys.path.insert(0, str(REPO / "examples" / "mnist"))
    try:
        from utils import load_data
    finally:
        sys.path.pop(0)
    return load_data(MNIST / name, label)


def head_images(name: str, count: int) -> np.ndarray:
    """The first ``count`` images of an idx file, decompressing only what they need (the whole
    training file is 47 MB unpacked; load_data reads all of it)."""
    with gzip.open(MNIST / name, "rb") as f:
        magic, _n, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051 and rows * cols == 784
        data = f.read(count * 784)
    return np.frombuffer(data, dtype=np.uint8).reshape(count, 784)
