"""The files a service's processes hand each other, typed, in one place.

A deployment crosses process boundaries through a few JSON files: the engine
(``modelport.deploy``) writes the scoring server's settings and its keys, the server
(``modelport.server``) reads them and writes its status back. Each file is one dataclass here,
with ``to_json``/``from_json``; neither side reads a key by its name. What a reader does with a
field it does not know, or one that is missing, is decided per file, by who may have written it:

=================  =======================  ================  =====================  ==================
file               written by               read by           unknown field          missing field
=================  =======================  ================  =====================  ==================
server settings    the engine, a person     the server        refused, named         the default
status file        the server's supervisor  the local target  ignored (a newer one)  the default
ready file         the server's worker      anyone            ignored                refused
keys file          the SDK, the studio      server and SDK    ignored                empty: not set
=================  =======================  ================  =====================  ==================

Server settings come from a person too (``modelport serve --config``), so a misspelt name is an
error that names it. The status file may come from a server of another modelport version (a
service started before an upgrade), so its reader takes what it knows and defaults the rest.
Key files are written whole (``modelport.keys``); an empty key is not set and never matches.

Example::

    settings = ServerSettings(entry_script=Path("score.py"), workers=2)
    settings.write(folder / "server.json", relative_to=folder)
    ServerSettings.from_json_file(folder / "server.json").workers      # 2
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from modelport.errors import InvalidInputError

__all__ = [
    "InitError",
    "ReadyFile",
    "Recycle",
    "ServedModel",
    "ServerSettings",
    "ServiceKeys",
    "ServiceState",
    "ServiceStatus",
    "write_atomic",
]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: a reader sees the
    old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _object(text: str | bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidInputError(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{what} must hold a JSON object")
    return data


# -- server settings ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ServedModel:
    """A registered model a service serves (the Open Inference routes answer to its name)."""

    name: str
    version: str


_PATHS = frozenset(
    {
        "entry_script",
        "model_dir",
        "source_directory",
        "app_root",
        "keys_file",
        "log_file",
        "ready_file",
        "status_file",
        "metrics_dir",
        "traces_file",
        "monitoring_dir",
        "ssl_certfile",
        "ssl_keyfile",
    }
)


@dataclass(slots=True)
class ServerSettings:
    """Settings of one scoring service. Every field can be given in a ``--config`` JSON object
    under the same name; CLI flags given explicitly win over the file.

    >>> ServerSettings(entry_script=Path("score.py"), workers=2, scoring_timeout_ms=5000).workers
    2
    """

    entry_script: Path
    """The scoring script (``init()``/``run()``), relative to ``source_directory`` if relative."""
    model_dir: Path | None = None
    """What ``AZUREML_MODEL_DIR`` says; default: the app root's ``azureml-models`` layout, if any."""
    source_directory: Path | None = None
    """The folder holding the script and its helpers (on ``sys.path``)."""
    app_root: Path | None = None
    """``AML_APP_ROOT``: where ``azureml-models/`` and an optional ``swagger.json`` live.
    Default: the source directory, else the script's folder."""
    host: str = "127.0.0.1"
    port: int = 5001
    """TCP port; 0 picks a free one (then read it from ``ready_file``)."""
    workers: int = 1
    """Worker processes, each with its own copy of the model."""
    reuse_port: bool = False
    """Bind with SO_REUSEPORT, so a second service (a redeployment) can listen on the same port."""
    auth_key: str | None = None
    """A primary key given directly (prefer ``keys_file``: command lines are visible to others)."""
    keys_file: Path | None = None
    """JSON ``{"primary_key", "secondary_key", "token_secret"}`` (:class:`ServiceKeys`), re-read
    when it changes."""
    token_auth: bool = False
    """Accept tokens signed with ``token_secret`` (see ``modelport.keys.make_token``)."""
    scoring_timeout_ms: int = 60_000
    """run() taking longer answers 504 and its worker is replaced."""
    max_body_mb: float = 100.0
    """Request bodies larger than this answer 413."""
    max_concurrent_requests: int = 1
    """Per worker: run() calls at once (default 1, one at a time; above 1 the script must be
    thread-safe). For more parallelism prefer ``workers``."""
    max_request_wait_ms: int = 500
    """How long a request may wait for its run() to start before 503 + Retry-After."""
    max_worker_memory_mb: float | None = None
    """A worker whose RSS passes this finishes its request and is recycled."""
    cpu_affinity: list[int] | None = None
    """CPUs the workers may run on (``os.sched_setaffinity``)."""
    preload_modules: list[str] | None = None
    """Modules imported once in the supervisor before forking (e.g. ``["sklearn.linear_model"]``):
    workers share them, so a replaced worker is back sooner. Only libraries, never the script."""
    max_batch_size: int | None = None
    """Adaptive batching (array-input scripts only): up to this many rows of concurrent requests
    are stacked into one run() call. None (default): every request gets its own run()."""
    max_batch_latency_ms: float = 5.0
    """With batching: how long the oldest waiting request may wait for others to join its batch.
    Under load batches fill from the queue without waiting at all."""
    fast_json_loads: bool = True
    """Replace ``json.loads`` in workers with an orjson-backed function that returns exactly the
    same values and errors (modelport.runtime.fastjson); False keeps the standard library's."""
    debug: bool = False
    """Put run()'s traceback in 500 bodies."""
    log_file: Path | None = None
    """Also write the log here (appending)."""
    log_level: str = "info"
    ready_file: Path | None = None
    """Written (:class:`ReadyFile`: pid, host, port) once a worker's init() succeeded; removed at exit."""
    traces_file: Path | None = None
    """Per-request traces (v1's ``enable_app_insights``): one JSON line per scoring request with
    its id, status, latency and what run() printed (see modelport/server/traces.py)."""
    model_data: dict[str, Any] | None = None
    """v1's ``collect_model_data``: where ``ModelDataCollector`` writes in this service, as
    :class:`modelport.monitoring.collection.config.CollectionConfig` takes it (``root``: the
    datastore's ``modeldata`` folder, ``workspace``, ``service``, ``models``, ``flush_interval_s``,
    ``buffer_mb``); None (default): ``collect()`` does nothing, as in v1."""
    retention_days: int = 30
    """Collected data and traces older than this are deleted (0: no age limit)."""
    retention_mb: float = 1024.0
    """Collected data, and traces, each kept under this size (the oldest days go first)."""
    monitoring_dir: Path | None = None
    """The service's folder of drift results (``<workspace>/monitoring/services/<name>``): its
    detectors' latest figures are ``/metrics`` gauges (``modelport_drift_share``, ...)."""
    status_file: Path | None = None
    """The supervisor keeps its state here (:class:`ServiceStatus`), as JSON rewritten
    atomically: pid, port, workers, ready workers, state, recycles, restarts, init()'s error."""
    metrics_dir: Path | None = None
    """Where worker processes keep Prometheus counters; default: a fresh temporary folder."""
    graceful_timeout_s: float = 30.0
    """On SIGTERM, how long in-flight requests may take before workers are killed."""
    keepalive_s: int = 5
    """How long an idle keep-alive connection stays open (seconds)."""
    read_timeout_s: float = 30.0
    """A client has this long to send a request's headers (from the connection's start, or from
    the request's first byte), then as long again for its body; a slower one gets 408 and its
    connection is closed, so stalled or trickling clients cannot hold connections forever."""
    service_name: str = "modelport"
    """Shown in the swagger document and process titles."""
    ssl_certfile: Path | None = None
    """Serve HTTPS with this PEM certificate (chain) and ``ssl_keyfile`` (v1's ``ssl_enabled``)."""
    ssl_keyfile: Path | None = None
    """The certificate's private key (PEM; keep it 0600). Both or neither."""
    models: list[ServedModel] | None = None
    """The registered models served (``[{"name": "mnist", "version": "3"}]`` in JSON): the Open
    Inference (V2) routes answer to these names and to the service's; None (``modelport serve``):
    one model named after the service, version "1"."""

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        """Every setting's name (the keys a ``--config`` JSON object may use)."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: Path | None = None) -> Self:
        """Build from a JSON-like mapping; relative paths (but the entry script's, which is
        relative to the source directory) are taken relative to ``base``. An unknown name is
        refused, naming it; a missing one takes its default."""
        known = set(cls.field_names())
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidInputError(
                f"unknown server setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        if not values.get("entry_script"):
            raise InvalidInputError("an entry script is required (--entry-script or 'entry_script')")
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if value is None:
                continue
            if key in _PATHS:
                path = Path(str(value)).expanduser()
                if base is not None and not path.is_absolute() and key != "entry_script":
                    path = base / path
                kwargs[key] = path
            elif key == "cpu_affinity":
                kwargs[key] = _cpu_list(value)
            elif key == "preload_modules":
                kwargs[key] = _name_list(value)
            elif key == "models":
                kwargs[key] = _model_list(value)
            else:
                kwargs[key] = value
        settings = cls(**kwargs)
        settings.validate()
        return settings

    @classmethod
    def from_json_file(cls, path: Path, overrides: Mapping[str, Any] | None = None) -> Self:
        """Read a JSON object of settings, then apply ``overrides`` (e.g. CLI flags given)."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise InvalidInputError(f"cannot read server config {path}: {exc}") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"cannot read server config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInputError(f"server config {path} must hold a JSON object")
        data.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls.from_mapping(data, base=Path(path).resolve().parent)

    def to_dict(self, relative_to: Path | None = None) -> dict[str, Any]:
        """The JSON object :meth:`from_mapping` reads back: settings at their defaults are left
        out (the reader's are the same), paths are strings (relative to ``relative_to`` where
        they are under it)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None or (f.default is not dataclasses.MISSING and value == f.default):
                continue
            if isinstance(value, Path):
                if relative_to is not None and value.is_absolute() and value.is_relative_to(relative_to):
                    value = value.relative_to(relative_to)
                value = str(value)
            elif f.name == "models":
                value = [{"name": m.name, "version": m.version} for m in value]
            elif isinstance(value, list):
                value = list(value)
            out[f.name] = value
        return out

    def write(self, path: Path, relative_to: Path | None = None) -> None:
        """Save as a ``--config`` file (atomically)."""
        write_atomic(path, json.dumps(self.to_dict(relative_to), indent=2) + "\n")

    def validate(self) -> None:
        """Raise InvalidInputError naming the first setting out of range."""
        checks = [
            (self.workers >= 1, "workers must be at least 1"),
            (0 <= self.port <= 65535, "port must be between 0 and 65535"),
            (self.scoring_timeout_ms > 0, "scoring_timeout_ms must be positive"),
            (self.max_body_mb > 0, "max_body_mb must be positive"),
            (self.max_concurrent_requests >= 1, "max_concurrent_requests must be at least 1"),
            (self.max_request_wait_ms >= 0, "max_request_wait_ms must be 0 or more"),
            (self.max_worker_memory_mb is None or self.max_worker_memory_mb > 0, "max_worker_memory_mb > 0"),
            (self.graceful_timeout_s >= 0, "graceful_timeout_s must be 0 or more"),
            (self.read_timeout_s > 0, "read_timeout_s must be positive"),
            (self.cpu_affinity is None or len(self.cpu_affinity) > 0, "cpu_affinity must list CPUs"),
            (
                self.max_batch_size is None
                or (isinstance(self.max_batch_size, int) and self.max_batch_size >= 1),
                "max_batch_size must be an integer of at least 1 (rows)",
            ),
            (0 <= self.max_batch_latency_ms <= 10_000, "max_batch_latency_ms must be from 0 to 10000"),
            (
                isinstance(self.retention_days, int)
                and not isinstance(self.retention_days, bool)
                and self.retention_days >= 0,
                "retention_days must be a whole number of days, 0 or more",
            ),
            (self.retention_mb > 0, "retention_mb must be positive"),
            (
                (self.ssl_certfile is None) == (self.ssl_keyfile is None),
                "ssl_certfile and ssl_keyfile go together (HTTPS needs both)",
            ),
            (
                self.model_data is None or isinstance(self.model_data, dict),
                f"model_data must be a JSON object, got {self.model_data!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidInputError(message)

    # -- derived values -------------------------------------------------------------------------
    def script_path(self) -> Path:
        """The entry script as a deployment lays it out: a relative one is in the source
        directory, else in the app root (the server's working directory there)."""
        if self.entry_script.is_absolute():
            return self.entry_script
        base = self.source_directory or self.app_root
        return base / self.entry_script if base is not None else self.entry_script

    def served_models(self) -> list[tuple[str, str]]:
        """``models`` as (name, version) pairs; one named after the service if none are given."""
        if not self.models:
            return [(self.service_name, "1")]
        return [(m.name, m.version) for m in self.models]

    @property
    def max_body_bytes(self) -> int:
        """``max_body_mb`` in bytes (MB = 2**20 bytes)."""
        return int(self.max_body_mb * 1024 * 1024)

    @property
    def auth_enabled(self) -> bool:
        """Whether any route but liveness needs credentials."""
        return bool(self.auth_key or self.keys_file or self.token_auth)


def _cpu_list(value: Any) -> list[int]:
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p]
        try:
            return [int(p) for p in parts]
        except ValueError as exc:
            raise InvalidInputError(f"cpu_affinity must be CPU numbers like 0,1; got '{value}'") from exc
    if isinstance(value, list | tuple) and all(isinstance(v, int) for v in value):
        return list(value)
    raise InvalidInputError(f"cpu_affinity must be a list of CPU numbers, got {value!r}")


