"""v1's "model-register-and-deploy" notebook: a scikit-learn model registered with sample datasets
and a resource configuration, deployed with no scoring script (issue 12, points 3 and 5)."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pytest
import requests
import sklearn
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from modelport.core import Dataset, Workspace
from modelport.core.model import Model
from modelport.core.resource_configuration import ResourceConfiguration
from modelport.errors import ScriptError
from modelport.exceptions import UserErrorException

pytestmark = pytest.mark.process


def test_no_code_scikit_learn(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.create(name="nocode-ws", exist_ok=True)
    x, y = load_diabetes(return_X_y=True, as_frame=True)
    regressor = Ridge().fit(x, y)
    joblib.dump(regressor, "sklearn_regression_model.pkl")
    x.to_csv("features.csv", index=False)
    y.to_frame().to_csv("labels.csv", index=False)

    datastore = ws.get_default_datastore()
    datastore.upload_files(
        files=["./features.csv", "./labels.csv"], target_path="sklearn_regression/", overwrite=True
    )
    input_dataset = Dataset.Tabular.from_delimited_files(
        path=[(datastore, "sklearn_regression/features.csv")]
    )
    output_dataset = Dataset.Tabular.from_delimited_files(path=[(datastore, "sklearn_regression/labels.csv")])

    model = Model.register(
        workspace=ws,
        model_name="my-sklearn-model",
        model_path="./sklearn_regression_model.pkl",
        model_framework=Model.Framework.SCIKITLEARN,
        model_framework_version=sklearn.__version__,
        sample_input_dataset=input_dataset,
        sample_output_dataset=output_dataset,
        resource_configuration=ResourceConfiguration(cpu=1, memory_in_gb=0.5),
        description="Ridge regression model to predict diabetes progression.",
        tags={"area": "diabetes", "type": "regression"},
    )
    service = Model.deploy(ws, "my-sklearn-service", [model])
    try:
        service.wait_for_deployment(show_output=True)
        assert service.compute_type == "ACI"  # sized by the model's resource configuration
        input_payload = json.dumps({"data": x.head(2).values.tolist(), "method": "predict"})
        output = service.run(input_payload)
        assert output == pytest.approx(regressor.predict(x.head(2)).tolist())
        # The swagger's example comes from the sample dataset's rows.
        swagger = requests.get(service.swagger_uri, timeout=10).json()
        assert json.dumps(x.head(1).values.tolist()[0][0]) in json.dumps(swagger)
        with pytest.raises(ScriptError, match="method must be one of predict, predict_proba"):
            service.run(json.dumps({"data": x.head(1).values.tolist(), "method": "transform"}))
    finally:
        service.delete()


def test_no_code_needs_a_known_framework(home: Path, tmp_path: Path) -> None:
    ws = Workspace.create(name="nocode-ws2", exist_ok=True)
    (tmp_path / "m.bin").write_bytes(b"x")
    model = Model.register(ws, tmp_path / "m.bin", "custom-model")
    with pytest.raises(UserErrorException, match="has no built-in scoring script"):
        Model.deploy(ws, "custom-svc", [model])


def test_no_code_onnx(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ONNX flavour of no-code deployment (onnxruntime is in this environment)."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    monkeypatch.chdir(tmp_path)
    ws = Workspace.create(name="onnx-ws", exist_ok=True)
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    classifier = LogisticRegression(max_iter=500).fit(x, y)
    Path("iris.onnx").write_bytes(to_onnx(classifier, x[:1]).SerializeToString())
    model = Model.register(
        workspace=ws, model_name="iris-onnx", model_path="iris.onnx", model_framework=Model.Framework.ONNX
    )
    service = Model.deploy(ws, "iris-onnx-svc", [model])
    try:
        service.wait_for_deployment(show_output=True)
        labels = service.run(json.dumps({"data": x[:5].tolist()}))
        assert labels == classifier.predict(x[:5]).tolist()
    finally:
        service.delete()


ONNX_PROGRAM = """
import importlib.util, json
from modelport.core import Workspace
from modelport.core.model import Model

assert importlib.util.find_spec("onnxruntime") is None, "this Python must not have onnxruntime"
ws = Workspace.create(name="onnx-plain-ws", exist_ok=True)
model = Model.register(
    workspace=ws,
    model_name="iris-onnx",
    model_path="iris.onnx",
    model_framework=Model.Framework.ONNX,
    model_framework_version="1.14",
)
service = Model.deploy(ws, "iris-onnx-plain", [model])
service.wait_for_deployment(show_output=True)
rows = json.load(open("rows.json"))
print(json.dumps({"labels": service.run(json.dumps({"data": rows})), "python": service.get_logs()}))
service.delete()
"""


def test_no_code_onnx_needs_no_onnxruntime_in_the_users_python(
    home: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """v1's no-code ONNX deployment from a Python without onnxruntime: the service's own
    environment has it (built like the scikit-learn one's)."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from tests.v1.plain_venv import plain_venv, run_program

    python = plain_venv(tmp_path_factory.getbasetemp())
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    classifier = LogisticRegression(max_iter=500).fit(x, y)
    (tmp_path / "iris.onnx").write_bytes(to_onnx(classifier, x[:1]).SerializeToString())
    (tmp_path / "rows.json").write_text(json.dumps(x[:5].tolist()))
    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(tmp_path_factory.getbasetemp() / "v1-env-cache"))
    proc = run_program(python, ONNX_PROGRAM, tmp_path, home)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["labels"] == classifier.predict(x[:5]).tolist()
    assert "environment 'nocode-onnx'" in answer["python"]  # its own environment, built for it
