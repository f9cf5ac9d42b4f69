"""v1's "train on local" cells: ``Experiment.submit(ScriptRunConfig(...))`` runs the script here, in
its environment, as a process with a live log; the run's model is registered, deployed and scored
(issue 12, point 4)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from modelport import jobs
from modelport.core import Dataset, Environment, Experiment, Model, ScriptRunConfig, Workspace
from modelport.core.model import InferenceConfig
from modelport.core.webservice import LocalWebservice
from modelport.errors import NotFoundError
from modelport.exceptions import ActivityFailedException, ComputeTargetException, UserErrorException

pytestmark = pytest.mark.process

TRAIN = """
import argparse, os, pathlib, time
from modelport.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float)
parser.add_argument("--data-folder")
parser.add_argument("--go")
parser.add_argument("--reference")
args = parser.parse_args()

run = Run.get_context()
print("epoch 0 started in run", run.id)
deadline = time.monotonic() + 120
while args.go and not pathlib.Path(args.go).exists() and time.monotonic() < deadline:
    time.sleep(0.05)
files = sorted(os.listdir(args.data_folder))
assert run.input_datasets["train"] == args.data_folder
print("training on", files, "and", sorted(os.listdir(args.reference)))
run.log("alpha", args.alpha)
run.log("files", len(files))
run.log_list("curve", [0.5, 0.25])
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.txt", "w") as f:
    f.write(str(args.alpha))
print("greeting:", os.environ.get("GREETING"))
print("done")
"""

SCORE = """
import json, os
def init():
    global alpha
    with open(os.path.join(os.getenv("AZUREML_MODEL_DIR"), "model.txt")) as f:
        alpha = float(f.read())
def run(raw):
    return [alpha * x for x in json.loads(raw)["data"]]
