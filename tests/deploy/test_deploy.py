"""Deployments with real processes: the scoring server, real virtualenvs, real sockets."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import requests

from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.environment import Environment
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, LocalWebservice, Webservice
from modelport.errors import AlreadyExistsError, DeploymentError, InUseError, ServiceCallError
from modelport.workspace import Workspace
from tests.server.conftest import wait_until

from .conftest import SCRIPTS, TUTORIAL_SCORE

pytestmark = pytest.mark.process


def _register(ws: Workspace, digits_model: tuple[Path, np.ndarray, np.ndarray]) -> Model:
    return Model.register(ws, digits_model[0], "sklearn_mnist", tags={"data": "digits"})


def _script_dir(tmp_path: Path, script: str | Path, name: str = "score.py") -> Path:
    """A source folder holding ``script`` (a path, or a name in tests/scripts) as ``name``."""
    source = script if isinstance(script, Path) else SCRIPTS / script
    src = tmp_path / f"src-{source.name}"
    src.mkdir(exist_ok=True)
    shutil.copy(source, src / name)
    return src


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_tutorial_score_deploys_and_matches_in_process(
    dws: Workspace, digits_model: tuple[Path, np.ndarray, np.ndarray], sk_env: Environment, tmp_path: Path
) -> None:
    model = _register(dws, digits_model)
    _path, test_x, expected = digits_model
    src = _script_dir(tmp_path, TUTORIAL_SCORE)
    config = InferenceConfig(entry_script="score.py", source_directory=src, environment=sk_env)
    aci = AciWebservice.deploy_configuration(
        cpu_cores=1, memory_gb=1, tags={"data": "digits"}, description="d"
    )
    service = Model.deploy(dws, "digits-svc", [model], config, aci)
    service.wait_for_deployment(show_output=True, timeout_sec=600)
    assert service.state == "Healthy"
    body = json.dumps({"data": test_x.tolist()})
    assert service.run(input_data=body.encode()) == expected.tolist()
    assert service.run(input_data={"data": test_x[:3].tolist()}) == expected[:3].tolist()
    assert requests.get(service.scoring_uri.replace("/score", "/"), timeout=30).status_code == 200
    assert service.tags == {"data": "digits"} and service.compute_type == "ACI"
    assert service.models == [model]
    serialized = json.dumps(service.serialize())
    assert "digits-svc" in serialized

    # A second deployment with the environment now cached: deploy-to-Healthy time.
    started = time.perf_counter()
    again = Model.deploy(dws, "digits-svc2", [model], config, aci)
    again.wait_for_deployment(timeout_sec=120)
    seconds = time.perf_counter() - started
    print(f"\ndeploy-to-Healthy with a cached environment: {seconds:.2f} s")
    assert again.run(input_data=body) == expected.tolist()
    (Path(os.environ.get("MODELPORT_FIGURES", tmp_path)) / "deploy_seconds.txt").write_text(
        f"{seconds:.3f}\n"
    )


def test_second_process_lists_and_calls(
    dws: Workspace, digits_model: tuple[Path, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    model = _register(dws, digits_model)
    src = _script_dir(tmp_path, TUTORIAL_SCORE)
    service = Model.deploy(dws, "shared-svc", [model], InferenceConfig("score.py", source_directory=src))
    service.wait_for_deployment(timeout_sec=120)
    code = (
        "import json, sys\n"
        "from modelport.core import Workspace\n"
        "from modelport.core.webservice import Webservice\n"
        "ws = Workspace.get('deployws')\n"
        "names = [s.name for s in Webservice.list(ws, model_name='sklearn_mnist')]\n"
        "svc = Webservice(ws, 'shared-svc')\n"
        "print(json.dumps({'names': names, 'state': svc.state, 'y': svc.run(sys.argv[1])}))\n"
    )
    x = digits_model[1][:5]
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps({"data": x.tolist()})],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
    )
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen == {"names": ["shared-svc"], "state": "Healthy", "y": digits_model[2][:5].tolist()}


def test_init_failure_raises_with_its_traceback(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _register(dws, digits_model)
    src = _script_dir(tmp_path, "init_fails.py")
    service = Model.deploy(dws, "broken-svc", [model], InferenceConfig("score.py", source_directory=src))
    with pytest.raises(DeploymentError) as info:  # raised when init() fails, not at the timeout
        service.wait_for_deployment(timeout_sec=120)
    message = str(info.value)
    assert "Failed" in message
    assert "RuntimeError: model file is corrupt: cannot load weights" in message
    assert "Traceback" in message
    assert Webservice(dws, "broken-svc").state == "Failed"
    assert "cannot load weights" in service.get_logs()


def test_missing_package_fails_with_installer_error(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _register(dws, digits_model)
    env = Environment("bad-env")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["this-package-does-not-exist-xyz==1.0"]
    )
    src = _script_dir(tmp_path, TUTORIAL_SCORE)
    service = Model.deploy(
        dws, "nopkg-svc", [model], InferenceConfig("score.py", source_directory=src, environment=env)
    )
    assert service.state == "Failed"
    with pytest.raises(DeploymentError, match="this-package-does-not-exist-xyz"):
        service.wait_for_deployment()
    logs = service.get_logs()
    assert "this-package-does-not-exist-xyz" in logs
    assert "installer" in logs or "not found" in logs.lower() or "no solution" in logs.lower()


def test_v1_environment_with_azureml_defaults_deploys(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import sklearn

    model = _register(dws, digits_model)
    env = Environment("v1-env")
    env.python.conda_dependencies = CondaDependencies.create(
        pip_packages=["azureml-defaults", "inference-schema"],
        conda_packages=[f"scikit-learn={sklearn.__version__}", "joblib"],
    )
    src = _script_dir(tmp_path, TUTORIAL_SCORE)
    service = Model.deploy(
        dws, "v1-svc", [model], InferenceConfig("score.py", source_directory=src, environment=env)
    )
    service.wait_for_deployment(timeout_sec=600)
    assert service.run({"data": digits_model[1][:2].tolist()}) == digits_model[2][:2].tolist()
    assert "azureml-defaults" in service.get_logs(init=True)


def test_overwrite_has_zero_failed_requests(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _register(dws, digits_model)
    src = _script_dir(tmp_path, "echo_version.py")
    config = InferenceConfig("score.py", source_directory=src)
    service = Model.deploy(dws, "swap-svc", [model], config)
    service.wait_for_deployment(timeout_sec=60)
    old_pid = service.run("x")["pid"]
    results: list[object] = []
    stop = threading.Event()

    def client() -> None:
        svc = Webservice(dws, "swap-svc")
        while not stop.is_set():
            try:
                results.append(svc.run("x")["version"])
            except Exception as exc:
                results.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    # Conditions, not sleeps: the client is calling the old deployment before the overwrite, and
    # has been answered by the new one after it (a busy machine made 0.5 s too short for either).
    wait_until(lambda: "v1" in results, 60, "the client to be answered by v1")
    (src / "score.py").write_text((src / "score.py").read_text().replace('"v1"', '"v2"'))
    with pytest.raises(AlreadyExistsError):
        Model.deploy(dws, "swap-svc", [model], InferenceConfig("score.py", source_directory=src))
    Model.deploy(dws, "swap-svc", [model], InferenceConfig("score.py", source_directory=src), overwrite=True)
    answered = len(results)
    wait_until(lambda: results[answered:].count("v2") >= 3, 60, "the client to be answered by v2")
    stop.set()
    thread.join(timeout=30)
    failures = [r for r in results if isinstance(r, Exception)]
    assert failures == [], failures[:3]
    assert "v1" in results and results[-1] == "v2"
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == psutil.STATUS_ZOMBIE
    assert Webservice(dws, "swap-svc").state == "Healthy"


def test_kill_9_is_seen_and_delete_frees_everything(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _register(dws, digits_model)
    src = _script_dir(tmp_path, "echo_version.py")
    service = Model.deploy(
        dws,
        "killed-svc",
        [model],
        InferenceConfig("score.py", source_directory=src),
        LocalWebservice.deploy_configuration(),
    )
    service.wait_for_deployment(timeout_sec=60)
    port = service.port
    assert port is not None
    pids = service.serialize()["processes"]
    assert len(pids) >= 2  # supervisor and a worker
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(
        psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids
    ):
        time.sleep(0.05)
    assert Webservice(dws, "killed-svc").state != "Healthy"
    folder = dws.services_dir / "killed-svc"
    assert folder.exists()
    service.delete()
    assert not folder.exists()
    assert _port_free(port)
    service.delete()  # idempotent
    assert [s.name for s in Webservice.list(dws)] == []


def test_delete_healthy_service_frees_port(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _register(dws, digits_model)
    src = _script_dir(tmp_path, "echo_version.py")
    service = Model.deploy(dws, "del-svc", [model], InferenceConfig("score.py", source_directory=src))
    service.wait_for_deployment(timeout_sec=60)
    port, pids = service.port, service.serialize()["processes"]
    assert port is not None and not _port_free(port)
    with pytest.raises(InUseError, match=f"model '{model.id}' is used by service 'del-svc'"):
        model.delete()  # the service's update() would copy it from the registry again
    assert Model(dws, model.name, version=model.version).version == model.version
    service.delete()
    assert _port_free(port)
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != "zombie" for p in pids)
    Webservice.list(dws)
    service.delete()
    model.delete()  # no service uses it any more


def test_regen_key_takes_effect_without_restart(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _register(dws, digits_model)
    src = _script_dir(tmp_path, "echo_version.py")
    aci = AciWebservice.deploy_configuration(auth_enabled=True)
    service = Model.deploy(dws, "auth-svc", [model], InferenceConfig("score.py", source_directory=src), aci)
    service.wait_for_deployment(timeout_sec=60)
    pids = service.serialize()["processes"]
    old_primary, secondary = service.get_keys()
    assert service.get_key() == old_primary

    def call(key: str | None) -> int:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return requests.post(service.scoring_uri, data="x", headers=headers, timeout=10).status_code

    assert call(None) == 401 and call(old_primary) == 200 and call(secondary) == 200
    service.regen_key("Primary")
    new_primary, _ = service.get_keys()
    assert new_primary != old_primary
    deadline = time.monotonic() + 30  # the server re-reads its key file; slower when busy
    while time.monotonic() < deadline and call(old_primary) != 401:
        time.sleep(0.1)
    assert call(old_primary) == 401
    assert call(new_primary) == 200
    assert service.run("x")["version"] == "v1"
    assert service.serialize()["processes"] == pids  # no restart
    assert old_primary not in json.dumps(service.serialize())
    assert new_primary not in service.get_logs()
    Webservice(dws, "auth-svc").regen_key("Secondary", set_key="s" * 40)
    deadline = time.monotonic() + 30  # the server re-reads its key file; slower when busy
    while time.monotonic() < deadline and call(secondary) != 401:
        time.sleep(0.1)
    assert call(secondary) == 401 and call("s" * 40) == 200
    with pytest.raises(ServiceCallError) as info:
        Webservice._wrap(dws, dataclasses.replace(service._record, settings={})).run("x")
    assert info.value.status_code == 401


def test_two_deployers_same_name_one_wins(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _register(dws, digits_model)
    src = _script_dir(tmp_path, "echo_version.py")
    code = (
        "import sys\n"
        "from modelport.core import Workspace\n"
        "from modelport.core.model import InferenceConfig, Model\n"
        "from modelport.errors import AlreadyExistsError\n"
        "ws = Workspace.get('deployws')\n"
        "sys.stdin.read()\n"
        "try:\n"
        "    m = Model(ws, 'sklearn_mnist')\n"
        f"    Model.deploy(ws, 'race-svc', [m], InferenceConfig('score.py', source_directory=r'{src}'))\n"
        "    print('won')\n"
        "except AlreadyExistsError as exc:\n"
        "    print('lost:', exc)\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ.copy(),
        )
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go")
        p.stdin.close()
    outs = []
    for p in procs:
        p.wait(timeout=120)
        assert p.stdout is not None
        outs.append(p.stdout.read().strip())
    assert sorted(o.split(":")[0] for o in outs) == ["lost", "won"], outs
    assert "already exists" in next(o for o in outs if o.startswith("lost"))
    Webservice(dws, "race-svc").wait_for_deployment(timeout_sec=60)


def test_several_models_layout_and_get_model_path(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    digits = _register(dws, digits_model)
    folder = tmp_path / "other_model"
    (folder / "nested").mkdir(parents=True)
    (folder / "nested" / "w.txt").write_text("w")
    other1 = Model.register(dws, folder, "other")
    other2 = Model.register(dws, folder, "other")
    src = _script_dir(tmp_path, "model_paths.py")
    service = Model.deploy(
        dws, "paths-svc", [digits, other1, other2], InferenceConfig("score.py", source_directory=src)
    )
    service.wait_for_deployment(timeout_sec=60)
    seen = service.run("x")
    root = Path(seen["app_root"])
    assert seen["same"] is True
    assert Path(seen["model_dir"]) == root / "azureml-models"
    assert Path(seen["digits"]) == root / "azureml-models" / "sklearn_mnist" / "1" / "sklearn_mnist_model.pkl"
    assert Path(seen["other_v1"]) == root / "azureml-models" / "other" / "1" / "other_model"
    assert Path(seen["other_latest"]) == root / "azureml-models" / "other" / "2" / "other_model"
    assert (Path(seen["other_latest"]) / "nested" / "w.txt").read_text() == "w"


def test_tampered_model_is_refused_at_deploy(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = _register(dws, digits_model)
    blob = dws.blobs.path(model.files[0].sha256)
    os.chmod(blob, 0o644)
    data = bytearray(blob.read_bytes())
    data[100] ^= 0x01
    blob.write_bytes(bytes(data))
    src = _script_dir(tmp_path, TUTORIAL_SCORE)
    service = Model.deploy(dws, "tampered-svc", [model], InferenceConfig("score.py", source_directory=src))
    assert service.state == "Failed"
    assert "corrupted" in (service.error or "") and "sklearn_mnist:1" in (service.error or "")
    assert service.serialize()["processes"] == []
    assert not list((dws.services_dir / "tampered-svc").rglob("sklearn_mnist_model.pkl"))
