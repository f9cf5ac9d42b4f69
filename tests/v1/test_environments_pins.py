"""A user's pins, as v1 notebooks write them, imports renamed (issue 12, point 8).

The MNIST tutorial's deploy part pins ``numpy==1.23.5`` beside ``azureml-defaults``: the service
must run on numpy 1.23.5 (modelport's server adds no numpy bound of its own), and the build must
show its phases as they happen. A pin that conflicts with what the server needs, and (under the
``strict`` pin policy) a pin that cannot install on this Python, each fail with one line naming
what to change.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from modelport.core import Environment, Workspace
from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice
from modelport.exceptions import WebserviceException

pytestmark = pytest.mark.process

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
SCORE = """
import json
import numpy as np

def init():
    pass

def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    return {"numpy": np.__version__, "sum": int(data.sum())}
"""


@pytest.fixture
def env_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path_factory.getbasetemp() / "v1-env-cache"
    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(cache))
    return cache


@pytest.fixture
def ws(home: Path, env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    Path("score.py").write_text(SCORE)
    Path("model.txt").write_text("unused")
    return Workspace.create(name="pins-ws", exist_ok=True)


def deploy(ws: Workspace, name: str, conda_packages: list[str], show_output: bool = False):  # type: ignore[no-untyped-def]
    myenv = Environment(name=f"{name}-env")
    myenv.python.conda_dependencies = CondaDependencies.create(
        conda_packages=conda_packages, pip_packages=["azureml-defaults"]
    )
    model = Model.register(ws, model_path="model.txt", model_name="pinned")
    inference_config = InferenceConfig(entry_script="score.py", environment=myenv)
    config = LocalWebservice.deploy_configuration()
    return Model.deploy(ws, name, [model], inference_config, config, show_output=show_output)


def test_the_users_numpy_pin_wins(ws: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    service = deploy(ws, "numpy-1235", ["numpy==1.23.5"], show_output=True)
    service.wait_for_deployment(show_output=True)
    answer = service.run(json.dumps({"data": [1, 2, 3]}))
    assert answer == {"numpy": "1.23.5", "sum": 6}
    service.delete()
    printed = capsys.readouterr().out
    for phase in ("resolve: ", "install: Installed", "compile: ", "built in"):
        assert f"environment 'numpy-1235-env': {phase}" in printed, printed


def test_a_pin_against_the_servers_requirement_names_both(ws: Workspace) -> None:
    # inference-schema (which the scoring server uses) needs wrapt<=1.16.0.
    service = deploy(ws, "wrapt-pin", ["wrapt==1.17.0"])
    with pytest.raises(WebserviceException) as caught:
        service.wait_for_deployment()
    message, *_rest = str(caught.value).splitlines()  # the cause, then where the full log is
    print(message)
    assert "your pin(s) wrapt==1.17.0 conflict with what modelport's scoring server needs: " in message
    assert "inference-schema>=1.8" in message


def test_strict_a_pin_with_no_wheel_for_this_python_names_the_newest_that_installs(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under the default policy the pin is replaced (tests/v1/test_environments_old_pins.py).
    monkeypatch.setenv("MODELPORT_PIN_POLICY", "strict")
    service = deploy(ws, "old-sklearn", ["scikit-learn==0.22.1"])
    with pytest.raises(WebserviceException) as caught:
        service.wait_for_deployment()
    message, *_rest = str(caught.value).splitlines()
    print(message)
    assert f"scikit-learn==0.22.1 cannot be installed on Python {PYTHON}" in message
    newest = message.split(f"the newest scikit-learn that installs on Python {PYTHON} is ", 1)[1].split(":")[
        0
    ]
    assert tuple(int(p) for p in newest.split(".")[:2]) >= (1, 5), message
    assert "Traceback" not in str(caught.value)
    assert "has no usable wheels" in service.get_logs()  # uv's own words stay in the log
