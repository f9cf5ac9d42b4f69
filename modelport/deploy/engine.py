"""The deployment engine: deploy, observe, wait, update, restart, delete, list. Target-neutral.

Deploying is two steps: :func:`modelport.deploy.bundle.prepare` makes a service bundle, then the
target the record names (:mod:`modelport.deploy.targets`) runs it. The state a record shows is
reconciled with what its target observes whenever someone looks
(:func:`modelport.deploy.reconcile.next_state`). The v1 facade (``modelport.core``) and the CLI
call these functions; nothing here knows HTTP beyond the client boundary (``modelport.client``).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psutil

from modelport import keys as keyfile
from modelport.client import ServiceClient
from modelport.deploy import records, targets
from modelport.deploy._files import json_lines, tail
from modelport.deploy.bundle import TRACES_FILE, ServiceBundle, prepare
from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.inference import InferenceConfig
from modelport.deploy.reconcile import next_state
from modelport.deploy.records import ServiceRecord, ServiceState, keys_path
from modelport.deploy.targets import Runtime, Target
from modelport.errors import (
    DeploymentError,
    EnvironmentBuildError,
    InvalidInputError,
    ModelportError,
    ServiceNotFound,
)
from modelport.registry import models as model_registry
from modelport.registry.models import ModelRecord, _matches, _normalize_filter
from modelport.workspace import Workspace

__all__ = [
    "ServiceUpdate",
    "delete",
    "deploy",
    "list_services",
    "logs",
    "refresh",
    "restart",
    "update",
    "wait",
]

Progress = Callable[[str], None]
REPLACE_TIMEOUT_S = 600.0


def _quiet(_line: str) -> None:
    pass


def _alive(process: dict[str, Any] | None) -> bool:
    if not process:
        return False
    try:
        proc = psutil.Process(int(process["pid"]))
        return abs(proc.create_time() - float(process["create_time"])) < 0.05
    except (psutil.Error, KeyError, TypeError, ValueError):
        return False


def _me() -> dict[str, Any]:
    me = psutil.Process()
    return {"pid": me.pid, "create_time": me.create_time()}


def target_of(record: ServiceRecord) -> Target:
    return targets.get(record.target)


def _runtime(ws: Workspace, name: str, settings: DeploymentSettings, port: int | None) -> Runtime:
    auth = settings.auth_enabled or settings.token_auth_enabled
    return Runtime(
        service=name,
        port=port,
        keys_file=keys_path(ws, name) if auth else None,
        token_auth=settings.token_auth_enabled,
    )


def _check_inputs(name: str, models: list[ModelRecord], inference_config: Any) -> None:
    records.check_service_name(name)
    if not models:
        raise InvalidInputError("models: give at least one registered Model")
    for m in models:
        if not isinstance(m, ModelRecord):
            raise InvalidInputError(f"models must be registered models, got {type(m).__name__}")
    if inference_config is None:
        raise InvalidInputError("inference_config is required (an InferenceConfig with the entry script)")


# -- deploy --------------------------------------------------------------------------------------
def deploy(
    ws: Workspace,
    name: str,
    models: list[ModelRecord],
    inference_config: Any,
    settings: DeploymentSettings,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
    target: str | None = None,
) -> ServiceRecord:
    """Prepare a bundle and start it on its target; the record (Transitioning, or Failed with
    the cause). ``target`` defaults to the one ``settings.compute_type`` maps to.

    With ``overwrite`` a running service is replaced with zero downtime: the new deployment
    starts beside the old one, which is stopped only once the new one is ready. A service that
    is not running (Failed, stopped) is simply deployed again.
    """
    _check_inputs(name, models, inference_config)
    target_name = target or targets.target_for(settings.compute_type)
    chosen = targets.get(target_name)
    asked = ServiceRecord(
        name=name,
        target=target_name,
        compute_type=settings.compute_type,
        deployer=_me(),
        models=[m.id for m in models],
        inference_config=inference_config.serialize(),
        environment=None if inference_config.environment is None else inference_config.environment.to_spec(),
        settings=settings.to_dict(),
    )
    previous = records.claim(ws, asked, overwrite)
    say = progress or _quiet
    deployment_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    root = ws.services_dir / name / deployment_id
    phases: list[dict[str, Any]] = []
    replacing = False  # a running service is replaced beside itself; anything else starts anew
    if previous is not None and previous.handle is not None and previous.target == target_name:
        replacing = chosen.observe(previous.handle).running
    port = settings.port
    if replacing:
        assert previous is not None
        if settings.port and settings.port != previous.port:
            raise InvalidInputError(
                f"service '{name}' listens on port {previous.port}; an update keeps the port "
                "(delete the service to change it)"
            )
    elif previous is not None and previous.port and not settings.port:
        port = previous.port  # a service deployed again keeps its port where it can
    try:
        bundle = prepare(ws, name, deployment_id, models, inference_config, settings, root, say, phases)
        keyfile.ensure_keys(keys_path(ws, name), settings.primary_key, settings.secondary_key)
        runtime = _runtime(ws, name, settings, port)
        started = time.monotonic()
        if replacing:
            assert previous is not None and previous.handle is not None
            handle = chosen.replace(previous.handle, bundle, runtime, REPLACE_TIMEOUT_S)
        else:
            if previous is not None and previous.handle is not None:
                target_of(previous).stop(previous.handle)
            handle = chosen.start(bundle, runtime)
        took = time.monotonic() - started
        # What start() did, in the target's words (Ray's start only submits the application).
        label = (
            "replacement ready, old deployment stopped"
            if replacing
            else getattr(chosen, "start_phase", "server started")
        )
        phases.append({"phase": label, "seconds": round(took, 3)})
        bundle.log(f"{label} ({took:.2f} s)")
        say(f"{label} ({took:.2f} s)")
    except (ModelportError, OSError) as exc:
        cause = exc.message if isinstance(exc, ModelportError) else f"{type(exc).__name__}: {exc}"
        if root.is_dir():
            with open(root / "service.log", "a") as f:
                if isinstance(exc, EnvironmentBuildError) and exc.log:
                    f.write(
                        "[modelport] environment build failed; the installer said:\n"
                        + exc.log.rstrip()
                        + "\n"
                    )
                f.write(f"[modelport] deployment failed: {cause}\n")
        if replacing:
            shutil.rmtree(root, ignore_errors=True)
            raise
        _forget_old(previous, keep=root)
        failed = _settle(ws, asked, deployment_id, root, phases, handle=None)
        failed.set_state(ServiceState.FAILED, cause)
        records.save(ws, failed)
        return failed
    endpoint = chosen.endpoint(handle)
    fresh = _settle(ws, asked, deployment_id, root, phases, handle=handle)
    fresh.scoring_uri, fresh.swagger_uri = endpoint.scoring_uri, endpoint.swagger_uri
    fresh.set_state(ServiceState.HEALTHY if replacing else ServiceState.TRANSITIONING, None)
    records.save(ws, fresh)
    _forget_old(previous, keep=root)
    return fresh


def _settle(
    ws: Workspace,
    asked: ServiceRecord,
    deployment_id: str,
    root: Path,
    phases: list[dict[str, Any]],
    handle: dict[str, Any] | None,
) -> ServiceRecord:
    """The record of this deployment: what was asked, where it runs, with the stored record's
    creation time and state history kept (the deployer saves it after setting the state)."""
    stored = records.load(ws, asked.name)
    return replace(
        asked,
        created_time=stored.created_time,
        history=stored.history,
        state=stored.state,
        error=stored.error,
        handle=handle,
        deployer=None,
        deployment_id=deployment_id,
        bundle_dir=str(root),
        log_file=str(root / "service.log"),
        phases=phases,
    )


def _forget_old(previous: ServiceRecord | None, keep: Path) -> None:
    """Remove the bundle an earlier deployment of the service left (not the one in use)."""
    if previous is not None and previous.bundle_dir and Path(previous.bundle_dir) != keep:
        shutil.rmtree(previous.bundle_dir, ignore_errors=True)


# -- observing -----------------------------------------------------------------------------------
def refresh(ws: Workspace, name: str) -> ServiceRecord:
    """The record, its state reconciled with what its target observes now (saved if it moved)."""
    record = records.load(ws, name)
    if record.state in (ServiceState.FAILED, ServiceState.DELETING):
        return record
    observation = target_of(record).observe(record.handle) if record.handle is not None else None
    state, error = next_state(record, observation, deployer_alive=_alive(record.deployer))
    if record.set_state(state, error):
        records.save(ws, record)
    return record


def wait(
    ws: Workspace,
    name: str,
    timeout: float | None = None,
    on_poll: Callable[[ServiceRecord], None] | None = None,
) -> ServiceRecord:
    """Wait until the service is Healthy; raise DeploymentError with the cause if it fails
    (init()'s traceback, the build's error) or ``timeout`` seconds pass (default 600)."""
    deadline = time.monotonic() + (timeout if timeout is not None else 600.0)
    delay = 0.02
    while True:
        record = refresh(ws, name)
        if on_poll is not None:
            on_poll(record)
        if record.state is ServiceState.HEALTHY:
            return record
        if record.state in (ServiceState.FAILED, ServiceState.DELETING):
            cause = record.error or "no cause recorded"
            raise DeploymentError(
                name, record.state.value, cause, hint="see service.get_logs() for the full log"
            )
        if time.monotonic() > deadline:
            raise DeploymentError(
                name, record.state.value, f"not Healthy after {timeout} s: {record.error or 'still starting'}"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def logs(ws: Workspace, record: ServiceRecord, num_lines: int = 5000, init: bool = False) -> str:
    """The service log's last ``num_lines`` lines; ``init``: only the deployment's own lines."""
    if record.handle is not None:
        text = target_of(record).logs(record.handle, num_lines if not init else 100_000)
    else:  # failed before anything started: what preparing it wrote
        text = tail(record.log_file, num_lines if not init else 100_000)
    if init:
        return "\n".join(line for line in text.splitlines() if line.startswith("[modelport]"))
    return text


def traces(record: ServiceRecord, num: int = 100) -> list[dict[str, Any]]:
    """The last ``num`` request traces of a service deployed with ``enable_app_insights=True``
    (time, request id, status, latency, what run() printed), oldest first."""
    if not record.settings.get("app_insights"):
        raise InvalidInputError(
            f"service '{record.name}' keeps no traces: deploy or update it with enable_app_insights=True"
        )
    if not record.bundle_dir:
        return []
    return json_lines(Path(record.bundle_dir) / TRACES_FILE, num)


def events(record: ServiceRecord) -> list[str]:
    """What the service reported of note (workers recycled for memory), oldest first."""
    return target_of(record).events(record.handle) if record.handle is not None else []


def processes(record: ServiceRecord) -> list[int]:
    return target_of(record).processes(record.handle) if record.handle is not None else []


def list_services(
    ws: Workspace,
    compute_type: str | None = None,
    model_name: str | None = None,
    model_id: str | None = None,
    tags: Any = None,
    properties: Any = None,
) -> list[ServiceRecord]:
    """Services matching every filter (tags/properties: ``key`` or ``[key, value]`` items),
    each with its state observed now."""
    wanted_tags = _normalize_filter(tags, "tags")
    wanted_properties = _normalize_filter(properties, "properties")
    out = []
    for name in records.names(ws):
        try:
            record = refresh(ws, name)
        except ServiceNotFound:  # deleted while we looked
            continue
        if compute_type and record.compute_type.upper() != compute_type.upper():
            continue
        if model_name and not any(i.split(":")[0] == model_name for i in record.models):
            continue
        if model_id and model_id not in record.models:
            continue
        if not _matches(record.settings.get("tags") or {}, wanted_tags):
            continue
        if not _matches(record.settings.get("properties") or {}, wanted_properties):
            continue
        out.append(record)
    return out


# -- calling -------------------------------------------------------------------------------------
def credential(ws: Workspace, record: ServiceRecord) -> str | None:
    """What to send as ``Authorization: Bearer``: the primary key, or a fresh token."""
    settings = record.settings
    if settings.get("auth_enabled"):
        return keyfile.read_keys(keys_path(ws, record.name))["primary_key"]
    if settings.get("token_auth_enabled"):
        return token(ws, record)[0]
    return None


def token(ws: Workspace, record: ServiceRecord) -> tuple[str, float]:
    """(token, refresh_after epoch seconds), valid for an hour."""
    if not record.settings.get("token_auth_enabled"):
        raise InvalidInputError(f"service '{record.name}' does not use token auth")
    secret = keyfile.read_keys(keys_path(ws, record.name))["token_secret"]
    made, expires = keyfile.make_token(secret, 3600)
    return made, expires - 600


def client(ws: Workspace, record: ServiceRecord) -> ServiceClient:
    """A client for the service as ``record`` describes it; when nothing answers, its errors
    name the state the engine observes then."""

    def auth() -> dict[str, str]:
        value = credential(ws, record)
        return {"Authorization": f"Bearer {value}"} if value else {}

    def describe() -> str:
        try:
            now = refresh(ws, record.name)
        except ServiceNotFound:
            return "does not exist (it was deleted)"
        if now.state is ServiceState.HEALTHY:
            return "is Healthy but did not answer"
        # One line: a traceback's last line says what failed; the logs have the rest.
        lines = [line.strip() for line in (now.error or "").splitlines() if line.strip()]
        return f"is {now.state.value}" + (f": {lines[-1]}" if lines else "")

    return ServiceClient(
        record.name, record.scoring_uri, record.swagger_uri, auth, describe, cache_key=record.deployment_id
    )


# -- changing ------------------------------------------------------------------------------------
@dataclass
class ServiceUpdate:
    """What ``update`` changes; None leaves a field as it is."""

    models: list[ModelRecord] | None = None
    inference_config: Any = None
    tags: dict[str, str] | None = None
    properties: dict[str, str] | None = None
    description: str | None = None
    settings: DeploymentSettings | None = None
    """New deployment settings (cpu, memory, auth, timeouts, ...): a zero-downtime replace."""

    @property
    def metadata_only(self) -> bool:
        return self.models is None and self.inference_config is None and self.settings is None


class RecordedEnvironment:
    """An environment as a record stores it (its spec), for redeploying what was deployed."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.name = spec.get("name")
        self.environment_variables: dict[str, str] = dict(spec.get("environment_variables") or {})

    def to_spec(self) -> dict[str, Any]:
        return self.spec


