"""v1's "track experiments with MLflow" cells: ``mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())``
with the real MLflow client; the runs and their artifacts land inside the workspace (issue 12, point 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.core import Workspace
from modelport.errors import InvalidInputError

mlflow = pytest.importorskip("mlflow", reason="the dev extra installs mlflow-skinny")


def test_mlflow_runs_are_kept_in_the_workspace(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.create("mlflow-ws")

    mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    experiment_name = "experiment_with_mlflow"
    mlflow.set_experiment(experiment_name)
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 0.03)
        mlflow.log_metric("rmse", 0.8)
        mlflow.log_metric("rmse", 0.6)
        Path("notes.txt").write_text("trained")
        mlflow.log_artifact("notes.txt")
    mlflow.set_tracking_uri(None)

    assert (ws.path / "mlflow.db").is_file()
    artifact = Path(run.info.artifact_uri.removeprefix("file://")) / "notes.txt"
    assert artifact.read_text() == "trained"
    assert artifact.is_relative_to(ws.path)
    assert not (tmp_path / "mlruns").exists()  # nothing left in the working folder

    # Another client, as another process would, finds the run through the same URI.
    client = mlflow.MlflowClient(tracking_uri=Workspace.get("mlflow-ws").get_mlflow_tracking_uri())
    found = client.search_runs([client.get_experiment_by_name(experiment_name).experiment_id])
    assert [r.info.run_id for r in found] == [run.info.run_id]
    assert found[0].data.params == {"alpha": "0.03"} and found[0].data.metrics == {"rmse": 0.6}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "rmse")] == [0.8, 0.6]
    # MLflow's model registry goes to the same workspace file.
    client.create_registered_model("diabetes-model", description="from the notebook")
    assert [m.name for m in client.search_registered_models()] == ["diabetes-model"]


def test_a_uri_that_is_not_a_workspace_is_refused(home: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a modelport workspace tracking URI"):
        mlflow.MlflowClient(tracking_uri=f"modelport://{tmp_path.as_posix()}/nowhere").search_experiments()
