"""The MNIST tutorial as it was in 2020, imports renamed (issue 22, part 1).

Its environment (``tutorial-env``) pins ``scikit-learn==0.22.1`` on v1's default Python 3.6;
numpy of that time (1.19.5) is pinned beside it. None of them installs on this Python. Under the
default pin policy the environment builds with the nearest releases that install, each said in
one line where the user looks; the tutorial's part 1 trains the model in that environment
(Experiment.submit, as the notebook did), so the model loads on what was installed, and part 2
deploys and scores it. A model pickled by an old scikit-learn that no longer loads fails in
init() with the user's traceback and a hint naming the replaced pin; ``strict`` refuses instead.

The environment is built once per test session into the session's shared cache (as the other
tests/v1 environment tests do; uv's own cache keeps later sessions' builds to seconds).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from modelport.core import Environment, Experiment, ScriptRunConfig, Workspace
from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, LocalWebservice
from modelport.environments.builder import RECORD_FILE
from modelport.exceptions import WebserviceException
from modelport.opendatasets import MNIST
from modelport.runtime import replaced

pytestmark = pytest.mark.process

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
SKLEARN_LINE = f"scikit-learn==0.22.1 -> 1.1.3: 0.22.1 has no wheel for Python {PYTHON}"
PYTHON_LINE = f"python 3.6 -> {PYTHON}: modelport's scoring server needs Python >= 3.11"
UTILS = Path(__file__).parents[2] / "examples" / "mnist" / "utils.py"

# Part 1's train.py (2020), the data subset an argument so that the test trains in seconds.
TRAIN = """
import argparse, glob, os
import numpy as np
from sklearn.linear_model import LogisticRegression
import joblib
from modelport.core import Run
from utils import load_data

parser = argparse.ArgumentParser()
parser.add_argument('--data-folder', type=str, dest='data_folder')
parser.add_argument('--regularization', type=float, dest='reg', default=0.01)
parser.add_argument('--rows', type=int, default=60000)
args = parser.parse_args()
data_folder = args.data_folder
images = glob.glob(os.path.join(data_folder, '**/train-images-idx3-ubyte.gz'), recursive=True)[0]
labels = glob.glob(os.path.join(data_folder, '**/train-labels-idx1-ubyte.gz'), recursive=True)[0]
X_train = load_data(images, False) / 255.0
y_train = load_data(labels, True).reshape(-1)
run = Run.get_context()
clf = LogisticRegression(C=1.0/args.reg, solver="liblinear", multi_class="auto", random_state=42)
clf.fit(X_train[:args.rows], y_train[:args.rows])
import sklearn
print('trained with scikit-learn', sklearn.__version__, 'numpy', np.__version__)
run.log('regularization rate', float(args.reg))
os.makedirs('outputs', exist_ok=True)
joblib.dump(value=clf, filename='outputs/sklearn_mnist_model.pkl')
"""

# Part 2's score.py, verbatim.
SCORE = """
import json
import numpy as np
import os
import pickle
import joblib

def init():
    global model
    # AZUREML_MODEL_DIR is an environment variable created during deployment.
    # It is the path to the model folder (./azureml-models/$MODEL_NAME/$VERSION)
    # For multiple models, it points to the folder containing all deployed models (./azureml-models)
    model_path = os.path.join(os.getenv('AZUREML_MODEL_DIR'), 'sklearn_mnist_model.pkl')
    model = joblib.load(model_path)

def run(raw_data):
    data = np.array(json.loads(raw_data)['data'])
    # make prediction
    y_hat = model.predict(data)
    # you can return any data type as long as it is JSON-serializable
    return y_hat.tolist()
