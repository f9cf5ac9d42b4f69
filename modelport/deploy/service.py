"""Service lifecycle: deploy, observe, update, delete. Records live in the workspace database.

A service's record (state, port, processes, models, environment, settings, times) is one JSON row
in the ``services`` table, so any process sees it. The observed state is computed when someone
looks: a record that says Healthy whose processes died is reported Failed (with the log's tail),
and a Transitioning record whose deploying process died before the server started is Failed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import requests

from modelport import _settings
from modelport.deploy import keys as keyfile
from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.target import TARGETS, LaunchSpec, ProcessHandle, Target, process_tree
from modelport.errors import (
    AlreadyExistsError,
    EnvironmentBuildError,
    InvalidInputError,
    ModelportError,
    ServiceNotFound,
)
from modelport.registry import models as model_registry
from modelport.registry.models import now
from modelport.workspace import Workspace

SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
TRANSITIONING, HEALTHY, UNHEALTHY, FAILED, DELETING = (
    "Transitioning",
    "Healthy",
    "Unhealthy",
    "Failed",
    "Deleting",
)
_COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".venv", ".modelport", ".azureml", "*.pyc")

Progress = Callable[[str], None]


def check_service_name(name: object) -> str:
    if not isinstance(name, str) or not 3 <= len(name) <= 32 or not SERVICE_NAME.match(name):
        raise InvalidInputError(
            f"invalid service name {name!r}: 3-32 characters, lowercase letters, digits and '-', "
            "starting with a letter and not ending with '-'"
        )
    return name


@dataclass
class ModelRef:
    name: str
    version: int


def _pid_alive(pid: int | None, create_time: float | None) -> bool:
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        return create_time is None or abs(proc.create_time() - create_time) < 0.05
    except psutil.Error:
        return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# -- records -------------------------------------------------------------------------------------
def load(ws: Workspace, name: str) -> dict[str, Any]:
    rows = ws.db.query("SELECT record FROM services WHERE name = ?", (name,))
    if not rows:
        raise ServiceNotFound(name)
    record: dict[str, Any] = json.loads(rows[0]["record"])
    return record


def save(ws: Workspace, record: dict[str, Any]) -> None:
    record["updated_time"] = now()
    with ws.db.transaction() as conn:
        ws.db.execute(
            conn,
            "UPDATE services SET record = ?, updated_time = ? WHERE name = ?",
            (json.dumps(record), record["updated_time"], record["name"]),
        )


def names(ws: Workspace) -> list[str]:
    return [r["name"] for r in ws.db.query("SELECT name FROM services ORDER BY name")]


def keys_path(ws: Workspace, name: str) -> Path:
    return ws.keys_dir / f"{name}.json"


def _claim(ws: Workspace, name: str, overwrite: bool) -> dict[str, Any] | None:
    """Create the record (Transitioning), or return the existing one when overwriting.

    In one transaction, so of two processes deploying a new name at once exactly one wins.
    """
    stamp = now()
    me = psutil.Process()
    record: dict[str, Any] = {
        "name": name,
        "state": TRANSITIONING,
        "error": None,
        "created_time": stamp,
        "updated_time": stamp,
        "deployer": {"pid": me.pid, "create_time": me.create_time()},
        "process": None,
        "port": None,
        "phases": [],
    }
    with ws.db.transaction() as conn:
        row = ws.db.execute(conn, "SELECT record FROM services WHERE name = ?", (name,)).fetchone()
        if row is not None:
            if not overwrite:
                raise AlreadyExistsError(
                    f"service '{name}' already exists (overwrite=True or --overwrite replaces it)"
                )
            existing: dict[str, Any] = json.loads(row["record"])
            return existing
        ws.db.execute(
            conn,
            "INSERT INTO services (name, record, created_time, updated_time) VALUES (?, ?, ?, ?)",
            (name, json.dumps(record), stamp, stamp),
        )
    return None


# -- preparing a deployment folder ---------------------------------------------------------------
def _copy_models(ws: Workspace, models: list[Any], app_root: Path, progress: Progress) -> dict[str, str]:
    """Download each model (sha256 verified) to ``app_root/azureml-models/<name>/<version>/``."""
    base = app_root / "azureml-models"
    for m in models:
        record = model_registry.get(ws, m.name, m.version)
        model_registry.download(ws, record, base / m.name / str(m.version), exist_ok=False)
        progress(f"model {m.id} copied and verified ({len(record.files)} file(s))")
    model_dir = base / models[0].name / str(models[0].version) if len(models) == 1 else base
    return {"AZUREML_MODEL_DIR": str(model_dir), "MODELPORT_MODEL_DIR": str(model_dir)}


def _copy_source(inference_config: Any, app_root: Path) -> Path:
    """Copy the source directory (or the lone entry script) into the app folder; return the script."""
    if inference_config.source_directory:
        src = Path(inference_config.source_directory)
        shutil.copytree(src, app_root, dirs_exist_ok=True, ignore=_COPY_IGNORE)
        rel = inference_config.script_path.relative_to(src)
        return app_root / rel
    target = app_root / inference_config.script_path.name
    shutil.copy2(inference_config.script_path, target)
    return target


def _resolve_environment(environment: Any, log: Progress) -> str:
    if environment is None:
        return sys.executable
    from modelport.environments import EnvSpec, resolve_interpreter

    spec = EnvSpec.from_dict(environment.to_spec())
    return str(resolve_interpreter(spec, _settings.env_cache_root(), log=log))


def _cpu_affinity(name: str, cores: float | None) -> list[int] | None:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cores or not cpus:
        return None
    want = min(len(cpus), max(1, int(-(-cores // 1))))
    if want >= len(cpus):
        return None
    start = sum(name.encode()) % len(cpus)  # spread services over the cores
    return sorted(cpus[(start + i) % len(cpus)] for i in range(want))


def preload_for(models: list[Any], environment: Any) -> list[str] | None:
    """Libraries the supervisor imports once before forking workers: scikit-learn (and joblib) when
    a model says it is a scikit-learn model or the environment pins scikit-learn. Importing it is
    most of a worker's start (~1.7 s of ~2 s for the tutorial's model); preloaded, a replaced
    worker is back in ~0.05 s and workers share those pages. Nothing for other frameworks: some
    (TensorFlow, PyTorch's CUDA) do not survive a fork."""
    frameworks = {str(getattr(m, "model_framework", "") or "").lower() for m in models}
    # The spec was already built (and checked) to resolve the interpreter.
    packages = json.dumps(environment.to_spec()).lower() if environment is not None else ""
    if "scikitlearn" in frameworks or "scikit-learn" in packages:
        return ["sklearn", "joblib"]
    return None


def server_config(
    settings: DeploymentSettings,
    *,
    name: str,
    script: Path,
    app_root: Path,
    model_dir: str,
    source_directory: Path | None,
    port: int,
    keys_file: Path,
    preload_modules: list[str] | None = None,
) -> dict[str, Any]:
    """The scoring server's settings for this deployment (see modelport.server.config)."""
    memory_mb = int(settings.memory_gb * 1024 / settings.workers) if settings.memory_gb else None
    batching = {
        "max_batch_size": settings.max_batch_size,
        "max_batch_latency_ms": settings.max_batch_latency_ms,
    }
    return {
        **{k: v for k, v in batching.items() if v is not None},
        "preload_modules": preload_modules,
        "entry_script": str(script),
        "model_dir": model_dir,
        "source_directory": str(source_directory) if source_directory else None,
        "app_root": str(app_root),
        "host": "127.0.0.1",
        "port": port,
        "workers": settings.workers,
        "keys_file": str(keys_file) if (settings.auth_enabled or settings.token_auth_enabled) else None,
        "token_auth": settings.token_auth_enabled,
        "scoring_timeout_ms": settings.scoring_timeout_ms,
        "max_concurrent_requests": settings.max_concurrent_requests,
        "max_request_wait_ms": settings.max_request_wait_ms,
        "max_worker_memory_mb": memory_mb,
        "cpu_affinity": _cpu_affinity(name, settings.cpu_cores),
        "service_name": name,
        "reuse_port": True,
        # Written by the server once a worker's init() succeeded: tells this deployment's readiness
        # apart from an old one answering on the same port during an overwrite.
        "ready_file": str(app_root.parent / "ready.json"),
    }


# -- deploy --------------------------------------------------------------------------------------
def deploy(
    ws: Workspace,
    name: str,
    models: list[Any],
    inference_config: Any,
    settings: DeploymentSettings,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Prepare a service folder, start the server, return the record. Never leaves Transitioning.

    With ``overwrite`` the new deployment starts beside the old one on the same port (SO_REUSEPORT),
    and the old one is stopped only once the new one is ready: the name always answers.
    """
    check_service_name(name)
    if not models:
        raise InvalidInputError("models: give at least one registered Model")
    for m in models:
        if not hasattr(m, "name") or not hasattr(m, "version") or not hasattr(m, "workspace"):
            raise InvalidInputError(f"models must be Model objects, got {type(m).__name__}")
    if inference_config is None:
        raise InvalidInputError("inference_config is required (an InferenceConfig with the entry script)")
    previous = _claim(ws, name, overwrite)
    say = progress or (lambda _line: None)
    depid = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    service_dir = ws.services_dir / name
    deploy_dir = service_dir / depid
    app_root = deploy_dir / "app"
    log_file = deploy_dir / "service.log"
    deploy_dir.mkdir(parents=True, exist_ok=True)
    phases: list[dict[str, Any]] = []

    def log(line: str) -> None:
        with open(log_file, "a") as f:
            f.write(f"[modelport] {line}\n")

    def phase(label: str, started: float) -> None:
        took = time.monotonic() - started
        phases.append({"phase": label, "seconds": round(took, 3)})
        say(f"{label} ({took:.2f} s)")
        log(f"{label} ({took:.2f} s)")

    if previous is not None:
        port = previous.get("port") or settings.port or free_port()
        if settings.port and settings.port != port:
            raise InvalidInputError(
                f"service '{name}' listens on port {port}; an overwrite keeps the port (delete to change it)"
            )
    else:
        port = settings.port or free_port()
        if settings.port and not port_is_free(port):
            _fail_new(ws, name, f"port {port} is already in use on 127.0.0.1")
            return load(ws, name)
    record: dict[str, Any] = dict(previous) if previous else load(ws, name)
    try:
        started = time.monotonic()
        interpreter = _resolve_environment(inference_config.environment, log)
        phase("environment ready", started)
        started = time.monotonic()
        app_root.mkdir(parents=True)

        def both(line: str) -> None:
            log(line)
            say(line)

        model_env = _copy_models(ws, models, app_root, both)
        script = _copy_source(inference_config, app_root)
        phase("models and source copied", started)
        keys = keyfile.ensure_keys(keys_path(ws, name), settings.primary_key, settings.secondary_key)
        config = server_config(
            settings,
            name=name,
            script=script,
            app_root=app_root,
            model_dir=model_env["AZUREML_MODEL_DIR"],
            source_directory=app_root if inference_config.source_directory else None,
            port=port,
            keys_file=keys_path(ws, name),
            preload_modules=preload_for(models, inference_config.environment),
        )
        config_file = deploy_dir / "server.json"
        config_file.write_text(json.dumps(config, indent=2))
        env_vars = dict(getattr(inference_config.environment, "environment_variables", None) or {})
        env_vars.update(model_env)
        target: Target = TARGETS[settings.compute_type]
        started = time.monotonic()
        handle = target.start(LaunchSpec(interpreter, app_root, config_file, log_file, env_vars))
        phase(f"server started (pid {handle.pid}, port {port})", started)
    except (ModelportError, OSError) as exc:
        cause = exc.message if isinstance(exc, ModelportError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, EnvironmentBuildError) and exc.log:
            log("environment build failed; the installer said:\n" + exc.log.rstrip())
        log(f"deployment failed: {cause}")
        if previous is not None:
            shutil.rmtree(deploy_dir, ignore_errors=True)
            raise
        record.update(
            state=FAILED,
            error=cause,
            deploy_dir=str(deploy_dir),
            log_file=str(log_file),
            phases=phases,
            settings=settings.to_dict(),
        )
        save(ws, record)
        return record
    new = {
        "name": name,
        "state": TRANSITIONING,
        "error": None,
        "created_time": record.get("created_time") or now(),
        "deployer": record.get("deployer"),
        "process": handle.to_dict(),
        "port": port,
        "deployment_id": depid,
        "deploy_dir": str(deploy_dir),
        "app_root": str(app_root),
        "log_file": str(log_file),
        "config_file": str(config_file),
        "ready_file": config["ready_file"],
        "interpreter": interpreter,
        "models": [m.id for m in models],
        "environment": None
        if inference_config.environment is None
        else inference_config.environment.to_spec(),
        "inference_config": inference_config.serialize(),
        "settings": settings.to_dict(),
        "phases": phases,
        "started_at": time.time(),
    }
    if previous is None:
        save(ws, new)
        return new
    # Overwrite: wait for the new one, then switch the record, then stop the old one.
    ready, cause = wait_ready(new, keys["primary_key"], timeout=600)
    if not ready:
        TARGETS[settings.compute_type].stop(handle)
        shutil.rmtree(deploy_dir, ignore_errors=True)
        raise_failure(
            name, FAILED, f"the replacement did not start, the old deployment keeps serving: {cause}"
        )
    new["state"] = HEALTHY
    save(ws, new)
    old = ProcessHandle.from_dict(previous.get("process"))
    if old is not None:
        TARGETS.get(previous.get("settings", {}).get("compute_type", "Local"), TARGETS["Local"]).stop(old)
    old_dir = previous.get("deploy_dir")
    if old_dir and Path(old_dir) != deploy_dir:
        shutil.rmtree(old_dir, ignore_errors=True)
    return new


def raise_failure(name: str, state: str, cause: str) -> None:
    from modelport.errors import DeploymentError

    raise DeploymentError(name, state, cause)


def _fail_new(ws: Workspace, name: str, cause: str) -> None:
    record = load(ws, name)
    record.update(state=FAILED, error=cause)
    save(ws, record)


# -- observing -----------------------------------------------------------------------------------
def _auth_headers(record: dict[str, Any], key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def probe_ready(record: dict[str, Any], key: str | None, timeout: float = 2.0) -> bool:
    try:
        r = requests.get(
            f"http://127.0.0.1:{record['port']}/health/ready",
            headers=_auth_headers(record, key),
            timeout=timeout,
        )
        return r.status_code == 200
    except requests.RequestException:
        return False


def tail(path: str | Path | None, num_lines: int = 50) -> str:
    if not path or not Path(path).is_file():
        return ""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - max(num_lines, 1) * 400))
        lines = f.read().decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-num_lines:])


def failure_cause(record: dict[str, Any]) -> str:
    """The most useful text about why a service stopped: init()'s traceback, or the log's tail."""
    text = tail(record.get("log_file"), 400)
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if "Traceback (most recent call last)" in lines[i]:
            # Keep the line before (what failed) through the exception line (the first unindented one).
            block = lines[max(0, i - 1) :]
            for j in range(2, len(block)):
                if block[j] and not block[j][0].isspace():
                    return "\n".join(block[: j + 1]).strip()
            return "\n".join(block).strip()
    return "\n".join(lines[-20:]).strip() or "the server process exited"


def events(record: dict[str, Any]) -> list[str]:
    """Notable lines of the service log: workers recycled for memory, workers respawned."""
    text = tail(record.get("log_file"), 2000)
    return [line.strip() for line in text.splitlines() if "recycled: rss" in line]


def current_key(ws: Workspace, record: dict[str, Any]) -> str | None:
    settings = record.get("settings") or {}
    if not (settings.get("auth_enabled") or settings.get("token_auth_enabled")):
        return None
    path = keys_path(ws, record["name"])
    if not path.is_file():
        return None
    if settings.get("auth_enabled"):
        return keyfile.read_keys(path)["primary_key"]
    from modelport.server.auth import make_token

    return make_token(keyfile.read_keys(path)["token_secret"], 300)[0]


def refresh(ws: Workspace, name: str) -> dict[str, Any]:
    """Load a record and reconcile its state with what is really running; persist changes."""
    record = load(ws, name)
    state = record.get("state")
    if state in (FAILED, DELETING):
        return record
    handle = ProcessHandle.from_dict(record.get("process"))
    target = TARGETS["Local"]
    if handle is None:
        deployer = record.get("deployer") or {}
        if state == TRANSITIONING and not _pid_alive(deployer.get("pid"), deployer.get("create_time")):
            record.update(state=FAILED, error="the deploying process exited before the server was started")
            save(ws, record)
        return record
    if not target.is_running(handle):
        record.update(
            state=FAILED,
            error=f"the service's server process (pid {handle.pid}) is not running: " + failure_cause(record),
        )
        save(ws, record)
        return record
    ready = probe_ready(record, current_key(ws, record))
    new_state = HEALTHY if ready else (TRANSITIONING if state == TRANSITIONING else UNHEALTHY)
    if new_state != state:
        record["state"] = new_state
        record["error"] = None if ready else "the server is running but not ready (see get_logs())"
        save(ws, record)
    return record


def wait_ready(record: dict[str, Any], key: str | None, timeout: float) -> tuple[bool, str]:
    handle = ProcessHandle.from_dict(record.get("process"))
    deadline = time.monotonic() + timeout
    delay = 0.02
    while time.monotonic() < deadline:
        if handle is None or not TARGETS["Local"].is_running(handle):
            return False, failure_cause(record)
        ready_file = record.get("ready_file")
        if (ready_file is None or Path(ready_file).is_file()) and probe_ready(record, key, timeout=1.0):
            return True, ""
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    return False, f"not ready after {timeout:.0f} s"


# -- stopping ------------------------------------------------------------------------------------
def stop_processes(record: dict[str, Any]) -> None:
    handle = ProcessHandle.from_dict(record.get("process"))
    if handle is not None:
        TARGETS["Local"].stop(handle)


def _stray_servers(service_dir: Path) -> list[psutil.Process]:
    """Server processes started from this service's folder that no record knows of.

    A deployer killed between starting the server and saving its pid leaves one behind; it is
    found by its command line, which names ``<service folder>/<deployment>/server.json``.
    """
    marker = str(service_dir) + os.sep
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "modelport.server" in cmdline and any(arg.startswith(marker) for arg in cmdline):
            found.append(proc)
    return found


def delete(ws: Workspace, name: str) -> None:
    """Stop the processes, free the port, remove the folder, the keys and the record. Idempotent."""
    try:
        record = load(ws, name)
    except ServiceNotFound:
        record = None
    if record is not None:
        record["state"] = DELETING
        save(ws, record)
        stop_processes(record)
    for proc in _stray_servers(ws.services_dir / name):
        TARGETS["Local"].stop(ProcessHandle(proc.pid, proc.create_time()))
    if record is None:
        return
    shutil.rmtree(ws.services_dir / name, ignore_errors=True)
    keys_path(ws, name).unlink(missing_ok=True)
    with ws.db.transaction() as conn:
        ws.db.execute(conn, "DELETE FROM services WHERE name = ?", (name,))


def restart(ws: Workspace, name: str) -> dict[str, Any]:
    """Start a service again from its prepared folder, on the same port with the same keys."""
    record = load(ws, name)
    if not record.get("config_file") or not Path(record["config_file"]).is_file():
        raise InvalidInputError(f"service '{name}' has no prepared deployment to restart; deploy it again")
    stop_processes(record)
    # Workers orphaned by a killed supervisor may still hold the port: stop them too.
    for proc in _stray_servers(ws.services_dir / name):
        TARGETS["Local"].stop(ProcessHandle(proc.pid, proc.create_time()))
    port = record["port"]
    if not port_is_free(port):
        record.update(state=FAILED, error=f"port {port} is taken by another process; cannot restart")
        save(ws, record)
        return record
    env_vars = dict((record.get("environment") or {}).get("environment_variables") or {})
    model_dir = json.loads(Path(record["config_file"]).read_text())["model_dir"]
    env_vars.update(AZUREML_MODEL_DIR=model_dir, MODELPORT_MODEL_DIR=model_dir)
    handle = TARGETS["Local"].start(
        LaunchSpec(
            record["interpreter"],
            Path(record["app_root"]),
            Path(record["config_file"]),
            Path(record["log_file"]),
            env_vars,
        )
    )
    record.update(state=TRANSITIONING, error=None, process=handle.to_dict())
    save(ws, record)
    return record


def processes(record: dict[str, Any]) -> list[int]:
    handle = ProcessHandle.from_dict(record.get("process"))
    return [p.pid for p in process_tree(handle)] if handle else []
