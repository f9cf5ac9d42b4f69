"""What the studio's pages show, as JSON-able dicts read from the engine and the registries.

No HTTP here and no lifecycle logic: each function reads (or asks the engine to do) one thing.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from modelport import _settings
from modelport.deploy import engine, keywords, records
from modelport.deploy.records import ServiceRecord
from modelport.environments import EnvSpec, cached_interpreter, spec_key
from modelport.environments.builder import environment_notices
from modelport.errors import ModelportError
from modelport.protocols.swagger import EXAMPLE_SOURCE
from modelport.registry import environments as env_registry
from modelport.registry import models as model_registry
from modelport.registry.models import ModelRecord
from modelport.server.config import ServerConfig
from modelport.workspace import Workspace

__all__ = [
    "environments",
    "example_input",
    "model_version",
    "models",
    "service_detail",
    "service_summary",
]

CANVAS_INPUTS = 784  # 28 x 28: the tutorial's MNIST model


def _first_line(text: str | None) -> str | None:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else None


def auth_mode(record: ServiceRecord) -> str:
    if record.spec.settings.auth_enabled:
        return "key"
    if record.spec.settings.token_auth_enabled:
        return "token"
    return "none"


def service_summary(record: ServiceRecord) -> dict[str, Any]:
    """A row of the Services page."""
    return {
        "name": record.name,
        "state": record.state.value,
        "target": record.target,
        "compute_type": record.compute_type,
        "scoring_uri": record.scoring_uri,
        "models": list(record.models),
        "created_time": record.created_time,
        "updated_time": record.updated_time,
        "tags": dict(record.spec.settings.tags),
        "reason": _first_line(record.error),
    }


_SERVER_DEFAULTS = {
    f.name: f.default for f in dataclasses.fields(ServerConfig) if f.default is not dataclasses.MISSING
}


def configuration(record: ServiceRecord) -> dict[str, Any]:
    """The Details card's configuration: each value in effect, not only what was asked. A value
    nobody set says where it comes from: ``100.0 (default)``, ``5001 (picked)``."""
    settings = record.spec.settings

    def in_effect(name: str) -> Any:
        # The server runs with what the deployment asked; what it left unset is the server's default.
        asked = getattr(settings, name)
        if asked is not None:
            return asked
        default = _SERVER_DEFAULTS.get(name)
        return f"{default} (default)" if default is not None else None

    port = record.port or (urlsplit(record.scoring_uri).port if record.scoring_uri else None)
    batching = in_effect("max_batch_size")
    return {
        "compute_type": settings.compute_type,
        "cpu_cores": settings.cpu_cores or "not limited (all cores)",
        "memory_gb": settings.memory_gb or "not limited",
        "workers": in_effect("workers"),
        "port": port if settings.port or port is None else f"{port} (picked)",
        "auth_enabled": settings.auth_enabled,
        "token_auth_enabled": settings.token_auth_enabled,
        "scoring_timeout_ms": in_effect("scoring_timeout_ms"),
        "max_concurrent_requests": in_effect("max_concurrent_requests"),
        "max_request_wait_ms": in_effect("max_request_wait_ms"),
        "max_batch_size": batching if batching is not None else "off (no batching)",
        "max_batch_latency_ms": in_effect("max_batch_latency_ms") if batching is not None else "not used",
        "max_body_mb": in_effect("max_body_mb"),
    }


def api_page(record: ServiceRecord) -> str | None:
    """The service's interactive API page (``/swagger``, beside ``/swagger.json``)."""
    uri = record.swagger_uri or ""
    return uri[: -len(".json")] if uri.endswith("/swagger.json") else None


def service_detail(ws: Workspace, record: ServiceRecord) -> dict[str, Any]:
    """The Details tab: configuration, models, environment, state history, failure and init log."""
    spec = record.spec
    config = configuration(record)
    try:
        init_log = engine.logs(ws, record, init=True)
    except (ModelportError, OSError) as exc:
        init_log = f"(cannot read the log: {exc})"
    try:
        events = engine.events(record)
    except (ModelportError, OSError):
        events = []
    return {
        **service_summary(record),
        "swagger_uri": record.swagger_uri,
        "api_page": api_page(record),
        "description": spec.settings.description,
        "properties": dict(spec.settings.properties),
        "configuration": config,
        "auth": auth_mode(record),
        "entry_script": spec.entry_script or None,
        "source_directory": spec.source_directory,
        "environment": None if spec.environment is None else spec.environment.to_dict(),
        "environment_notices": engine.environment_notices(record),
        # v1's other keywords (TLS, probes, Kubernetes, Azure-only) as given (PEM paths, never
        # their content), and the one line saying which act nowhere here.
        "deployment_keywords": keywords.given_keywords(spec.settings),
        "keyword_notice": keywords.deploy_notice(spec.settings),
        "deployment_id": record.deployment_id,
        "phases": list(record.phases),
        "history": list(record.history),
        "error": record.error,
        "init_log": init_log,
        "events": events,
    }


