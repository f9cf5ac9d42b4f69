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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import requests

if TYPE_CHECKING:
    from modelport.runtime import ScoringScript, ScriptLocation

__all__ = [
    "ISOLATED_RESOURCE",
    "REPO",
    "SCRIPTS",
    "TUTORIAL_SCORE",
    "BatchOutcome",
    "InProcess",
    "IsolatedNode",
    "ServerProcess",
    "digits_model",
    "digits_model_dir",
    "dws",
    "env_cache",
    "isolated_node",
    "load",
    "location",
    "make_app",
    "ray_test_cluster",
    "scored_once",
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


def stop_group(proc: subprocess.Popen[Any], grace: float = 30) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started: SIGTERM
    first, so a ``modelport serve`` removes its temporary folders (a SIGKILL left ~70 in /tmp per
    suite run), then SIGKILL for what did not stop within ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    proc.wait(timeout=10)


def wait_http_ready(proc: subprocess.Popen[Any], url: str, timeout: float = 60) -> None:
    """Wait until ``url`` answers 200 (a server's readiness route), failing at once if ``proc``
    (the server) exits first."""

    def ready() -> bool:
        assert proc.poll() is None, f"the server exited with {proc.returncode}"
        try:
            return requests.get(url, timeout=5).status_code == 200
        except requests.RequestException:  # refused, or slow to answer on a busy machine
            return False

    wait_until(ready, timeout, f"{url} to answer 200", interval=0.05)


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
        stop_group(self.proc)


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


# -- batch runs on Ray ----------------------------------------------------------------------------
@dataclass
class BatchOutcome:
    """A finished ParallelRunStep's batch run, as the Ray tests check it."""

    run_id: str
    output: Path
    """Its ``append_row`` output file."""
    rows: list[str]
    """That file's lines."""
    master: str
    """Its ``logs/sys/master_role.txt``: where each worker ran."""

    def ready_on(self, slot: str, node_id: str) -> bool:
        """Whether worker ``slot`` (``node001/process000``) was ready on Ray node ``node_id``."""
        return any(
            " ready: pid " in line and slot in line and f"({node_id[:8]})" in line
            for line in self.master.splitlines()
        )


def scored_once(
    ws: Any, pipeline_run_id: str, key: Callable[[str], Any], expected: Iterable[Any]
) -> BatchOutcome:
    """Check the pipeline's (first) batch run scored every item exactly once: its output's rows,
    each reduced by ``key``, are ``expected`` (each once), and its journal counts no failed item
    and every mini-batch finished."""
    from collections import Counter

    from modelport.jobs.batch import snapshot
    from modelport.registry import runs as registry

    run = registry.children(ws, pipeline_run_id)[0]
    out = Path(registry.get_run(ws, run.id).details["outputFile"])
    rows = out.read_text().splitlines()
    assert Counter(key(row) for row in rows) == Counter(expected), "not every item once"
    progress = snapshot(ws, run.id)
    assert progress.failed_items == 0 and progress.finished_batches == progress.mini_batches, progress
    master = (Path(ws.path) / "runs" / run.id / "logs" / "sys" / "master_role.txt").read_text()
    return BatchOutcome(run.id, out, rows, master)


# -- a Ray node that shares no file system with the deploying machine --------------------------
ISOLATED_RESOURCE = "isolated"
"""The custom resource an :class:`IsolatedNode` offers (one unit): work asking for it runs there."""


RAYLET_REGISTER_S = 300.0
"""How long a node a test starts in its own process (``ray.cluster_utils.Cluster``) may take to
register with the GCS: Ray gives it a fixed 30 s, which two busy cores missed (the head's raylet
of ``test_two_nodes``, in a whole suite run with two spinning processes)."""


@contextmanager
def ray_test_cluster() -> Iterator[None]:
    """Start ``ray.cluster_utils.Cluster`` nodes inside: on this machine alone, and patient.

    ``Cluster()`` would record its address in the machine-wide ``/tmp/ray/ray_current_cluster``
    (where ``ray.init("auto")`` of anyone on this machine would then connect): not from a test. A
    node on 127.0.0.1 keeps that address only in Ray's single-machine mode. And Ray's ``Node`` asks
    ``services.get_node`` until the new raylet is registered, for 30 s (a constant in its code), then
    gives up with "The current node timed out during startup": here each ask waits up to
    :data:`RAYLET_REGISTER_S` for the registration, as ``modelport`` waits for a node it starts
    (``modelport.deploy.cluster``, which starts the node again instead)."""
    import ray._private.ray_constants
    import ray._private.services
    import ray._private.utils

    ask = ray._private.services.get_node

    def patient(gcs_address: str, node_id: str) -> Any:
        deadline = time.monotonic() + RAYLET_REGISTER_S
        while True:
            try:
                return ask(gcs_address, node_id)
            except RuntimeError:  # not registered yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ray._private.utils, "write_ray_address", lambda *_a, **_k: None)
        patch.setenv("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        patch.setattr(ray._private.ray_constants, "ENABLE_RAY_CLUSTER", False)
        patch.setattr(ray._private.services, "get_node", patient)
        yield


@dataclass
class IsolatedNode:
    """A Ray worker node in a mount namespace of its own, where ``hidden`` folders are empty.

    Started by :func:`isolated_node` as ``unshare --mount --propagation private sh -c 'mount
    --bind EMPTY HIDDEN ...; exec ray start --address=... --block'`` in its own session: every
    process of the node (raylet, agents, workers and what they start) inherits the namespace, so
    none of them sees the workspace, the environment cache or the user's home the deploying
    process sees there. The interpreter running Ray (this venv and its base Python) stays visible
    even when it lives under a hidden folder: it is bound back over the empty one.
    """

    pid: int
    """The ``unshare`` process: its process group (and session) is the node's."""
    temp_dir: Path
    """The node's own Ray temp dir (outside every hidden folder); its log is ray-start.log."""
    node_id: str
    hidden: tuple[Path, ...]
    resource: str = ISOLATED_RESOURCE

    def _record(self) -> Any:
        from modelport.deploy.cluster import ClusterRecord

        # The node as modelport's own clusters are recorded: its process group and its temp dir.
        return ClusterRecord(name="", address="", owned=True, pid=self.pid, temp_dir=str(self.temp_dir))

    def processes(self) -> list[Any]:
        """The node's processes: its process group, what names its temp dir, their children."""
        from modelport.deploy.cluster import cluster_processes

        return cluster_processes(self._record())

    def stop(self, keep_folder: bool = False) -> None:
        """Stop every process of the node (by PID, never by name: modelport's own stop of a
        cluster it started) and remove its temp dir (unless ``keep_folder``: the node is started
        again)."""
        from modelport.deploy.cluster import stop_head

        stop_head(self._record(), keep_folders=keep_folder)


_JOIN_ON_LOOPBACK = """
# `ray start --address` for a cluster on 127.0.0.1 (modelport's owned clusters bind loopback only,
# in Ray's single-machine mode). The CLI refuses to join a node in that mode, and, told otherwise,
# rewrites 127.0.0.1 to the machine's network address, where the head does not listen. So this
# process alone passes the check and keeps the address; the node's processes inherit
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 and bind 127.0.0.1 like the head's.
import sys

from ray._private import ray_constants, services

ray_constants.ENABLE_RAY_CLUSTER = True
services.resolve_ip_for_localhost = lambda host: host

from ray.scripts.scripts import main

sys.argv = ["ray", *sys.argv[1:]]
main()
"""


def _kept_visible() -> list[Path]:
    """What the node needs to run Ray: this venv and the Python it was made from."""
    return sorted({Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve()})


def _isolation_script(hidden: list[Path], temp: Path, ray_start: list[str]) -> str:
    import shlex

    q = shlex.quote
    lines = ["set -e"]
    kept = [k for k in _kept_visible() if any(k.is_relative_to(h) for h in hidden)]
    for i, keep in enumerate(kept):  # staged before the folders holding them are hidden
        stage = temp / f"keep{i}"
        stage.mkdir(exist_ok=True)
        lines.append(f"mount --bind {q(str(keep))} {q(str(stage))}")
    for i, folder in enumerate(hidden):
        empty = temp / f"empty{i}"
        empty.mkdir(mode=0o700, exist_ok=True)
        lines.append(f"mount --bind {q(str(empty))} {q(str(folder))}")
    for i, keep in enumerate(kept):
        lines.append(f"mkdir -p {q(str(keep))} && mount --bind {q(str(temp / f'keep{i}'))} {q(str(keep))}")
    lines.append("exec " + " ".join(q(a) for a in ray_start))
    return "\n".join(lines)


@contextmanager
def isolated_node(
    address: str,
    token: str | None,
    hidden: list[Path],
    num_cpus: int = 1,
    resource: str = ISOLATED_RESOURCE,
    timeout: float = 300.0,
) -> Iterator[IsolatedNode]:
    """Join an :class:`IsolatedNode` to the Ray cluster at ``address`` (a modelport-owned one:
    ``token`` is its Ray token, given to the node as ``RAY_AUTH_TOKEN``, as Ray reads it), offering
    ``{resource: 1}`` and ``num_cpus``; stopped (every process, by PID) when the block ends.

    ``hidden``: folders the node must not see (each must exist): the workspace (MODELPORT_HOME),
    the environment cache, the deploying user's home (point HOME at a temp dir in a test, so
    hiding it means something). Needs root and ``unshare`` (util-linux)."""
    import shutil
    import tempfile

    from modelport.deploy import cluster
    from modelport.deploy.ports import free_port

    hidden = [Path(h).resolve() for h in hidden]
    for folder in hidden:
        if not folder.is_dir():
            raise ValueError(f"a hidden folder must exist: {folder}")
    temp = Path(tempfile.mkdtemp(prefix="mp-iso-"))  # short: Ray's unix socket paths live under it
    if any(temp.is_relative_to(h) for h in hidden):
        raise ValueError(f"the node's temp dir {temp} is under a hidden folder")
    ports = {
        "--node-manager-port": free_port(),
        "--object-manager-port": free_port(),
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--metrics-export-port": free_port(),
        "--runtime-env-agent-port": free_port(),
    }
    launcher = temp / "ray_start.py"
    launcher.write_text(_JOIN_ON_LOOPBACK)
    ray_start = [
        sys.executable,
        str(launcher),
        "start",
        f"--address={address}",
        "--block",
        f"--node-ip-address={cluster.HOST}",
        f"--num-cpus={num_cpus}",
        f"--resources={json.dumps({resource: 1})}",
        "--disable-usage-stats",
        f"--temp-dir={temp / 'ray'}",
        *(f"{k}={v}" for k, v in ports.items()),
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
    }
    env.update(
        RAY_USAGE_STATS_ENABLED="0",
        # A node on 127.0.0.1 keeps that address only in Ray's single-machine mode (cluster.py).
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
        RAY_AUTH_MODE="token" if token else "disabled",
    )
    if token:
        env["RAY_AUTH_TOKEN"] = token.strip()
    log_file = temp / "ray-start.log"
    script = _isolation_script(hidden, temp, ray_start)
    node = IsolatedNode(pid=0, temp_dir=temp, node_id="", hidden=tuple(hidden), resource=resource)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with open(log_file, "ab") as out:
                proc = subprocess.Popen(
                    ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            node.pid = proc.pid
            found = _wait_for_node(address, token, resource, proc, log_file, deadline)
            if found:
                node.node_id = found
                break
            # Ray gives a new node's raylet a fixed 30 s to register (cluster.py's _SLOW_START): on
            # 2 busy cores that is not always enough, and a second start succeeds.
            node.stop(keep_folder=True)
        yield node
    finally:
        node.stop()
        shutil.rmtree(temp, ignore_errors=True)


def _wait_for_node(
    address: str,
    token: str | None,
    resource: str,
    proc: subprocess.Popen[bytes],
    log_file: Path,
    deadline: float,
) -> str | None:
    """The new node's id, once the cluster lists it alive with ``resource``; None when Ray gave up
    on a slow start and there is time to try again."""
    from ray._raylet import GcsClient  # type: ignore[attr-defined]

    from modelport.deploy import cluster

    token_file = None
    if token:
        token_file = log_file.with_name("token")
        token_file.write_text(token.strip())
        token_file.chmod(0o600)
    try:
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                text = log_file.read_text(errors="replace")
                slow = proc.returncode is not None and cluster._SLOW_START in text[-3000:]
                if slow and time.monotonic() < deadline - 60:
                    log_file.write_text("")  # the next start's log alone
                    return None
                why = "exited" if proc.returncode is not None else "did not join in time"
                pytest.fail(f"the isolated Ray node {why}:\n{text[-3000:]}")
            with cluster._driver_settings(address, str(token_file) if token_file else None):
                infos = GcsClient(address=address).get_all_node_info(timeout=10)
            for node_id, info in infos.items():
                if int(info.state) == 0 and resource in dict(info.resources_total):
                    return node_id.hex() if hasattr(node_id, "hex") else str(node_id)
            time.sleep(0.5)
    finally:
        if token_file is not None:
            token_file.unlink(missing_ok=True)
