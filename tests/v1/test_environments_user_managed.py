"""``python.user_managed_dependencies = True`` as v1 code sets it, imports renamed (issue 12, point 8).

v1 docs ("Use your own Python environment"): the interpreter at ``python.interpreter_path`` is used
as is, nothing is built or installed. One that lacks modelport's scoring server fails with a line
that says what is missing and the command that installs it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from modelport.core import Environment, Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice
from modelport.exceptions import WebserviceException

pytestmark = pytest.mark.process

SCORE = """
import json, sys

def init():
    pass

def run(raw_data):
    return {"python": sys.executable, "sum": sum(json.loads(raw_data)["data"])}
"""


def test_user_managed_interpreter_is_used_as_is(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "env-cache"
    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(cache))
    monkeypatch.chdir(tmp_path)
    Path("score.py").write_text(SCORE)
    Path("model.txt").write_text("unused")
    ws = Workspace.create(name="user-managed-ws", exist_ok=True)
    model = Model.register(ws, model_path="model.txt", model_name="summer")

    # This test's own interpreter has modelport and its server's packages.
    myenv = Environment(name="user-managed-env")
    myenv.python.user_managed_dependencies = True
    myenv.python.interpreter_path = sys.executable
    inference_config = InferenceConfig(entry_script="score.py", environment=myenv)
    service = Model.deploy(ws, "mine", [model], inference_config, LocalWebservice.deploy_configuration())
    service.wait_for_deployment()
    answer = service.run(json.dumps({"data": [4, 5]}))
    assert answer["sum"] == 9
    assert Path(answer["python"]).parent == Path(sys.executable).parent
    service.delete()
    assert not cache.exists()  # nothing was built

    # A bare interpreter: refused, naming what is missing and how to install it.
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    bare_env = Environment(name="bare-env")
    bare_env.python.user_managed_dependencies = True
    bare_env.python.interpreter_path = str(bare / "bin" / "python")
    config = InferenceConfig(entry_script="score.py", environment=bare_env)
    service = Model.deploy(ws, "bare", [model], config, LocalWebservice.deploy_configuration())
    with pytest.raises(WebserviceException) as caught:
        service.wait_for_deployment()
    message = str(caught.value).splitlines()[0]
    assert "is user-managed (used as is, nothing is installed into it)" in message
    assert (
        f"cannot import modelport: install it (with its scoring server's requirements) with `{bare}"
        in message
    )
    assert not cache.exists()
