"""Deployment configurations with v1's parameters, defaults and validation.

Every v1 parameter is accepted: it takes effect on the local target, in the export, or is
recorded and shown with one line saying it acts nowhere here (:mod:`modelport.deploy.keywords`);
none is silently ignored, and only TLS without certificate files is refused (it would mislead).
All three configurations deploy to the local process target; an
AKS one given a compute target (``deployment_target``) runs on that Ray cluster.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from modelport.deploy import keywords
from modelport.errors import InvalidInputError

__all__ = [
    "AksEndpointDeploymentConfiguration",
    "DeploymentSettings",
    "aci_configuration",
    "aks_configuration",
    "local_configuration",
]


@dataclass(frozen=True)
class DeploymentSettings:
    """What a deployment asks of its target; what every v1 configuration is reduced to. Frozen:
    a change is a ``dataclasses.replace``."""

    compute_type: str = "Local"
    target: str | None = None
    """The target it runs on (``modelport.deploy.targets``); None: the one its compute chooses."""
    port: int | None = None
    workers: int = 1
    cpu_cores: float | None = None
    memory_gb: float | None = None
    auth_enabled: bool = False
    token_auth_enabled: bool = False
    primary_key: str | None = None
    secondary_key: str | None = None
    scoring_timeout_ms: int = 60_000
    max_concurrent_requests: int | None = None
    max_request_wait_ms: int | None = None
    max_batch_size: int | None = None
    max_batch_latency_ms: float | None = None
    max_body_mb: float | None = None
    """Request bodies larger than this answer 413 (the server's default: 100 MB)."""
    num_replicas: int | None = None
    autoscale_enabled: bool = False
    autoscale_min_replicas: int | None = None
    autoscale_max_replicas: int | None = None
    autoscale_target_utilization: int | None = None
    autoscale_refresh_seconds: int | None = None
    """AKS's replica settings (the Ray target scales replicas by them; locally: ``workers``)."""
    compute_target: str | None = None
    """The AKS compute target (a workspace's Ray cluster) a service was deployed to, if any."""
    endpoint: str | None = None
    """The AksEndpoint this service is a version of (it then uses the endpoint's keys), if any."""
    collect_model_data: bool = False
    """v1's ``collect_model_data``: ModelDataCollector in the script writes (docs/monitoring.md)."""
    retention_days: int = 30
    """Collected data and request traces older than this are deleted (0: no age limit)."""
    retention_mb: float = 1024.0
    """Collected data, and request traces, each kept under this size (oldest first)."""
    app_insights: bool = False
    """v1's ``enable_app_insights``: a per-request trace (time, request id, status, latency and what
    run() printed), read with ``get_logs()`` or ``modelport service traces NAME``."""
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    # -- v1's other keywords (checked in modelport.deploy.keywords; docs/deployment.md) ---------
    ssl_enabled: bool = False
    """Serve HTTPS with ``ssl_cert_pem_file`` and ``ssl_key_pem_file`` (both required)."""
    ssl_cert_pem_file: str | None = None
    """The certificate (chain) as given (absolute); the service serves a 0600 copy in its bundle."""
    ssl_key_pem_file: str | None = None
    """The private key as given (absolute); the service serves a 0600 copy in its bundle."""
    period_seconds: int | None = None
    """Probe timings: the local target's readiness checks and the export's Kubernetes probes
    (None: locally, check on every observation; in the export, v1's default)."""
    initial_delay_seconds: int | None = None
    timeout_seconds: int | None = None
    success_threshold: int | None = None
    failure_threshold: int | None = None
    namespace: str | None = None
    """The exported Kubernetes objects' namespace (no local effect)."""
    cpu_cores_limit: float | None = None
    """The export's CPU limit (its request is ``cpu_cores``); default: the request."""
    memory_gb_limit: float | None = None
    """The export's memory limit (its request is ``memory_gb``); default: the request."""
    gpu_cores: int | None = None
    """GPUs: ``nvidia.com/gpu`` in the export, ``num_gpus`` per replica on the Ray target."""
    ssl_cname: str | None = None
    location: str | None = None
    dns_name_label: str | None = None
    vnet_name: str | None = None
    subnet_name: str | None = None
    cmk_vault_base_url: str | None = None
    cmk_key_name: str | None = None
    cmk_key_version: str | None = None
    compute_target_name: str | None = None
    blobfuse_enabled: bool | None = None
    """Recorded and shown only (keywords.RECORDED): Azure placement, networking, encryption."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form without the keys (those live in the 0600 key file only)."""
        data = asdict(self)
        data.pop("primary_key")
        data.pop("secondary_key")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentSettings:
        """The settings :meth:`to_dict` wrote (names an older version wrote and this one does not
        know are left out; missing ones take their defaults)."""
        known = {f.name for f in fields(DeploymentSettings)}
        return DeploymentSettings(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class AksEndpointDeploymentConfiguration(DeploymentSettings):
    """v1's ``AksEndpoint.deploy_configuration()``: an AKS configuration plus the first version's
    name, share and role."""

    version_name: str = ""
    traffic_percentile: float | None = None
    is_default: bool = True
    is_control_version_type: bool = False

    def service_settings(self) -> DeploymentSettings:
        """The settings each version is deployed with (the AKS part of this configuration)."""
        return DeploymentSettings(**{f.name: getattr(self, f.name) for f in fields(DeploymentSettings)})


def _positive(name: str, value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise InvalidInputError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _positive_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InvalidInputError(f"{name} must be a positive integer, got {value!r}")
    return value


def _port(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidInputError(f"port must be an integer from 1 to 65535, got {value!r}")
    return value


def _str_dict(name: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise InvalidInputError(f"{name} must be a dict with string keys, got {type(value).__name__}")
    return {k: str(v) for k, v in value.items()}


def _key(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) < 16 or not value.isprintable() or " " in value:
        raise InvalidInputError(f"{name} must be a printable string of at least 16 characters without spaces")
    return value


def _batching(max_batch_size: Any, max_batch_latency_ms: Any) -> dict[str, Any]:
    """Validated adaptive-batching settings (for scripts whose run() takes one array)."""
    size = _positive_int("max_batch_size", max_batch_size)
    latency: float | None = None
    if max_batch_latency_ms is not None:
        if size is None:
            raise InvalidInputError("max_batch_latency_ms needs max_batch_size (batching is off without it)")
        if (
            isinstance(max_batch_latency_ms, bool)
            or not isinstance(max_batch_latency_ms, int | float)
            or not 0 <= max_batch_latency_ms <= 10_000
        ):
            raise InvalidInputError(
                f"max_batch_latency_ms must be a number from 0 to 10000, got {max_batch_latency_ms!r}"
            )
        latency = float(max_batch_latency_ms)
    return {"max_batch_size": size, "max_batch_latency_ms": latency}


def _body_limit(max_body_mb: Any) -> dict[str, Any]:
    """modelport's own keyword on every configuration: the request body limit (v1 had none)."""
    return {"max_body_mb": _positive("max_body_mb", max_body_mb)}


def _retention_days(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{name} must be a whole number of days (0: no age limit), got {value!r}")
    return value


def _flag(name: str, value: Any) -> bool:
    # A string such as "false" would be truthy: refused rather than read as "on" (v1 wanted a bool).
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}")
    return value


def _monitoring(collect_model_data: Any, retention_days: Any, retention_mb: Any) -> dict[str, Any]:
    """v1's ``collect_model_data`` (every configuration takes it here) and modelport's retention
    keywords, which bound collected data and request traces alike."""
    out: dict[str, Any] = {
        "collect_model_data": False
        if collect_model_data is None
        else _flag("collect_model_data", collect_model_data)
    }
    if retention_days is not None:
        out["retention_days"] = _retention_days("retention_days", retention_days)
    if retention_mb is not None:
        out["retention_mb"] = _positive("retention_mb", retention_mb)
    return out


def _workers_for(cpu_cores: float | None) -> int:
    return max(1, math.ceil(cpu_cores)) if cpu_cores else 1


def local_configuration(
    port: int | None = None,
    max_batch_size: int | None = None,
    max_batch_latency_ms: float | None = None,
    max_body_mb: float | None = None,
    collect_model_data: bool | None = None,
    retention_days: int | None = None,
    retention_mb: float | None = None,
) -> DeploymentSettings:
    return DeploymentSettings(
        compute_type="Local",
        port=_port(port),
        **_batching(max_batch_size, max_batch_latency_ms),
        **_body_limit(max_body_mb),
        **_monitoring(collect_model_data, retention_days, retention_mb),
    )


def local_aks_notice(settings: DeploymentSettings) -> str | None:
    """What an AKS configuration deployed without a ``deployment_target`` does here, in one line
    (None for any other configuration): it runs on the local target."""
    if settings.compute_type != "AKS":
        return None
    how = (
        f"{settings.workers} worker process(es) (autoscale_min_replicas; autoscaling is not done locally)"
        if settings.autoscale_enabled
        else f"{settings.workers} worker process(es) (num_replicas)"
    )
    return (
        f"AksWebservice without deployment_target: deploying to the local target with {how}; "
        "pass deployment_target=<an AksCompute> to run it on Ray Serve"
    )


def _other_keywords(which: str, given: dict[str, Any]) -> dict[str, Any]:
    """v1's other keywords (TLS, probes, Kubernetes, Azure-only) as settings fields, checked;
    refuse a parameter v1 does not have, naming it."""
    unknown = sorted(set(given) - set(keywords.KEYWORDS))
    if unknown:
        raise InvalidInputError(f"{which}.deploy_configuration: unknown parameter(s) {', '.join(unknown)}")
    return keywords.keyword_fields(given)


def _checked(settings: DeploymentSettings) -> DeploymentSettings:
    keywords.check_settings(settings)
    return settings


def aci_configuration(
    # v1's parameters, in v1's order (a positional call means what it meant there)
    cpu_cores: float | None = None,
    memory_gb: float | None = None,
    tags: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    description: str | None = None,
    location: str | None = None,
    auth_enabled: bool | None = None,
    ssl_enabled: bool | None = None,
    enable_app_insights: bool | None = None,
    ssl_cert_pem_file: str | None = None,
    ssl_key_pem_file: str | None = None,
    ssl_cname: str | None = None,
    dns_name_label: str | None = None,
    primary_key: str | None = None,
    secondary_key: str | None = None,
    collect_model_data: bool | None = None,
    cmk_vault_base_url: str | None = None,
    cmk_key_name: str | None = None,
    cmk_key_version: str | None = None,
    vnet_name: str | None = None,
    subnet_name: str | None = None,
    *,
    # modelport's own
    port: int | None = None,
    max_batch_size: int | None = None,
    max_batch_latency_ms: float | None = None,
    max_body_mb: float | None = None,
    retention_days: int | None = None,
    retention_mb: float | None = None,
    **more: Any,
) -> DeploymentSettings:
    """v1's ``AciWebservice.deploy_configuration`` (see :mod:`modelport.deploy.keywords` for what
    its TLS and Azure-only keywords do here)."""
    given = {
        "location": location,
        "ssl_enabled": ssl_enabled,
        "ssl_cert_pem_file": ssl_cert_pem_file,
        "ssl_key_pem_file": ssl_key_pem_file,
        "ssl_cname": ssl_cname,
        "dns_name_label": dns_name_label,
        "cmk_vault_base_url": cmk_vault_base_url,
        "cmk_key_name": cmk_key_name,
        "cmk_key_version": cmk_key_version,
        "vnet_name": vnet_name,
        "subnet_name": subnet_name,
    }
    # AKS's keywords (probes, namespace, limits, gpu_cores) too: a program moving between the two
    # keeps working, and they act in the export as for AKS.
    other = _other_keywords("AciWebservice", {**given, **more})
    cores = _positive("cpu_cores", cpu_cores)
    memory = _positive("memory_gb", memory_gb)
    if description is not None and not isinstance(description, str):
        raise InvalidInputError("description must be a string")
    return _checked(
        DeploymentSettings(
            compute_type="ACI",
            port=_port(port),
            workers=_workers_for(cores),
            cpu_cores=cores if cores is not None else 0.1,
            memory_gb=memory if memory is not None else 0.5,
            auth_enabled=bool(auth_enabled),
            primary_key=_key("primary_key", primary_key),
            secondary_key=_key("secondary_key", secondary_key),
            tags=_str_dict("tags", tags),
            properties=_str_dict("properties", properties),
            description=description,
            **_batching(max_batch_size, max_batch_latency_ms),
            **_body_limit(max_body_mb),
            **_monitoring(collect_model_data, retention_days, retention_mb),
            app_insights=bool(enable_app_insights),
            **other,
        )
    )


def aks_configuration(
    # v1's parameters, in v1's order (a positional call means what it meant there)
    autoscale_enabled: bool | None = None,
    autoscale_min_replicas: int | None = None,
    autoscale_max_replicas: int | None = None,
    autoscale_refresh_seconds: int | None = None,
    autoscale_target_utilization: int | None = None,
    collect_model_data: bool | None = None,
    auth_enabled: bool | None = None,
    cpu_cores: float | None = None,
    memory_gb: float | None = None,
    enable_app_insights: bool | None = None,
    scoring_timeout_ms: int | None = None,
    replica_max_concurrent_requests: int | None = None,
    max_request_wait_time: int | None = None,
    num_replicas: int | None = None,
    primary_key: str | None = None,
    secondary_key: str | None = None,
    tags: dict[str, Any] | None = None,
    properties: dict[str, Any] | None = None,
    description: str | None = None,
    gpu_cores: int | None = None,
    period_seconds: int | None = None,
    initial_delay_seconds: int | None = None,
    timeout_seconds: int | None = None,
    success_threshold: int | None = None,
    failure_threshold: int | None = None,
    namespace: str | None = None,
    token_auth_enabled: bool | None = None,
    compute_target_name: str | None = None,
    cpu_cores_limit: float | None = None,
    memory_gb_limit: float | None = None,
    blobfuse_enabled: bool | None = None,
    *,
    # modelport's own
    port: int | None = None,
    max_batch_size: int | None = None,
    max_batch_latency_ms: float | None = None,
    max_body_mb: float | None = None,
    retention_days: int | None = None,
    retention_mb: float | None = None,
    **more: Any,
) -> DeploymentSettings:
    """v1's ``AksWebservice.deploy_configuration`` (see :mod:`modelport.deploy.keywords` for what
    its probe, Kubernetes and Azure-only keywords do here)."""
    given = {
        "gpu_cores": gpu_cores,
        "period_seconds": period_seconds,
        "initial_delay_seconds": initial_delay_seconds,
        "timeout_seconds": timeout_seconds,
        "success_threshold": success_threshold,
        "failure_threshold": failure_threshold,
        "namespace": namespace,
        "compute_target_name": compute_target_name,
        "cpu_cores_limit": cpu_cores_limit,
        "memory_gb_limit": memory_gb_limit,
        "blobfuse_enabled": blobfuse_enabled,
    }
    # ACI's TLS and Azure-only keywords too (v1's AKS took TLS through enable_ssl on the cluster).
    other = _other_keywords("AksWebservice", {**given, **more})
    batching = _batching(max_batch_size, max_batch_latency_ms)
    replicas = _positive_int("num_replicas", num_replicas)
    min_r = _positive_int("autoscale_min_replicas", autoscale_min_replicas) or 1
    max_r = _positive_int("autoscale_max_replicas", autoscale_max_replicas) or 10
    if min_r > max_r:
        raise InvalidInputError(f"autoscale_min_replicas ({min_r}) is above autoscale_max_replicas ({max_r})")
    refresh = _positive_int("autoscale_refresh_seconds", autoscale_refresh_seconds)
    util = _positive_int("autoscale_target_utilization", autoscale_target_utilization)
    if util is not None and util > 100:
        raise InvalidInputError(f"autoscale_target_utilization must be 1-100, got {util}")
    autoscale = autoscale_enabled if autoscale_enabled is not None else replicas is None
    if autoscale and replicas is not None:
        raise InvalidInputError("num_replicas cannot be set when autoscale_enabled is True")
    if token_auth_enabled and auth_enabled:
        raise InvalidInputError("auth_enabled and token_auth_enabled cannot both be True (as in v1)")
    workers = replicas if replicas is not None else min_r
    cores = _positive("cpu_cores", cpu_cores)
    memory = _positive("memory_gb", memory_gb)
    return _checked(
        DeploymentSettings(
            compute_type="AKS",
            port=_port(port),
            workers=workers,
            cpu_cores=cores if cores is not None else 0.1,
            memory_gb=memory if memory is not None else 0.5,
            auth_enabled=bool(auth_enabled) if auth_enabled is not None else not token_auth_enabled,
            token_auth_enabled=bool(token_auth_enabled),
            primary_key=_key("primary_key", primary_key),
            secondary_key=_key("secondary_key", secondary_key),
            scoring_timeout_ms=_positive_int("scoring_timeout_ms", scoring_timeout_ms) or 60_000,
            max_concurrent_requests=_positive_int(
                "replica_max_concurrent_requests", replica_max_concurrent_requests
            )
            or 1,
            max_request_wait_ms=_positive_int("max_request_wait_time", max_request_wait_time) or 500,
            num_replicas=replicas,
            autoscale_enabled=bool(autoscale),
            autoscale_min_replicas=min_r,
            autoscale_max_replicas=max_r,
            autoscale_target_utilization=util,
            autoscale_refresh_seconds=refresh,
            tags=_str_dict("tags", tags),
            properties=_str_dict("properties", properties),
            description=description,
            **batching,
            **_body_limit(max_body_mb),
            **_monitoring(collect_model_data, retention_days, retention_mb),
            app_insights=bool(enable_app_insights),
            **other,
        )
    )


_CHANGES: dict[str, tuple[str, Any]] = {
    # v1 update() keyword -> (DeploymentSettings field, validator)
    "cpu_cores": ("cpu_cores", _positive),
    "memory_gb": ("memory_gb", _positive),
    "scoring_timeout_ms": ("scoring_timeout_ms", _positive_int),
    "replica_max_concurrent_requests": ("max_concurrent_requests", _positive_int),
    "max_request_wait_time": ("max_request_wait_ms", _positive_int),
    "max_body_mb": ("max_body_mb", _positive),
    "auth_enabled": ("auth_enabled", lambda _n, v: bool(v)),
    "token_auth_enabled": ("token_auth_enabled", lambda _n, v: bool(v)),
    "enable_app_insights": ("app_insights", lambda _n, v: bool(v)),
    "collect_model_data": ("collect_model_data", _flag),
    "retention_days": ("retention_days", _retention_days),
    "retention_mb": ("retention_mb", _positive),
    "num_replicas": ("workers", _positive_int),
}


def update_settings(settings: DeploymentSettings, changes: dict[str, Any]) -> DeploymentSettings:
    """``settings`` with v1 ``update()`` keywords applied (None leaves a value as it is).

    Example::

        update_settings(current, {"cpu_cores": 2, "scoring_timeout_ms": 5000})
    """
    given = {k: v for k, v in changes.items() if v is not None}
    unknown = sorted(
        k for k in given if k not in _CHANGES and k not in keywords.KEYWORDS and not hasattr(settings, k)
    )
    if unknown:
        raise InvalidInputError(f"update: unknown parameter(s) {', '.join(unknown)}")
    changed: dict[str, Any] = keywords.keyword_fields(
        {k: v for k, v in given.items() if k in keywords.KEYWORDS}
    )
    for key, value in given.items():
        if key in keywords.KEYWORDS:
            continue
        field_name, check = _CHANGES.get(key, (key, lambda _n, v: v))
        changed[field_name] = check(key, value)
    if "cpu_cores" in given and settings.compute_type != "AKS":
        changed["workers"] = _workers_for(changed["cpu_cores"])  # ACI and local: a worker per core
    updated = replace(settings, **changed)
    if updated.auth_enabled and updated.token_auth_enabled:
        raise InvalidInputError("auth_enabled and token_auth_enabled cannot both be True (as in v1)")
    return _checked(updated)
