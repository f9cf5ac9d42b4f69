"""v1's "train-on-local" notebook (a user-managed environment, ``src.run_config.environment``,
``source_directory='./'`` beside ``.azureml/config.json``), then "train-within-notebook"'s pick of
the best run and its model, with ``azureml`` renamed to ``modelport`` (issue 12, point 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.core import Environment, Experiment, ScriptRunConfig, Workspace
from modelport.core.model import Model
from modelport.core.run import Run

pytestmark = pytest.mark.process

TRAIN = """
import os
import joblib
from modelport.core.run import Run

os.makedirs("./outputs", exist_ok=True)
run = Run.get_context()
best = None
for alpha in [0.0, 0.5, 1.0]:
    mse = (alpha - 0.4) ** 2  # stands in for a fitted model's error, as the sample's Ridge loop
    run.log("alpha", alpha)
    run.log("mse", mse)
    if best is None or mse < best[1]:
        best = (alpha, mse)
model_file_name = "ridge_{0:.2f}.pkl".format(best[0])
joblib.dump(value={"alpha": best[0]}, filename=os.path.join("./outputs/", model_file_name))
print("best alpha is", best[0])
"""


def test_train_on_local_then_pick_the_best_run(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("joblib", reason="the dev extra installs joblib")
    monkeypatch.chdir(tmp_path)
    Path(".azureml").mkdir()
    Path(".azureml/config.json").write_text(
        json.dumps({"subscription_id": "sub", "resource_group": "rg", "workspace_name": "train-local"})
    )
    Path("train.py").write_text(TRAIN)

    ws = Workspace.from_config()
    experiment_name = "train-on-local"
    exp = Experiment(workspace=ws, name=experiment_name)

    user_managed_env = Environment("user-managed-env")
    user_managed_env.python.user_managed_dependencies = True
    src = ScriptRunConfig(source_directory="./", script="train.py")
    src.run_config.environment = user_managed_env
    run = exp.submit(src)
    run.wait_for_completion(show_output=True)
    assert run.get_status() == "Completed"
    assert run.get_file_names() == ["azureml-logs/70_driver_log.txt", "outputs/ridge_0.50.pkl"]

    # A notebook run beside it, written with v1's context manager.
    with exp.start_logging(outputs=False) as notebook_run:
        notebook_run.log("mse", 0.5)
    assert notebook_run.get_status() == "Completed"

    runs = {}
    run_metrics = {}
    for r in exp.get_runs():
        metrics = r.get_metrics()
        if "mse" in metrics:
            runs[r.id] = r
            run_metrics[r.id] = metrics
    # mse logged once is a number, logged more often a list (as v1's get_metrics)
    lowest = {k: min(m["mse"]) if isinstance(m["mse"], list) else m["mse"] for k, m in run_metrics.items()}
    best_run_id = min(lowest, key=lambda k: lowest[k])
    best_run = runs[best_run_id]
    assert best_run.id == run.id and isinstance(best_run, Run)
    print("Best run is:", best_run_id)

    model = best_run.register_model(model_name="best_model", model_path="outputs/ridge_0.50.pkl")
    assert Model(ws, "best_model").run_id == run.id
    best_run.download_files(prefix="outputs", output_directory="downloaded")
    assert Path("downloaded/outputs/ridge_0.50.pkl").is_file()
    assert model.id == "best_model:1"
    # The snapshot left the workspace config out, as v1's did (.azureml is never uploaded).
    assert not any(p.name == ".azureml" for p in (ws.path / "runs" / run.id / "snapshot").iterdir())
