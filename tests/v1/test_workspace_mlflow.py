"""v1's "track experiments with MLflow" cells: ``mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())``
with the real MLflow client; the runs, their metrics and artifacts, and MLflow's model registry
land inside the workspace (issue 12, point 2), with the ``mlflow-skinny`` that v1's
``azureml-mlflow`` brought, without SQLAlchemy (issue 22, part 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.core import Workspace
from modelport.errors import InvalidInputError
from tests.v1.plain_venv import plain_venv, run_program

mlflow = pytest.importorskip("mlflow", reason="the dev extra installs mlflow-skinny")

# The notebook's cells, as a program a user runs with their own Python.
NOTEBOOK = """
import importlib.util, json
from pathlib import Path

import mlflow
from modelport.core import Workspace

ws = Workspace.create(name="mlflow-ws", exist_ok=True)
mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
experiment_name = "experiment_with_mlflow"
mlflow.set_experiment(experiment_name)
with mlflow.start_run() as run:
    mlflow.log_param("alpha", 0.03)
    mlflow.log_metric("rmse", 0.8, step=0)
    mlflow.log_metric("rmse", 0.6, step=1)
    mlflow.set_tag("stage", "notebook")
    Path("notes.txt").write_text("trained")
    mlflow.log_artifact("notes.txt")

client = mlflow.MlflowClient(tracking_uri=Workspace.get("mlflow-ws").get_mlflow_tracking_uri())
experiment = client.get_experiment_by_name(experiment_name)
found = client.search_runs([experiment.experiment_id], filter_string="params.alpha = '0.03'")
client.create_registered_model("diabetes-model", description="from the notebook")
version = client.create_model_version(
    "diabetes-model", source=f"{run.info.artifact_uri}/notes.txt", run_id=run.info.run_id
)
print(json.dumps({
    "sqlalchemy": importlib.util.find_spec("sqlalchemy") is not None,
    "workspace": str(ws.path),
    "run": run.info.run_id,
    "status": client.get_run(run.info.run_id).info.status,
    "found": [r.info.run_id for r in found],
    "params": found[0].data.params,
    "metrics": found[0].data.metrics,
    "tags": {k: v for k, v in found[0].data.tags.items() if not k.startswith("mlflow.")},
    "history": [m.value for m in client.get_metric_history(run.info.run_id, "rmse")],
    "artifact_uri": run.info.artifact_uri,
    "models": [m.name for m in client.search_registered_models()],
    "version": version.version,
    "latest": [v.version for v in client.search_model_versions("name='diabetes-model'")],
}))
"""


def _check(answer: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    workspace = Path(answer["workspace"])
    assert answer["found"] == [answer["run"]] and answer["status"] == "FINISHED"
    assert answer["params"] == {"alpha": "0.03"} and answer["metrics"] == {"rmse": 0.6}
    assert answer["tags"] == {"stage": "notebook"}
    assert answer["history"] == [0.8, 0.6]
    artifact = Path(answer["artifact_uri"].removeprefix("file://")) / "notes.txt"
    assert artifact.read_text() == "trained" and artifact.is_relative_to(workspace)
    assert answer["models"] == ["diabetes-model"] and str(answer["version"]) == "1"
    assert [str(v) for v in answer["latest"]] == ["1"]
    assert (workspace / "mlflow").is_dir()  # MLflow's entities, inside the workspace
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()


@pytest.mark.process
def test_mlflow_skinny_alone_keeps_runs_in_the_workspace(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """In a user's Python with modelport and mlflow-skinny only: no SQLAlchemy, no alembic."""
    python = plain_venv(tmp_path_factory.getbasetemp())
    proc = run_program(python, NOTEBOOK, tmp_path, tmp_path / "home")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["sqlalchemy"] is False
    _check(answer, tmp_path)


def test_mlflow_runs_are_kept_in_the_workspace(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same cells in this process (whose MLflow could use SQLAlchemy: the same store is used)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(NOTEBOOK, "notebook", "exec"), namespace)
    mlflow.set_tracking_uri(None)
    answer = json.loads(out.getvalue().strip().splitlines()[-1])
    _check(answer, tmp_path)
    assert not (Path(answer["workspace"]) / "mlflow.db").exists()


def test_a_workspace_with_mlflow_db_keeps_it(home: Path, tmp_path: Path) -> None:
    """A workspace whose MLflow runs an earlier modelport kept in mlflow.db (SQLAlchemy) still
    finds them, as long as SQLAlchemy is installed."""
    pytest.importorskip("sqlalchemy")
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    ws = Workspace.create("old-mlflow-ws")
    old = SqlAlchemyStore(
        "sqlite:///" + (ws.path / "mlflow.db").as_posix(), (ws.path / "mlflow-artifacts").as_uri()
    )
    old.create_experiment("from-before")
    client = mlflow.MlflowClient(tracking_uri=ws.get_mlflow_tracking_uri())
    assert client.get_experiment_by_name("from-before") is not None
    assert not (ws.path / "mlflow").exists()


def test_a_uri_that_is_not_a_workspace_is_refused(home: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not a modelport workspace tracking URI"):
        mlflow.MlflowClient(tracking_uri=f"modelport://{tmp_path.as_posix()}/nowhere").search_experiments()
