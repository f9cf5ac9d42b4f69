"""Faults around deployments: a deployer killed midway, a killed supervisor, a simulated reboot."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import Webservice
from modelport.deploy import engine
from modelport.deploy.targets.local import stray_servers
from modelport.workspace import Workspace

from .conftest import SCRIPTS

pytestmark = pytest.mark.process


def _servers_under(folder: Path) -> list[int]:
    return [p.pid for p in stray_servers(folder)]


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    shutil.copy(SCRIPTS / "echo_version.py", src / "score.py")
    return src


def test_deployer_killed_midway_ends_failed_and_leaves_nothing(
    dws: Workspace,
    digits_model,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    Model.register(dws, digits_model[0], "sklearn_mnist")
    src = _src(tmp_path)
    # A new environment spec, so the deployer spends seconds building it: we kill it meanwhile.
    code = (
        "from modelport.core import Workspace\n"
        "from modelport.core.conda_dependencies import CondaDependencies\n"
        "from modelport.core.environment import Environment\n"
        "from modelport.core.model import InferenceConfig, Model\n"
        "ws = Workspace.get('deployws')\n"
        "env = Environment('slow-env')\n"
        "deps = CondaDependencies.create(pip_packages=['six==1.16.0', 'packaging'])\n"
        "env.python.conda_dependencies = deps\n"
        f"Model.deploy(ws, 'midway-svc', [Model(ws, 'sklearn_mnist')], "
        f"InferenceConfig('score.py', source_directory=r'{src}', environment=env))\n"
        "import time; time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, env=os.environ.copy())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "midway-svc" not in engine.names(dws):
        time.sleep(0.05)
    assert "midway-svc" in engine.names(dws)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    state = Webservice(dws, "midway-svc").state
    assert state in ("Failed", "Healthy", "Transitioning")
    deadline = time.monotonic() + 30
    while state == "Transitioning" and time.monotonic() < deadline:
        time.sleep(0.2)
        state = Webservice(dws, "midway-svc").state
    assert state in ("Failed", "Healthy"), "a deployment whose deployer died must not stay Transitioning"
    out = subprocess.run(
        [str(Path(sys.executable).with_name("modelport")), "service", "list", "-w", "deployws"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert "midway-svc" in out.stdout and "Transitioning" not in out.stdout
    Webservice(dws, "midway-svc").delete()
    assert _servers_under(dws.services_dir / "midway-svc") == []
    assert not (dws.services_dir / "midway-svc").exists()


def test_killed_supervisor_then_restart_same_port_same_keys(
    dws: Workspace,
    digits_model,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    from modelport.core.webservice import AciWebservice

    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    service = Model.deploy(
        dws,
        "phoenix-svc",
        [model],
        InferenceConfig("score.py", source_directory=_src(tmp_path)),
        AciWebservice.deploy_configuration(auth_enabled=True),
    )
    service.wait_for_deployment(timeout_sec=60)
    port, keys = service.port, service.get_keys()
    supervisor = service.serialize()["processes"][0]
    os.kill(supervisor, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and Webservice(dws, "phoenix-svc").state == "Healthy":
        time.sleep(0.1)
    assert Webservice(dws, "phoenix-svc").state in ("Unhealthy", "Failed")
    # Orphaned workers notice their arbiter is gone and exit; restart must get the port back.
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("modelport")),
            "service",
            "restart",
            "phoenix-svc",
            "-w",
            "deployws",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    again = Webservice(dws, "phoenix-svc")
    assert again.state == "Healthy"
    assert again.port == port and again.get_keys() == keys
    assert again.run("x")["version"] == "v1"


def test_simulated_reboot_restart_all(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = Model.register(dws, digits_model[0], "sklearn_mnist")
    names = ["boot-one", "boot-two"]
    for name in names:
        Model.deploy(dws, name, [model], InferenceConfig("score.py", source_directory=_src(tmp_path)))
    for name in names:
        Webservice(dws, name).wait_for_deployment(timeout_sec=60)
    pids = [pid for name in names for pid in Webservice(dws, name).serialize()["processes"]]
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=10)
    assert all(Webservice(dws, n).state == "Failed" for n in names)
    out = subprocess.run(
        [str(Path(sys.executable).with_name("modelport")), "service", "restart", "--all", "-w", "deployws"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stdout + out.stderr
    for name in names:
        assert Webservice(dws, name).state == "Healthy"
        assert Webservice(dws, name).run("x")["version"] == "v1"
