"""Who can use a Ray cluster modelport starts (issue 26): only drivers with its token, and only
through loopback.

A Ray cluster runs whatever code a driver sends it. These tests play the intruder from this
machine, through 127.0.0.1 only (no test sends traffic anywhere else): a driver with no token and
one with a wrong token are refused, one with the cluster's token gets its answer. What other
machines could reach is read from the cluster's listening sockets instead: all on loopback.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from modelport.core.compute import AksCompute, ComputeTarget
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AksWebservice
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError
from modelport.workspace import Workspace
from tests.fixtures import SCRIPTS
from tests.ray.conftest import Provisioned

pytestmark = [pytest.mark.ray, pytest.mark.process, pytest.mark.timeout(900)]

LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1", "::1"}

# A driver as anyone on this machine could write it: connect, run a task, print its answer.
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 keeps Ray from rewriting 127.0.0.1 to the network address.
DRIVER = """
import logging, sys
import ray
ray.init(address=sys.argv[1], _node_ip_address="127.0.0.1", logging_level=logging.ERROR,
         log_to_driver=False)

@ray.remote
def answer():
    return 42

print("ANSWER", ray.get(answer.remote(), timeout=120), flush=True)
"""


def _driver(address: str, home: Path, token: str | None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    # A home of its own: no ~/.ray/auth_token of this machine's user can help it.
    env.update(HOME=str(home), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0")
    if token is not None:
        env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token)
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, address],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def test_only_a_driver_with_the_clusters_token_runs_code(ray_cluster: Provisioned, tmp_path: Path) -> None:
    address = ray_cluster.address
    assert address.startswith("127.0.0.1:")
    home = tmp_path / "intruder-home"
    home.mkdir()
    drivers = {
        "no token": _driver(address, home, None),
        "wrong token": _driver(address, home, "0" * 64),
        "the cluster's token": _driver(address, home, ray_cluster.token),
    }
    outputs = {}
    try:
        for name, proc in drivers.items():
            outputs[name] = (proc.communicate(timeout=240)[0], proc.returncode)
    finally:
        for proc in drivers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 9)
    for name in ("no token", "wrong token"):
        text, code = outputs[name]
        assert code != 0 and "ANSWER" not in text, f"a driver with {name} ran code:\n{text[-2000:]}"
    text, code = outputs["the cluster's token"]
    assert code == 0 and "ANSWER 42" in text, text[-2000:]


def listeners(record: cluster.ClusterRecord) -> list[tuple[str, str, int]]:
    """Every listening socket of a cluster's processes: ``(process name, address, port)``
    (tests/ray/test_amlcompute.py checks an AmlCompute cluster's, its Jobs API's included)."""
    procs = cluster.cluster_processes(record)
    listening = []
    for proc in procs:
        try:
            name = proc.name()
            for conn in proc.net_connections(kind="inet"):
                if conn.status == psutil.CONN_LISTEN:
                    listening.append((name, conn.laddr.ip, conn.laddr.port))
        except psutil.Error:
            continue
    return listening


def test_every_listener_of_the_cluster_is_on_loopback(ray_cluster: Provisioned) -> None:
    listening = listeners(ray_cluster.record)  # type: ignore[arg-type]
    # The GCS, raylet, agents and HAProxy at least; more once Serve's actors run.
    assert len(listening) >= 8, listening
    assert {"gcs_server", "raylet", "haproxy"} <= {name for name, _ip, _port in listening}
    exposed = [entry for entry in listening if entry[1] not in LOOPBACK]
    assert exposed == [], f"listening beyond loopback: {exposed}"


def test_the_token_is_private(ray_cluster: Provisioned) -> None:
    record = ray_cluster.record
    token_file = Path(record.token_file)  # type: ignore[attr-defined]
    ws: Workspace = ray_cluster.ws  # type: ignore[assignment]
    assert token_file == cluster.token_path(ws, "aks-cluster")
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = ray_cluster.token
    assert len(token) == 64  # 256 bits from secrets
    # Not on any command line of this machine (Ray's processes get the file's path only).
    for proc in psutil.process_iter(["cmdline"]):
        assert token not in " ".join(proc.info.get("cmdline") or []), f"process {proc.pid} shows the token"
    # Not in the cluster's record, nor in anything the cluster wrote (its logs, HAProxy's files).
    assert token not in (ws.path / "compute" / "aks-cluster.json").read_text()
    for folder in (record.temp_dir, record.settings["haproxy_dir"]):  # type: ignore[attr-defined]
        for path in Path(folder).rglob("*"):
            if path.is_file() and not path.is_socket() and path.stat().st_size < 50_000_000:
                assert token.encode() not in path.read_bytes(), f"{path} holds the token"
    # This process connected as a driver, yet what it starts later does not inherit the token.
    assert not {"RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"} & set(os.environ)


def test_attaching_needs_the_token_and_then_deploys(
    dws: Workspace, ray_cluster: Provisioned, digits_model, tmp_path: Path, monkeypatch, capsys
) -> None:  # type: ignore[no-untyped-def]
    address = ray_cluster.address
    monkeypatch.delenv("MODELPORT_RAY_AUTH_TOKEN", raising=False)
    needs = r"requires a token: give it with .*MODELPORT_RAY_AUTH_TOKEN"
    with pytest.raises(ComputeTargetError, match=needs):
        ComputeTarget.attach(dws, "aks", AksCompute.attach_configuration(address=address))
    with pytest.raises(ComputeTargetError, match="refused the token given"):
        ComputeTarget.attach(dws, "aks", AksCompute.attach_configuration(address=address, token="1" * 64))
    with pytest.raises(InvalidInputError, match="token"):
        AksCompute.attach_configuration(address=address, token="  ")
    assert cluster.names(dws) == [] and not cluster.token_path(dws, "aks").exists()
    # The token from the environment variable, as documented.
    monkeypatch.setenv("MODELPORT_RAY_AUTH_TOKEN", ray_cluster.token)
    aks = ComputeTarget.attach(dws, "aks", AksCompute.attach_configuration(address=address))
    assert "no authentication" not in capsys.readouterr().err
    assert stat.S_IMODE(cluster.token_path(dws, "aks").stat().st_mode) == 0o600
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(SCRIPTS / "plain_echo.py", src / "score.py")
    config = AksWebservice.deploy_configuration(num_replicas=1, autoscale_enabled=False)
    ic = InferenceConfig("score.py", source_directory=src)
    service = Model.deploy(dws, "sec-svc", [model], ic, config, deployment_target=aks)
    service.wait_for_deployment(show_output=False, timeout_sec=300)
    assert service.state == "Healthy", service.get_logs()
    assert service.run(input_data='{"data": [[1, 2]]}') == {"echo": {"data": [[1, 2]]}, "type": "str"}
    service.delete()
    aks.detach()
    assert not cluster.token_path(dws, "aks").exists()
