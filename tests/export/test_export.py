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

from modelport.deploy import records
from modelport.deploy.export import dockerfile as df
from modelport.deploy.export.manifests import Version, kserve, kuberay, kubernetes
from modelport.deploy.export.service import render
from modelport.deploy.ports import free_port
from tests.export.conftest import SERVICE, Exported, ray_record
from tests.test_server_requirements import canonical, server_needs

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


def assert_swagger_page_works(base: str) -> None:
    """``GET /swagger`` and the Swagger UI assets it loads answer 200 with the real files (issue
    19: in a service's environment they answered 500, ``No module named 'swagger_ui_bundle'``)."""
    page = requests.get(f"{base}/swagger", timeout=30)
    assert page.status_code == 200 and "swagger/swagger-ui-bundle.js" in page.text
    script = requests.get(f"{base}/swagger/swagger-ui-bundle.js", timeout=30)
    assert script.status_code == 200, script.text[:300]
    assert script.headers["content-type"].startswith("application/javascript")
    assert len(script.content) > 500_000 and b"SwaggerUIBundle" in script.content
    style = requests.get(f"{base}/swagger/swagger-ui.css", timeout=30)
    assert style.status_code == 200, style.text[:300]
    assert style.headers["content-type"].startswith("text/css") and b".swagger-ui" in style.content


def _lock_names(lock: str) -> set[str]:
    pinned = [line for line in lock.splitlines() if "==" in line and line[0].isalnum()]
    return {canonical(line.split("==")[0]) for line in pinned}


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
    assert "swagger-ui-bundle==" in lock  # the API page's assets (issue 19)
    assert all(
        line.startswith(("#", " ", "--")) or "==" in line or not line.strip() for line in lock.splitlines()
    )
    wheel_line = (ctx / "modelport.lock").read_text()
    assert wheel_line.startswith("./wheels/modelport-") and "--hash=sha256:" in wheel_line
    serve = json.loads((ctx / "serve.json").read_text())
    assert "cpu_affinity" not in serve and "keys_file" not in serve and serve["entry_script"] == "score.py"
    text = (ctx / "Dockerfile").read_text()
    assert "primary_key" not in text and "--auth-key" not in text and "keys.json" not in text.split("CMD")[-1]