def recorded_inference_config(record: ServiceRecord) -> InferenceConfig:
    """The InferenceConfig a record was deployed with (its entry script and source, read again)."""
    ic = record.inference_config
    if not ic or not ic.get("scriptPath"):
        raise InvalidInputError(f"service '{record.name}' has no inference config recorded; deploy it again")
    env_spec = ic.get("environment")
    return InferenceConfig(
        entry_script=ic["scriptPath"] if not ic.get("sourceDirectory") else ic["entryScript"],
        source_directory=ic.get("sourceDirectory"),
        environment=RecordedEnvironment(env_spec) if env_spec else None,
        description=ic.get("description"),
        sample_input=ic.get("sampleInput"),
    )


def _recorded_models(ws: Workspace, ids: list[str]) -> list[ModelRecord]:
    out = []
    for model_id in ids:
        name, _, version = model_id.rpartition(":")
        out.append(model_registry.get(ws, name, int(version)))
    return out


def update(ws: Workspace, name: str, change: ServiceUpdate) -> ServiceRecord:
    """Apply ``change``: metadata at once, anything else by a zero-downtime redeployment."""
    record = refresh(ws, name)
    settings = change.settings or DeploymentSettings.from_dict(record.settings)
    if change.tags is not None:
        settings.tags = dict(change.tags)
    if change.properties is not None:
        merged = dict(record.settings.get("properties") or {})
        for k, v in change.properties.items():
            if k in merged and merged[k] != v:
                raise InvalidInputError(f"property '{k}' is already '{merged[k]}'; properties are add-only")
            merged[k] = v
        settings.properties = merged
    if change.description is not None:
        settings.description = change.description
    if change.metadata_only:
        record.settings = {**record.settings, **_metadata(settings)}
        records.save(ws, record)
        return record
    models = change.models if change.models is not None else _recorded_models(ws, record.models)
    config = change.inference_config
    if config is None:
        config = recorded_inference_config(record)
    if settings.port is None and record.port:
        settings = replace(settings, port=record.port)
    return deploy(ws, name, models, config, settings, overwrite=True, target=record.target)