"""


def _wait_for(predicate, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_submit_train_register_deploy(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("train").mkdir()
    Path("train/train.py").write_text(TRAIN)
    Path("data").mkdir()
    Path("data/a.csv").write_text("x\n1\n")
    Path("data/b.csv").write_text("x\n2\n")
    ws = Workspace.create("submit-ws")
    datastore = ws.get_default_datastore()
    datastore.upload(src_dir="data", target_path="train-data", show_progress=False)
    dataset = Dataset.File.from_files(path=[(datastore, "train-data/*.csv")])

    env = Environment("local-env")
    env.python.user_managed_dependencies = True  # this interpreter as is: no build
    env.python.interpreter_path = sys.executable
    env.environment_variables = {"GREETING": "hello from the environment"}
    go = tmp_path / "go"
    src = ScriptRunConfig(
        source_directory="./train",
        script="train.py",
        arguments=[
            "--alpha",
            0.5,
            "--data-folder",
            dataset.as_named_input("train").as_download(),
            "--reference",
            datastore.path("train-data").as_mount(),
            "--go",
            str(go),
        ],
        compute_target="local",
        environment=env,
    )
    experiment = Experiment(workspace=ws, name="train-on-local")
    run = experiment.submit(src)

    # The log is live: the script's first line is there while it still runs (it waits for `go`).
    log = jobs.log_file(ws, run.id)
    _wait_for(lambda: "epoch 0 started" in log.read_text(), "the script's first line in the log")
    assert run.get_status() == "Running"
    go.touch()
    details = run.wait_for_completion(show_output=True)
    out = capsys.readouterr().out
    assert f"epoch 0 started in run {run.id}" in out  # the script's Run.get_context() is this run
    assert "training on ['a.csv', 'b.csv'] and ['a.csv', 'b.csv']" in out
    assert "greeting: hello from the environment" in out
    assert out.index("epoch 0 started") < out.index("done") < out.index("Status: Completed")
    assert details["status"] == "Completed" and details["target"] == "local"
    assert run.get_metrics() == {"alpha": 0.5, "files": 2, "curve": [0.5, 0.25]}
    assert run.get_file_names() == ["azureml-logs/70_driver_log.txt", "outputs/model.txt"]
    assert not (tmp_path / "train" / "outputs").exists()  # the script ran in a copy of its folder

    model = run.register_model(model_name="local-trained", model_path="outputs/model.txt")
    Path("score.py").write_text(SCORE)
    inference_config = InferenceConfig(entry_script="score.py")
    service = Model.deploy(
        ws, "local-trained-svc", [model], inference_config, LocalWebservice.deploy_configuration()
    )
    try:
        service.wait_for_deployment(show_output=False)
        assert service.run(input_data='{"data": [2, 4]}') == [1.0, 2.0]
    finally:
        service.delete()


def test_a_failing_script_fails_the_run(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("src").mkdir()
    Path("src/train.py").write_text("print('loading')\nraise ValueError('the data has no label column')\n")
    ws = Workspace.create("fail-ws")
    run = Experiment(ws, "failing").submit(ScriptRunConfig(source_directory="src", script="train.py"))
    with pytest.raises(ActivityFailedException, match="ValueError: the data has no label column"):
        run.wait_for_completion()
    assert run.get_status() == "Failed"
    details = run.wait_for_completion(raise_on_error=False)
    assert "exited with code 1" in details["error"]["error"]["message"]
    assert "azureml-logs/70_driver_log.txt" in run.get_file_names()


def test_cancel_stops_the_script(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("src").mkdir()
    Path("src/long.py").write_text(
        "import os, time\nprint('pid', os.getpid(), flush=True)\ntime.sleep(300)\n"
    )
    ws = Workspace.create("cancel-ws")
    run = Experiment(ws, "long").submit(ScriptRunConfig(source_directory="src", script="long.py"))
    log = jobs.log_file(ws, run.id)
    _wait_for(lambda: "pid" in log.read_text(), "the script to start")
    pid = int(log.read_text().split()[1])
    run.cancel()
    assert run.get_status() == "Canceled"
    _wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", "the script to end"
    )


def test_an_unknown_compute_target_is_refused_at_submit(home: Path, tmp_path: Path) -> None:
    """A compute target is named (v1 took a name or the object); one the workspace does not know is
    refused when the run is submitted, in one line, before anything starts (tests/ray runs the
    script on a real AmlCompute cluster)."""
    (tmp_path / "train.py").write_text("print('hi')\n")
    ws = Workspace.create("remote-ws")
    named = ScriptRunConfig(source_directory=str(tmp_path), script="train.py", compute_target="cpu-cluster")
    with pytest.raises(ComputeTargetException, match=r"compute target 'cpu-cluster' does not exist"):
        Experiment(ws, "remote").submit(named)
    src = ScriptRunConfig(source_directory=str(tmp_path), script="train.py")
    src.run_config.target = "gpu-cluster"  # as v1 code sets it after the fact
    with pytest.raises(ComputeTargetException, match=r"'gpu-cluster' does not exist"):
        Experiment(ws, "remote").submit(src)
    with pytest.raises(UserErrorException, match=r"object is not a compute target here.*'local'"):
        ScriptRunConfig(source_directory=str(tmp_path), script="train.py", compute_target=object())
    with pytest.raises(UserErrorException, match="only a ScriptRunConfig runs locally"):
        Experiment(ws, "remote").submit(object())
    with pytest.raises(NotFoundError, match=r"script missing.py not found"):
        Experiment(ws, "remote").submit(ScriptRunConfig(source_directory=str(tmp_path), script="missing.py"))
    with pytest.raises(UserErrorException, match="source_directory must be a folder path, got NoneType"):
        ScriptRunConfig(source_directory=None, script="train.py")
    assert list(Experiment(ws, "remote").get_runs()) == []  # nothing was started
    assert os.environ.get("MODELPORT_RUN_ID") is None


BUILT = """
import sys, joblib
from modelport.core import Run
run = Run.get_context()
joblib.dump({"python": sys.executable}, "outputs/model.joblib")
run.log("python", sys.executable)
print("workspace", run.experiment.workspace.name, run.experiment.workspace.get_default_datastore().name)
"""


def test_the_script_runs_in_its_built_environment(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from modelport.core.conda_dependencies import CondaDependencies

    monkeypatch.chdir(tmp_path)
    Path("src").mkdir()
    Path("src/train.py").write_text(BUILT)
    ws = Workspace.create("built-ws")
    env = Environment("train-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["joblib"])
    run = Experiment(ws, "built").submit(
        ScriptRunConfig(source_directory="src", script="train.py", environment=env)
    )
    run.wait_for_completion(show_output=True)
    python = Path(run.get_metrics()["python"])
    assert python.is_relative_to(home / "envs") and python != Path(sys.executable)  # its own virtualenv
    assert "workspace built-ws workspaceblobstore" in capsys.readouterr().out
    assert "outputs/model.joblib" in run.get_file_names()


def test_a_run_past_its_time_limit_fails(home: Path, tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text("import time\nprint('working', flush=True)\ntime.sleep(300)\n")
    ws = Workspace.create("slow-ws")
    src = ScriptRunConfig(source_directory=str(tmp_path), script="slow.py", max_run_duration_seconds=1)
    run = Experiment(ws, "slow").submit(src)
    with pytest.raises(ActivityFailedException, match="max_run_duration_seconds=1"):
        run.wait_for_completion()
    # The source folder holds the modelport home (tmp_path/mphome): the snapshot leaves it out.
    snapshot = jobs.run_dir(ws, run.id) / "snapshot"
    assert sorted(p.name for p in snapshot.iterdir()) == ["outputs", "slow.py"]
