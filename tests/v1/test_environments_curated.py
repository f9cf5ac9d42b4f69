"""Curated environments as v1 code uses them, imports renamed (issue 12, point 8).

From the v1 docs ("Create & use software environments") and the deploy notebooks: get a curated
environment by name without registering it, list the curated ones beside the registered, print a
curated environment's packages, clone one to change it, and deploy with ``AzureML-Minimal``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.core import Environment, Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import LocalWebservice
from modelport.exceptions import UserErrorException

pytestmark = pytest.mark.process

SCORE = """
import json, sys

def init():
    pass

def run(raw_data):
    return {"sum": sum(json.loads(raw_data)["data"]), "python": sys.executable}
"""


@pytest.fixture
def env_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path_factory.getbasetemp() / "v1-env-cache"
    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(cache))
    return cache


def test_curated_environments(
    home: Path,
    env_cache: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.create(name="curated-ws", exist_ok=True)

    # v1 docs: "You can list the curated environments and their packages by using the following code"
    envs = Environment.list(workspace=ws)
    curated = [name for name in envs if name.startswith("AzureML")]
    for env in curated:
        print("Name", env)
        print("packages", envs[env].python.conda_dependencies.serialize_to_string())
    assert {
        "AzureML-Minimal",
        "AzureML-Tutorial",
        "AzureML-sklearn-1.5",
        "AzureML-sklearn-0.24-ubuntu18.04-py37-cpu",
        "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu",
        "AzureML-PyTorch-1.6-CPU",
        "AzureML-TensorFlow-2.3-CPU",
        "AzureML-lightgbm-3.2-ubuntu18.04-py37-cpu",
    } <= set(curated)

    sklearn_env = Environment.get(workspace=ws, name="AzureML-sklearn-0.24-ubuntu18.04-py37-cpu")
    # v1's pins, as its image had them; the pin policy replaces them when the environment is built.
    assert "scikit-learn==0.24.1" in sklearn_env.python.conda_dependencies.pip_packages
    assert sklearn_env.python.conda_dependencies.get_python_version() == "3.7"
    assert sklearn_env.pin_replacements()[0].startswith("python 3.7 -> ")

    # Curated environments are not registered and cannot be; a clone can.
    with pytest.raises(UserErrorException, match="curated environment: it needs no registration"):
        sklearn_env.register(ws)
    mine = sklearn_env.clone("my-sklearn-env")
    mine.python.conda_dependencies.add_pip_package("six==1.16.0")
    mine = mine.register(ws)
    assert (mine.name, mine.version) == ("my-sklearn-env", "1")
    assert "six==1.16.0" in Environment.get(ws, "my-sklearn-env").python.conda_dependencies.pip_packages
    assert {"my-sklearn-env", "AzureML-Minimal"} <= set(Environment.list(ws))
    with pytest.raises(UserErrorException, match="reserved for curated environments"):
        Environment("AzureML-MyOwn")

    # Deploy with the minimal curated environment: built once, locally, with no registration.
    Path("score.py").write_text(SCORE)
    Path("model.txt").write_text("unused")
    model = Model.register(ws, model_path="model.txt", model_name="summer")
    env = Environment.get(workspace=ws, name="AzureML-Minimal")
    inference_config = InferenceConfig(entry_script="score.py", environment=env)
    service = Model.deploy(
        ws, "curated-svc", [model], inference_config, LocalWebservice.deploy_configuration()
    )
    service.wait_for_deployment(show_output=True)
    # Model.deploy without show_output (as the notebooks call it) still showed the build, live, once.
    printed = capsys.readouterr().out
    for phase in ("building a Python", "resolve: ", "install: Installed", "compile: ", "built in"):
        assert printed.count(f"environment 'AzureML-Minimal': {phase}") >= 1, printed
    assert printed.count("built in") == 1
    answer = service.run(json.dumps({"data": [1, 2, 3]}))
    assert answer["sum"] == 6
    assert Path(answer["python"]).is_relative_to(env_cache)  # the curated env's own virtualenv
    service.delete()
