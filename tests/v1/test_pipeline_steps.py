"""v1's pipeline notebooks as small programs (issue 20, points 1, 2 and 4): publish-and-run's three
steps chained by OutputFileDatasetConfig with a PipelineParameter overridden at submit, the
data-dependency notebook's PipelineData / DataReference / DataPath steps, getting-started's
parallel and run_after steps, and a failing step (``azureml`` renamed to ``modelport``)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import psutil
import pytest

from modelport.core import Dataset, Datastore, Experiment, Workspace
from modelport.core.runconfig import DEFAULT_CPU_IMAGE, RunConfiguration
from modelport.data import OutputFileDatasetConfig
from modelport.data.data_reference import DataReference
from modelport.data.datapath import DataPath, DataPathComputeBinding
from modelport.exceptions import ActivityFailedException
from modelport.pipeline.core import Pipeline, PipelineData, PipelineRun, StepRun
from modelport.pipeline.core.graph import PipelineParameter
from modelport.pipeline.steps import PythonScriptStep
from modelport.registry import runs as registry
from modelport.widgets import RunDetails

pytestmark = pytest.mark.process

# The publish-and-run notebook's scripts (publish_run_train/extract/compare), as v1 wrote them.
TRAIN = """
import argparse, os
parser = argparse.ArgumentParser("train")
parser.add_argument("--input_data", type=str)
parser.add_argument("--output_train", type=str)
args = parser.parse_args()
os.makedirs(args.output_train, exist_ok=True)
with open(os.path.join(args.input_data), "rb") as f:
    content = f.read()
    with open(os.path.join(args.output_train, "Titanic.csv"), "wb") as fw:
        fw.write(content)
print("train wrote", args.output_train)
"""
EXTRACT = """
import argparse, os
parser = argparse.ArgumentParser("extract")
parser.add_argument("--input_extract", type=str)
parser.add_argument("--output_extract", type=str)
args = parser.parse_args()
os.makedirs(args.output_extract, exist_ok=True)
with open(os.path.join(args.input_extract, "Titanic.csv"), "rb") as f:
    content = f.read()
    with open(os.path.join(args.output_extract, "Titanic.csv"), "wb") as fw:
        fw.write(content)
"""
COMPARE = """
import argparse, os
parser = argparse.ArgumentParser("compare")
parser.add_argument("--compare_data1", type=str)
parser.add_argument("--compare_data2", type=str)
parser.add_argument("--output_compare", type=str)
parser.add_argument("--pipeline_param", type=int)
args = parser.parse_args()
print("Argument 4: %s" % args.pipeline_param)
os.makedirs(args.output_compare, exist_ok=True)
same = open(os.path.join(args.compare_data1, "Titanic.csv")).read() == open(
    os.path.join(args.compare_data2, "Titanic.csv")).read()
with open(os.path.join(args.output_compare, "compare.txt"), "w") as fw:
    fw.write(f"param={args.pipeline_param} same={same}")
