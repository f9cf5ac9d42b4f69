"""All the scoring server's settings in one typed object, read once at the edge (CLI or JSON file)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError
from modelport.runtime.loader import ScriptLocation
from modelport.runtime.model_path import default_model_dir

_PATHS = {"entry_script", "model_dir", "source_directory", "app_root", "keys_file", "log_file"}
_PATHS |= {"ready_file", "status_file", "metrics_dir", "traces_file", "monitoring_dir"}


@dataclass(slots=True)
class ServerConfig:
    """Settings of one scoring service. Every field can be given in a ``--config`` JSON object
    under the same name; CLI flags given explicitly win over the file.

    >>> ServerConfig(entry_script=Path("score.py"), workers=2, scoring_timeout_ms=5000).workers
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
    """JSON ``{"primary_key", "secondary_key", "token_secret"}``, re-read when it changes."""
    token_auth: bool = False
    """Accept tokens signed with ``token_secret`` (see ``modelport.server.auth.make_token``)."""
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
    """Written (JSON: pid, host, port) once a worker's init() succeeded; removed at exit."""
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
    """The supervisor keeps its state here, as JSON rewritten atomically: pid, port, workers,
    ready_workers, state (starting/ready/failed/stopped), recycles, restarts, last_init_error
    (see modelport.server.status)."""
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
    models: list[dict[str, str]] | None = None
    """The registered models served, ``[{"name": "mnist", "version": "3"}]``: the Open Inference
    (V2) routes answer to these names and to the service's; None (``modelport serve``): one model
    named after the service, version "1"."""

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        """Every setting's name (the keys a ``--config`` JSON object may use)."""
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_mapping(cls, values: dict[str, Any], base: Path | None = None) -> ServerConfig:
        """Build from a JSON-like mapping; relative paths are taken relative to ``base``."""
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
        config = cls(**kwargs)
        config.validate()
        return config

    @classmethod
    def from_json_file(cls, path: Path, overrides: dict[str, Any] | None = None) -> ServerConfig:
        """Read a JSON object of settings, then apply ``overrides`` (e.g. CLI flags given)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"cannot read server config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInputError(f"server config {path} must hold a JSON object")
        data.update({k: v for k, v in (overrides or {}).items() if v is not None})
        return cls.from_mapping(data, base=Path(path).resolve().parent)

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
                isinstance(self.retention_days, int) and self.retention_days >= 0,
                "retention_days must be a whole number of days, 0 or more",
            ),
            (self.retention_mb > 0, "retention_mb must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidInputError(message)
        self.collection()  # a bad model_data is refused here, not in each worker

    def collection(self) -> Any:
        """``model_data`` as a CollectionConfig (with this service's retention), or None."""
        if self.model_data is None:
            return None
        if not isinstance(self.model_data, dict):
            raise InvalidInputError(f"model_data must be a JSON object, got {self.model_data!r}")
        from modelport.monitoring.collection.config import CollectionConfig

        values = {"retention_days": self.retention_days, "max_mb": self.retention_mb, **self.model_data}
        try:
            return CollectionConfig.from_dict(values)
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"model_data: {exc}") from None

    # -- derived values -------------------------------------------------------------------------
    def location(self) -> ScriptLocation:
        """Resolved paths of the script, its folders and the model dir."""
        source = self.source_directory.resolve() if self.source_directory else None
        script = self.entry_script
        if not script.is_absolute():
            script = (source or Path.cwd()) / script
        script = script.resolve()
        if not script.is_file():
            raise InvalidInputError(f"entry script {script} does not exist")
        app_root = (self.app_root or source or script.parent).resolve()
        model_dir = self.model_dir.resolve() if self.model_dir else default_model_dir(app_root)
        return ScriptLocation(script, source, app_root, model_dir)

    def served_models(self) -> list[tuple[str, str]]:
        """``models`` as (name, version) pairs; one named after the service if none are given."""
        if not self.models:
            return [(self.service_name, "1")]
        return [(m["name"], str(m["version"])) for m in self.models]

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


def _model_list(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):  # the CLI's NAME:VERSION,NAME:VERSION
        value = [
            dict(zip(("name", "version"), p.strip().rsplit(":", 1), strict=False)) for p in value.split(",")
        ]
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
    return [{"name": m["name"], "version": str(m["version"])} for m in value]
