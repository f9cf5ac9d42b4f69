"""Export: the build context (Dockerfile, locks, bundle), its recipe run for real, and the
Kubernetes, KServe and KubeRay manifests checked offline."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from dockerfile_parse import DockerfileParser

from modelport.deploy.export import dockerfile as df
from modelport.deploy.export.manifests import Version, kserve, kuberay, kubernetes
from modelport.deploy.export.service import render
from modelport.deploy.ports import free_port
from tests.export.conftest import SERVICE, Exported

BIN = Path(sys.executable).parent
K8S_VERSION = "1.34.0"  # a recent release among kubernetes-validate's bundled schemas


def _stages(path: Path) -> list[list[dict]]:
    stages: list[list[dict]] = []
    for item in DockerfileParser(path=str(path)).structure:
        if item["instruction"] == "FROM":
            stages.append([])
        if stages:
            stages[-1].append(item)
    return stages


def _one(stage: list[dict], instruction: str) -> str:
    found = [i["value"] for i in stage if i["instruction"] == instruction]
    assert len(found) == 1, (instruction, found)
    return found[0]


def _validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    cmd = [str(BIN / "kubernetes-validate"), "--strict", "-k", K8S_VERSION, *map(str, paths)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


# -- the Dockerfile --------------------------------------------------------------------------------
def test_dockerfile_passes_hadolint_and_matches_the_server(exported: Exported) -> None:
    path = exported.folders["kubernetes"] / "Dockerfile"
    lint = subprocess.run([str(BIN / "hadolint"), str(path)], capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    build, run = _stages(path)
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert _one(build, "FROM") == f"python:{py}-slim AS build"
    assert _one(run, "FROM") == f"python:{py}-slim"
    assert json.loads(_one(run, "CMD")) == df.command()
    assert _one(run, "EXPOSE") == str(df.PORT) == "5001"
    health = _one(run, "HEALTHCHECK")
    assert json.dumps(df.healthcheck()) in health
    assert _one(run, "USER").split(":")[0] == str(df.USER_ID)
    installs = [i["value"] for i in build if i["instruction"] == "RUN" and "--require-hashes" in i["value"]]
    assert len(installs) == 2 and "-r requirements.lock" in installs[0]
    # The server's own default port is v1's, the one the image exposes.
    from modelport.server.config import ServerConfig

    assert ServerConfig(entry_script=Path("x.py")).port == df.PORT


def test_hadolint_fails_a_broken_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install uv\nCMD python -m modelport.server\n")
    lint = subprocess.run([str(BIN / "hadolint"), str(bad)], capture_output=True, text=True, timeout=60)
    assert lint.returncode != 0 and "DL3007" in lint.stdout


def test_context_holds_the_bundle_locks_and_no_key(exported: Exported) -> None:
    ctx = exported.folders["kubernetes"]
    for name in (
        "bundle.json",
        "server.json",
        "serve.json",
        ".dockerignore",
        "requirements.lock",
        "modelport.lock",
    ):
        assert (ctx / name).is_file(), name
    assert (ctx / "app" / "azureml-models" / "sklearn_mnist" / "1" / "sklearn_mnist_model.pkl").is_file()
    lock = (ctx / "requirements.lock").read_text()
    assert "scikit-learn==" in lock and "--hash=sha256:" in lock and "gunicorn==" in lock
    assert all(
        line.startswith(("#", " ", "--")) or "==" in line or not line.strip() for line in lock.splitlines()
    )
    wheel_line = (ctx / "modelport.lock").read_text()
    assert wheel_line.startswith("./wheels/modelport-") and "--hash=sha256:" in wheel_line
    serve = json.loads((ctx / "serve.json").read_text())
    assert "cpu_affinity" not in serve and "keys_file" not in serve and serve["entry_script"] == "score.py"
    text = (ctx / "Dockerfile").read_text()
    assert "primary_key" not in text and "--auth-key" not in text and "keys.json" not in text.split("CMD")[-1]


# -- the recipe, run for real ----------------------------------------------------------------------
@pytest.mark.process
def test_the_image_recipe_runs_and_scores_like_the_local_service(exported: Exported, tmp_path: Path) -> None:
    """A fresh venv from the context's locks (the Dockerfile's install commands, minus
    --compile-bytecode, which only saves time: 16 s here), the final stage's COPYs into a folder
    standing for the image's filesystem, its ENV (with the venv's path) and WORKDIR, then its exact
    CMD with --host/--port appended (flags given later win over serve.json; the image binds
    0.0.0.0:5001, the test 127.0.0.1 on a free port)."""
    ctx = exported.folders["kubernetes"]
    _build, run = _stages(ctx / "Dockerfile")
    uv = str(BIN / "uv")
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    for lock in ("requirements.lock", "modelport.lock"):
        install = [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--require-hashes"]
        subprocess.run([*install, "--no-deps", "-r", lock], check=True, cwd=ctx, timeout=600)
    image = tmp_path / "image"
    for item in run:
        if item["instruction"] == "COPY" and "--from" not in item["value"]:
            *sources, dest = item["value"].split()
            target = image / dest.lstrip("/")
            for src in sources:
                if (ctx / src).is_dir():
                    shutil.copytree(ctx / src, target, dirs_exist_ok=True)
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ctx / src, target / src)
    parser = DockerfileParser(path=str(ctx / "Dockerfile"))
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for key, value in parser.envs.items():  # the last stage's ENV
        value = value.replace(df.VENV, str(venv)).replace("$PATH", env["PATH"])
        env[key] = value
    workdir = image / _one(run, "WORKDIR").lstrip("/")
    port = free_port()
    cmd = [*json.loads(_one(run, "CMD")), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, cwd=workdir, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        health = [*df.healthcheck()[:-1], str(port)]  # the HEALTHCHECK, on the test's port
        deadline = time.monotonic() + 60
        while subprocess.run(health, cwd=workdir, env=env, timeout=30).returncode != 0:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "the image's server did not become ready in 60 s"
            time.sleep(0.3)
        answer = requests.post(
            f"http://127.0.0.1:{port}/score", json={"data": exported.test_x.tolist()}, timeout=30
        )
        assert answer.status_code == 200, answer.text
        assert answer.json() == exported.local_predictions
        # It is the wheel's modelport that runs, not this checkout's.
        where = subprocess.run(
            ["python", "-c", "import modelport; print(modelport.__file__)"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert where.startswith(str(venv))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _container_runtime() -> str | None:
    for tool in ("docker", "podman"):
        exe = shutil.which(tool)
        if exe and subprocess.run([exe, "info"], capture_output=True, timeout=30).returncode == 0:
            return exe
    return None


@pytest.mark.container
def test_real_image_builds_and_scores(exported: Exported) -> None:
    runtime = _container_runtime()
    if runtime is None:
        pytest.skip("no container runtime: neither docker (with a daemon) nor podman is available here")
    ctx, tag = exported.folders["kubernetes"], f"{SERVICE}:test"
    subprocess.run([runtime, "build", "-t", tag, str(ctx)], check=True, timeout=1800)
    port = free_port()
    cid = subprocess.run(
        [runtime, "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:5001", tag],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                answer = requests.post(
                    f"http://127.0.0.1:{port}/score", json={"data": exported.test_x.tolist()}, timeout=5
                )
                if answer.status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline
            time.sleep(1)
        assert answer.json() == exported.local_predictions
    finally:
        subprocess.run([runtime, "rm", "-f", cid], capture_output=True)


# -- manifests -------------------------------------------------------------------------------------
def test_kubernetes_manifests_pass_strict_validation(exported: Exported) -> None:
    files = sorted((exported.folders["kubernetes"] / "kubernetes").glob("*.yaml"))
    assert {f.name for f in files} == {f"{SERVICE}.yaml", "service.yaml"}
    result = _validate(*files)
    assert result.returncode == 0, result.stdout + result.stderr
    deployment = yaml.safe_load((files[0]).read_text())
    assert deployment["kind"] == "Deployment"
    pod = deployment["spec"]["template"]["spec"]["containers"][0]
    assert pod["ports"][0]["containerPort"] == 5001
    assert pod["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert pod["livenessProbe"]["httpGet"]["path"] == "/"


def test_strict_validation_fails_a_broken_manifest(exported: Exported, tmp_path: Path) -> None:
    good = yaml.safe_load((exported.folders["kubernetes"] / "kubernetes" / f"{SERVICE}.yaml").read_text())
    good["spec"]["replicas"] = "two"
    good["spec"]["template"]["spec"]["containers"][0]["portz"] = []
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(good))
    assert _validate(broken).returncode != 0


def aks_settings(**extra: object) -> dict:
    from modelport.deploy.configs import aks_configuration

    with pytest.warns(UserWarning):
        settings = aks_configuration(cpu_cores=0.5, memory_gb=1, auth_enabled=True).to_dict()
    return {**settings, **extra}


def test_autoscale_and_endpoint_versions_render_valid_objects(tmp_path: Path) -> None:
    """Versions come from a plain list here (AksEndpoint is issue 13's; not there yet)."""
    scaled = aks_settings(
        autoscale_enabled=True,
        autoscale_min_replicas=2,
        autoscale_max_replicas=5,
        autoscale_target_utilization=60,
    )
    versions = [
        Version("blue", "svc:1", scaled, is_default=True),
        Version("green", "svc:2", aks_settings(), traffic_percentile=20, is_default=False),
    ]
    paths = render(tmp_path, "svc", versions, "kubernetes")
    result = _validate(*[p for p in paths if p.name != "httproute.yaml"])
    assert result.returncode == 0, result.stdout + result.stderr
    blue = list(yaml.safe_load_all((tmp_path / "kubernetes" / "svc-blue.yaml").read_text()))
    hpa = next(o for o in blue if o["kind"] == "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 60
    pod = blue[0]["spec"]["template"]["spec"]
    assert pod["containers"][0]["resources"]["requests"] == {"cpu": "500m", "memory": "1024Mi"}
    assert "exec" in pod["containers"][0]["readinessProbe"]  # auth: the probe reads the mounted key
    assert pod["volumes"][1]["secret"]["secretName"] == "svc-keys"
    route = yaml.safe_load((tmp_path / "kubernetes" / "httproute.yaml").read_text())
    check_httproute(route)
    assert [(b["name"], b["weight"]) for b in route["spec"]["rules"][0]["backendRefs"]] == [
        ("svc-blue", 80),
        ("svc-green", 20),
    ]
    stable, canary = kserve("svc", versions).values()
    check_inference_service(stable[0])
    check_inference_service(canary[0])
    assert "canaryTrafficPercent" not in stable[0]["spec"]["predictor"]
    assert canary[0]["spec"]["predictor"]["canaryTrafficPercent"] == 20
    assert stable[0]["spec"]["predictor"]["maxReplicas"] == 5


# Structural checks: the fields the published CRD schemas (KServe v1beta1, KubeRay v1, Gateway API v1)
# require, and the types of those modelport sets.
def check_inference_service(obj: dict) -> None:
    assert obj["apiVersion"] == "serving.kserve.io/v1beta1" and obj["kind"] == "InferenceService"
    assert obj["metadata"]["name"]
    predictor = obj["spec"]["predictor"]
    for key in ("minReplicas", "maxReplicas"):
        assert isinstance(predictor[key], int)
    assert 0 <= predictor.get("canaryTrafficPercent", 0) <= 100
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container" and container["image"]
    assert container["ports"][0]["containerPort"] == 5001


def check_rayservice(obj: dict) -> None:
    assert obj["apiVersion"] == "ray.io/v1" and obj["kind"] == "RayService"
    spec = obj["spec"]
    serve = yaml.safe_load(spec["serveConfigV2"])
    (app,) = serve["applications"]
    assert app["import_path"] and app["name"] and app["route_prefix"].startswith("/")
    cluster = spec["rayClusterConfig"]
    assert cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
    for group in cluster["workerGroupSpecs"]:
        assert group["groupName"] and group["template"]["spec"]["containers"][0]["image"]
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]


def check_httproute(obj: dict) -> None:
    assert obj["apiVersion"] == "gateway.networking.k8s.io/v1" and obj["kind"] == "HTTPRoute"
    assert obj["spec"]["parentRefs"][0]["name"]
    for rule in obj["spec"]["rules"]:
        refs = rule["backendRefs"]
        assert all(r["name"] and isinstance(r["port"], int) and 0 <= r["weight"] <= 1_000_000 for r in refs)
    assert sum(r["weight"] for r in obj["spec"]["rules"][0]["backendRefs"]) == 100


def test_kserve_and_kuberay_exports(exported: Exported) -> None:
    (isvc,) = yaml.safe_load_all(
        (exported.folders["kserve"] / "kserve" / "inferenceservice.yaml").read_text()
    )
    check_inference_service(isvc)
    (ray,) = yaml.safe_load_all((exported.folders["kuberay"] / "kuberay" / "rayservice.yaml").read_text())
    check_rayservice(ray)
    assert (
        ray["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"]
        == (isvc["spec"]["predictor"]["containers"][0]["image"])
    )


def test_structural_checks_catch_a_broken_custom_resource() -> None:
    (isvc,) = kserve("svc", [Version(None, "svc:1", {})])["inferenceservice.yaml"]
    del isvc["spec"]["predictor"]["containers"][0]["image"]
    with pytest.raises(KeyError):
        check_inference_service(isvc)
    (ray,) = kuberay("svc", [Version(None, "svc:1", {})])["rayservice.yaml"]
    ray["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["maxReplicas"] = 0
    with pytest.raises(AssertionError):
        check_rayservice(ray)


def test_bad_versions_are_refused() -> None:
    from modelport.errors import InvalidInputError, NotSupported

    three = [Version(n, "i", {}, 10, n == "a") for n in ("a", "b", "c")]
    with pytest.raises(NotSupported, match="--format kubernetes"):
        kserve("svc", three)
    assert len(kubernetes("svc", three)) == 5
    with pytest.raises(InvalidInputError, match="add up to 120"):
        kubernetes(
            "svc", [Version("a", "i", {}), Version("b", "i", {}, 60, False), Version("c", "i", {}, 60, False)]
        )
    with pytest.raises(InvalidInputError, match="Kubernetes object"):
        kubernetes("svc", [Version("A_B", "i", {}), Version("b", "i", {}, 10, False)])


def test_package_without_dockerfile_names_the_alternative(exported: Exported, tmp_path: Path) -> None:
    from modelport.core.model import InferenceConfig, Model
    from modelport.errors import InvalidInputError, NotSupported
    from tests.server.conftest import TUTORIAL_SCORE

    model = Model(exported.ws, "sklearn_mnist")  # type: ignore[arg-type]
    config = InferenceConfig(entry_script=str(TUTORIAL_SCORE))
    with pytest.raises(NotSupported, match="generate_dockerfile=True"):
        Model.package(exported.ws, [model], config)  # type: ignore[arg-type]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(InvalidInputError, match="not empty"):
        exported.service.export(str(tmp_path / "full"))  # type: ignore[attr-defined]
