"""The v1 "deploy-to-local" notebook, then "deploy to cloud", with imports renamed (issue 12, point 7).

Cells as the public sample runs them: register, deploy a LocalWebservice, score, change the script
and update(), reload(), deploy_to_cloud() to ACI, update settings, list, delete; and v1's
exception names catch what service operations raise.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.core import Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, LocalWebservice, Webservice
from modelport.exceptions import UserErrorException, WebserviceException

pytestmark = pytest.mark.process

SCORE = """
import json, os

def init():
    global model
    with open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "model.txt")) as f:
        model = f.read()

def run(raw_data):
    data = json.loads(raw_data)["data"]
    return {"model": model, "version": VERSION, "sum": sum(data)}

VERSION = 1
"""


def test_deploy_to_local_then_cloud(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.txt").write_text("weights-1")
    Path("score.py").write_text(SCORE)
    ws = Workspace.create(name="local-ws", exist_ok=True)
    model = Model.register(model_path="model.txt", model_name="summer", workspace=ws)

    inference_config = InferenceConfig(entry_script="score.py")
    deployment_config = LocalWebservice.deploy_configuration()
    local_service = Model.deploy(ws, "test", [model], inference_config, deployment_config)
    local_service.wait_for_deployment()
    print(f"Local service port: {local_service.port}")
    print(local_service.get_logs())
    assert local_service.run(json.dumps({"data": [1, 2, 3]})) == {
        "model": "weights-1",
        "version": 1,
        "sum": 6,
    }

    # Change the script, update in place (LocalWebservice.update with wait) and reload.
    Path("score.py").write_text(SCORE.replace("VERSION = 1", "VERSION = 2"))
    local_service.update(inference_config=InferenceConfig(entry_script="score.py"), wait=True)
    assert local_service.run(json.dumps({"data": [1]}))["version"] == 2
    Path("score.py").write_text(SCORE.replace("VERSION = 1", "VERSION = 3"))
    local_service.reload()
    local_service.wait_for_deployment()
    assert local_service.run(json.dumps({"data": [1]}))["version"] == 3

    # deploy_to_cloud: the same models and script, as an ACI-style service.
    aci_config = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1, tags={"stage": "cloud"})
    cloud = local_service.deploy_to_cloud(name="test-aci", deployment_config=aci_config)
    cloud.wait_for_deployment(show_output=True)
    assert cloud.compute_type == "ACI" and cloud.run(json.dumps({"data": [2, 2]}))["sum"] == 4

    # Settings changes are zero-downtime redeployments; metadata is instant.
    cloud.update(auth_enabled=True, scoring_timeout_ms=5000, cpu_cores=2, description="now with keys")
    cloud.wait_for_deployment()
    assert cloud.auth_enabled and cloud.serialize()["workers"] == 2 and cloud.description == "now with keys"
    assert cloud.run(json.dumps({"data": [5]}))["sum"] == 5  # the SDK sends the key
    cloud.update(deployment_config=AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=2))
    cloud.wait_for_deployment()
    assert not cloud.auth_enabled and cloud.tags == {"stage": "cloud"}

    assert {s.name for s in Webservice.list(ws)} == {"test", "test-aci"}
    assert [s.name for s in Webservice.list(ws, compute_type="ACI")] == ["test-aci"]
    assert [s.name for s in Webservice.list(ws, tags=[["stage", "cloud"]])] == ["test-aci"]
    assert [s.name for s in Webservice.list(ws, model_name="summer", compute_type="Local")] == ["test"]

    # v1's exception names: what a service operation raises.
    with pytest.raises(WebserviceException, match="already exists"):
        Model.deploy(ws, "test", [model], inference_config, deployment_config)
    with pytest.raises(UserErrorException, match="cannot issue a certificate"):
        cloud.update(ssl_enabled=True)  # a service believed to be TLS would be plain HTTP

    local_service.delete()
    cloud.delete()
    with pytest.raises(WebserviceException, match="not found"):
        Webservice(ws, "test")
    assert Webservice.list(ws) == []
