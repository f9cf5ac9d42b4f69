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
from contextlib import ExitStack, contextmanager
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
    "RayNode",
    "RayTestCluster",
    "ServerProcess",
    "digits_model",
    "digits_model_dir",
    "dws",
    "env_cache",
    "isolated_node",
    "load",
    "location",
    "make_app",
    "ray_head",
    "ray_worker",
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


# -- Ray nodes a test starts: a cluster of its own, or one more node of the package's ----------
ISOLATED_RESOURCE = "isolated"
"""The custom resource an :class:`IsolatedNode` offers (one unit): work asking for it runs there."""

NODE_START_S = 300.0
"""How long a Ray node a test starts may take to join, its tries included."""
NODE_STALL_S = 150.0
"""A try that has not joined by then is stopped, and the node started again. Ray's own waits end
before it (30 s for a raylet to register, 60 s for a GCS that stopped answering): a try that
goes wrong ends by itself, this is the bound for one that hangs."""


@dataclass
class RayNode:
    """A Ray node a test started: ``ray start --block`` in a session of its own, with a temp dir
    of its own, outside the test's process, so nothing Ray does to a process (its fate-sharing, a
    GCS client that gives up and exits the process) reaches the test's. Stopped by PID, never by
    name."""

    temp_dir: Path
    """The node's own folder: its Ray temp dir (``ray/``) and its log (``ray-start.log``)."""
    resource: str
    """A custom resource (one unit) only this node offers: how the test finds the node, and sends
    work there."""
    pid: int | None = None
    """The node's first process: its process group (and session) is the node's."""
    node_id: str = ""
    address: str = ""
    """The cluster's address (its head's GCS), once the node has joined."""

    def _record(self) -> Any:
        from modelport.deploy.cluster import ClusterRecord

        # The node as modelport's own clusters are recorded: its process group and its temp dir.
        return ClusterRecord(name="", address="", owned=True, pid=self.pid, temp_dir=str(self.temp_dir))

    def processes(self) -> list[Any]:
        """The node's processes: its process group, what names its temp dir, their children."""
        from modelport.deploy.cluster import cluster_processes

        return cluster_processes(self._record()) if self.pid is not None else []

    def stop(self, keep_folder: bool = False) -> None:
        """Stop every process of the node (by PID: modelport's own stop of a cluster it started)
        and remove its temp dir (unless ``keep_folder``: the node is started again)."""
        from modelport.deploy.cluster import stop_head

        if self.pid is not None:  # never started: there is no process group to stop (not 0!)
            stop_head(self._record(), keep_folders=keep_folder)

    def kill(self) -> None:
        """SIGKILL every process of the node at once, as when its machine is gone: nothing drains,
        nothing says goodbye to the cluster."""
        import psutil

        procs = self.processes()
        for proc in procs:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=30)


@dataclass
class IsolatedNode(RayNode):
    """A Ray worker node in a mount namespace of its own, where ``hidden`` folders are empty.

    Started by :func:`isolated_node` as ``unshare --mount --propagation private sh -c 'mount
    --bind EMPTY HIDDEN ...; exec ray start --address=... --block'`` in its own session: every
    process of the node (raylet, agents, workers and what they start) inherits the namespace, so
    none of them sees the workspace, the environment cache or the user's home the deploying
    process sees there. The interpreter running Ray (this venv and its base Python) stays visible
    even when it lives under a hidden folder: it is bound back over the empty one.
    """

    hidden: tuple[Path, ...] = ()


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


def _node_env(token: str | None) -> dict[str, str]:
    """A test node's environment: loopback only (Ray's single-machine mode, as modelport's own
    clusters), no usage stats, the cluster's token (as Ray reads it) or no authentication."""
    from modelport.deploy import cluster
    from modelport.deploy.ports import free_port

    env = {k: v for k, v in os.environ.items() if k not in cluster._AUTH_VARS}
    env.update(cluster._RAY_ENV)
    env.update(cluster._OWNED_ENV)  # Ray's single-machine mode: loopback only
    env.update(
        RAY_AUTH_MODE="token" if token else "disabled",
        # Ray's metrics servers default to fixed ports (44217, 44227): every other cluster on this
        # machine logged a bind error for them.
        AUTOSCALER_METRIC_PORT=str(free_port()),
        DASHBOARD_METRIC_PORT=str(free_port()),
    )
    if token:
        env["RAY_AUTH_TOKEN"] = token.strip()
    return env