def test_the_lock_and_the_environment_hold_what_the_server_imports(exported: Exported) -> None:
    """What the server imports (derived from its code, tests/test_server_requirements.py) is in
    the service's real environment and in the exported lock the image installs."""
    lock = _lock_names((exported.folders["kubernetes"] / "requirements.lock").read_text())
    assert not server_needs() - lock, f"the exported lock lacks {sorted(server_needs() - lock)}"
    record = records.load(exported.ws, SERVICE)  # type: ignore[arg-type]
    assert record.bundle_dir is not None
    interpreter = json.loads((Path(record.bundle_dir) / "bundle.json").read_text())["interpreter"]
    assert Path(interpreter).absolute() != Path(sys.executable).absolute()  # its own environment
    names = "import importlib.metadata as m, json; print(json.dumps([d.name for d in m.distributions()]))"
    listed = subprocess.run(
        [interpreter, "-I", "-c", names], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    installed = {canonical(name) for name in json.loads(listed)}
    assert not server_needs() - installed, f"the environment lacks {sorted(server_needs() - installed)}"


@pytest.mark.process
def test_the_api_page_works_in_a_service_deployed_with_an_environment(exported: Exported) -> None:
    scoring_uri = exported.service.scoring_uri  # type: ignore[attr-defined]
    assert_swagger_page_works(scoring_uri.rsplit("/score", 1)[0])


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
        assert_swagger_page_works(f"http://127.0.0.1:{port}")
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


def test_the_context_holds_no_log_and_ignores_everything_it_does_not_copy(exported: Exported) -> None:
    """Issue 19: a ``service.log`` (this machine's paths and timings) landed in the context."""
    ctx = exported.folders["kubernetes"]
    assert not (ctx / "service.log").exists()
    assert not list(ctx.rglob("*.log"))
    ignore = (ctx / ".dockerignore").read_text().splitlines()
    assert ignore[1] == "*"  # everything, then only what the Dockerfile copies
    copied = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    sources = set()
    for stage in _stages(ctx / "Dockerfile"):
        for item in stage:
            if item["instruction"] == "COPY" and "--from" not in item["value"]:
                sources.update(s.rstrip("/") for s in item["value"].split()[:-1] if not s.startswith("--"))
    outside = {s for s in sources if not any(s == c or s.startswith(f"{c}/") for c in copied)}
    assert not outside, f"the Dockerfile copies what .dockerignore leaves out: {outside}"


# -- manifests -------------------------------------------------------------------------------------
def _anchors(text: str) -> list[str]:
    """The anchors and aliases in a YAML text, from the parser's own events."""
    found = []
    for event in yaml.parse(text):
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            found.append(anchor)
    return found


def test_manifests_are_plain_yaml_without_anchors_or_aliases(exported: Exported) -> None:
    """Issue 19: the Deployment used ``&id001``/``*id001`` for its labels (valid YAML, but no
    Kubernetes manifest is written so)."""
    files = sorted(exported.folders["kubernetes"].glob("*/*.yaml"))
    assert {f.parent.name for f in files} == {"kubernetes", "kserve", "kuberay"}
    for path in files:
        text = path.read_text()
        assert _anchors(text) == [], path
        assert "&id0" not in text and "*id0" not in text, path
    rayservice = yaml.safe_load((exported.folders["kuberay"] / "kuberay" / "rayservice.yaml").read_text())
    assert _anchors(rayservice["spec"]["serveConfigV2"]) == []
    # The check can fail: PyYAML's own safe_dump anchors a dict used twice.
    shared = {"app": "x"}
    assert _anchors(yaml.safe_dump({"a": shared, "b": shared})) == ["id001", "id001"]


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

    settings = aks_configuration(cpu_cores=0.5, memory_gb=1, auth_enabled=True).to_dict()
    return {**settings, **extra}


def test_autoscale_and_endpoint_versions_render_valid_objects(tmp_path: Path) -> None:
    """The renderers alone, on versions given as a list (an endpoint's records: below)."""
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
    # Ray's token authentication on (issue 26): an open Ray cluster runs anyone's code.
    assert cluster["authOptions"] == {"mode": "token"}
    assert tuple(int(p) for p in cluster["rayVersion"].split(".")[:2]) >= (2, 52)
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
    text = (exported.folders["kuberay"] / "kuberay" / "rayservice.yaml").read_text()
    assert "token authentication" in text.split("apiVersion")[0]  # the file's own note says so
    (ray,) = yaml.safe_load_all(text)
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


# -- several formats, one prepare ------------------------------------------------------------------
def test_one_export_writes_every_format_from_one_context(exported: Exported, tmp_path: Path) -> None:
    root = exported.folders["kubernetes"]
    for fmt in ("kubernetes", "kserve", "kuberay"):
        assert any((root / fmt).glob("*.yaml")), fmt
    assert len(list(root.rglob("requirements.lock"))) == 1  # one build context, prepared once
    # Exporting again the same service: the lock comes from the lock cache, byte for byte.
    again = exported.service.export(str(tmp_path / "again"), format="kserve,kuberay")  # type: ignore[attr-defined]
    assert again.formats == ["kserve", "kuberay"] and not (tmp_path / "again" / "kubernetes").exists()
    (locked,) = [p for p in again.context.phases if p["phase"] == "requirements locked"]
    assert locked["cached"] is True
    assert (tmp_path / "again" / "requirements.lock").read_text() == (root / "requirements.lock").read_text()


def test_unknown_formats_are_refused_before_anything_is_written(exported: Exported, tmp_path: Path) -> None:
    from modelport.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="'helm'"):
        exported.service.export(str(tmp_path / "x"), format="kubernetes,helm")  # type: ignore[attr-defined]
    assert not (tmp_path / "x").exists()


