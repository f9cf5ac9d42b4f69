"""Prepare: models + inference config + environment + settings -> a service bundle on disk.

A bundle is target-neutral and self-describing: a folder any target can run, and that an export
can turn into a container build context::

    <bundle>/
      bundle.json        what this is: service, deployment id, models, environment, settings
      server.json        the scoring server's settings, paths relative to this folder
      requirements.txt   the environment's requirements, as the interpreter was built from them
      app/               AML_APP_ROOT, the working directory: app/<source directory name>/ (or the
                         entry script alone) ...
      app/azureml-models/<name>/<version>/   ... and the models, verified, in v1's layout
      app/modelport-sample-input.json        the inference config's sample input, if it has one
                         (the server's swagger, V2 metadata and the studio show it as the example)
      service.log        what preparing it printed (a local target appends the server's log)

Nothing in it depends on the port, the keys or the target: those are the target's (``Runtime``).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelport import _settings
from modelport.deploy.configs import DeploymentSettings
from modelport.monitoring.collection import layout as modeldata
from modelport.registry import datastores
from modelport.registry import models as model_registry
from modelport.workspace import Workspace

__all__ = ["ServiceBundle", "preload_for", "prepare", "server_config"]

Progress = Callable[[str], None]
_COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".venv", ".modelport", ".azureml", "*.pyc")
BUNDLE_FILE = "bundle.json"
SERVER_FILE = "server.json"
LOG_FILE = "service.log"
TRACES_FILE = "traces.jsonl"
SAMPLE_INPUT_FILE = "modelport-sample-input.json"
"""In the app root; the server reads it by the same name (``modelport.protocols.swagger``)."""


@dataclass
class ServiceBundle:
    """A prepared service. ``root`` is the folder; the rest is ``bundle.json``."""

    root: Path
    service: str
    deployment_id: str
    interpreter: str
    """The interpreter built for the environment (the local target runs the server with it)."""
    models: list[str] = field(default_factory=list)
    environment: dict[str, Any] | None = None
    environment_variables: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    requirements: list[str] = field(default_factory=list)

    @property
    def server_file(self) -> Path:
        return self.root / SERVER_FILE

    @property
    def app_root(self) -> Path:
        return self.root / "app"

    @property
    def log_file(self) -> Path:
        return self.root / LOG_FILE

    def server_settings(self) -> dict[str, Any]:
        """``server.json`` with its relative paths made absolute."""
        data: dict[str, Any] = json.loads(self.server_file.read_text())
        for key in ("entry_script", "app_root", "model_dir", "source_directory", "traces_file"):
            if data.get(key):
                data[key] = str((self.root / data[key]).resolve())
        return data

    def log(self, line: str) -> None:
        """Append a ``[modelport]`` line to the bundle's log (deployment progress)."""
        with open(self.log_file, "a") as f:
            f.write(f"[modelport] {line}\n")

    def save(self) -> None:
        data = asdict(self)
        data.pop("root")
        (self.root / BUNDLE_FILE).write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> ServiceBundle:
        path = Path(root)
        data = json.loads((path / BUNDLE_FILE).read_text())
        return cls(root=path, **data)


def _copy_models(ws: Workspace, models: list[Any], app_root: Path, progress: Progress) -> Path:
    """Download each model (sha256 verified) to ``app_root/azureml-models/<name>/<version>/``;
    return what AZUREML_MODEL_DIR names (the one model's folder, or the folder of all)."""
    base = app_root / "azureml-models"
    for m in models:
        record = model_registry.get(ws, m.name, m.version)
        model_registry.download(ws, record, base / m.name / str(m.version), exist_ok=False)
        progress(f"model {m.id} copied and verified ({len(record.files)} file(s))")
    return base / models[0].name / str(models[0].version) if len(models) == 1 else base


def _copy_source(inference_config: Any, app_root: Path) -> Path:
    """Copy the source directory (or the lone entry script) into the app folder; return the script.

    As v1 laid it out: the source directory keeps its name under AML_APP_ROOT (the working
    directory), so ``open("./<source directory name>/extradata.json")`` finds the file."""
    if inference_config.source_directory:
        src = Path(inference_config.source_directory)
        target = app_root / src.name
        shutil.copytree(src, target, dirs_exist_ok=True, ignore=_COPY_IGNORE)
        return target / inference_config.script_path.relative_to(src)
    target = app_root / inference_config.script_path.name
    shutil.copy2(inference_config.script_path, target)
    return target


def _resolve_environment(environment: Any, log: Progress) -> tuple[str, list[str]]:
    """The interpreter for ``environment`` (built once, then cached) and its requirements."""
    if environment is None:
        return sys.executable, []
    from modelport.environments import EnvSpec, resolve_interpreter

    spec = EnvSpec.from_dict(environment.to_spec())
    interpreter = resolve_interpreter(spec, _settings.env_cache_root(), log=log)
    return str(interpreter), [*spec.conda_packages, *spec.pip_packages]


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
    frameworks = {str(m.framework or "").lower() for m in models}
    # The spec was already built (and checked) to resolve the interpreter.
    packages = json.dumps(environment.to_spec()).lower() if environment is not None else ""
    if "scikitlearn" in frameworks or "scikit-learn" in packages:
        return ["sklearn", "joblib"]
    return None


