"""AKS endpoints (controlled rollout): versions behind one URI, split by traffic percentile.

An endpoint is a service record of its own whose handle is a router's, on a target that can
route (:class:`~modelport.deploy.targets.Routing`: Ray). Each version is an ordinary service,
``<endpoint>--<version>``, deployed by the engine from its own spec (its own bundle, environment,
replicas and state) and answering to the endpoint's keys. Versions other than the default take
their ``traffic_percentile`` of the requests; the default version takes the rest;
``azureml-model-deployment: <version>`` pins one, and every answer names its version there.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from modelport import keys as keyfile
from modelport.deploy import engine, records, targets
from modelport.deploy.records import ServiceRecord, ServiceState, keys_path
from modelport.deploy.spec import DeploymentSpec
from modelport.deploy.targets import EndpointVersion, Routing
from modelport.errors import InvalidInputError, ModelportError
from modelport.workspace import Workspace

__all__ = ["add_version", "create", "delete", "delete_version", "update_version", "version_service"]


def version_service(endpoint: str, version: str) -> str:
    """The service running one version of an endpoint."""
    records.check_service_name(version)
    return records.check_service_name(f"{endpoint}--{version}")


def _check_traffic(versions: dict[str, EndpointVersion]) -> None:
    defaults = [v for v, info in versions.items() if info.default]
    if versions and len(defaults) != 1:
        raise InvalidInputError(f"an endpoint needs exactly one default version, found {defaults or 'none'}")
    shares = sum(info.traffic for info in versions.values() if not info.default)
    if shares > 100:
        raise InvalidInputError(f"the versions' traffic_percentile add up to {shares:g} (more than 100)")


def _percent(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise InvalidInputError(f"traffic_percentile must be a number from 0 to 100, got {value!r}")
    return float(value)


def _router(record: ServiceRecord) -> Routing:
    target = engine.target_of(record)
    if not isinstance(target, Routing):
        raise InvalidInputError(f"the {record.target} target cannot route traffic between versions")
    return target


def _route(ws: Workspace, record: ServiceRecord, versions: dict[str, EndpointVersion]) -> ServiceRecord:
    """Route the endpoint to ``versions``; save the record (Transitioning)."""
    _check_traffic(versions)
    router = _router(record)
    handles = {}
    for version, info in versions.items():
        handle = records.load(ws, info.service).handle
        if handle is None:
            raise InvalidInputError(f"version '{version}' of endpoint '{record.name}' is not running")
        handles[version] = handle
    record.handle = router.route(record.name, versions, handles)
    engine.place(record, engine.target_of(record).endpoint(record.handle))
    record.set_state(ServiceState.TRANSITIONING, None)
    records.save(ws, record)
    return record


def create(
    ws: Workspace,
    name: str,
    version: str,
    spec: DeploymentSpec,
    traffic_percentile: float | None = None,
    is_control_version_type: bool = False,
) -> ServiceRecord:
    """A new endpoint with its first (default) version, deployed from ``spec``."""
    records.check_service_name(name)
    version_service(name, version)
    settings = spec.settings
    if not settings.compute_target:
        raise InvalidInputError("an AksEndpoint needs deployment_target=<an AksCompute>")
    record = ServiceRecord(
        name=name,
        spec=replace(spec, settings=replace(settings, endpoint=None)),
        target=targets.choose(settings),
    )
    records.claim(ws, record, overwrite=False)
    try:
        keyfile.ensure_keys(keys_path(ws, name), settings.primary_key, settings.secondary_key)
        return add_version(ws, name, version, spec, traffic_percentile, True, is_control_version_type)
    except ModelportError as exc:
        record = records.load(ws, name)
        record.set_state(ServiceState.FAILED, exc.message)
        records.save(ws, record)
        raise


def add_version(
    ws: Workspace,
    name: str,
    version: str,
    spec: DeploymentSpec,
    traffic_percentile: float | None = None,
    is_default: bool | None = None,
    is_control_version_type: bool | None = None,
) -> ServiceRecord:
    """Deploy ``version`` from ``spec`` (waiting until it is Healthy), then route its share."""
    record = records.load(ws, name)
    versions = engine.routes(record)
    if version in versions:
        raise InvalidInputError(f"endpoint '{name}' already has a version '{version}'")
    share = _percent(traffic_percentile)
    service = version_service(name, version)
    # Auth and compute are the endpoint's: a version answers to the endpoint's keys, on its cluster.
    asked = record.spec.settings
    settings = replace(
        spec.settings,
        endpoint=name,
        auth_enabled=asked.auth_enabled,
        token_auth_enabled=asked.token_auth_enabled,
        compute_target=asked.compute_target,
    )
    engine.deploy(ws, service, replace(spec, settings=settings))
    engine.wait(ws, service, timeout=600)
    default = bool(is_default) or not versions
    if default:
        versions = {v: replace(info, default=False) for v, info in versions.items()}
    versions[version] = EndpointVersion(
        service=service,
        traffic=share if share is not None else 0.0,
        default=default,
        control=bool(is_control_version_type),
    )
    try:
        return _route(ws, record, versions)
    except ModelportError:
        engine.delete(ws, service, missing_ok=True)
        raise


def _version(record: ServiceRecord, version: str) -> dict[str, EndpointVersion]:
    versions = engine.routes(record)
    if version not in versions:
        raise InvalidInputError(
            f"endpoint '{record.name}' has no version '{version}' (versions: {', '.join(versions)})"
        )
    return versions


def update_version(
    ws: Workspace,
    name: str,
    version: str,
    traffic_percentile: float | None = None,
    is_default: bool | None = None,
    is_control_version_type: bool | None = None,
    change: Any = None,
) -> ServiceRecord:
    """Change a version's share (and default), or redeploy it: ``change`` makes its new spec
    from its current one (``lambda spec: replace(spec, models=...)``)."""
    record = records.load(ws, name)
    versions = _version(record, version)
    service = versions[version].service
    if change is not None:
        engine.update(ws, service, change(records.load(ws, service).spec))
        engine.wait(ws, service, timeout=600)
    share = _percent(traffic_percentile)
    if share is not None:
        versions[version] = replace(versions[version], traffic=share)
    if is_default:
        versions = {v: replace(info, default=v == version) for v, info in versions.items()}
    if is_control_version_type is not None:
        versions[version] = replace(versions[version], control=bool(is_control_version_type))
    return _route(ws, record, versions)


def delete_version(ws: Workspace, name: str, version: str) -> ServiceRecord:
    """Stop routing to ``version`` and delete its service (not the default, unless it is alone)."""
    record = records.load(ws, name)
    versions = _version(record, version)
    if versions[version].default and len(versions) > 1:
        raise InvalidInputError(
            f"version '{version}' is the default of endpoint '{name}': make another version the default first"
        )
    info = versions.pop(version)
    if versions:
        _route(ws, record, versions)
    elif record.handle is not None:  # nothing left to route to: the router goes too
        engine.target_of(record).stop(record.handle)
        record.handle = None
        record.set_state(ServiceState.FAILED, f"endpoint '{name}' has no versions: create one")
        records.save(ws, record)
    engine.delete(ws, info.service, missing_ok=True)
    return record


def delete(ws: Workspace, name: str) -> None:
    """Delete the endpoint's versions, its router, keys and record."""
    try:
        record = records.load(ws, name)
    except ModelportError:
        return
    for info in engine.routes(record).values():
        engine.delete(ws, info.service, missing_ok=True)
    engine.delete(ws, name, missing_ok=True)
