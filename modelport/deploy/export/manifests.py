"""Kubernetes, KServe and KubeRay manifests for a service's image, from its deployment settings.

Every function returns plain dicts (one per object); :func:`write` saves them as YAML. What a
configuration leaves unset is rendered with v1's default (probes: v1's AksWebservice defaults,
which no configuration here takes). What each field comes from is in docs/export.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.export.dockerfile import IMAGE_ROOT, KEYS_FILE, PORT, SERVE_FILE, USER_ID, healthcheck
from modelport.deploy.export.rayserve import DEPLOYMENT, IMPORT_PATH
from modelport.deploy.targets.ray import deployment_options
from modelport.errors import InvalidInputError, NotSupported

__all__ = ["Version", "dump", "kserve", "kuberay", "kubernetes", "write"]


class _PlainDumper(yaml.SafeDumper):
    """PyYAML's safe dumper without anchors and aliases: a dict used twice (the same labels as a
    selector and as the pod's labels) is written out twice, as Kubernetes manifests are."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump(obj: Any) -> str:
    """``obj`` as plain YAML (keys in their order, no ``&id001``/``*id001``)."""
    return yaml.dump(obj, Dumper=_PlainDumper, sort_keys=False)


FORMATS = ("kubernetes", "kserve", "kuberay")
_DNS = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# v1's AksWebservice probe defaults (period_seconds=10, initial_delay_seconds=310, ...).
_PROBE_DEFAULTS = {
    "period_seconds": 10,
    "initial_delay_seconds": 310,
    "timeout_seconds": 2,
    "success_threshold": 1,
    "failure_threshold": 3,
}


@dataclass
class Version:
    """One version of a service: its name (None for a plain service), its share of the traffic
    (``traffic_percentile``; the default version takes what the others leave), the image that
    runs it and its deployment settings."""

    name: str | None
    image: str
    settings: DeploymentSettings = field(default_factory=DeploymentSettings)
    traffic_percentile: float = 0.0
    is_default: bool = True


def _name(service: str, version: Version) -> str:
    if version.name is None:
        return service
    name = f"{service}-{version.name}".lower()
    if not _DNS.match(name) or len(name) > 63:
        raise InvalidInputError(
            f"version name {version.name!r} cannot name a Kubernetes object ({name!r} must be lowercase "
            "letters, digits and '-', at most 63 characters)"
        )
    return name


def _labels(service: str, version: Version) -> dict[str, str]:
    labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/managed-by": "modelport"}
    if version.name is not None:
        labels["modelport.io/version"] = version.name.lower()
    return labels


def pods_scale(settings: DeploymentSettings) -> bool:
    """AKS replicas are pods; an ACI or local service is one container with its workers."""
    return settings.compute_type.upper() == "AKS"


def replicas(settings: DeploymentSettings) -> int:
    if not pods_scale(settings):
        return 1
    return settings.num_replicas or settings.autoscale_min_replicas or settings.workers or 1


def autoscale(settings: DeploymentSettings) -> tuple[int, int, int] | None:
    """(min, max, target utilization %) when the service autoscales (v1's defaults 1, 10, 70)."""
    if not settings.autoscale_enabled:
        return None
    return (
        settings.autoscale_min_replicas or 1,
        settings.autoscale_max_replicas or 10,
        settings.autoscale_target_utilization or 70,
    )


def _cpu(cores: float) -> str:
    return f"{round(cores * 1000)}m"


def _memory(gb: float) -> str:
    return f"{round(gb * 1024)}Mi"


def _resources(settings: DeploymentSettings) -> dict[str, Any]:
    cores = float(settings.cpu_cores or 0.1)
    memory = float(settings.memory_gb or 0.5)
    requests = {"cpu": _cpu(cores), "memory": _memory(memory)}
    # v1's limits default to the requests (cpu_cores_limit, memory_gb_limit).
    limits = {
        "cpu": _cpu(settings.cpu_cores_limit or cores),
        "memory": _memory(settings.memory_gb_limit or memory),
    }
    if settings.gpu_cores:
        # Kubernetes takes extended resources as limits (a request, if given, must equal it).
        limits["nvidia.com/gpu"] = str(settings.gpu_cores)
    return {"requests": requests, "limits": limits}


def _auth(settings: DeploymentSettings) -> bool:
    return settings.auth_enabled or settings.token_auth_enabled


def _probe(handler: dict[str, Any], settings: DeploymentSettings, *, initial: bool) -> dict[str, Any]:
    def timing(name: str) -> int:
        asked = getattr(settings, name)
        return int(asked) if asked is not None else _PROBE_DEFAULTS[name]

    probe = {
        **handler,
        "periodSeconds": timing("period_seconds"),
        "timeoutSeconds": timing("timeout_seconds"),
        "failureThreshold": timing("failure_threshold"),
    }
    if initial:  # v1's initial_delay_seconds (310) is for liveness: readiness gates traffic itself
        probe["initialDelaySeconds"] = timing("initial_delay_seconds")
        probe["successThreshold"] = 1  # Kubernetes refuses anything else for a liveness probe
    else:
        probe["successThreshold"] = timing("success_threshold")
    return probe