"""


def _write(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


@pytest.fixture
def ws(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    return Workspace.create(name="pipelines", exist_ok=True)


def test_publish_run_notebook_pipeline_with_a_parameter_override(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    _write("publish_run_train/train.py", TRAIN)
    _write("publish_run_extract/extract.py", EXTRACT)
    _write("publish_run_compare/compare.py", COMPARE)
    _write("Titanic.csv", "PassengerId,Survived\n1,0\n2,1\n")

    blob_input_data = Dataset.File.from_files("Titanic.csv").as_named_input("test_data")
    processed_data1 = OutputFileDatasetConfig(name="processed_data1")
    train_step = PythonScriptStep(
        script_name="train.py",
        arguments=["--input_data", blob_input_data.as_mount(), "--output_train", processed_data1],
        source_directory="publish_run_train",
    )
    processed_data2 = OutputFileDatasetConfig(name="processed_data2")
    extract_step = PythonScriptStep(
        script_name="extract.py",
        arguments=["--input_extract", processed_data1.as_input(), "--output_extract", processed_data2],
        source_directory="publish_run_extract",
    )
    pipeline_param = PipelineParameter(name="pipeline_arg", default_value=10)
    processed_data3 = OutputFileDatasetConfig(name="processed_data3")
    processed_data3 = processed_data3.register_on_complete("compare_result")
    compare_step = PythonScriptStep(
        script_name="compare.py",
        arguments=[
            "--compare_data1", processed_data1.as_input(),
            "--compare_data2", processed_data2.as_input(),
            "--output_compare", processed_data3,
            "--pipeline_param", pipeline_param,
        ],
        source_directory="publish_run_compare",
    )  # fmt: skip
    pipeline1 = Pipeline(workspace=ws, steps=[compare_step])
    # The steps compare_step waits for come in with it (v1's resolve_closure).
    assert {id(s) for s in pipeline1.steps} == {id(train_step), id(extract_step), id(compare_step)}
    assert pipeline1.validate() == []

    pipeline_run = Experiment(ws, "Pipeline_experiment_sample").submit(
        pipeline1, pipeline_parameters={"pipeline_arg": 45}
    )
    assert isinstance(pipeline_run, PipelineRun)
    assert pipeline_run.wait_for_completion(show_output=True) == "Finished"
    out = capsys.readouterr().out
    assert "StepRun( compare.py ) Status: Finished" in out
    assert "Argument 4: 45" in out  # the step's log, streamed
    assert "PipelineRun Status: Finished" in out

    steps = pipeline_run.get_steps()
    assert sorted(s.name for s in steps) == ["compare.py", "extract.py", "train.py"]
    assert all(isinstance(s, StepRun) and s.get_status() == "Finished" for s in steps)
    assert all(s.parent is not None and s.parent.id == pipeline_run.id for s in steps)
    # The steps ran in dependency order.
    started = {s.name: s.get_details()["startTimeUtc"] for s in steps}
    ended = {s.name: s.get_details()["endTimeUtc"] for s in steps}
    assert ended["train.py"] <= started["extract.py"] and ended["extract.py"] <= started["compare.py"]

    compare_run = pipeline_run.find_step_run("compare.py")[0]
    result = compare_run.get_output_data("processed_data3")
    target = result.download(local_path="downloaded")
    assert Path(target, "compare.txt").read_text() == "param=45 same=True"
    assert Path("downloaded", result.path_on_datastore, "compare.txt").is_file()
    assert "Argument 4: 45" in compare_run.get_job_log()
    registered = Dataset.get_by_name(ws, "compare_result")
    assert [Path(p).name for p in registered.to_path()] == ["compare.txt"]
    # The run and its steps are in the workspace like any experiment's runs.
    assert [r.id for r in Experiment(ws, "Pipeline_experiment_sample").get_runs()] == [pipeline_run.id]
    assert (
        PipelineRun(Experiment(ws, "Pipeline_experiment_sample"), pipeline_run.id).get_status() == "Finished"
    )


DD_TRAIN = """
import argparse, os
parser = argparse.ArgumentParser("train")
parser.add_argument("--input_data", type=str)
parser.add_argument("--output_train", type=str)
args = parser.parse_args()
os.makedirs(args.output_train, exist_ok=True)
rows = open(args.input_data).read().splitlines()
open(os.path.join(args.output_train, "rows.txt"), "w").write(str(len(rows)))
"""
DD_EXTRACT = """
import argparse, os
parser = argparse.ArgumentParser("extract")
parser.add_argument("--input_extract", type=str)
parser.add_argument("--output_extract", type=str)
args = parser.parse_args()
os.makedirs(args.output_extract, exist_ok=True)
n = int(open(os.path.join(args.input_extract, "rows.txt")).read())
open(os.path.join(args.output_extract, "double.txt"), "w").write(str(2 * n))
"""
DD_COMPARE = """
import argparse, os
parser = argparse.ArgumentParser("compare")
parser.add_argument("--compare_data1", type=str)
parser.add_argument("--compare_data2", type=str)
parser.add_argument("--output_compare", type=str)
args = parser.parse_args()
os.makedirs(args.output_compare, exist_ok=True)
a = len(open(args.compare_data1).read().splitlines())
b = int(open(os.path.join(args.compare_data2, "double.txt")).read())
open(os.path.join(args.output_compare, "result.txt"), "w").write(f"{a} {b}")
"""


def test_data_dependency_notebook_pipeline_data_datareference_and_datapath_parameter(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    _write("data/Titanic.csv", "a\n1\n2\n3\n")
    _write("data/other.csv", "a\n1\n")
    _write("data_dependency_run_train/train.py", DD_TRAIN)
    _write("data_dependency_run_extract/extract.py", DD_EXTRACT)
    _write("data_dependency_run_compare/compare.py", DD_COMPARE)
    def_blob_store = Datastore(ws, "workspaceblobstore")
    def_blob_store.upload_files(["data/Titanic.csv", "data/other.csv"], target_path="titanic", overwrite=True)

    blob_input_data = DataReference(
        datastore=def_blob_store, data_reference_name="test_data", path_on_datastore="titanic/Titanic.csv"
    )
    processed_data1 = PipelineData("processed_data1", datastore=def_blob_store, is_directory=True)
    run_config = RunConfiguration()
    run_config.environment.docker.enabled = True
    run_config.environment.docker.base_image = DEFAULT_CPU_IMAGE
    run_config.environment.python.user_managed_dependencies = False
    trainStep = PythonScriptStep(
        script_name="train.py",
        arguments=["--input_data", blob_input_data, "--output_train", processed_data1],
        inputs=[blob_input_data],
        outputs=[processed_data1],
        source_directory="data_dependency_run_train",
        runconfig=run_config,
    )
    processed_data2 = PipelineData("processed_data2", datastore=def_blob_store, is_directory=True)
    extractStep = PythonScriptStep(
        script_name="extract.py",
        arguments=["--input_extract", processed_data1, "--output_extract", processed_data2],
        inputs=[processed_data1],
        outputs=[processed_data2],
        source_directory="data_dependency_run_extract",
    )
    datapath = DataPath(datastore=def_blob_store, path_on_datastore="titanic/Titanic.csv")
    datapath_param = PipelineParameter(name="compare_data", default_value=datapath)
    data_parameter1 = (datapath_param, DataPathComputeBinding(mode="mount"))
    processed_data3 = PipelineData("processed_data3", datastore=def_blob_store, is_directory=True)
    compareStep = PythonScriptStep(
        script_name="compare.py",
        arguments=["--compare_data1", data_parameter1, "--compare_data2", processed_data2,
                   "--output_compare", processed_data3],
        inputs=[data_parameter1, processed_data2],
        outputs=[processed_data3],
        source_directory="data_dependency_run_compare",
    )  # fmt: skip
    pipeline1 = Pipeline(workspace=ws, steps=[compareStep])
    assert {id(s) for s in pipeline1.steps} == {id(trainStep), id(extractStep), id(compareStep)}
    experiment = Experiment(ws, "Data_dependency_sample")
    pipeline_run1 = experiment.submit(pipeline1)
    RunDetails(pipeline_run1).show()
    pipeline_run1.wait_for_completion(show_output=False)

    for step in pipeline_run1.get_steps():
        for name, output in step.get_outputs().items():
            reference = output.get_port_data_reference()
            assert reference.datastore_name == "workspaceblobstore"
            assert reference.path_on_datastore.endswith(name)
            assert output.context == ws  # v1's graph context: the workspace
            assert output.step_output["name"] == name
            assert output.step_output["path"] == reference.path_on_datastore
    train_step = pipeline_run1.find_step_run("train.py")
    train_step[0].get_output_data("processed_data1").download("./outputs")
    downloaded = list(Path("outputs").rglob("rows.txt"))
    assert [p.read_text() for p in downloaded] == ["4"]
    result = pipeline_run1.find_step_run("compare.py")[0].get_output_data("processed_data3").local_path
    assert (result / "result.txt").read_text() == "4 8"

    # The DataPath parameter takes another path at submit.
    other = DataPath(datastore=def_blob_store, path_on_datastore="titanic/other.csv")
    run2 = experiment.submit(pipeline1, pipeline_parameters={"compare_data": other})
    assert run2.wait_for_completion(show_output=False) == "Finished"
    result2 = run2.find_step_run("compare.py")[0].get_output_data("processed_data3").local_path
    assert (result2 / "result.txt").read_text() == "2 8"
    shown = RunDetails(run2).render()
    assert "step train.py: Finished" in shown and "reused" in shown  # unchanged steps were reused
    capsys.readouterr()


BARRIER = """
import os, pathlib, sys, time
me, other, marks = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
(marks / me).write_text(str(time.time()))
deadline = time.monotonic() + 120
while not (marks / other).exists():   # only two steps running at the same time get past this
    if time.monotonic() > deadline:
        sys.exit(f"{me}: {other} never started while I ran")
    time.sleep(0.05)
