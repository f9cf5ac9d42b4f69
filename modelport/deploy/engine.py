"""The deployment engine: deploy, observe, wait, update, restart, delete, list. Target-neutral.

Deploying is two steps: :func:`modelport.deploy.bundle.prepare` makes a service bundle from a
:class:`~modelport.deploy.spec.DeploymentSpec`, then the target its settings choose
(:func:`modelport.deploy.targets.choose`) runs it. The state a record shows is
reconciled with what its target observes whenever someone looks
(:func:`modelport.deploy.reconcile.next_state`). The v1 facade (``modelport.core``) and the CLI
call these functions; nothing here knows HTTP beyond the client boundary (``modelport.client``).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from modelport import keys as keyfile
from modelport.client import ServiceClient
from modelport.deploy import records, targets
from modelport.deploy._files import json_lines, tail
from modelport.deploy.bundle import TRACES_FILE, ServiceBundle, prepare
from modelport.deploy.reconcile import next_state
from modelport.deploy.records import ServiceRecord, ServiceState, keys_path
from modelport.deploy.spec import DeploymentSpec
from modelport.deploy.targets import EndpointVersion, ProcessInspection, Routing, Runtime, Target
from modelport.environments import builder
from modelport.errors import (
    DeploymentError,
    EnvironmentBuildError,
    InvalidInputError,
    ModelportError,
    ServiceNotFound,
)
from modelport.registry.models import _matches, _normalize_filter
from modelport.workspace import Workspace

__all__ = [
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


def _runtime(ws: Workspace, name: str, spec: DeploymentSpec, port: int | None) -> Runtime:
    settings = spec.settings
    auth = settings.auth_enabled or settings.token_auth_enabled
    # An endpoint's version answers to the endpoint's keys.
    keys = keys_path(ws, settings.endpoint or name) if auth else None
    return Runtime(service=name, port=port, keys_file=keys, token_auth=settings.token_auth_enabled)


def _check_inputs(name: str, spec: DeploymentSpec) -> None:
    records.check_service_name(name)
    if not spec.models:
        raise InvalidInputError("models: give at least one registered Model")
    if not spec.entry_script:
        raise InvalidInputError("inference_config is required (an InferenceConfig with the entry script)")


# -- deploy --------------------------------------------------------------------------------------
def deploy(
    ws: Workspace,
    name: str,
    spec: DeploymentSpec,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ServiceRecord:
    """Prepare a bundle of ``spec`` and start it on the target its settings choose; the record
    (Transitioning, or Failed with the cause).

    With ``overwrite`` a running service is replaced with zero downtime: the new deployment
    starts beside the old one, which is stopped only once the new one is ready. A service that
    is not running (Failed, stopped) is simply deployed again.
    """
    _check_inputs(name, spec)
    target_name = targets.choose(spec.settings)
    chosen = targets.get(target_name)
    asked = ServiceRecord(name=name, spec=spec, target=target_name, deployer=_me())
    previous = records.claim(ws, asked, overwrite)
    say = progress or _quiet
    deployment_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    root = ws.services_dir / name / deployment_id
    phases: list[dict[str, Any]] = []
    replacing = False  # a running service is replaced beside itself; anything else starts anew
    if previous is not None and previous.handle is not None and previous.target == target_name:
        replacing = chosen.observe(previous.handle).running
    port = spec.settings.port
    if replacing:
        assert previous is not None
        if port and port != previous.port:
            raise InvalidInputError(
                f"service '{name}' listens on port {previous.port}; an update keeps the port "
                "(delete the service to change it)"
            )
        port = previous.port
    elif previous is not None and previous.port and not port:
        port = previous.port  # a service deployed again keeps its port where it can
    try:
        bundle = prepare(ws, name, deployment_id, spec, root, say, phases)
        keyfile.ensure_keys(keys_path(ws, name), spec.settings.primary_key, spec.settings.secondary_key)
        runtime = _runtime(ws, name, spec, port)
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
        label = "replacement ready, old deployment stopped" if replacing else chosen.start_phase
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
    fresh = _settle(ws, asked, deployment_id, root, phases, handle=handle)
    place(fresh, chosen.endpoint(handle))
    fresh.set_state(ServiceState.HEALTHY if replacing else ServiceState.TRANSITIONING, None)
    records.save(ws, fresh)
    _forget_old(previous, keep=root)
    return fresh


def place(record: ServiceRecord, endpoint: targets.Endpoint) -> None:
    """Record where a service answers (its target's :class:`~modelport.deploy.targets.Endpoint`)."""
    record.scoring_uri, record.swagger_uri, record.port = (
        endpoint.scoring_uri,
        endpoint.swagger_uri,
        endpoint.port,
    )


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
    observation = None
    moved = False
    if record.handle is not None:
        target = target_of(record)
        observation = target.observe(record.handle)
        if record.port is None and record.scoring_uri:
            # A record an earlier modelport wrote kept its port in the handle: ask its target.
            port = target.endpoint(record.handle).port
            if port is not None:
                record.port, moved = port, True
    state, error = next_state(record, observation, deployer_alive=_alive(record.deployer))
    if record.set_state(state, error) or moved:
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


def environment_notices(record: ServiceRecord) -> list[str]:
    """What a service's environment replaced (its Python, its pins), one line each: from its spec
    and the build record of the interpreter its bundle runs (docs/environments.md, "Old pins")."""
    interpreter = None
    if record.bundle_dir:
        try:
            interpreter = ServiceBundle.load(record.bundle_dir).interpreter
        except (OSError, ValueError, TypeError, KeyError, ModelportError):
            interpreter = None  # failed before its bundle was written: the spec still tells its Python
    return builder.environment_notices(record.spec.environment, interpreter)


def traces(record: ServiceRecord, num: int = 100) -> list[dict[str, Any]]:
    """The last ``num`` request traces of a service deployed with ``enable_app_insights=True``
    (time, request id, status, latency, what run() printed), oldest first."""
    if not record.spec.settings.app_insights:
        raise InvalidInputError(
            f"service '{record.name}' keeps no traces: deploy or update it with enable_app_insights=True"
        )
    if not record.bundle_dir:
        return []
    return json_lines(Path(record.bundle_dir) / TRACES_FILE, num)


def _inspection(record: ServiceRecord) -> ProcessInspection | None:
    if record.handle is None:
        return None
    target = target_of(record)
    return target if isinstance(target, ProcessInspection) else None


def events(record: ServiceRecord) -> list[str]:
    """What the service reported of note (workers recycled for memory), oldest first."""
    inspection = _inspection(record)
    return inspection.events(record.handle) if inspection is not None and record.handle else []


def processes(record: ServiceRecord) -> list[int]:
    """The pids serving it on this machine (none where its target runs it elsewhere)."""
    inspection = _inspection(record)
    return inspection.processes(record.handle) if inspection is not None and record.handle else []


def routes(record: ServiceRecord) -> dict[str, EndpointVersion]:
    """An endpoint's versions as its router routes them now; empty for a service."""
    if record.handle is None:
        return {}
    target = target_of(record)
    return target.routes(record.handle) if isinstance(target, Routing) else {}


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
        if not _matches(record.spec.settings.tags, wanted_tags):
            continue
        if not _matches(record.spec.settings.properties, wanted_properties):
            continue
        out.append(record)
    return out


# -- calling -------------------------------------------------------------------------------------
def credential(ws: Workspace, record: ServiceRecord) -> str | None:
    """What to send as ``Authorization: Bearer``: the primary key, or a fresh token."""
    settings = record.spec.settings
    if settings.auth_enabled:
        return keyfile.read_keys(keys_path(ws, record.name)).primary_key
    if settings.token_auth_enabled:
        return token(ws, record)[0]
    return None


def regenerate_key(ws: Workspace, record: ServiceRecord, key: str, set_key: str | None = None) -> None:
    """Regenerate (or set) the 'Primary' or 'Secondary' key in the service's keys file; a target
    whose replicas cannot read that file (Ray's) is handed the new keys (``publish_keys``)."""
    path = keys_path(ws, record.name)
    keyfile.regenerate(path, key, set_key)
    target = target_of(record)
    publish = getattr(target, "publish_keys", None)
    if publish is not None and record.handle:
        publish(record.handle, path)


def token(ws: Workspace, record: ServiceRecord) -> tuple[str, float]:
    """(token, refresh_after epoch seconds), valid for an hour."""
    if not record.spec.settings.token_auth_enabled:
        raise InvalidInputError(f"service '{record.name}' does not use token auth")
    secret = keyfile.read_keys(keys_path(ws, record.name)).token_secret
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

    trust = (record.handle or {}).get("trust_file")  # an https service: its certificate's trust file
    return ServiceClient(
        record.name,
        record.scoring_uri,
        record.swagger_uri,
        auth,
        describe,
        cache_key=record.deployment_id,
        verify=str(trust) if trust else True,
    )


# -- changing ------------------------------------------------------------------------------------
def update(ws: Workspace, name: str, spec: DeploymentSpec, *, redeploy: bool = True) -> ServiceRecord:
    """Make the service ``name`` what ``spec`` (a ``dataclasses.replace`` of its record's) says:
    its tags, properties and description at once; with ``redeploy``, everything by a zero-downtime
    redeployment, on its port, its entry script and source folder read again."""
    record = refresh(ws, name)
    if not redeploy:
        asked = record.spec.settings
        settings = replace(
            asked,
            tags=spec.settings.tags,
            properties=spec.settings.properties,
            description=spec.settings.description,
        )
        record.spec = replace(record.spec, settings=settings)
        records.save(ws, record)
        return record
    if not spec.entry_script:
        raise InvalidInputError(f"service '{name}' has no inference config recorded; deploy it again")
    spec.check_script()
    if spec.settings.port is None and record.port:
        spec = replace(spec, settings=replace(spec.settings, port=record.port))
    return deploy(ws, name, spec, overwrite=True)


def restart(ws: Workspace, name: str) -> ServiceRecord:
    """Start a service again from its bundle, on the same port with the same keys."""
    record = records.load(ws, name)
    if not record.bundle_dir or not (Path(record.bundle_dir) / "bundle.json").is_file():
        raise InvalidInputError(f"service '{name}' has no prepared deployment to restart; deploy it again")
    target = target_of(record)
    if record.handle is not None:
        target.stop(record.handle)
    _sweep(target, ws.services_dir / name)
    try:
        bundle = ServiceBundle.load(record.bundle_dir)
        handle = target.start(bundle, _runtime(ws, name, record.spec, record.port))
    except ModelportError as exc:
        record.set_state(ServiceState.FAILED, f"cannot restart: {exc.message}")
        records.save(ws, record)
        return record
    record.handle = handle
    place(record, target.endpoint(handle))
    record.set_state(ServiceState.TRANSITIONING, None)
    records.save(ws, record)
    return record


def _sweep(target: Target, folder: Path) -> None:
    """What a deployer killed between starting a server and saving its handle left running."""
    if isinstance(target, ProcessInspection):
        target.sweep(folder)


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
        _sweep(target_of(record), ws.services_dir / name)
    if record is None:
        return
    shutil.rmtree(ws.services_dir / name, ignore_errors=True)
    keys_path(ws, name).unlink(missing_ok=True)
    records.remove(ws, name)


def names(ws: Workspace) -> list[str]:
    return records.names(ws)