def server_config(
    settings: DeploymentSettings,
    *,
    name: str,
    script: Path | str,
    app_root: Path | str,
    model_dir: Path | str,
    source_directory: Path | str | None,
    preload_modules: list[str] | None = None,
    models: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """The scoring server's settings for a deployment (see modelport.server.config), without
    what the target decides (port, host, keys, status files). ``models``: ``[{"name", "version"}]``,
    the names the Open Inference (V2) routes answer to besides the service's."""
    memory_mb = int(settings.memory_gb * 1024 / settings.workers) if settings.memory_gb else None
    batching = {
        "max_batch_size": settings.max_batch_size,
        "max_batch_latency_ms": settings.max_batch_latency_ms,
    }
    optional = {"max_body_mb": settings.max_body_mb, **batching}
    return {
        **{k: v for k, v in optional.items() if v is not None},
        "preload_modules": preload_modules,
        "entry_script": str(script),
        "model_dir": str(model_dir),
        "source_directory": str(source_directory) if source_directory else None,
        "app_root": str(app_root),
        "workers": settings.workers,
        "token_auth": settings.token_auth_enabled,
        "scoring_timeout_ms": settings.scoring_timeout_ms,
        "max_concurrent_requests": settings.max_concurrent_requests,
        "max_request_wait_ms": settings.max_request_wait_ms,
        "max_worker_memory_mb": memory_mb,
        "cpu_affinity": _cpu_affinity(name, settings.cpu_cores),
        "service_name": name,
        "models": models,
        # v1's enable_app_insights, kept locally: a JSON line per scoring request.
        "traces_file": TRACES_FILE if getattr(settings, "app_insights", False) else None,
        "retention_days": settings.retention_days,
        "retention_mb": settings.retention_mb,
    }


def model_data(ws: Workspace, name: str, settings: DeploymentSettings, models: list[Any]) -> dict[str, Any]:
    """Where the service's ModelDataCollector writes (v1's collect_model_data; None when off)
    and where its drift results are found (its /metrics gauges)."""
    out: dict[str, Any] = {"monitoring_dir": str(modeldata.monitoring_folder(ws.path, name))}
    if settings.collect_model_data:
        out["model_data"] = {
            "root": str(datastores.root(ws, datastores.DEFAULT) / modeldata.MODELDATA),
            "workspace": modeldata.workspace_identity(ws.path, ws.name),
            "service": name,
            "models": [{"name": m.name, "version": str(m.version)} for m in models],
        }
    return out


def prepare(
    ws: Workspace,
    name: str,
    deployment_id: str,
    models: list[Any],
    inference_config: Any,
    settings: DeploymentSettings,
    root: Path,
    progress: Progress,
    phases: list[dict[str, Any]],
) -> ServiceBundle:
    """Build (or reuse) the environment, copy the models and the source, write the server's
    settings: the folder ``root`` becomes a bundle. ``progress`` hears each phase with its time,
    and ``phases`` gets them as ``{"phase", "seconds"}``."""
    root.mkdir(parents=True, exist_ok=True)

    def log(line: str) -> None:
        with open(root / LOG_FILE, "a") as f:
            f.write(f"[modelport] {line}\n")

    def phase(label: str, started: float) -> None:
        took = time.monotonic() - started
        phases.append({"phase": label, "seconds": round(took, 3)})
        log(f"{label} ({took:.2f} s)")
        progress(f"{label} ({took:.2f} s)")

    def both(line: str) -> None:
        log(line)
        progress(line)

    started = time.monotonic()
    # The build's phases (resolve, download, install, compile) reach show_output as they happen.
    interpreter, requirements = _resolve_environment(inference_config.environment, both)
    phase("environment ready", started)
    started = time.monotonic()
    app_root = root / "app"
    app_root.mkdir()

    model_dir = _copy_models(ws, models, app_root, both)
    script = _copy_source(inference_config, app_root)
    sample = getattr(inference_config, "sample_input", None)
    if sample is not None:
        (app_root / SAMPLE_INPUT_FILE).write_text(json.dumps(sample))
    phase("models and source copied", started)
    config = server_config(
        settings,
        name=name,
        script=script.relative_to(root),
        app_root="app",
        model_dir=model_dir.relative_to(root),
        source_directory=(
            (app_root / Path(inference_config.source_directory).name).relative_to(root)
            if inference_config.source_directory
            else None
        ),
        preload_modules=preload_for(models, inference_config.environment),
        models=[{"name": m.name, "version": str(m.version)} for m in models],
    )
    config.update(model_data(ws, name, settings, models))
    (root / SERVER_FILE).write_text(json.dumps(config, indent=2))
    (root / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    environment = inference_config.environment
    bundle = ServiceBundle(
        root=root,
        service=name,
        deployment_id=deployment_id,
        interpreter=interpreter,
        models=[m.id for m in models],
        environment=None if environment is None else environment.to_spec(),
        environment_variables=dict(getattr(environment, "environment_variables", None) or {}),
        settings=settings.to_dict(),
        requirements=requirements,
    )
    bundle.save()
    return bundle