def _name_list(value: Any) -> list[str]:
    names = value.split(",") if isinstance(value, str) else value
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise InvalidInputError(f"preload_modules must be module names like sklearn,joblib; got {value!r}")
    return [n.strip() for n in names if n.strip()]


def _model_list(value: Any) -> list[ServedModel]:
    if isinstance(value, str):  # the CLI's NAME:VERSION,NAME:VERSION
        value = [
            dict(zip(("name", "version"), p.strip().rsplit(":", 1), strict=False)) for p in value.split(",")
        ]
    if isinstance(value, list) and all(isinstance(m, ServedModel) for m in value):
        return list(value)
    ok = isinstance(value, list) and all(
        isinstance(m, dict)
        and isinstance(m.get("name"), str)
        and m["name"]
        and "/" not in m["name"]
        and isinstance(m.get("version"), str | int)
        and "/" not in str(m["version"])
        for m in value
    )
    if not ok:
        raise InvalidInputError(f'models must be a list of {{"name", "version"}} objects; got {value!r}')
    return [ServedModel(m["name"], str(m["version"])) for m in value]


# -- status file -------------------------------------------------------------------------------
class ServiceState(enum.StrEnum):
    """The supervisor's state. ``starting``: no worker is ready yet; ``ready``: at least one
    worker's init() succeeded and it is alive; ``replacing``: workers were ready, none is now (the
    ones that ended are being replaced); ``failed``: init() failed and the service stopped;
    ``stopped``: a clean shutdown."""

    STARTING = "starting"
    READY = "ready"
    REPLACING = "replacing"
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Recycle:
    """A worker recycled for memory: when, which, how big it was, and the limit."""

    time: float
    pid: int
    rss_mb: float
    limit_mb: float

    def describe(self) -> str:
        return f"worker {self.pid} recycled: rss {self.rss_mb:.0f} MB > limit {self.limit_mb:.0f} MB"


