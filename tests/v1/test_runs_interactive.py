"""v1's "train within notebook" cells: an interactive run logs metrics, an image and the model file,
then the model is registered from the run (issue 12, point 4)."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.core import Experiment, Model, Run, Workspace
from modelport.errors import InvalidInputError, NotFoundError
from modelport.exceptions import ModelPathNotFoundException, UserErrorException

joblib = pytest.importorskip("joblib", reason="the dev extra installs scikit-learn and joblib")
sklearn_datasets = pytest.importorskip("sklearn.datasets")


def test_train_within_notebook(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import Ridge
    from sklearn.metrics import mean_squared_error
    from sklearn.model_selection import train_test_split

    monkeypatch.chdir(tmp_path)
    ws = Workspace.create("train-ws")
    experiment = Experiment(workspace=ws, name="train-within-notebook")

    X, y = sklearn_datasets.load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    run = experiment.start_logging()
    assert run.get_status() == "Running"
    alphas = [0.1, 0.5]
    errors = []
    for alpha in alphas:
        reg = Ridge(alpha=alpha).fit(X_train, y_train)
        mse = mean_squared_error(y_test, reg.predict(X_test))
        errors.append(mse)
        run.log("alpha", alpha)
        run.log("mse", mse)
        run.log_row("alpha vs mse", alpha=alpha, mse=mse)
    run.log_list("errors", errors)
    run.log_table("results", {"alpha": alphas, "mse": errors})
    fig = plt.figure()
    plt.plot(alphas, errors)
    run.log_image("mse plot", plot=fig)
    Path("outputs").mkdir()
    joblib.dump(value=reg, filename="outputs/sklearn_regression_model.pkl")
    run.upload_file(name="model.pkl", path_or_stream="outputs/sklearn_regression_model.pkl")
    run.tag("method", "ridge")
    run.complete()

    assert run.get_status() == "Completed"
    metrics = run.get_metrics()
    assert metrics["alpha"] == alphas  # logged twice: a list
    assert metrics["mse"] == pytest.approx(errors)
    assert metrics["errors"] == pytest.approx(errors)
    assert metrics["alpha vs mse"] == {"alpha": alphas, "mse": pytest.approx(errors)}
    assert metrics["results"] == {"alpha": alphas, "mse": pytest.approx(errors)}
    assert metrics["mse plot"].startswith("aml://artifactId/")
    assert run.get_metrics(name="errors") == {"errors": pytest.approx(errors)}
    names = run.get_file_names()
    # ./outputs is kept when an interactive run completes, as v1 did
    assert "outputs/sklearn_regression_model.pkl" in names and "model.pkl" in names
    assert any(n.startswith("mse plot_") and n.endswith(".png") for n in names)
    assert run.get_tags() == {"method": "ridge"}

    model = run.register_model(
        model_name="sklearn_regression_model", model_path="outputs/sklearn_regression_model.pkl"
    )
    assert (model.name, model.version, model.run_id) == ("sklearn_regression_model", 1, run.id)
    assert Model(ws, "sklearn_regression_model", run_id=run.id) == model
    assert [m.id for m in Model.list(ws, run_id=run.id)] == ["sklearn_regression_model:1"]
    model.download(target_dir="check", exist_ok=True)
    assert joblib.load("check/sklearn_regression_model.pkl").alpha == 0.5
    folder_model = run.register_model(model_name="whole-outputs", model_path="outputs")
    assert [f.relpath for f in folder_model.files] == ["sklearn_regression_model.pkl"]

    run.download_file("model.pkl", output_file_path="copy.pkl")
    assert Path("copy.pkl").read_bytes() == Path("outputs/sklearn_regression_model.pkl").read_bytes()

    second = experiment.start_logging(outputs=False)
    second.log("alpha", 1.0)
    second.fail(error_details="diverged")
    assert [r.id for r in experiment.get_runs()] == [second.id, run.id]  # newest first
    assert [r.number for r in experiment.get_runs(tags={"method": "ridge"})] == [1]
    assert [e.name for e in Experiment.list(ws)] == ["train-within-notebook"]
    assert Run(experiment, second.id).get_status() == "Failed"
    assert Run(experiment, second.id).get_details()["error"]["error"]["message"] == "diverged"

    with pytest.raises(ModelPathNotFoundException, match=r"has no file or folder 'outputs/missing.pkl'"):
        run.register_model("x", model_path="outputs/missing.pkl")
    with pytest.raises(UserErrorException, match="log\\(\\) takes a number or a string"):
        run.log("bad", {"a": 1})
    with pytest.raises(UserErrorException, match="plot must be a matplotlib figure"):
        run.log_image("bad", plot="figure.png")
    with pytest.raises(UserErrorException, match="path_or_stream must be a path or a binary stream"):
        run.upload_file("x", 123)
    with pytest.raises(NotFoundError, match="run 'nope' not found"):
        Run(experiment, "nope")
    with pytest.raises(InvalidInputError, match="invalid experiment name"):
        Experiment(ws, "bad name!")


def test_offline_run_outside_a_submitted_script(capsys: pytest.CaptureFixture[str]) -> None:
    run = Run.get_context()
    run.log("accuracy", 0.9)
    run.log("accuracy", 0.95)
    assert "Attempted to log scalar metric accuracy:\n0.9" in capsys.readouterr().out
    assert run.id.startswith("OfflineRun_")
    assert run.get_metrics() == {"accuracy": [0.9, 0.95]}
    with pytest.raises(UserErrorException, match="offline run"):
        run.register_model("m", "outputs/model.pkl")
    with pytest.raises(UserErrorException, match="has no experiment"):
        _ = run.experiment.workspace