# -- real AKS settings -----------------------------------------------------------------------------
def test_aks_autoscale_service_exports_its_hpa(exported: Exported, tmp_path: Path) -> None:
    from modelport.core.webservice import AksWebservice

    config = AksWebservice.deploy_configuration(
        autoscale_enabled=True,
        autoscale_min_replicas=1,
        autoscale_max_replicas=3,
        autoscale_target_utilization=70,
    )
    record = ray_record(exported.ws, SERVICE, "digits-aks", config.to_dict())
    service = AksWebservice._wrap(exported.ws, record)  # type: ignore[arg-type]
    result = service.export(str(tmp_path / "aks"), format=["kubernetes", "kserve", "kuberay"])
    files = sorted((tmp_path / "aks" / "kubernetes").glob("*.yaml"))
    check = _validate(*files)
    assert check.returncode == 0, check.stdout + check.stderr
    objects = list(yaml.safe_load_all((tmp_path / "aks" / "kubernetes" / "digits-aks.yaml").read_text()))
    hpa = next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 3)
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert hpa["spec"]["scaleTargetRef"]["name"] == objects[0]["metadata"]["name"] == "digits-aks"
    assert objects[0]["spec"]["replicas"] == 1
    (isvc,) = yaml.safe_load_all((tmp_path / "aks" / "kserve" / "inferenceservice.yaml").read_text())
    check_inference_service(isvc)
    assert (isvc["spec"]["predictor"]["minReplicas"], isvc["spec"]["predictor"]["maxReplicas"]) == (1, 3)
    (ray,) = yaml.safe_load_all((tmp_path / "aks" / "kuberay" / "rayservice.yaml").read_text())
    (deployment,) = yaml.safe_load(ray["spec"]["serveConfigV2"])["applications"][0]["deployments"]
    scaling = deployment["autoscaling_config"]
    assert (scaling["min_replicas"], scaling["max_replicas"]) == (1, 3)
    assert result.image == "digits-aks:1"  # <service>:<model version>


