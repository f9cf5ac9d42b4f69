"""2019-era v1 code: ContainerImage.image_configuration + Webservice.deploy_from_model (point 7)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from modelport.core import Workspace
from modelport.core.image import ContainerImage
from modelport.core.model import Model
from modelport.core.webservice import AciWebservice, Webservice
from modelport.exceptions import UserErrorException

pytestmark = pytest.mark.process


def test_image_configuration_deploys_without_an_image(home: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    Path("score.py").write_text(
        "def init():\n    pass\n\n\ndef run(raw_data):\n    return {'got': raw_data}\n"
    )
    # The interpreter running the tests, described as a conda file, so no packages are installed.
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    Path("myenv.yml").write_text(f"name: project_environment\ndependencies:\n  - python={python}\n")
    Path("model.pkl").write_bytes(b"x")
    ws = Workspace.create(name="old-ws", exist_ok=True)
    model = Model.register(model_path="model.pkl", model_name="oldmodel", workspace=ws)

    image_config = ContainerImage.image_configuration(
        execution_script="score.py", runtime="python", conda_file="myenv.yml", description="2019"
    )
    aciconfig = AciWebservice.deploy_configuration(cpu_cores=1, memory_gb=1)
    service = Webservice.deploy_from_model(
        workspace=ws, name="old-svc", deployment_config=aciconfig, models=[model], image_config=image_config
    )
    try:
        service.wait_for_deployment(show_output=True)
        assert service.run(input_data=json.dumps({"data": [1]})) == {"got": '{"data": [1]}'}
    finally:
        service.delete()
    with pytest.raises(UserErrorException, match="docker_file is not supported"):
        ContainerImage.image_configuration(
            execution_script="score.py", runtime="python", docker_file="Dockerfile"
        )