"""


@pytest.fixture
def env_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path_factory.getbasetemp() / "v1-env-cache"
    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(cache))
    monkeypatch.delenv("MODELPORT_PIN_POLICY", raising=False)
    return cache


@pytest.fixture
def ws(home: Path, env_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    return Workspace.create(name="mnist-2020", exist_ok=True)


def _tutorial_utils() -> types.ModuleType:
    """The tutorial's utils.py (load_data), from examples/mnist."""
    spec = importlib.util.spec_from_file_location("mnist_tutorial_utils", UTILS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tutorial_env(ws: Workspace, name: str = "tutorial-env") -> Environment:
    """Part 1's environment cell (2020), with v1's default Python of the time and numpy of then."""
    env = Environment(name)
    cd = CondaDependencies.create(
        python_version="3.6.2",
        pip_packages=["azureml-dataset-runtime[pandas,fuse]", "azureml-defaults"],
        conda_packages=["scikit-learn==0.22.1", "numpy==1.19.5"],
    )
    env.python.conda_dependencies = cd
    return env.register(workspace=ws)


def test_the_2020_tutorial_builds_trains_and_serves(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    env = tutorial_env(ws)
    # Part 1: the data, and training in tutorial-env (the environment's first build).
    data_folder = Path("data")
    MNIST.get_file_dataset().download(str(data_folder), overwrite=True)
    Path("sklearn-mnist").mkdir()
    Path("sklearn-mnist/train.py").write_text(TRAIN)
    shutil.copy(UTILS, "sklearn-mnist/utils.py")
    src = ScriptRunConfig(
        source_directory="sklearn-mnist",
        script="train.py",
        arguments=["--data-folder", str(data_folder.absolute()), "--regularization", 0.5, "--rows", 4000],
        compute_target="local",
        environment=env,
    )
    run = Experiment(workspace=ws, name="Tutorial-sklearn-mnist").submit(config=src)
    run.wait_for_completion(show_output=True)
    trained = capsys.readouterr().out
    assert "trained with scikit-learn 1.1.3" in trained, trained
    assert trained.count(SKLEARN_LINE) == 1, trained  # said once, while the environment was built
    assert PYTHON_LINE in trained
    model = run.register_model(model_name="sklearn_mnist", model_path="outputs/sklearn_mnist_model.pkl")

    # Part 2, as the notebook runs it: deploy without show_output, then wait with it.
    Path("score.py").write_text(SCORE)
    aciconfig = AciWebservice.deploy_configuration(
        cpu_cores=1, memory_gb=1, tags={"data": "MNIST", "method": "sklearn"}, description="Predict MNIST"
    )
    myenv = Environment.get(workspace=ws, name="tutorial-env", version="1")
    inference_config = InferenceConfig(entry_script="score.py", environment=myenv)
    service = Model.deploy(
        workspace=ws,
        name="sklearn-mnist-svc",
        models=[model],
        inference_config=inference_config,
        deployment_config=aciconfig,
    )
    service.wait_for_deployment(show_output=True)
    deployed = capsys.readouterr().out
    # The environment was cached: its replacements are still said, once.
    assert deployed.count(SKLEARN_LINE) == 1 and deployed.count(PYTHON_LINE) == 1, deployed
    assert "numpy==1.19.5 -> " in deployed

    load_data = _tutorial_utils().load_data
    x_test = load_data(next(data_folder.rglob("t10k-images-idx3-ubyte.gz")), False) / 255.0
    y_test = load_data(next(data_folder.rglob("t10k-labels-idx1-ubyte.gz")), True).reshape(-1)
    test = bytes(json.dumps({"data": x_test[:500].tolist()}), encoding="utf8")
    y_hat = service.run(input_data=test)
    accuracy = np.average(np.array(y_hat) == y_test[:500])
    print("Overall accuracy:", accuracy)
    assert accuracy > 0.8

    # Where else the user looks: the log, the service's details, the CLI, the build record.
    assert SKLEARN_LINE in service.get_logs()
    assert service.serialize()["environmentNotices"] == [
        PYTHON_LINE,
        *[line for line in service.environment_notices() if line.startswith("numpy")],
        SKLEARN_LINE,
    ]
    assert SKLEARN_LINE in myenv.pin_replacements()
    cli = [sys.executable, "-m", "modelport.cli"]
    shown = subprocess.run(
        [*cli, "service", "show", "sklearn-mnist-svc", "-w", ws.name],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
    )
    assert shown.returncode == 0 and SKLEARN_LINE in shown.stdout, shown.stderr
    shown = subprocess.run(
        [*cli, "environment", "show", "tutorial-env:1", "-w", ws.name],
        capture_output=True,
        text=True,
        check=False,
        env=os.environ,
    )
    assert shown.returncode == 0 and SKLEARN_LINE in shown.stdout, shown.stderr
    interpreter = Path(
        json.loads((Path(service._record.bundle_dir or "") / "bundle.json").read_text())["interpreter"]
    )
    record = json.loads((interpreter.parents[1] / RECORD_FILE).read_text())
    assert record["pin_policy"] == "nearest"
    assert {r["asked"]: r["version"] for r in record["replacements"]}["scikit-learn==0.22.1"] == "1.1.3"
    assert "scikit-learn==1.1.3" in record["requirements"]
    assert "scikit-learn==0.22.1" in record["asked_requirements"]
    service.delete()


class _OldLogisticRegression:
    """Pickles as scikit-learn 0.21 saved its LogisticRegression: by the module path
    ``sklearn.linear_model.logistic``, which scikit-learn removed in 0.24."""


def _old_pickle(path: Path) -> None:
    module = types.ModuleType("sklearn.linear_model.logistic")
    _OldLogisticRegression.__module__ = module.__name__
    _OldLogisticRegression.__qualname__ = _OldLogisticRegression.__name__ = "LogisticRegression"
    module.LogisticRegression = _OldLogisticRegression  # type: ignore[attr-defined]
    saved = sys.modules.get(module.__name__)
    sys.modules[module.__name__] = module
    try:
        buffer = io.BytesIO()
        pickle.dump(_OldLogisticRegression(), buffer)
    finally:
        if saved is None:
            del sys.modules[module.__name__]
        else:
            sys.modules[module.__name__] = saved
    path.write_bytes(buffer.getvalue())


def test_an_old_pickle_fails_in_init_with_a_hint_naming_the_replaced_pin(ws: Workspace) -> None:
    env = tutorial_env(ws)
    _old_pickle(Path("sklearn_mnist_model.pkl"))
    model = Model.register(ws, model_path="sklearn_mnist_model.pkl", model_name="sklearn_mnist_2019")
    Path("score.py").write_text(SCORE)
    service = Model.deploy(
        ws,
        "old-pickle-svc",
        [model],
        InferenceConfig(entry_script="score.py", environment=env),
        LocalWebservice.deploy_configuration(),
    )
    with pytest.raises(WebserviceException) as caught:
        service.wait_for_deployment()
    text = str(caught.value)
    print(text)
    assert "No module named 'sklearn.linear_model.logistic'" in text  # the user's traceback
    assert "model = joblib.load(model_path)" in text
    hint = (
        "hint: this environment has scikit-learn 1.1.3 where scikit-learn==0.22.1 was asked "
        f"(0.22.1 has no wheel for Python {PYTHON})"
    )
    assert hint in text
    assert hint in service.get_logs()
    service.delete()


def test_strict_refuses_with_one_line(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("score.py").write_text(SCORE)
    Path("model.pkl").write_bytes(b"unused")
    model = Model.register(ws, model_path="model.pkl", model_name="unused")

    def deploy(name: str, env: Environment):  # type: ignore[no-untyped-def]
        config = InferenceConfig(entry_script="score.py", environment=env)
        service = Model.deploy(ws, name, [model], config, LocalWebservice.deploy_configuration())
        with pytest.raises(WebserviceException) as caught:
            service.wait_for_deployment()
        first, *_rest = str(caught.value).splitlines()
        print(first)
        assert "Traceback" not in str(caught.value)
        return first, service

    # For every environment, by the environment variable: Python 3.6 is refused as before.
    monkeypatch.setenv("MODELPORT_PIN_POLICY", "strict")
    first, _ = deploy("strict-python", tutorial_env(ws, "strict-python-env"))
    assert "asks for Python 3.6, but modelport's scoring server needs Python >= 3.11" in first

    # For one environment, by its own setting: the pin is refused, the newest that installs named.
    monkeypatch.delenv("MODELPORT_PIN_POLICY")
    env = Environment("strict-pin-env")
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=["scikit-learn==0.22.1"])
    env.pin_policy = "strict"
    first, service = deploy("strict-pin", env.register(ws))
    assert f"scikit-learn==0.22.1 cannot be installed on Python {PYTHON}" in first
    newest = first.split(f"the newest scikit-learn that installs on Python {PYTHON} is ", 1)[1].split(":")[0]
    assert tuple(int(p) for p in newest.split(".")[:2]) >= (1, 5), first
    assert "has no usable wheels" in service.get_logs()  # uv's own words stay in the log
    assert Environment.get(ws, "strict-pin-env").pin_policy == "strict"

    monkeypatch.setenv("MODELPORT_PIN_POLICY", "loose")
    env = Environment("any-env")
    with pytest.raises(WebserviceException, match="MODELPORT_PIN_POLICY is 'loose': use 'nearest'"):
        Model.deploy(
            ws, "bad-policy", [model], InferenceConfig(entry_script="score.py", environment=env.register(ws))
        ).wait_for_deployment()


def test_the_runtime_reads_the_record_the_builder_writes() -> None:
    assert replaced.RECORD_FILE == RECORD_FILE