def example_input(swagger: dict[str, Any] | None) -> dict[str, Any]:
    """The Test tab's prefill from a service's swagger: its input example (inference-schema's, a
    hand-written swagger's, or the sample input given at deployment), else zeros in the shape of
    a declared array input; where it came from (``source``: ``schema``, ``sample``, ``array``);
    and whether the input is 784 numbers (a 28x28 image), which brings the drawing canvas."""
    doc = swagger or {}
    schema = (doc.get("definitions") or {}).get("ServiceInput") or (
        (doc.get("components") or {}).get("schemas") or {}
    ).get("ServiceInput")
    schema = schema if isinstance(schema, dict) else {}
    example = schema.get("example")
    source = None
    if example is not None:
        source = "sample" if schema.get(EXAMPLE_SOURCE) == "sample" else "schema"
    array = doc.get("x-modelport-array-input")
    if example is None and isinstance(array, dict) and isinstance(array.get("shape"), list):
        shape = [1 if not isinstance(n, int) or n < 1 else n for n in array["shape"]] or [1]
        zeros: Any = 0
        for n in reversed(shape):
            zeros = [zeros] * n
        example, source = {str(array.get("name") or "data"): zeros}, "array"
    return {
        "example": example,
        "declared": example is not None,
        "source": source,
        "canvas": _is_image(example),
    }


def _is_image(example: Any) -> bool:
    if not isinstance(example, dict) or len(example) != 1:
        return False
    value = next(iter(example.values()))
    if isinstance(value, list) and value and isinstance(value[0], list):
        value = value[0]
    return isinstance(value, list) and len(value) == CANVAS_INPUTS


# -- models --------------------------------------------------------------------------------------
def _users(ws: Workspace) -> dict[str, list[str]]:
    """model id -> the services deployed with it."""
    out: dict[str, list[str]] = {}
    for record in records.load_all(ws):
        for model_id in record.models:
            out.setdefault(model_id, []).append(record.name)
    return out


def _version(record: ModelRecord, users: dict[str, list[str]], files: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": record.name,
        "version": record.version,
        "id": record.id,
        "kind": record.kind,
        "description": record.description,
        "tags": record.tags,
        "properties": record.properties,
        "framework": record.framework,
        "framework_version": record.framework_version,
        "created_time": record.created_time,
        "size": sum(f.size for f in record.files),
        "file_count": len(record.files),
        "services": users.get(record.id, []),
    }
    if files:
        data["files"] = [{"path": f.relpath, "sha256": f.sha256, "size": f.size} for f in record.files]
    return data


def models(ws: Workspace) -> list[dict[str, Any]]:
    """Every model name with its versions, newest first."""
    users = _users(ws)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in model_registry.find(ws):
        grouped.setdefault(record.name, []).append(_version(record, users))
    return [{"name": name, "versions": versions} for name, versions in grouped.items()]


def model_version(ws: Workspace, name: str, version: int) -> dict[str, Any]:
    return _version(model_registry.get(ws, name, version), _users(ws), files=True)


# -- environments --------------------------------------------------------------------------------
_sizes: dict[str, tuple[float, int]] = {}


def _folder_size(folder: Path) -> int:
    """Bytes under ``folder`` (cached a minute: a virtualenv holds thousands of files)."""
    key = str(folder)
    cached = _sizes.get(key)
    if cached is not None and time.monotonic() - cached[0] < 60:
        return cached[1]
    total = 0
    for dirpath, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    _sizes[key] = (time.monotonic(), total)
    return total


def build_state(spec: dict[str, Any]) -> dict[str, Any]:
    """Whether the environment's virtualenv is built in the cache, being built, or not; its size."""
    try:
        env = EnvSpec.from_dict(spec)
    except ModelportError as exc:
        return {"state": "invalid", "detail": exc.message, "size": None, "key": None}
    if env.user_managed:
        found = cached_interpreter(env, _settings.env_cache_root())
        return {
            "state": "user-managed",
            "detail": str(found) if found else f"interpreter {env.interpreter_path!r} not found",
            "size": None,
            "key": None,
        }
    root = _settings.env_cache_root()
    try:
        key = spec_key(env)
    except ModelportError as exc:
        return {"state": "invalid", "detail": exc.message, "size": None, "key": None}
    built = cached_interpreter(env, root)
    if built is not None:
        return {
            "state": "built",
            "detail": str(root / key),
            "size": _folder_size(root / key),
            "key": key,
            "replaced": environment_notices(spec, built),
        }
    if root.is_dir() and any(root.glob(f".build-{key}-*")):
        return {"state": "building", "detail": None, "size": None, "key": key}
    return {"state": "not built", "detail": "built at its first deployment", "size": None, "key": key}


def environments(ws: Workspace) -> list[dict[str, Any]]:
    """Every environment name with its versions (spec, build state, cache size)."""
    out = []
    for latest in env_registry.list_latest(ws):
        name = latest["name"]
        versions = []
        for spec in reversed(env_registry.versions(ws, name)):
            pinned = {
                k: spec.get(k)
                for k in (
                    "python_version",
                    "pip_packages",
                    "conda_packages",
                    "pip_options",
                    "user_managed_dependencies",
                    "interpreter_path",
                    "environment_variables",
                    "pin_policy",
                    "docker_base_image",
                    "docker_base_dockerfile",
                )
                if spec.get(k) not in (None, [], {}, "")
            }
            versions.append({"version": spec.get("version"), "spec": pinned, "build": build_state(spec)})
        out.append({"name": name, "versions": versions})
    return out