@dataclass(frozen=True, slots=True)
class InitError:
    """What the user's init() raised: its type, message and traceback."""

    type: str
    message: str
    traceback: str = ""

    def describe(self) -> str:
        return self.traceback.strip() or f"init() raised {self.type}: {self.message}"


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """The status file: the supervisor's own account of its state (``modelport.server.status``)::

    {"pid": 1234, "port": 5001, "workers": 2, "ready_workers": 2, "state": "ready",
     "recycles": [{"time": 1764662400.1, "pid": 1240, "rss_mb": 812.0, "limit_mb": 800.0}],
     "restarts": 1, "last_init_error": null, "updated": 1764662400.2}
    """

    pid: int = 0
    port: int = 0
    workers: int = 0
    ready_workers: int = 0
    state: ServiceState = ServiceState.STARTING
    recycles: tuple[Recycle, ...] = ()
    restarts: int = 0
    last_init_error: InitError | None = None
    updated: float = 0.0

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        data["recycles"] = [dataclasses.asdict(r) for r in self.recycles]
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str | bytes) -> ServiceStatus:
        """The status a file holds. Fields it does not know are ignored and missing ones take
        their defaults: a server of another modelport version may have written it."""
        data = _object(text, "status file")
        error = data.get("last_init_error")
        try:
            return cls(
                pid=int(data.get("pid") or 0),
                port=int(data.get("port") or 0),
                workers=int(data.get("workers") or 0),
                ready_workers=int(data.get("ready_workers") or 0),
                state=_state(data.get("state")),
                recycles=tuple(
                    Recycle(
                        time=float(r.get("time") or 0),
                        pid=int(r.get("pid") or 0),
                        rss_mb=float(r.get("rss_mb") or 0),
                        limit_mb=float(r.get("limit_mb") or 0),
                    )
                    for r in data.get("recycles") or []
                    if isinstance(r, dict)
                ),
                restarts=int(data.get("restarts") or 0),
                last_init_error=(
                    InitError(
                        type=str(error.get("type") or ""),
                        message=str(error.get("message") or ""),
                        traceback=str(error.get("traceback") or ""),
                    )
                    if isinstance(error, dict)
                    else None
                ),
                updated=float(data.get("updated") or 0),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"status file has a field of the wrong type: {exc}") from None

    @classmethod
    def read(cls, path: Path) -> ServiceStatus | None:
        """The status file at ``path``; None before it was written (or if it cannot be read)."""
        try:
            return cls.from_json(path.read_bytes())
        except (OSError, InvalidInputError):
            return None

    def write(self, path: Path) -> None:
        write_atomic(path, self.to_json())