print(me, "saw", other)
"""
STAMP = """
import pathlib, sys, time
pathlib.Path(sys.argv[2], sys.argv[1]).write_text(str(time.time()))
"""


def test_getting_started_parallel_steps_and_run_after(ws: Workspace) -> None:
    _write("train/barrier.py", BARRIER)
    _write("compare/barrier.py", BARRIER)
    _write("extract/stamp.py", STAMP)
    marks = Path("marks").resolve()
    marks.mkdir()
    step1 = PythonScriptStep(
        name="train_step", script_name="barrier.py", arguments=["a", "b", str(marks)],
        source_directory="train", allow_reuse=True,
    )  # fmt: skip
    step2 = PythonScriptStep(
        name="compare_step",
        script_name="barrier.py",
        arguments=["b", "a", str(marks)],
        source_directory="compare",
    )
    step3 = PythonScriptStep(
        name="extract_step", script_name="stamp.py", arguments=["c", str(marks)], source_directory="extract"
    )
    # Steps with no dependency run at the same time: each waits until it sees the other started.
    pipeline1 = Pipeline(workspace=ws, steps=[step1, step2])
    run1 = Experiment(ws, "Hello_World1").submit(pipeline1, regenerate_outputs=False)
    assert run1.wait_for_completion(show_output=False) == "Finished"

    # run_after: step3 waits for both, with no data between them.
    for mark in marks.iterdir():
        mark.unlink()
    step3.run_after(step1)
    step3.run_after(step2)
    pipeline2 = Pipeline(workspace=ws, steps=[step3])
    assert sorted(s.name for s in pipeline2.steps) == ["compare_step", "extract_step", "train_step"]
    run2 = Experiment(ws, "Hello_World2").submit(pipeline2, regenerate_outputs=True)
    assert run2.wait_for_completion(show_output=False) == "Finished"
    stamps = {p.name: float(p.read_text()) for p in marks.iterdir()}
    assert stamps["c"] > max(stamps["a"], stamps["b"])
    ended = {s.name: s.get_details()["endTimeUtc"] for s in run2.get_children()}
    started_c = run2.find_step_run("extract_step")[0].get_details()["startTimeUtc"]
    assert started_c >= max(ended["train_step"], ended["compare_step"])


FAIL = """
import sys
print("about to fail")
sys.exit("the data is bad")
"""
SLOW_OK = """
import pathlib, sys, time
time.sleep(1.0)
pathlib.Path(sys.argv[1]).write_text("done")
"""


def test_a_failing_step_fails_the_pipeline_naming_it(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    _write("bad/fail.py", FAIL)
    _write("ok/ok.py", SLOW_OK)
    out = PipelineData("cleaned")
    bad = PythonScriptStep(
        name="clean", script_name="fail.py", source_directory="bad", arguments=[out], outputs=[out]
    )
    after = PythonScriptStep(
        name="train", script_name="ok.py", source_directory="ok", arguments=[out], inputs=[out]
    )
    independent = PythonScriptStep(
        name="report",
        script_name="ok.py",
        source_directory="ok",
        arguments=[str(Path("report.txt").resolve())],
    )
    pipeline = Pipeline(ws, [after, independent])
    assert any(s is bad for s in pipeline.steps)
    run = Experiment(ws, "failing").submit(pipeline)
    with pytest.raises(ActivityFailedException, match="step 'clean' failed") as info:
        run.wait_for_completion(show_output=True)
    assert "the data is bad" in str(info.value)
    assert run.get_status() == "Failed"
    statuses = {s.name: s.get_status() for s in run.get_steps()}
    assert statuses["clean"] == "Failed"
    assert "train" not in statuses  # never started: what it depends on failed
    assert "about to fail" in run.find_step_run("clean")[0].get_job_log()
    assert "[train] not run" in run.get_job_log()
    capsys.readouterr()

    # continue_on_step_failure: the step that does not depend on the failed one still completes.
    Path("report.txt").unlink(missing_ok=True)
    run2 = Experiment(ws, "failing").submit(pipeline, continue_on_step_failure=True, regenerate_outputs=True)
    assert run2.wait_for_completion(show_output=False, raise_on_error=False) == "Failed"
    assert {s.name: s.get_status() for s in run2.get_steps()}["report"] == "Finished"
    assert Path("report.txt").read_text() == "done"
    details = json.dumps(run2.get_details())
    assert "step 'clean' failed" in details


def test_cancel_stops_the_running_step(ws: Workspace) -> None:
    _write("slow/slow.py", "import time\nprint('started', flush=True)\ntime.sleep(300)\n")
    step = PythonScriptStep(name="slow", script_name="slow.py", source_directory="slow")
    run = Experiment(ws, "cancel").submit(Pipeline(ws, [step]))
    deadline = time.monotonic() + 60
    while not (run.find_step_run("slow") and "started" in run.find_step_run("slow")[0].get_job_log()):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.1)
    child = run.find_step_run("slow")[0]
    pid = int(registry.get_run(ws, child.id).details["supervisor"]["pid"])  # the step's supervisor
    run.cancel()
    assert run.wait_for_completion(show_output=False, raise_on_error=False) == "Canceled"
    deadline = time.monotonic() + 60
    while child.get_status() != "Canceled":
        assert time.monotonic() < deadline, "the step was not stopped"
        time.sleep(0.1)
    while _alive(pid):
        assert time.monotonic() < deadline, "the step's process is still there"
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


WHERE = """
import pathlib, sys
pathlib.Path(sys.argv[1]).write_text(sys.executable)
"""


def test_each_step_runs_in_its_own_environment(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelport.core import Environment
    from modelport.core.conda_dependencies import CondaDependencies

    cache = tmp_path / "env-cache"
    monkeypatch.setenv("MODELPORT_ENV_CACHE", str(cache))
    _write("where/where.py", WHERE)
    run_config = RunConfiguration()
    run_config.environment = Environment(name="pipeline-step-env")
    run_config.environment.python.conda_dependencies = CondaDependencies.create(pip_packages=["six"])
    built = PythonScriptStep(
        name="built", script_name="where.py", source_directory="where", runconfig=run_config,
        arguments=[str(tmp_path / "built.txt")],
    )  # fmt: skip
    plain = PythonScriptStep(
        name="plain",
        script_name="where.py",
        source_directory="where",
        arguments=[str(tmp_path / "plain.txt")],
    )
    run = Experiment(ws, "environments").submit(Pipeline(ws, [built, plain]))
    assert run.wait_for_completion(show_output=False, timeout_seconds=600) == "Finished"
    assert Path((tmp_path / "built.txt").read_text()).is_relative_to(cache)  # the step's environment, built
    assert (tmp_path / "plain.txt").read_text() == sys.executable  # no environment: this Python
    assert "[built] environment 'pipeline-step-env'" in run.get_job_log()
