"""A v1 program end to end: provision a Ray cluster, deploy, score, delete; nothing left behind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psutil
import pytest
import requests

from modelport.core.compute import AksCompute, ComputeTarget
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AksWebservice
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError, NotSupported
from modelport.workspace import Workspace
from tests.deploy.conftest import TUTORIAL_SCORE

pytestmark = [pytest.mark.ray, pytest.mark.process]


def _listening(pid_set: set[int]) -> list[int]:
    ports = []
    for conn in psutil.net_connections("tcp"):
        if conn.pid in pid_set and conn.status == psutil.CONN_LISTEN:
            ports.append(conn.laddr.port)
    return ports


def test_provision_deploy_score_delete_leaves_nothing(
    dws: Workspace, digits_model, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    path, test_x, expected = digits_model
    prov = AksCompute.provisioning_configuration(agent_count=1, vm_size="Standard_D3_v2")
    aks = ComputeTarget.create(dws, "aks-cluster", prov)
    record = cluster.load(dws, "aks-cluster")
    try:
        aks.wait_for_completion(show_output=True)
        assert "Succeeded" in capsys.readouterr().out
        assert aks.get_status() == "Succeeded" and isinstance(ComputeTarget(dws, "aks-cluster"), AksCompute)
        assert [t.name for t in ComputeTarget.list(dws)] == ["aks-cluster"]
        with pytest.raises(ComputeTargetError, match="already exists"):
            ComputeTarget.create(dws, "aks-cluster", prov)
        pids = {p.pid for p in cluster.cluster_processes(record)}
        assert pids and record.temp_dir and Path(record.temp_dir).is_dir()

        model = Model.register(dws, path, "sklearn_mnist")
        src = tmp_path / "src"
        src.mkdir()
        shutil.copy(TUTORIAL_SCORE, src / "score.py")
        with pytest.warns(UserWarning):
            config = AksWebservice.deploy_configuration(
                autoscale_enabled=True, autoscale_min_replicas=1, autoscale_max_replicas=3
            )
        ic = InferenceConfig("score.py", source_directory=src)
        service = Model.deploy(dws, "aks-svc", [model], ic, config, deployment_target=aks)
        service.wait_for_deployment(timeout_sec=180)
        body = json.dumps({"data": test_x.tolist()})
        assert service.run(input_data=body) == expected.tolist()
        key = service.get_keys()[0]
        answer = requests.post(
            service.scoring_uri, data=body, headers={"Authorization": f"Bearer {key}"}, timeout=30
        )
        assert answer.json() == expected.tolist()
        service.delete()
    finally:
        aks.delete()
    assert cluster.cluster_processes(record) == []
    assert not [
        p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert _listening(pids) == []
    assert not Path(record.temp_dir).exists()
    assert ComputeTarget.list(dws) == []


def test_v1_configuration_errors_are_one_line() -> None:
    with pytest.raises(InvalidInputError, match="agent_count"):
        AksCompute.provisioning_configuration(agent_count=0)
    with pytest.raises(InvalidInputError, match="unknown parameter"):
        AksCompute.provisioning_configuration(no_such=1)
    with pytest.raises(InvalidInputError, match="address"):
        AksCompute.attach_configuration(cluster_name="x")
    from modelport.core.compute import AmlCompute

    with pytest.raises(NotSupported, match="AmlCompute"):
        AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2")
