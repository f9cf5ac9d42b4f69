"""v1's source_directory layout (issue 12, point 9), as a v1 notebook deploys it.

Written like the v1 sample "deploy-to-local": a model, a source directory with the entry script
and a data file, a LocalWebservice; the script opens its data file the two ways v1 code did.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from modelport.core import Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice
from tests.fixtures import SCRIPTS

pytestmark = pytest.mark.process


def test_files_are_where_v1_put_them(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "source_dir"
    source.mkdir()
    shutil.copy(SCRIPTS / "v1_layout.py", source / "score.py")
    (source / "extradata.json").write_text(json.dumps({"classes": ["cat", "dog"]}))
    (tmp_path / "model.pkl").write_bytes(b"weights")

    ws = Workspace.create(name="myworkspace", exist_ok=True)
    model = Model.register(model_path="model.pkl", model_name="mymodel", workspace=ws)
    inference_config = InferenceConfig(entry_script="score.py", source_directory="./source_dir")
    deployment_config = LocalWebservice.deploy_configuration()
    service = Model.deploy(ws, "layout-svc", [model], inference_config, deployment_config)
    try:
        service.wait_for_deployment(show_output=True)
        answer = service.run(input_data=json.dumps({"data": [[1]]}))
        assert answer["extra"] == {"classes": ["cat", "dog"]}
        assert answer["entry"] == "score.py"
        cwd = Path(answer["cwd"])
        assert cwd.name == "app" and (cwd / "source_dir" / "score.py").is_file()
    finally:
        service.delete()