def _readiness_handler(settings: DeploymentSettings) -> dict[str, Any]:
    if _auth(settings):  # readiness needs a credential: the probe reads it from the mounted Secret
        command = [arg.replace(f"../{SERVE_FILE}", f"{IMAGE_ROOT}/{SERVE_FILE}") for arg in healthcheck()]
        return {"exec": {"command": command}}
    return {"httpGet": {"path": "/health/ready", "port": "http"}}


def container(service: str, version: Version, name: str = "modelport") -> dict[str, Any]:
    """The scoring container: the image's own command, resources, probes, the keys Secret."""
    settings = version.settings
    spec: dict[str, Any] = {
        "name": name,
        "image": version.image,
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "resources": _resources(settings),
        "livenessProbe": _probe({"httpGet": {"path": "/", "port": "http"}}, settings, initial=True),
        "readinessProbe": _probe(_readiness_handler(settings), settings, initial=False),
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": USER_ID,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if _auth(settings):
        spec["volumeMounts"].append(
            {"name": "keys", "mountPath": str(Path(KEYS_FILE).parent), "readOnly": True}
        )
    return spec


def _volumes(service: str, settings: DeploymentSettings) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if _auth(settings):
        volumes.append(
            {
                "name": "keys",
                "secret": {
                    "secretName": f"{service}-keys",
                    "items": [{"key": "keys.json", "path": Path(KEYS_FILE).name}],
                    "defaultMode": 0o440,
                },
            }
        )
    return volumes


def _deployment(service: str, version: Version, namespace: str | None) -> dict[str, Any]:
    name, labels = _name(service, version), _labels(service, version)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, labels, namespace),
        "spec": {
            "replicas": replicas(version.settings),
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "securityContext": {"fsGroup": USER_ID},
                    "containers": [container(service, version)],
                    "volumes": _volumes(service, version.settings),
                },
            },
        },
    }


def _meta(name: str, labels: dict[str, str], namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _service(
    name: str, labels: dict[str, str], selector: dict[str, str], namespace: str | None
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, labels, namespace),
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            # v1's AKS services answer on port 80; the container listens on 5001.
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _hpa(service: str, version: Version, namespace: str | None) -> dict[str, Any] | None:
    scaling = autoscale(version.settings)
    if scaling is None:
        return None
    low, high, target = scaling
    name = _name(service, version)
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(name, _labels(service, version), namespace),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": low,
            "maxReplicas": high,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            ],
        },
    }


def _namespace(versions: list[Version], namespace: str | None) -> str | None:
    """The namespace asked for the export, else the one the (default) version was deployed with
    (v1's AKS ``namespace``)."""
    if namespace:
        return namespace
    chosen = [v for v in versions if v.is_default] or versions
    return chosen[0].settings.namespace if chosen else None


def traffic_split(versions: list[Version]) -> list[tuple[Version, int]]:
    """Each version's weight: its percentile; the default version gets what the others leave."""
    if not versions:
        raise InvalidInputError("a service export needs at least one version")
    defaults = [v for v in versions if v.is_default]
    if len(versions) > 1 and len(defaults) != 1:
        raise InvalidInputError(f"an endpoint needs exactly one default version, found {len(defaults)}")
    others = sum(round(v.traffic_percentile) for v in versions if not v.is_default)
    if others > 100:
        raise InvalidInputError(f"the versions' traffic percentiles add up to {others} (more than 100)")
    return [(v, 100 - others if v.is_default else round(v.traffic_percentile)) for v in versions]


def kubernetes(
    service: str, versions: list[Version], namespace: str | None = None, gateway: str = "modelport-gateway"
) -> dict[str, list[dict[str, Any]]]:
    """``{file name: objects}``: a Deployment (+ HPA) per version, a Service for all of them, and
    for several versions a Service per version and a Gateway API HTTPRoute splitting the traffic
    by weight (the ``gateway`` parent must exist in the cluster)."""
    namespace = _namespace(versions, namespace)
    split = traffic_split(versions)
    base_labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/managed-by": "modelport"}
    files: dict[str, list[dict[str, Any]]] = {}
    for version, _weight in split:
        name = _name(service, version)
        objects = [_deployment(service, version, namespace)]
        hpa = _hpa(service, version, namespace)
        if hpa is not None:
            objects.append(hpa)
        if len(versions) > 1:
            labels = _labels(service, version)
            objects.append(_service(name, labels, labels, namespace))
        files[f"{name}.yaml"] = objects
    files["service.yaml"] = [_service(service, base_labels, base_labels, namespace)]
    if len(versions) > 1:
        files["httproute.yaml"] = [
            {
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "HTTPRoute",
                "metadata": _meta(service, base_labels, namespace),
                "spec": {
                    "parentRefs": [{"name": gateway}],
                    "rules": [
                        {
                            "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                            "backendRefs": [
                                {"name": _name(service, v), "port": 80, "weight": weight}
                                for v, weight in split
                            ],
                        }
                    ],
                },
            }
        ]
    return files