def _metadata(settings: DeploymentSettings) -> dict[str, Any]:
    return {"tags": settings.tags, "properties": settings.properties, "description": settings.description}


def restart(ws: Workspace, name: str) -> ServiceRecord:
    """Start a service again from its bundle, on the same port with the same keys."""
    record = records.load(ws, name)
    if not record.bundle_dir or not (Path(record.bundle_dir) / "bundle.json").is_file():
        raise InvalidInputError(f"service '{name}' has no prepared deployment to restart; deploy it again")
    target = target_of(record)
    if record.handle is not None:
        target.stop(record.handle)
    target.sweep(ws.services_dir / name)
    settings = DeploymentSettings.from_dict(record.settings)
    try:
        handle = target.start(
            ServiceBundle.load(record.bundle_dir), _runtime(ws, name, settings, record.port)
        )
    except ModelportError as exc:
        record.set_state(ServiceState.FAILED, f"cannot restart: {exc.message}")
        records.save(ws, record)
        return record
    record.handle = handle
    record.set_state(ServiceState.TRANSITIONING, None)
    records.save(ws, record)
    return record


def delete(ws: Workspace, name: str, missing_ok: bool = False) -> None:
    """Stop what runs, remove the bundle, the keys and the record. A name with no service raises
    ServiceNotFound unless ``missing_ok``."""
    try:
        record: ServiceRecord | None = records.load(ws, name)
    except ServiceNotFound:
        if not missing_ok:
            raise
        record = None
    if record is not None:
        record.set_state(ServiceState.DELETING, None)
        records.save(ws, record)
        if record.handle is not None:
            target_of(record).stop(record.handle)
        # What a deployer killed between starting a server and saving its handle left running.
        target_of(record).sweep(ws.services_dir / name)
    if record is None:
        return
    shutil.rmtree(ws.services_dir / name, ignore_errors=True)
    keys_path(ws, name).unlink(missing_ok=True)
    records.remove(ws, name)


def names(ws: Workspace) -> list[str]:
    return records.names(ws)
