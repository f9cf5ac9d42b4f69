"""Resource settings take effect: cpu_cores (workers, affinity), memory_gb (recycling); token auth."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import requests

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, AksWebservice, Webservice
from modelport.errors import InvalidInputError
from modelport.workspace import Workspace
from tests.fixtures import SCRIPTS

pytestmark = pytest.mark.process


def _deploy(ws: Workspace, digits_model, tmp_path: Path, script: str, name: str, config) -> Webservice:  # type: ignore[no-untyped-def]
    model = Model.register(ws, digits_model[0], "sklearn_mnist")
    src = tmp_path / f"src-{name}"
    src.mkdir()
    shutil.copy(SCRIPTS / script, src / "score.py")
    service = Model.deploy(ws, name, [model], InferenceConfig("score.py", source_directory=src), config)
    service.wait_for_deployment(timeout_sec=60)
    return service


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs at least 2 CPUs to observe affinity")
def test_cpu_cores_sets_workers_and_affinity(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service = _deploy(
        dws,
        digits_model,
        tmp_path,
        "echo_version.py",
        "cpu-svc",
        AciWebservice.deploy_configuration(cpu_cores=1),
    )
    _supervisor, *workers = service.serialize()["processes"]
    assert len(workers) == 1
    assert len(psutil.Process(workers[0]).cpu_affinity()) == 1
    two = _deploy(
        dws,
        digits_model,
        tmp_path,
        "echo_version.py",
        "cpu2-svc",
        AciWebservice.deploy_configuration(cpu_cores=2),
    )
    # Healthy once one worker is ready; gunicorn forks the second up to ~0.1 s after the first.
    deadline = time.monotonic() + 30
    while len(two.serialize()["processes"]) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(two.serialize()["processes"]) == 3  # supervisor + 2 workers


def test_memory_gb_recycles_a_growing_worker(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = AciWebservice.deploy_configuration(memory_gb=0.25)  # 256 MB for the one worker
    service = _deploy(dws, digits_model, tmp_path, "grow.py", "grow-svc", config)
    first_pid = service.run("x")["pid"]
    pids = {first_pid}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(pids) < 2:
        pids.add(service.run("x")["pid"])
    assert len(pids) >= 2, "the worker was never recycled"
    assert all(r < 400 for r in [service.run("x")["held_mb"]])
    # That call may itself have recycled the worker: Unhealthy, saying why, until the new one is up.
    seen = Webservice(dws, "grow-svc")
    deadline = time.monotonic() + 60
    while seen.state != "Healthy" and time.monotonic() < deadline:
        assert seen.state == "Unhealthy" and "recycled: rss" in (seen.error or ""), seen.error
        time.sleep(0.2)
        seen = Webservice(dws, "grow-svc")
    assert seen.state == "Healthy"
    assert seen.error is not None and "recycled: rss" in seen.error  # a Healthy one's last recycle
    assert "recycled: rss" in service.get_logs()


def test_token_auth(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = AksWebservice.deploy_configuration(num_replicas=1, token_auth_enabled=True)
    with pytest.warns(UserWarning, match="without deployment_target: deploying to the local"):
        service = _deploy(dws, digits_model, tmp_path, "echo_version.py", "token-svc", config)
    token, refresh_after = service.get_token()
    assert refresh_after > time.time()
    assert service.run("x")["version"] == "v1"
    ok = requests.post(
        service.scoring_uri, data="x", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert ok.status_code == 200
    assert requests.post(service.scoring_uri, data="x", timeout=10).status_code == 401
    with pytest.raises(InvalidInputError, match="does not use key auth"):
        service.get_keys()


def test_update_metadata_and_reload(dws: Workspace, digits_model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service = _deploy(
        dws, digits_model, tmp_path, "echo_version.py", "upd-svc", AciWebservice.deploy_configuration()
    )
    pids = service.serialize()["processes"]
    service.update(tags={"stage": "prod"}, description="now described")
    again = Webservice(dws, "upd-svc")
    assert (again.tags, again.description) == ({"stage": "prod"}, "now described")
    assert again.serialize()["processes"] == pids  # metadata only: no restart
    script = tmp_path / "src-upd-svc" / "score.py"
    script.write_text(script.read_text().replace('"v1"', '"v2"'))
    service.reload()
    assert Webservice(dws, "upd-svc").run("x")["version"] == "v2"
    assert Webservice(dws, "upd-svc").tags == {"stage": "prod"}
    assert not np.isin(pids, Webservice(dws, "upd-svc").serialize()["processes"]).any()
