"""The Ray target through the v1 facade: AksCompute + AksWebservice on a real Ray cluster."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import requests

from modelport.core.compute import ComputeTarget
from modelport.core.environment import Environment
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AksWebservice, Webservice
from modelport.errors import DeploymentError, InvalidInputError
from modelport.workspace import Workspace
from tests.fixtures import SCRIPTS, TUTORIAL_SCORE, wait_until
from tests.ray.conftest import Provisioned

# Starting a cluster takes 40-70 s here, and minutes when the machine is busy.
pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]


def _src(tmp_path: Path, script: Path) -> Path:
    src = tmp_path / f"src-{script.stem}"
    src.mkdir(exist_ok=True)
    shutil.copy(script, src / "score.py")
    return src


@pytest.fixture
def aks(dws: Workspace, ray_cluster: Provisioned) -> ComputeTarget:
    return ray_cluster.attach(dws, "aks")


def _deploy(ws: Workspace, aks: ComputeTarget, name: str, model: Model, src: Path, env=None, **config):  # type: ignore[no-untyped-def]
    aks_config = AksWebservice.deploy_configuration(**config)
    ic = InferenceConfig("score.py", source_directory=src, environment=env)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        service = Model.deploy(ws, name, [model], ic, aks_config, deployment_target=aks)
    # Deployed to Ray: nothing says it runs on the local target.
    assert not [w for w in said if "local target" in str(w.message)]
    return service


def test_deploy_score_auth_and_delete(
    dws: Workspace, ray_cluster: Provisioned, digits_model, tmp_path: Path, capfd
) -> None:  # type: ignore[no-untyped-def]
    aks = ray_cluster.attach(dws, "aks")
    path, test_x, expected = digits_model
    model = Model.register(dws, path, "sklearn_mnist")
    service = _deploy(
        dws,
        aks,
        "ray-svc",
        model,
        _src(tmp_path, TUTORIAL_SCORE),
        autoscale_enabled=True,
        autoscale_min_replicas=1,
        autoscale_max_replicas=3,
    )
    service.wait_for_deployment(show_output=True, timeout_sec=180)
    assert service.state == "Healthy" and service.compute_type == "AKS"
    assert service.scoring_uri.endswith("/api/v1/service/ray-svc/score")
    # What the user reads says what happened, in modelport's words (issue 19, item 3): no "local
    # target" for a Ray deployment, none of Serve's own narration, one line per step.
    out, err = capfd.readouterr()
    assert "Serve application submitted to the Ray cluster" in out and "Healthy: " in out, out
    for noise in ("local target", "will not be applied", "Started Serve", "Connecting to existing Serve"):
        assert noise not in out + err, f"{noise!r} in:\n{out}\n{err}"
    assert "server started" not in out  # Ray's start only submits: the replicas start after it
    body = json.dumps({"data": test_x.tolist()})
    assert service.run(input_data=body) == expected.tolist()
    # Auth is on by default, as on AKS: the same status codes and error bodies as a local service.
    anonymous = requests.post(service.scoring_uri, data=body, timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "AuthError"
    key = service.get_keys()[0]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    answer = requests.post(service.scoring_uri, data=body, headers=headers, timeout=30)
    assert answer.status_code == 200 and answer.json() == expected.tolist()
    bad = requests.post(service.scoring_uri, data=b"{not json", headers=headers, timeout=30)
    assert bad.status_code in (400, 500) and set(bad.json()) >= {"message", "code"}
    swagger = requests.get(service.swagger_uri, headers=headers, timeout=30)
    assert swagger.status_code == 200 and "paths" in swagger.json()
    assert requests.get(service.scoring_uri[: -len("/score")] + "/", timeout=30).status_code == 200
    old_key = key
    service.regen_key("Primary")
    deadline = time.monotonic() + 10  # replicas re-read the key file at most every 0.5 s
    while (
        time.monotonic() < deadline
        and requests.post(service.scoring_uri, data=body, headers=headers, timeout=30).status_code != 401
    ):
        time.sleep(0.2)
    assert requests.post(service.scoring_uri, data=body, headers=headers, timeout=30).status_code == 401
    assert service.get_keys()[0] != old_key
    assert service.run(input_data=body) == expected.tolist()  # the new key, without a restart
    assert "ray-svc" in [s.name for s in Webservice.list(dws, compute_type="AKS")]
    service.delete()
    from ray import serve

    assert "ray-svc" not in serve.status().applications


def test_an_owned_cluster_runs_replicas_in_place(
    ray_cluster: Provisioned, digits_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The cluster modelport started (its own compute target, no replica_resources): replicas run
    the service's interpreter here and read the bundle where it is (no upload, no uv build), keys
    still enforced from the cluster's key-value store, and request traces kept as a local
    service's are (the shipped path has none)."""
    from ray import serve

    from modelport.deploy import cluster

    ws, aks = ray_cluster.ws, ray_cluster.aks
    path, test_x, expected = digits_model
    model = Model.register(ws, path, "sklearn_mnist")  # type: ignore[arg-type]
    service = _deploy(
        ws,  # type: ignore[arg-type]
        aks,  # type: ignore[arg-type]
        "ray-inplace",
        model,
        _src(tmp_path, TUTORIAL_SCORE),
        num_replicas=1,
        autoscale_enabled=False,
        enable_app_insights=True,
    )
    try:
        service.wait_for_deployment(show_output=True, timeout_sec=600)
        assert service.state == "Healthy", service.get_logs()
        handle = service._record.handle
        assert handle["in_place"] is True, handle
        assert set(handle["runtime_env"]) == {"py_executable"}, handle  # nothing shipped, no uv
        cluster.connect(ray_cluster.record)  # type: ignore[arg-type]
        origin = (
            serve.get_deployment_handle("score", app_name="ray-inplace").origin.remote().result(timeout_s=60)
        )
        assert origin["python"] == handle["runtime_env"]["py_executable"], origin
        for where in (origin["cwd"], origin["modelport"], origin["python"]):
            assert "/runtime_resources/" not in where, origin
        body = json.dumps({"data": test_x.tolist()})
        assert service.run(input_data=body) == expected.tolist()
        anonymous = requests.post(service.scoring_uri, data=body, timeout=30)
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "AuthError"
        # The scoring request's trace, written by the replica beside the bundle, as locally.
        wait_until(
            lambda: 200 in [t["status"] for t in service.get_traces()],
            60,
            "the request's trace",
            interval=0.2,
        )
    finally:
        service.delete()