def kserve(
    service: str, versions: list[Version], namespace: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """An InferenceService with the image as a custom predictor. With an endpoint's versions:
    the default version is the stable revision (``inferenceservice.yaml``); the other one, applied
    afterwards, is the canary with ``canaryTrafficPercent`` (KServe splits between two revisions)."""
    namespace = _namespace(versions, namespace)
    split = traffic_split(versions)
    if len(split) > 2:
        raise NotSupported(
            f"KServe splits traffic between two revisions, the endpoint has {len(split)} versions: "
            "export it with --format kubernetes (a weighted HTTPRoute)"
        )
    files: dict[str, list[dict[str, Any]]] = {}
    for version, weight in sorted(split, key=lambda vw: not vw[0].is_default):
        settings = version.settings
        predictor: dict[str, Any] = {}
        scaling = autoscale(settings)
        if scaling is not None:
            predictor.update(
                minReplicas=scaling[0], maxReplicas=scaling[1], scaleMetric="cpu", scaleTarget=scaling[2]
            )
        else:
            predictor.update(minReplicas=replicas(settings), maxReplicas=replicas(settings))
        canary = not version.is_default
        if canary:
            predictor["canaryTrafficPercent"] = weight
        spec = container(service, version, name="kserve-container")
        spec.pop("securityContext")  # KServe's own defaults; Knative refuses some fields
        predictor["containers"] = [spec]
        predictor["volumes"] = _volumes(service, settings)
        labels = _labels(service, Version(None, version.image))
        obj = {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": _meta(service, labels, namespace),
            "spec": {"predictor": predictor},
        }
        files[f"inferenceservice-canary-{version.name}.yaml" if canary else "inferenceservice.yaml"] = [obj]
    return files


def kuberay(
    service: str, versions: list[Version], namespace: str | None = None, ray_version: str = "2.60.0"
) -> dict[str, list[dict[str, Any]]]:
    """A RayService: a Ray cluster running the image, and the Ray target's Serve application for
    the bundle at ``IMAGE_ROOT``, with the service's replicas, autoscaling and resources."""
    namespace = _namespace(versions, namespace)
    if len(versions) > 1:
        raise NotSupported(
            "a RayService export takes one version: export each version, or use --format kubernetes"
        )
    version = versions[0]
    settings = version.settings
    # The Ray target's own options for these settings (replicas or autoscaling, CPUs, memory),
    # visible and editable here; the application builder applies the same ones.
    options = deployment_options(settings)
    deployment: dict[str, Any] = {"name": DEPLOYMENT, "max_ongoing_requests": options["max_ongoing_requests"]}
    scaling = autoscale(settings)
    if "autoscaling_config" in options:
        deployment["autoscaling_config"] = options["autoscaling_config"]
    else:
        deployment["num_replicas"] = options["num_replicas"]
    deployment["ray_actor_options"] = {
        "num_cpus": options["ray_actor_options"]["num_cpus"],
        "memory": int(float(settings.memory_gb or 0.5) * 1024**3),
    }
    if "num_gpus" in options["ray_actor_options"]:
        deployment["ray_actor_options"]["num_gpus"] = options["ray_actor_options"]["num_gpus"]
    serve_config = {
        "applications": [
            {
                "name": service,
                "import_path": IMPORT_PATH,
                "route_prefix": f"/api/v1/service/{service}",
                "args": {"bundle": IMAGE_ROOT},
                "deployments": [deployment],
            }
        ]
    }
    head: dict[str, Any] = {
        "name": "ray-head",
        "image": version.image,
        "ports": [{"name": "serve", "containerPort": 8000}],
    }
    head["resources"] = {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}}
    worker = {"name": "ray-worker", "image": version.image, "resources": _resources(settings)}
    high = scaling[1] if scaling else replicas(settings)
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayService",
        "metadata": _meta(service, _labels(service, version), namespace),
        "spec": {
            "serveConfigV2": dump(serve_config),
            "rayClusterConfig": {
                "rayVersion": ray_version,
                # Ray's token authentication (KubeRay >= 1.5.1 makes the Secret and gives every Ray
                # container RAY_AUTH_MODE and RAY_AUTH_TOKEN): without it, anyone who reaches the
                # cluster's GCS or dashboard runs code in it (docs/scale-out.md).
                "authOptions": {"mode": "token"},
                "enableInTreeAutoscaling": scaling is not None,
                "headGroupSpec": {
                    "rayStartParams": {"dashboard-host": "0.0.0.0"},
                    "template": {"spec": {"containers": [head]}},
                },
                "workerGroupSpecs": [
                    {
                        "groupName": "replicas",
                        "replicas": replicas(settings),
                        "minReplicas": scaling[0] if scaling else replicas(settings),
                        "maxReplicas": high,
                        "rayStartParams": {},
                        "template": {"spec": {"containers": [worker]}},
                    }
                ],
            },
        },
    }
    return {"rayservice.yaml": [obj]}


def write(folder: Path, files: dict[str, list[dict[str, Any]]], header: str = "") -> list[Path]:
    """Write each file's objects as a multi-document YAML file; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, objects in files.items():
        path = folder / name
        text = "---\n".join(dump(o) for o in objects)
        path.write_text(header + text)
        written.append(path)
    return written
