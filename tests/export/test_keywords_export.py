"""v1's Kubernetes keywords (namespace, limits, gpu_cores, probe timings) land in the export's
manifests, which still pass strict validation (issue 22, part 3)."""

from __future__ import annotations

from pathlib import Path

import yaml

from modelport.core.webservice import AksWebservice
from modelport.deploy.export.manifests import Version, kserve, kuberay
from modelport.deploy.export.service import render
from tests.export.test_export import _validate

PRODUCTION = {
    # as a production AKS sample sets them
    "cpu_cores": 0.5,
    "memory_gb": 1,
    "cpu_cores_limit": 2,
    "memory_gb_limit": 4,
    "gpu_cores": 1,
    "namespace": "scoring-prod",
    "period_seconds": 7,
    "initial_delay_seconds": 45,
    "timeout_seconds": 3,
    "success_threshold": 2,
    "failure_threshold": 5,
    "num_replicas": 2,
    "autoscale_enabled": False,
}


def test_kubernetes_manifests_carry_namespace_limits_gpus_and_probes(tmp_path: Path) -> None:
    settings = AksWebservice.deploy_configuration(**PRODUCTION)
    paths = render(tmp_path, "svc", [Version(None, "svc:1", settings)], "kubernetes")
    result = _validate(*paths)
    assert result.returncode == 0, result.stdout + result.stderr
    objects = [o for p in paths for o in yaml.safe_load_all(p.read_text())]
    assert {o["metadata"]["namespace"] for o in objects} == {"scoring-prod"}
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    (pod,) = deployment["spec"]["template"]["spec"]["containers"]
    assert pod["resources"] == {
        "requests": {"cpu": "500m", "memory": "1024Mi"},
        "limits": {"cpu": "2000m", "memory": "4096Mi", "nvidia.com/gpu": "1"},
    }
    live, ready = pod["livenessProbe"], pod["readinessProbe"]
    assert (live["periodSeconds"], live["timeoutSeconds"], live["failureThreshold"]) == (7, 3, 5)
    assert (live["initialDelaySeconds"], live["successThreshold"]) == (45, 1)  # liveness: 1 only
    assert (ready["periodSeconds"], ready["timeoutSeconds"], ready["successThreshold"]) == (7, 3, 2)
    assert ready["failureThreshold"] == 5


def test_unset_keywords_keep_v1_defaults_and_an_explicit_namespace_wins(tmp_path: Path) -> None:
    plain = AksWebservice.deploy_configuration(cpu_cores=1, memory_gb=2, namespace="from-config")
    paths = render(tmp_path, "svc", [Version(None, "svc:1", plain)], "kubernetes", namespace="asked")
    objects = [o for p in paths for o in yaml.safe_load_all(p.read_text())]
    assert {o["metadata"]["namespace"] for o in objects} == {"asked"}
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    (pod,) = deployment["spec"]["template"]["spec"]["containers"]
    assert pod["resources"]["limits"] == {"cpu": "1000m", "memory": "2048Mi"}  # limits = requests
    assert pod["livenessProbe"]["initialDelaySeconds"] == 310  # v1's AKS default
    assert pod["readinessProbe"]["periodSeconds"] == 10


def test_kserve_and_kuberay_carry_them_too() -> None:
    settings = AksWebservice.deploy_configuration(**PRODUCTION)
    (service,) = kserve("svc", [Version(None, "svc:1", settings)])["inferenceservice.yaml"]
    assert service["metadata"]["namespace"] == "scoring-prod"
    container = service["spec"]["predictor"]["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["readinessProbe"]["successThreshold"] == 2
    (ray_service,) = next(iter(kuberay("svc", [Version(None, "svc:1", settings)]).values()))
    assert ray_service["metadata"]["namespace"] == "scoring-prod"
    workers = ray_service["spec"]["rayClusterConfig"]["workerGroupSpecs"]
    limits = workers[0]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1"
    serve = yaml.safe_load(ray_service["spec"]["serveConfigV2"])
    assert serve["applications"][0]["deployments"][0]["ray_actor_options"]["num_gpus"] == 1.0
