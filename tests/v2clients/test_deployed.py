"""V2 on a real deployment (Model.deploy, local target): with two registered models, the service's
name and each model's name route to the same script, with AZUREML_MODEL_DIR unchanged, and each
answer names the registered version."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import requests

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice

pytestmark = pytest.mark.process
SCRIPT = Path(__file__).resolve().parents[1] / "protocols" / "v2_scripts" / "model_dir.py"


def test_every_model_name_reaches_the_one_script(dws, digits_model, tmp_path: Path) -> None:
    first = Model.register(dws, digits_model[0], "digits")
    Model.register(dws, digits_model[0], "extra")
    second = Model.register(dws, digits_model[0], "extra")  # version 2
    source = tmp_path / "src"
    source.mkdir()
    shutil.copy(SCRIPT, source / "score.py")
    config = InferenceConfig("score.py", source_directory=str(source))
    service = Model.deploy(dws, "v2-multi", [first, second], config, LocalWebservice.deploy_configuration())
    service.wait_for_deployment(timeout_sec=120)
    base = service.scoring_uri.removesuffix("/score")
    body = {"inputs": [{"name": "data", "shape": [1], "datatype": "FP64", "data": [0.0]}]}
    dirs = set()
    for name, version in (("v2-multi", "1"), ("digits", "1"), ("extra", "2")):
        assert requests.get(f"{base}/v2/models/{name}/ready", timeout=10).json()["ready"] is True
        assert requests.get(f"{base}/v2/models/{name}", timeout=10).json()["versions"] == [version]
        answer = requests.post(f"{base}/v2/models/{name}/infer", json=body, timeout=30).json()
        assert answer["model_name"] == name and answer["model_version"] == version
        dirs.add(answer["outputs"][0]["data"][0])
    assert len(dirs) == 1 and dirs.pop().endswith("azureml-models")  # several models: the folder of all
    r = requests.post(f"{base}/v2/models/extra/versions/1/infer", json=body, timeout=30)
    assert r.status_code == 404 and "version" in r.json()["error"]
