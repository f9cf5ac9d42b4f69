"""v1's model profiling (``Model.profile``, from the "model-register-and-deploy" notebook), measured
for real: deploy, replay the dataset's requests, latency / throughput / memory, delete (point 6)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import joblib
import pytest
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

from modelport.core import Dataset, Workspace
from modelport.core.model import InferenceConfig, Model
from modelport.core.profile import ModelProfile
from modelport.core.webservice import Webservice

pytestmark = pytest.mark.process

SCORE = """
import json, os, joblib, numpy as np

def init():
    global model
    model = joblib.load(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "sklearn_regression_model.pkl"))

def run(raw_data):
    data = np.array(json.loads(raw_data)["data"])
    return model.predict(data).tolist()
"""


def test_profile_measures_and_recommends(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.create(name="profile-ws", exist_ok=True)
    x, y = load_diabetes(return_X_y=True)
    joblib.dump(Ridge().fit(x, y), "sklearn_regression_model.pkl")
    model = Model.register(ws, model_path="sklearn_regression_model.pkl", model_name="ridge")
    Path("score.py").write_text(SCORE)

    # As the notebook: a tabular dataset whose one column holds request bodies.
    with open("requests.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["request"])
        writer.writerows([json.dumps({"data": [row]})] for row in x[:40].tolist())
    datastore = ws.get_default_datastore()
    datastore.upload_files(["requests.csv"], target_path="profiling/", overwrite=True)
    requests_dataset = Dataset.Tabular.from_delimited_files(path=[(datastore, "profiling/requests.csv")])
    requests_dataset = requests_dataset.register(ws, "diabetes_sample_request_data", create_new_version=True)

    inference_config = InferenceConfig(entry_script="score.py", environment=None)
    profile = Model.profile(
        ws, "rpt-ridge", [model], inference_config, input_dataset=requests_dataset, cpu=1.0, memory_in_gb=0.5
    )
    profile.wait_for_completion(True)
    details = profile.get_details()
    assert details["state"] == "Succeeded" and details["requestedCpu"] == 1.0
    assert details["totalQueries"] >= 40 and details["successRate"] == 1.0
    assert 0 < details["latencyPercentile50InMs"] <= details["latencyPercentile99InMs"]
    assert details["measuredQueriesPerSecond"] > 0 and details["maxUtilizedMemoryInGB"] > 0.01
    assert details["recommendedMemoryInGB"] >= details["maxUtilizedMemoryInGB"]
    assert details["recommendedCpu"] >= 0.1
    assert Webservice.list(ws) == []  # the temporary service is gone
    assert ModelProfile(ws, "rpt-ridge").get_details() == details  # kept in the workspace