# -- an AksEndpoint's versions -----------------------------------------------------------------------
def test_endpoint_exports_a_deployment_per_version_with_its_traffic_split(
    exported: Exported, tmp_path: Path
) -> None:
    """An endpoint's records as modelport.deploy.endpoints writes them: the endpoint (target ray,
    a router handle naming each version's service, its traffic and the default) and one Ray
    service record per version, ``<endpoint>--<version>``."""
    from modelport.core.aks_endpoint import AksEndpoint
    from modelport.deploy import endpoints, records
    from modelport.deploy.configs import aks_configuration
    from modelport.deploy.records import ServiceRecord, ServiceState

    blue = aks_configuration(num_replicas=2, cpu_cores=0.5, memory_gb=1).to_dict()
    green = aks_configuration(
        autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=4
    ).to_dict()
    versions = {}
    for version, settings, share, default in (("blue", blue, 0.0, True), ("green", green, 30.0, False)):
        app = endpoints.version_service("digits-ep", version)
        ray_record(exported.ws, SERVICE, app, {**settings, "endpoint": "digits-ep"})
        versions[version] = {"app": app, "traffic": share, "default": default, "control": False}
    endpoint = ServiceRecord(
        name="digits-ep",
        state=ServiceState.HEALTHY,
        target="ray",
        compute_type="AKS",
        models=records.load(exported.ws, SERVICE).models,  # type: ignore[arg-type]
        settings={**blue, "endpoint": None, "compute_target": "aks-cluster"},
        handle={"address": "127.0.0.1:1", "app": "digits-ep", "router": True, "versions": versions},
    )
    records.claim(exported.ws, endpoint, overwrite=False)  # type: ignore[arg-type]
    records.save(exported.ws, endpoint)  # type: ignore[arg-type]
    service = AksEndpoint._wrap(exported.ws, endpoint)  # type: ignore[arg-type]
    assert service.traffic() == {"blue": 70.0, "green": 30.0}
    out = tmp_path / "ep"
    result = service.export(str(out), format="kubernetes,kserve")
    assert set(result.contexts) == {"blue", "green"}
    for version in ("blue", "green"):
        assert (out / version / "Dockerfile").is_file() and (out / version / "requirements.lock").is_file()
    files = sorted((out / "kubernetes").glob("*.yaml"))
    assert {f.name for f in files} == {
        "digits-ep-blue.yaml",
        "digits-ep-green.yaml",
        "service.yaml",
        "httproute.yaml",
    }
    check = _validate(*[f for f in files if f.name != "httproute.yaml"])
    assert check.returncode == 0, check.stdout + check.stderr
    blue_objs = list(yaml.safe_load_all((out / "kubernetes" / "digits-ep-blue.yaml").read_text()))
    green_objs = list(yaml.safe_load_all((out / "kubernetes" / "digits-ep-green.yaml").read_text()))
    blue_pod = blue_objs[0]["spec"]["template"]["spec"]["containers"][0]
    assert blue_objs[0]["spec"]["replicas"] == 2 and blue_pod["resources"]["requests"]["cpu"] == "500m"
    assert blue_pod["image"] == "digits-ep-blue:1"  # <endpoint>-<version>:<model version>
    hpa = next(o for o in green_objs if o["kind"] == "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (1, 4)
    assert not any(o["kind"] == "HorizontalPodAutoscaler" for o in blue_objs)
    route = yaml.safe_load((out / "kubernetes" / "httproute.yaml").read_text())
    check_httproute(route)
    weights = {b["name"]: b["weight"] for b in route["spec"]["rules"][0]["backendRefs"]}
    assert weights == {"digits-ep-blue": 70, "digits-ep-green": 30}
    stable = yaml.safe_load((out / "kserve" / "inferenceservice.yaml").read_text())
    canary = yaml.safe_load((out / "kserve" / "inferenceservice-canary-green.yaml").read_text())
    check_inference_service(stable)
    check_inference_service(canary)
    assert "canaryTrafficPercent" not in stable["spec"]["predictor"]
    assert canary["spec"]["predictor"]["canaryTrafficPercent"] == 30
    assert canary["spec"]["predictor"]["containers"][0]["image"].startswith("digits-ep-green:")
    # A RayService runs one application: refused before anything is written.
    from modelport.errors import NotSupported

    with pytest.raises(NotSupported, match="--format kubernetes"):
        service.export(str(tmp_path / "ray"), format="kuberay")
    assert not (tmp_path / "ray").exists()


# -- KubeRay: the import path is a real Serve application builder ------------------------------------
def test_rayservice_import_path_builds_the_ray_targets_application(exported: Exported) -> None:
    """The RayService's import path, resolved as Serve resolves it and called with the manifest's
    args (the bundle pointed at the exported context, standing for /srv/modelport in the image),
    gives a Serve Application of the Ray target's replica, under the deployment name the manifest
    configures. Ray (the ray extra) must be installed: it is, in CI (scripts/test.sh)."""
    pytest.importorskip("ray")
    from ray._common.utils import import_attr
    from ray.serve import Application
    from ray.serve._private.api import call_user_app_builder_with_args_if_necessary

    from modelport.deploy.targets.ray import REPLICA_MODULE

    ctx = exported.folders["kuberay"]
    (ray,) = yaml.safe_load_all((ctx / "kuberay" / "rayservice.yaml").read_text())
    (app_config,) = yaml.safe_load(ray["spec"]["serveConfigV2"])["applications"]
    builder = import_attr(app_config["import_path"])
    app = call_user_app_builder_with_args_if_necessary(builder, {**app_config["args"], "bundle": str(ctx)})
    assert isinstance(app, Application)
    deployment = app._bound_deployment
    assert deployment.name == app_config["deployments"][0]["name"]
    assert deployment.func_or_class.__module__ == REPLICA_MODULE
    assert deployment.func_or_class.__name__ == "ScoringReplica"
    (settings,) = deployment.init_args
    script = Path(settings["entry_script"])
    assert script.is_absolute() and script.is_file() and script.name == "score.py"
    assert Path(settings["app_root"]).is_dir()