@contextmanager
def _started(
    node: RayNode,
    ray_start: list[str],
    address: str,
    token: str | None,
    timeout: float,
    hidden: list[Path] | None = None,
) -> Iterator[RayNode]:
    """Run ``ray_start`` (in a mount namespace hiding ``hidden``, when given) in its own session
    until ``node`` has joined the cluster at ``address``, starting it again after a try that
    failed (Ray's fixed waits run out on two busy cores); stopped, every process, at the end."""
    import shutil

    env = _node_env(token)
    log_file = node.temp_dir / "ray-start.log"
    deadline = time.monotonic() + timeout
    argv = ray_start
    if hidden:
        argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c"]
        argv.append(_isolation_script(hidden, node.temp_dir, ray_start))
    try:
        while True:
            with open(log_file, "ab") as out:
                proc = subprocess.Popen(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            node.pid = proc.pid
            found = _wait_for_node(address, token, node.resource, proc, log_file, deadline)
            if found:
                node.node_id, node.address = found, address
                break
            node.stop(keep_folder=True)
            with open(log_file, "a") as out:
                out.write(f"\n-- {time.strftime('%H:%M:%S')}: that try did not join; starting again --\n")
        yield node
    finally:
        node.stop()
        shutil.rmtree(node.temp_dir, ignore_errors=True)


def _wait_for_node(
    address: str,
    token: str | None,
    resource: str,
    proc: subprocess.Popen[bytes],
    log_file: Path,
    deadline: float,
) -> str | None:
    """The new node's id, once ``ray start`` says the node started and the cluster lists it alive
    with ``resource``; None when this try ended or hung (:data:`NODE_STALL_S`) and there is time
    to try again."""
    from ray._raylet import GcsClient  # type: ignore[attr-defined]

    from modelport.deploy import cluster

    token_file = None
    if token:
        token_file = log_file.with_name("token")
        token_file.write_text(token.strip())
        token_file.chmod(0o600)
    tried_from = log_file.stat().st_size if log_file.exists() else 0
    stall = time.monotonic() + NODE_STALL_S
    try:
        while True:
            text = log_file.read_text(errors="replace")
            now = time.monotonic()
            if proc.poll() is not None or now > min(stall, deadline):
                if now < deadline - 60:
                    return None  # (the caller stops what is left of this try)
                why = "exited" if proc.returncode is not None else "did not join in time"
                pytest.fail(f"the Ray node {why}:\n{text[-3000:]}")
            if cluster.STARTED in text[tried_from:]:  # up and registered: ask the cluster its id
                with cluster._driver_settings(address, str(token_file) if token_file else None):
                    infos = GcsClient(address=address).get_all_node_info(timeout=10)
                for node_id, info in infos.items():
                    if int(info.state) == 0 and resource in dict(info.resources_total):
                        return node_id.hex() if hasattr(node_id, "hex") else str(node_id)
            time.sleep(0.5)
    finally:
        if token_file is not None:
            token_file.unlink(missing_ok=True)


@contextmanager
def ray_head(num_cpus: int = 1, timeout: float = NODE_START_S) -> Iterator[RayNode]:
    """A Ray head node of the test's own, on 127.0.0.1, without authentication (a cluster a user
    attaches as it is), every port free; the cluster's address is the node's ``address``."""
    import tempfile

    from modelport.deploy import cluster
    from modelport.deploy.ports import free_port

    temp = Path(tempfile.mkdtemp(prefix="mp-th-"))  # short: Ray's unix socket paths live under it
    node = RayNode(temp_dir=temp, resource=f"node-{temp.name}")
    ports = {
        "--port": free_port(),
        "--ray-client-server-port": free_port(),
        "--node-manager-port": free_port(),
        "--object-manager-port": free_port(),
        "--dashboard-port": free_port(),
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--metrics-export-port": free_port(),
        "--runtime-env-agent-port": free_port(),
    }
    ray_start = [
        cluster._ray_cli(),
        "start",
        "--head",
        "--block",
        f"--node-ip-address={cluster.HOST}",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--num-cpus={num_cpus}",
        f"--resources={json.dumps({node.resource: 1})}",
        f"--temp-dir={temp / 'ray'}",
        *(f"{k}={v}" for k, v in ports.items()),
    ]
    with _started(node, ray_start, f"{cluster.HOST}:{ports['--port']}", None, timeout) as head:
        yield head


@contextmanager
def ray_worker(
    address: str,
    token: str | None = None,
    hidden: list[Path] | None = None,
    num_cpus: int = 1,
    resource: str | None = None,
    timeout: float = NODE_START_S,
) -> Iterator[RayNode]:
    """Join a worker node to the Ray cluster at ``address`` (``token``: its Ray token, given to the
    node as ``RAY_AUTH_TOKEN``, as Ray reads it; None: a cluster without authentication), offering
    ``num_cpus`` and ``{resource: 1}`` (a name of its own by default); stopped (every process, by
    PID) when the block ends. With ``hidden``, an :class:`IsolatedNode` (:func:`isolated_node`)."""
    import tempfile

    from modelport.deploy import cluster
    from modelport.deploy.ports import free_port

    hidden = [Path(h).resolve() for h in hidden or ()]
    for folder in hidden:
        if not folder.is_dir():
            raise ValueError(f"a hidden folder must exist: {folder}")
    temp = Path(tempfile.mkdtemp(prefix="mp-iso-" if hidden else "mp-tw-"))  # short (socket paths)
    if any(temp.is_relative_to(h) for h in hidden):
        raise ValueError(f"the node's temp dir {temp} is under a hidden folder")
    resource = resource or f"node-{temp.name}"
    node: RayNode = (
        IsolatedNode(temp_dir=temp, resource=resource, hidden=tuple(hidden))
        if hidden
        else RayNode(temp_dir=temp, resource=resource)
    )
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
    with _started(node, ray_start, address, token, timeout, hidden) as started:
        yield started


@contextmanager
def isolated_node(
    address: str,
    token: str | None,
    hidden: list[Path],
    num_cpus: int = 1,
    resource: str = ISOLATED_RESOURCE,
    timeout: float = NODE_START_S,
) -> Iterator[IsolatedNode]:
    """Join an :class:`IsolatedNode` to the Ray cluster at ``address`` (a modelport-owned one:
    ``token`` is its Ray token), offering ``{resource: 1}`` and ``num_cpus``; stopped (every
    process, by PID) when the block ends.

    ``hidden``: folders the node must not see (each must exist): the workspace (MODELPORT_HOME),
    the environment cache, the deploying user's home (point HOME at a temp dir in a test, so
    hiding it means something). Needs root and ``unshare`` (util-linux)."""
    if not hidden:
        raise ValueError("an isolated node hides at least one folder")
    with ray_worker(address, token, hidden, num_cpus, resource, timeout) as node:
        assert isinstance(node, IsolatedNode)
        yield node


class RayTestCluster:
    """A Ray cluster of a test's own: a head (:func:`ray_head`) and worker nodes (:func:`ray_worker`),
    each ``ray start --block`` in a session of its own, on 127.0.0.1 without authentication, one
    CPU each by default. Replaces ``ray.cluster_utils.Cluster``, which runs each node inside the
    test's process: there Ray's GCS client, when a new GCS stopped answering during a start on
    busy cores, exited the whole pytest worker (a suite run lost its worker that way), and a start
    could not be tried again. Started again after :meth:`shutdown` if need be."""

    def __init__(self, num_cpus: int = 1) -> None:
        self.num_cpus = num_cpus
        self.head: RayNode | None = None
        self.workers: list[RayNode] = []
        self._stacks: dict[int, ExitStack] = {}

    @property
    def address(self) -> str:
        assert self.head is not None, "the cluster is not started"
        return self.head.address

    @property
    def running(self) -> bool:
        return self.head is not None

    def _enter(self, manager: Any) -> RayNode:
        stack = ExitStack()
        node: RayNode = stack.enter_context(manager)
        self._stacks[id(node)] = stack
        return node

    def start(self, workers: int = 1) -> str:
        """Start the head and ``workers`` worker nodes; the cluster's address."""
        assert self.head is None, "already started"
        self.head = self._enter(ray_head(self.num_cpus))
        for _ in range(workers):
            self.add_worker()
        return self.address

    def add_worker(self) -> RayNode:
        node = self._enter(ray_worker(self.address, num_cpus=self.num_cpus))
        self.workers.append(node)
        return node

    def kill(self, node: RayNode) -> None:
        """The worker ``node``'s machine is gone: every process of it SIGKILLed at once."""
        node.kill()
        self.workers.remove(node)
        self._stacks.pop(id(node)).close()

    def shutdown(self) -> None:
        """Stop every node, workers first (by PID); their folders removed."""
        for node in [*self.workers, *([self.head] if self.head else [])]:
            self._stacks.pop(id(node)).close()
        self.workers.clear()
        self.head = None

    def __enter__(self) -> RayTestCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
