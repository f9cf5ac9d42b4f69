"""Prepare: models + inference config + environment + settings -> a service bundle on disk.

A bundle is target-neutral and self-describing: a folder any target can run, and that an export
can turn into a container build context::

    <bundle>/
      bundle.json        what this is: service, deployment id, interpreter, the DeploymentSpec
      server.json        the scoring server's settings (``ServerSettings``) as the deployment
                         decides them, paths relative to this folder (the entry script relative
                         to its source directory, else to app/)
      requirements.txt   the environment's requirements, as the interpreter was built from them
      app/               AML_APP_ROOT, the working directory: app/<source directory name>/ (or the
                         entry script alone) ...
      app/azureml-models/<name>/<version>/   ... and the models, verified, in v1's layout
      app/modelport-sample-input.json        the inference config's sample input, if it has one
                         (the server's swagger, V2 metadata and the studio show it as the example)
      service.log        what preparing it printed (a local target appends the server's log)

Nothing in it depends on the port, the keys or the target: those are the target's (``Runtime``),
and so is how the server is sized on a machine (workers, CPU affinity, memory per worker,
libraries to preload: the local target decides them, Ray places replicas instead).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from modelport import _settings
from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.spec import DeploymentSpec
from modelport.monitoring.collection import layout as modeldata
from modelport.registry import datastores
from modelport.registry import models as model_registry
from modelport.servicefiles import ServedModel, ServerSettings
from modelport.workspace import Workspace

__all__ = ["ServiceBundle", "deployment_server_settings", "prepare"]

Progress = Callable[[str], None]
_COPY_IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".venv", ".modelport", ".azureml", "*.pyc")
BUNDLE_FILE = "bundle.json"
SERVER_FILE = "server.json"
LOG_FILE = "service.log"
TRACES_FILE = "traces.jsonl"
SAMPLE_INPUT_FILE = "modelport-sample-input.json"
"""In the app root; the server reads it by the same name (``modelport.protocols.swagger``)."""
FORMAT = 2
"""bundle.json's layout: 2 holds the DeploymentSpec (1, before it, the spec's parts side by side)."""


@dataclass(frozen=True)
class ServiceBundle:
    """A prepared service. ``root`` is the folder; the rest is ``bundle.json``."""

    root: Path
    service: str
    deployment_id: str
    interpreter: str
    """The interpreter built for the environment (the local target runs the server with it)."""
    spec: DeploymentSpec
    frameworks: tuple[str, ...] = ()
    """The models' frameworks as registered (``ScikitLearn``, ...), for a target's policy."""
    requirements: tuple[str, ...] = ()

    @property
    def server_file(self) -> Path:
        return self.root / SERVER_FILE

    @property
    def app_root(self) -> Path:
        return self.root / "app"

    @property
    def log_file(self) -> Path:
        return self.root / LOG_FILE

    def server_settings(self) -> ServerSettings:
        """``server.json``, every path absolute (the entry script's too)."""
        settings = ServerSettings.from_json_file(self.server_file)
        return replace(settings, entry_script=settings.script_path().resolve())

    def log(self, line: str) -> None:
        """Append a ``[modelport]`` line to the bundle's log (deployment progress)."""
        with open(self.log_file, "a") as f:
            f.write(f"[modelport] {line}\n")

    def save(self) -> None:
        data = {
            "format": FORMAT,
            "service": self.service,
            "deployment_id": self.deployment_id,
            "interpreter": self.interpreter,
            "spec": self.spec.to_dict(),
            "frameworks": list(self.frameworks),
            "requirements": list(self.requirements),
        }
        (self.root / BUNDLE_FILE).write_text(json.dumps(data, indent=2))

    @classmethod
    def load(cls, root: str | os.PathLike[str]) -> ServiceBundle:
        path = Path(root)
        data = json.loads((path / BUNDLE_FILE).read_text())
        if data.get("format") != FORMAT:
            return _load_format_1(path, data)
        return cls(
            root=path,
            service=data["service"],
            deployment_id=data["deployment_id"],
            interpreter=data["interpreter"],
            spec=DeploymentSpec.from_dict(data["spec"]),
            frameworks=tuple(data.get("frameworks") or ()),
            requirements=tuple(data.get("requirements") or ()),
        )


def _load_format_1(root: Path, data: dict[str, Any]) -> ServiceBundle:
    """A bundle an earlier modelport prepared (a service deployed before an upgrade, restarted
    now): its spec from its parts, and its server.json in this version's terms (the entry script
    was relative to the bundle; the local target's sizing was in it)."""
    environment = data.get("environment")
    spec = DeploymentSpec.from_v1_record(
        {"models": data.get("models"), "settings": data.get("settings"), "environment": environment}
    )
    server = json.loads((root / SERVER_FILE).read_text())
    preloaded = server.pop("preload_modules", None) or []
    for key in ("workers", "cpu_affinity", "max_worker_memory_mb"):
        server.pop(key, None)
    source = server.get("source_directory")
    script = root / server["entry_script"]
    server["entry_script"] = str(
        script.relative_to(root / source) if source else script.relative_to(root / "app")
    )
    (root / SERVER_FILE).write_text(json.dumps(server, indent=2))
    bundle = ServiceBundle(
        root=root,
        service=data["service"],
        deployment_id=data["deployment_id"],
        interpreter=data["interpreter"],
        spec=replace(spec, environment_variables=dict(data.get("environment_variables") or {})),
        # Preloading scikit-learn is what a ScikitLearn model's bundle did.
        frameworks=("ScikitLearn",) if "sklearn" in preloaded else (),
        requirements=tuple(data.get("requirements") or ()),
    )
    bundle.save()
    return bundle


def _copy_models(
    ws: Workspace, models: list[model_registry.ModelRecord], app_root: Path, progress: Progress
) -> Path:
    """Download each model (sha256 verified) to ``app_root/azureml-models/<name>/<version>/``;
    return what AZUREML_MODEL_DIR names (the one model's folder, or the folder of all)."""
    base = app_root / "azureml-models"
    for record in models:
        model_registry.download(ws, record, base / record.name / str(record.version), exist_ok=False)
        progress(f"model {record.id} copied and verified ({len(record.files)} file(s))")
    first = models[0]
    return base / first.name / str(first.version) if len(models) == 1 else base


def _copy_source(spec: DeploymentSpec, app_root: Path) -> tuple[Path | None, Path]:
    """Copy the source directory (or the lone entry script) into the app folder; return the
    copied source folder (None without one) and the script.

    As v1 laid it out: the source directory keeps its name under AML_APP_ROOT (the working
    directory), so ``open("./<source directory name>/extradata.json")`` finds the file."""
    if spec.source_directory:
        src = Path(spec.source_directory)
        target = app_root / src.name
        shutil.copytree(src, target, dirs_exist_ok=True, ignore=_COPY_IGNORE)
        return target, target / spec.entry_script
    target = app_root / spec.script_path.name
    shutil.copy2(spec.script_path, target)
    return None, target


def _resolve_environment(spec: DeploymentSpec, log: Progress) -> tuple[str, tuple[str, ...]]:
    """The interpreter for the spec's environment (built once, then cached) and its requirements."""
    environment = spec.environment
    if environment is None:
        return sys.executable, ()
    from modelport.environments import resolve_interpreter

    interpreter = resolve_interpreter(environment, _settings.env_cache_root(), log=log)
    return str(interpreter), (*environment.conda_packages, *environment.pip_packages)


def deployment_server_settings(
    name: str,
    spec: DeploymentSpec,
    models: list[ServedModel],
    app_root: Path,
    model_dir: Path,
    source: Path | None,
    script: Path,
) -> ServerSettings:
    """The scoring server's settings as the deployment decides them: its script and folders, its
    limits and batching, its models' names; nothing the target decides."""
    asked = spec.settings
    optional: dict[str, Any] = {
        "max_body_mb": asked.max_body_mb,
        "max_batch_size": asked.max_batch_size,
        "max_batch_latency_ms": asked.max_batch_latency_ms,
        "max_concurrent_requests": asked.max_concurrent_requests,
        "max_request_wait_ms": asked.max_request_wait_ms,
    }
    return ServerSettings(
        entry_script=script.relative_to(source or app_root),
        model_dir=model_dir,
        source_directory=source,
        app_root=app_root,
        scoring_timeout_ms=asked.scoring_timeout_ms,
        token_auth=asked.token_auth_enabled,
        service_name=name,
        models=models,
        # v1's enable_app_insights, kept locally: a JSON line per scoring request.
        traces_file=app_root.parent / TRACES_FILE if asked.app_insights else None,
        retention_days=asked.retention_days,
        retention_mb=asked.retention_mb,
        **{k: v for k, v in optional.items() if v is not None},
    )


def model_data(
    ws: Workspace, name: str, settings: DeploymentSettings, models: list[ServedModel]
) -> dict[str, Any]:
    """Where the service's ModelDataCollector writes (v1's collect_model_data; None when off)
    and where its drift results are found (its /metrics gauges), as server settings."""
    out: dict[str, Any] = {"monitoring_dir": modeldata.monitoring_folder(ws.path, name)}
    if settings.collect_model_data:
        out["model_data"] = {
            "root": str(datastores.root(ws, datastores.DEFAULT) / modeldata.MODELDATA),
            "workspace": modeldata.workspace_identity(ws.path, ws.name),
            "service": name,
            "models": [{"name": m.name, "version": m.version} for m in models],
        }
    return out


def prepare(
    ws: Workspace,
    name: str,
    deployment_id: str,
    spec: DeploymentSpec,
    root: Path,
    progress: Progress,
    phases: list[dict[str, Any]],
) -> ServiceBundle:
    """Build (or reuse) the environment, copy the models and the source, write the server's
    settings: the folder ``root`` becomes a bundle. ``progress`` hears each phase with its time,
    and ``phases`` gets them as ``{"phase", "seconds"}``."""
    root.mkdir(parents=True, exist_ok=True)
    models = [model_registry.get(ws, *model_registry.parse_id(model_id)) for model_id in spec.models]

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
    interpreter, requirements = _resolve_environment(spec, both)
    phase("environment ready", started)
    started = time.monotonic()
    app_root = root / "app"
    app_root.mkdir()

    model_dir = _copy_models(ws, models, app_root, both)
    source, script = _copy_source(spec, app_root)
    if spec.sample_input is not None:
        (app_root / SAMPLE_INPUT_FILE).write_text(json.dumps(spec.sample_input))
    phase("models and source copied", started)
    served = [ServedModel(m.name, str(m.version)) for m in models]
    server = deployment_server_settings(name, spec, served, app_root, model_dir, source, script)
    server = replace(server, **model_data(ws, name, spec.settings, served))
    server.write(root / SERVER_FILE, relative_to=root)
    (root / "requirements.txt").write_text("".join(f"{r}\n" for r in requirements))
    bundle = ServiceBundle(
        root=root,
        service=name,
        deployment_id=deployment_id,
        interpreter=interpreter,
        spec=spec,
        frameworks=tuple(m.framework or "" for m in models),
        requirements=requirements,
    )
    bundle.save()
    return bundle