def _state(value: Any) -> ServiceState:
    try:
        return ServiceState(value)
    except ValueError:
        return ServiceState.STARTING  # a state this version does not know: not ready


# -- ready file --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReadyFile:
    """Written once a worker's init() succeeded: the supervisor's pid, the worker's, where it listens."""

    pid: int
    worker_pid: int
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def to_json(self) -> str:
        return json.dumps({**dataclasses.asdict(self), "url": self.url})

    @classmethod
    def from_json(cls, text: str | bytes) -> ReadyFile:
        data = _object(text, "ready file")
        try:
            return cls(int(data["pid"]), int(data["worker_pid"]), str(data["host"]), int(data["port"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(f"ready file lacks a valid {exc}") from None

    def write(self, path: Path) -> None:
        write_atomic(path, self.to_json())


# -- keys file ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ServiceKeys:
    """A service's secrets (its keys file, 0600: see ``modelport.keys``). An empty string is not
    set: it never matches a credential."""

    primary_key: str = ""
    secondary_key: str = ""
    token_secret: str = field(default="", repr=False)

    def __repr__(self) -> str:  # never print a key
        return "ServiceKeys(...)"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> ServiceKeys:
        data = _object(text, "keys file")
        values = {f.name: data.get(f.name) or "" for f in dataclasses.fields(cls)}
        wrong = sorted(name for name, value in values.items() if not isinstance(value, str))
        if wrong:
            raise InvalidInputError(f"keys file: {', '.join(wrong)} must be a string")
        return cls(**values)
