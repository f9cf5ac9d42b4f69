"""AKS endpoints (controlled rollout) on Ray: versions behind one URI, split by traffic percentile.

An endpoint is a service record of its own (``target`` ``ray``) whose handle names a router
application (``modelport.server.ray_replica.EndpointRouter``) and its versions. Each version is
an ordinary Ray service, ``<endpoint>--<version>``, deployed by the engine (its own bundle,
environment, replicas and state) and answering to the endpoint's keys. Versions other than the
default take their ``traffic_percentile`` of the requests; the default version takes the rest;
``azureml-model-deployment: <version>`` pins one, and every answer names its version there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelport import keys as keyfile
from modelport.deploy import engine, records, targets
from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.records import ServiceRecord, ServiceState, keys_path
from modelport.errors import InvalidInputError, ModelportError
from modelport.registry.models import ModelRecord
from modelport.workspace import Workspace

__all__ = ["add_version", "create", "delete", "delete_version", "update_version", "version_service"]


def version_service(endpoint: str, version: str) -> str:
    """The service running one version of an endpoint."""
    records.check_service_name(version)
    return records.check_service_name(f"{endpoint}--{version}")


def _check_traffic(versions: dict[str, dict[str, Any]]) -> None:
    defaults = [v for v, info in versions.items() if info.get("default")]
    if versions and len(defaults) != 1:
        raise InvalidInputError(f"an endpoint needs exactly one default version, found {defaults or 'none'}")
    shares = sum(float(info.get("traffic") or 0) for info in versions.values() if not info.get("default"))
    if shares > 100:
        raise InvalidInputError(f"the versions' traffic_percentile add up to {shares:g} (more than 100)")


def _percent(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidInputError(f"traffic_percentile must be a number from 0 to 100, got {value!r}")
    return float(value)


def _route(ws: Workspace, record: ServiceRecord) -> ServiceRecord:
    """Deploy the router over the record's versions; save the record (Transitioning)."""
    assert record.handle is not None
    versions = record.handle["versions"]
    _check_traffic(versions)
    target: Any = targets.get("ray")
    default = next(v for v, info in versions.items() if info.get("default"))
    interpreter = records.load(ws, versions[default]["app"]).handle["interpreter"]  # type: ignore[index]
    target.run_router(record.handle, versions, interpreter)
    endpoint = target.endpoint(record.handle)
    record.scoring_uri, record.swagger_uri = endpoint.scoring_uri, endpoint.swagger_uri
    record.set_state(ServiceState.TRANSITIONING, None)
    records.save(ws, record)
    return record


def create(
    ws: Workspace,
    name: str,
    version: str,
    models: list[ModelRecord],
    inference_config: Any,
    settings: DeploymentSettings,
    traffic_percentile: float | None = None,
    is_control_version_type: bool = False,
) -> ServiceRecord:
    """A new endpoint with its first (default) version."""
    records.check_service_name(name)
    version_service(name, version)
    if not settings.compute_target:
        raise InvalidInputError("an AksEndpoint needs deployment_target=<an AksCompute>")
    record = ServiceRecord(
        name=name,
        target="ray",
        compute_type="AKS",
        models=[m.id for m in models],
        settings={**settings.to_dict(), "endpoint": None},
    )
    records.claim(ws, record, overwrite=False)
    try:
        keyfile.ensure_keys(keys_path(ws, name), settings.primary_key, settings.secondary_key)
        return add_version(
            ws,
            name,
            version,
            models,
            inference_config,
            settings,
            traffic_percentile,
            True,
            is_control_version_type,
        )
    except ModelportError as exc:
        record = records.load(ws, name)
        record.set_state(ServiceState.FAILED, exc.message)
        records.save(ws, record)
        raise


def add_version(
    ws: Workspace,
    name: str,
    version: str,
    models: list[ModelRecord],
    inference_config: Any,
    settings: DeploymentSettings,
    traffic_percentile: float | None = None,
    is_default: bool | None = None,
    is_control_version_type: bool | None = None,
) -> ServiceRecord:
    """Deploy ``version`` (waiting until it is Healthy), then route its share of the traffic."""
    record = records.load(ws, name)
    versions: dict[str, dict[str, Any]] = dict((record.handle or {}).get("versions") or {})
    if version in versions:
        raise InvalidInputError(f"endpoint '{name}' already has a version '{version}'")
    share = _percent(traffic_percentile)
    service = version_service(name, version)
    # Auth and compute are the endpoint's: a version answers to the endpoint's keys, on its cluster.
    version_settings = replace(
        settings,
        endpoint=name,
        auth_enabled=bool(record.settings.get("auth_enabled")),
        token_auth_enabled=bool(record.settings.get("token_auth_enabled")),
        compute_target=record.settings.get("compute_target"),
    )
    deployed = engine.deploy(ws, service, models, inference_config, version_settings, target="ray")
    deployed = engine.wait(ws, service, timeout=600)
    assert deployed.handle is not None
    if is_default or not versions:
        for info in versions.values():
            info["default"] = False
    versions[version] = {
        "app": service,
        "traffic": share if share is not None else 0.0,
        "default": bool(is_default) or not versions,
        "control": bool(is_control_version_type),
    }
    base = {k: deployed.handle[k] for k in ("compute", "workspace", "address", "http_port")}
    record.handle = {**base, "app": name, "router": True, "versions": versions}
    try:
        return _route(ws, record)
    except ModelportError:
        engine.delete(ws, service, missing_ok=True)
        raise


def update_version(
    ws: Workspace,
    name: str,
    version: str,
    traffic_percentile: float | None = None,
    is_default: bool | None = None,
    is_control_version_type: bool | None = None,
    change: engine.ServiceUpdate | None = None,
) -> ServiceRecord:
    """Change a version's share (and default), or redeploy it (models, inference config)."""
    record = records.load(ws, name)
    assert record.handle is not None
    versions = record.handle["versions"]
    if version not in versions:
        raise InvalidInputError(
            f"endpoint '{name}' has no version '{version}' (versions: {', '.join(versions)})"
        )
    if change is not None and not change.metadata_only:
        engine.update(ws, versions[version]["app"], change)
        engine.wait(ws, versions[version]["app"], timeout=600)
    share = _percent(traffic_percentile)
    if share is not None:
        versions[version]["traffic"] = share
    if is_default:
        for info in versions.values():
            info["default"] = False
        versions[version]["default"] = True
    if is_control_version_type is not None:
        versions[version]["control"] = bool(is_control_version_type)
    return _route(ws, record)


def delete_version(ws: Workspace, name: str, version: str) -> ServiceRecord:
    """Stop routing to ``version`` and delete its service (not the default, unless it is alone)."""
    record = records.load(ws, name)
    assert record.handle is not None
    versions = record.handle["versions"]
    if version not in versions:
        raise InvalidInputError(
            f"endpoint '{name}' has no version '{version}' (versions: {', '.join(versions)})"
        )
    if versions[version].get("default") and len(versions) > 1:
        raise InvalidInputError(
            f"version '{version}' is the default of endpoint '{name}': make another version the default first"
        )
    info = versions.pop(version)
    if versions:
        _route(ws, record)
    else:
        records.save(ws, record)
    engine.delete(ws, info["app"], missing_ok=True)
    return record


def delete(ws: Workspace, name: str) -> None:
    """Delete the endpoint's versions, its router, keys and record."""
    try:
        record = records.load(ws, name)
    except ModelportError:
        return
    for info in ((record.handle or {}).get("versions") or {}).values():
        engine.delete(ws, info["app"], missing_ok=True)
    engine.delete(ws, name, missing_ok=True)