def test_settings_map_to_serve_options() -> None:
    from modelport.deploy.targets.ray import deployment_options

    auto = AksWebservice.deploy_configuration(
        autoscale_enabled=True,
        autoscale_min_replicas=2,
        autoscale_max_replicas=5,
        autoscale_target_utilization=50,
        autoscale_refresh_seconds=2,
        replica_max_concurrent_requests=4,
        cpu_cores=0.5,
        memory_gb=1,
    )
    options = deployment_options(auto)
    scaling = options["autoscaling_config"]
    assert (scaling["min_replicas"], scaling["max_replicas"]) == (2, 5)
    assert scaling["target_ongoing_requests"] == 2.0 and scaling["upscale_delay_s"] == 2.0
    assert options["ray_actor_options"] == {"num_cpus": 0.5, "memory": 1024**3}
    fixed = AksWebservice.deploy_configuration(num_replicas=3, autoscale_enabled=False)
    assert deployment_options(fixed)["num_replicas"] == 3


def test_gpus_the_cluster_lacks_and_tls_are_refused_up_front(
    dws: Workspace, aks: ComputeTarget, digits_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """gpu_cores is the replica's num_gpus: more than the cluster has would leave it pending
    forever, so the deployment fails at once naming the cluster's count. TLS is the Ray proxy's,
    per cluster: a service asking for it on a plain-HTTP cluster is refused (issue 22, part 3)."""
    from modelport.deploy.targets.ray import deployment_options

    gpu = AksWebservice.deploy_configuration(num_replicas=1, gpu_cores=1)
    assert deployment_options(gpu)["ray_actor_options"]["num_gpus"] == 1.0
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    src = _src(tmp_path, TUTORIAL_SCORE)
    started = time.monotonic()
    with pytest.raises((DeploymentError, InvalidInputError)) as info:
        _deploy(dws, aks, "ray-gpu", model, src, num_replicas=1, gpu_cores=1).wait_for_deployment(
            timeout_sec=90
        )
    assert "gpu_cores=1: the Ray cluster of AKS compute 'aks' has 0 GPU(s)" in str(info.value)
    assert time.monotonic() - started < 60
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    with pytest.raises((DeploymentError, InvalidInputError)) as info:
        _deploy(
            dws, aks, "ray-tls", model, src, num_replicas=1,
            ssl_enabled=True, ssl_cert_pem_file=str(cert), ssl_key_pem_file=str(key),
        ).wait_for_deployment(timeout_sec=90)  # fmt: skip
    assert "its Ray Serve proxy serves every service over plain HTTP" in str(info.value)


def test_init_failure_fails_within_60_s_with_its_traceback(
    dws: Workspace, aks: ComputeTarget, digits_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    started = time.monotonic()
    service = _deploy(
        dws, aks, "ray-broken", model, _src(tmp_path, SCRIPTS / "init_fails.py"), num_replicas=1
    )
    with pytest.raises(DeploymentError) as info:
        service.wait_for_deployment(timeout_sec=90)
    assert time.monotonic() - started < 60
    assert "model file is corrupt: cannot load weights" in str(info.value)
    assert Webservice(dws, "ray-broken").state == "Failed"


def test_a_user_managed_environment_without_ray_serves(
    dws: Workspace, aks: ComputeTarget, digits_model, tmp_path: Path, sk_env: Environment, env_cache: Path
) -> None:  # type: ignore[no-untyped-def]
    """A user-managed environment whose interpreter lacks Ray (Serve used to wait forever on it): a
    node cannot run an interpreter of this machine anyway, so its installed versions are built on
    the node, over the node's own Python (which brings Ray)."""
    from modelport.environments import EnvSpec, resolve_interpreter

    no_ray = resolve_interpreter(EnvSpec.from_dict(sk_env.to_spec()), env_cache, log=lambda _l: None)
    env = Environment("no-ray")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = str(no_ray)
    path, test_x, expected = digits_model
    model = Model.register(dws, path, "sklearn_mnist")
    service = _deploy(
        dws,
        aks,
        "ray-noray",
        model,
        _src(tmp_path, TUTORIAL_SCORE),
        env=env,
        num_replicas=1,
        auth_enabled=False,
    )
    service.wait_for_deployment(timeout_sec=600)
    assert service.run(input_data=json.dumps({"data": test_x.tolist()})) == expected.tolist()
    service.delete()


def test_deployment_target_must_be_aks(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    ic = InferenceConfig("score.py", source_directory=_src(tmp_path, TUTORIAL_SCORE))
    with pytest.raises(InvalidInputError, match="AksCompute"):
        Model.deploy(dws, "x-svc", [model], ic, deployment_target="aks")
    assert sys.executable  # the deployment above was refused before anything started
    assert np is not None


def test_autoscaling_up_under_load_and_back_when_idle(
    dws: Workspace, aks: ComputeTarget, digits_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    from modelport.deploy import targets

    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    service = _deploy(
        dws,
        aks,
        "ray-scale",
        model,
        _src(tmp_path, SCRIPTS / "plain_echo.py"),
        autoscale_enabled=True,
        autoscale_min_replicas=1,
        autoscale_max_replicas=3,
        autoscale_refresh_seconds=1,
        autoscale_target_utilization=50,
        auth_enabled=False,
    )
    service.wait_for_deployment(timeout_sec=180)
    target = targets.get("ray")
    handle = service._record.handle
    assert target.replicas(handle).get("RUNNING") == 1

    # run() errors keep v1's status and body on Ray too.
    failing = requests.post(service.scoring_uri, json={"raise": "boom"}, timeout=30)
    assert failing.status_code == 500 and failing.json() == {
        "message": "ValueError: boom",
        "code": "ScriptError",
    }

    stop = time.monotonic() + 60
    peak = 1

    def load() -> None:
        while time.monotonic() < stop:
            requests.post(service.scoring_uri, json={"sleep": 0.2}, timeout=60)

    with ThreadPoolExecutor(6) as pool:
        for _ in range(6):
            pool.submit(load)
        while time.monotonic() < stop:
            peak = max(peak, target.replicas(handle).get("RUNNING", 0))
            if peak >= 2:
                stop = time.monotonic()  # enough: the load threads end
                break
            time.sleep(0.5)
    assert peak >= 2, "concurrent load did not add a replica within 60 s"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and target.replicas(handle).get("RUNNING", 0) != 1:
        time.sleep(0.5)
    # Replicas being removed show as STOPPING while they finish what they hold.
    assert target.replicas(handle).get("RUNNING") == 1, "idle replicas were not removed within 60 s"


def test_ingress_is_haproxy_listening_on_loopback_only(ray_cluster: Provisioned) -> None:
    """The cluster's HTTP ingress is HAProxy (Serve's Python proxy collapses under load), and its
    frontends (scoring, stats, Prometheus) listen on 127.0.0.1, not on every interface."""
    import psutil

    from modelport.deploy import cluster

    record = ray_cluster.record
    assert record.settings["ingress"] == "haproxy"  # type: ignore[attr-defined]
    haproxies = [p for p in cluster.cluster_processes(record) if p.name() == "haproxy"]  # type: ignore[arg-type]
    assert haproxies, "no HAProxy among the cluster's processes"
    pids = {p.pid for p in haproxies}
    listening = [
        c.laddr for c in psutil.net_connections("tcp") if c.pid in pids and c.status == psutil.CONN_LISTEN
    ]
    assert {a.port for a in listening} >= {record.http_port}  # type: ignore[attr-defined]
    assert {a.ip for a in listening} == {"127.0.0.1"}, listening


def test_token_auth_and_scoring_timeout(
    dws: Workspace, aks: ComputeTarget, digits_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    service = _deploy(
        dws,
        aks,
        "ray-token",
        model,
        _src(tmp_path, SCRIPTS / "sleepy.py"),
        num_replicas=1,
        auth_enabled=False,
        token_auth_enabled=True,
        scoring_timeout_ms=1500,
    )
    service.wait_for_deployment(timeout_sec=180)
    token, refresh_after = service.get_token()
    assert refresh_after > time.time()
    bearer = {"Authorization": f"Bearer {token}"}
    quick = json.dumps({"sleep": 0})
    assert requests.post(service.scoring_uri, data=quick, timeout=30).status_code == 401
    assert requests.post(service.scoring_uri, data=quick, headers=bearer, timeout=30).json() == {"slept": 0.0}
    with pytest.raises(InvalidInputError, match="does not use key auth"):
        service.get_keys()
    started = time.monotonic()
    slow = requests.post(service.scoring_uri, data=json.dumps({"sleep": 20}), headers=bearer, timeout=60)
    assert slow.status_code == 504 and slow.json()["code"] == "ScoringTimeout"
    assert time.monotonic() - started < 15  # the timeout answered, not run() finishing (20 s)
    # The replica stuck in run() is replaced (its health check fails); the service answers again.
    deadline = time.monotonic() + 120
    answer = None
    while time.monotonic() < deadline:
        answer = requests.post(service.scoring_uri, data=quick, headers=bearer, timeout=30)
        if answer.status_code == 200:
            break
        time.sleep(0.5)
    assert answer is not None and answer.status_code == 200, answer.text if answer is not None else None
    service.delete()


def test_a_service_waiting_on_the_ingress_says_what_the_ingress_answered() -> None:
    """RUNNING replicas the ingress does not route yet: the wait's reason says what the ingress
    answered at each step (a wait that ran out used to say only "waiting for Serve's HTTP proxy to
    route it"). The ingress here is a real HTTP server on a real socket, playing each answer."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from modelport.deploy.ports import free_port
    from modelport.deploy.targets.ray import RayTarget

    prefix = "/api/v1/service/svc"
    routes: dict[str, str] = {}
    ready = [404]  # what the app's readiness route answers through the ingress

    class Ingress(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/-/routes":
                status, body = 200, json.dumps(routes).encode()
            elif self.path == f"{prefix}/health/ready":
                status, body = ready[0], b""
            else:
                status, body = 404, b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Ingress)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    handle = {"app": "svc", "http_port": port}
    target = RayTarget()
    try:
        assert target._unrouted(handle) == f"http://127.0.0.1:{port}/-/routes answers 200 without {prefix}"
        routes[prefix] = "svc"
        assert target._unrouted(handle) == f"{prefix}/health/ready answers 404"
        for answer in (200, 401):  # the app answered (401: it wants a key): routed
            ready[0] = answer
            assert target._unrouted(handle) is None
    finally:
        server.shutdown()
        server.server_close()
    gone = target._unrouted(handle)  # nothing listens there now
    assert gone == f"the ingress at http://127.0.0.1:{port} does not answer: ConnectionError", gone
