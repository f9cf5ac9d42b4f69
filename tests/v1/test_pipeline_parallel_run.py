"""v1's ParallelRunStep notebooks as small programs (issue 20, points 2, 4 and the pipeline side of
6): file-dataset inference with PipelineParameters and a dataset parameter resubmitted with another
dataset, tabular inference with arguments, a model and EntryScript, partitioned file and tabular
inputs, and a pipeline whose ParallelRunStep was killed, resubmitted to score only what was left.
``azureml`` renamed to ``modelport``; ``environment=None`` runs the entry scripts with this Python."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import psutil
import pytest

from modelport.core import Dataset, Experiment, Workspace
from modelport.core.model import Model
from modelport.data.dataset_consumption_config import DatasetConsumptionConfig
from modelport.jobs import batch
from modelport.pipeline.core import Pipeline, PipelineData, PipelineParameter
from modelport.pipeline.steps import ParallelRunConfig, ParallelRunStep
from modelport.registry import runs as registry

pytestmark = pytest.mark.process

# The notebook's digit_identification.py, with the TensorFlow graph replaced by a registered
# "model" (a JSON file) so the program runs in a second: init() loads it, run() scores each file.
DIGITS = """
import json, os
from modelport.core import Model

def init():
    global model
    model_path = Model.get_model_path("mnist-prs")
    model = json.load(open(os.path.join(model_path, "model.json")))

def run(mini_batch):
    print(f'run method start: {__file__}, run({mini_batch})')
    resultList = []
    for image in mini_batch:
        pixels = int(open(image).read())
        resultList.append("{}: {}".format(os.path.basename(image), (pixels * model["scale"]) % 10))
    return resultList
"""

# The notebook's iris_score.py, with the pickled scikit-learn model replaced by a pickled rule.
IRIS = """
import pickle
import argparse

from modelport.core.model import Model

from azureml_user.parallel_run import EntryScript


def init():
    global iris_model

    logger = EntryScript().logger
    logger.info("init() is called.")

    parser = argparse.ArgumentParser(description="Iris model serving")
    parser.add_argument('--model_name', dest="model_name", required=True)
    args, unknown_args = parser.parse_known_args()

    model_path = Model.get_model_path(args.model_name)
    with open(model_path, 'rb') as model_file:
        iris_model = pickle.load(model_file)


def run(input_data):
    logger = EntryScript().logger
    logger.info("run() is called with: {}.".format(input_data))
    num_rows, num_cols = input_data.shape
    limit = iris_model["petal.length"]
    result = input_data.drop(input_data.columns[4:], axis=1)
    result['variety'] = ["virginica" if x > limit else "setosa" for x in input_data["petal.length"]]
    return result
"""

# The partition notebooks' scripts, as v1 wrote them.
TOTAL_FILE_SIZE = """
import os

def init():
    print("Init")

def run(mini_batch, mini_batch_context):
    print(f"partition_key_value = {mini_batch_context.partition_key_value}")
    print(f"dataset = {mini_batch_context.dataset}")
    file_name_list = []
    file_size_list = []
    total_file_size_of_mini_batch = 0
    for file_path in mini_batch:
        file_name_list.append(os.path.basename(file_path))
        file_size = os.path.getsize(file_path)
        file_size_list.append(file_size)
        total_file_size_of_mini_batch += file_size
    file_size_ratio_list = [file_size * 1.0 / total_file_size_of_mini_batch for file_size in file_size_list]
    return [
        ",".join([str(x) for x in fields])
        for fields in zip(
            file_name_list,
            file_size_list,
            file_size_ratio_list,
            [mini_batch_context.partition_key_value["user"]] * len(mini_batch),
            [mini_batch_context.partition_key_value["genres"]] * len(mini_batch),
            [total_file_size_of_mini_batch] * len(mini_batch),
        )
    ]
"""
TOTAL_INCOME = """
def init():
    print("Init")

def run(mini_batch):
    total_income = mini_batch["INCOME"].sum()
    mini_batch["total_income"] = total_income
    return mini_batch
"""


@pytest.fixture
def ws(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    return Workspace.create(name="batch", exist_ok=True)


def _write(path: str, text: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(text)


def test_file_dataset_inference_with_pipeline_parameters(
    ws: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(30):
        _write(f"mnist/{i:03d}.png", str(i))
    _write("Code/digit_identification.py", DIGITS)
    _write("models/model.json", json.dumps({"scale": 3}))
    def_data_store = ws.get_default_datastore()
    def_data_store.upload("mnist", "mnist", overwrite=True, show_progress=False)
    Model.register(model_path="models/", model_name="mnist-prs", tags={"pretrained": "mnist"}, workspace=ws)

    path_on_datastore = def_data_store.path("mnist")
    input_mnist_ds = Dataset.File.from_files(path=path_on_datastore, validate=False)
    pipeline_param = PipelineParameter(name="mnist_param", default_value=input_mnist_ds)
    input_mnist_ds_consumption = DatasetConsumptionConfig("minist_param_config", pipeline_param).as_mount()
    output_dir = PipelineData(name="inferences", datastore=def_data_store)
    parallel_run_config = ParallelRunConfig(
        source_directory="Code",
        entry_script="digit_identification.py",
        mini_batch_size=PipelineParameter(name="batch_size_param", default_value="5"),
        error_threshold=10,
        output_action="append_row",
        append_row_file_name="mnist_outputs.txt",
        environment=None,
        compute_target="local",
        process_count_per_node=PipelineParameter(name="process_count_param", default_value=2),
        node_count=1,
    )
    parallelrun_step = ParallelRunStep(
        name="predict-digits-mnist",
        parallel_run_config=parallel_run_config,
        inputs=[input_mnist_ds_consumption],
        output=output_dir,
        allow_reuse=False,
    )
    pipeline = Pipeline(workspace=ws, steps=[parallelrun_step])
    experiment = Experiment(ws, "digit_identification")
    pipeline_run = experiment.submit(pipeline)
    assert pipeline_run.wait_for_completion(show_output=True) == "Finished"
    assert "Planned 6 mini-batches over 30 files" in capsys.readouterr().out

    batch_run = pipeline_run.find_step_run(parallelrun_step.name)[0]
    batch_output = batch_run.get_output_data(output_dir.name)
    # v1's attributes of a step's output (issue 22, part 2)
    assert (
        batch_output.pipeline_run_id
        == pipeline_run.id
        == batch_run.get_output(output_dir.name).pipeline_run_id
    )
    assert batch_run.get_output(output_dir.name).step_run == batch_run
    target_dir = tempfile.mkdtemp(dir=".")
    batch_output.download(local_path=target_dir)
    result_file = os.path.join(
        target_dir, batch_output.path_on_datastore, parallel_run_config.append_row_file_name
    )
    df = pd.read_csv(result_file, delimiter=":", header=None)
    df.columns = ["Filename", "Prediction"]
    assert df.shape[0] == 30
    assert dict(zip(df["Filename"], df["Prediction"], strict=True)) == {
        f"{i:03d}.png": (3 * i) % 10 for i in range(30)
    }
    assert batch_run.get_details()["status"] == "Completed"

    # Resubmit with a different dataset and other parameter values, as the notebook does.
    single_image_ds = Dataset.File.from_files(path=def_data_store.path("mnist/007.png"), validate=False)
    pipeline_run_2 = experiment.submit(
        pipeline,
        pipeline_parameters={
            "mnist_param": single_image_ds,
            "batch_size_param": "1",
            "process_count_param": 1,
        },
    )
    assert pipeline_run_2.wait_for_completion(show_output=False) == "Finished"
    out = pipeline_run_2.find_step_run(parallelrun_step.name)[0].get_output_data(output_dir.name)
    assert (out.local_path / "mnist_outputs.txt").read_text().strip() == "007.png: 1"


def test_tabular_dataset_inference_with_arguments_model_and_entry_script(ws: Workspace) -> None:
    rows = ["sepal.length,sepal.width,petal.length,petal.width,variety"]
    rows += [f"5.{i % 10},3.{i % 7},{1 + (i % 6)}.0,0.{i % 9},x" for i in range(120)]
    _write("iris/part1.csv", "\n".join(rows[:61]) + "\n")
    _write("iris/part2.csv", "\n".join([rows[0], *rows[61:]]) + "\n")
    _write("Code/iris_score.py", IRIS)
    import pickle

    Path("iris_model.pkl").write_bytes(pickle.dumps({"petal.length": 3.5}))
    datastore = ws.get_default_datastore()
    datastore.upload("iris", "iris", overwrite=True, show_progress=False)
    Model.register(
        model_path="iris_model.pkl", model_name="iris-prs", tags={"pretrained": "iris"}, workspace=ws
    )

    input_iris_ds = Dataset.Tabular.from_delimited_files(path=datastore.path("iris/"), validate=False)
    named_iris_ds = input_iris_ds.as_named_input("iris_data")
    output_folder = PipelineData(name="inferences", datastore=datastore)
    parallel_run_config = ParallelRunConfig(
        source_directory="Code",
        entry_script="iris_score.py",
        mini_batch_size="1KB",
        error_threshold=5,
        output_action="append_row",
        append_row_file_name="iris_outputs.txt",
        environment=None,
        node_count=1,
        process_count_per_node=2,
        run_invocation_timeout=600,
    )
    distributed_csv_iris_step = ParallelRunStep(
        name="example-iris",
        inputs=[named_iris_ds],
        output=output_folder,
        parallel_run_config=parallel_run_config,
        arguments=["--model_name", "iris-prs"],
        allow_reuse=False,
    )
    pipeline_run = Experiment(ws, "iris-prs").submit(
        Pipeline(workspace=ws, steps=[distributed_csv_iris_step])
    )
    assert pipeline_run.wait_for_completion(show_output=False) == "Finished"

    prediction_run = pipeline_run.find_step_run(distributed_csv_iris_step.name)[0]
    prediction_output = prediction_run.get_output_data(output_folder.name)
    target_dir = tempfile.mkdtemp(dir=".")
    prediction_output.download(local_path=target_dir)
    result_file = os.path.join(target_dir, prediction_output.path_on_datastore, "iris_outputs.txt")
    df = pd.read_csv(result_file, delimiter=" ", header=None)
    df.columns = ["sepal.length", "sepal.width", "petal.length", "petal.width", "variety"]
    assert df.shape[0] == 120
    assert set(df[df["petal.length"] > 3.5]["variety"]) == {"virginica"}
    assert set(df[df["petal.length"] <= 3.5]["variety"]) == {"setosa"}
    logs = jobs_logs(ws, prediction_run.id)
    assert "init() is called." in logs  # EntryScript().logger reached v1's logs/user/entry_script_log


def jobs_logs(ws: Workspace, run_id: str) -> str:
    from modelport.jobs import run_dir

    return "\n".join(p.read_text() for p in (run_dir(ws, run_id) / "logs" / "user").rglob("*.txt"))


def test_file_dataset_partitioned_per_folder(ws: Workspace) -> None:
    for name, size in (("disco", 100), ("orchestra", 220), ("piano", 330), ("spirituality", 440)):
        _write(f"test_files/{name}/{name}.wav", "x" * size)
    _write("Code/total_file_size.py", TOTAL_FILE_SIZE)
    datastore = ws.get_default_datastore()
    datastore.upload(
        "test_files/disco", "dataset_partition_test/user1/winter", overwrite=True, show_progress=False
    )
    datastore.upload(
        "test_files/orchestra", "dataset_partition_test/user1/fall", overwrite=True, show_progress=False
    )
    datastore.upload(
        "test_files/piano", "dataset_partition_test/user2/summer", overwrite=True, show_progress=False
    )
    datastore.upload(
        "test_files/spirituality", "dataset_partition_test/user3/fall", overwrite=True, show_progress=False
    )
    datastore.upload(
        "test_files/piano", "dataset_partition_test/user4/spring", overwrite=True, show_progress=False
    )
    datastore.upload(
        "test_files/piano", "dataset_partition_test/user4/fall", overwrite=True, show_progress=False
    )

    partitioned_file_dataset = Dataset.File.from_files(
        path=(datastore, "dataset_partition_test/*/*/*.wav"),
        partition_format="dataset_partition_test/{user}/{season}/{genres}.wav",
        validate=False,
    )
    assert partitioned_file_dataset.partition_keys == ["user", "season", "genres"]
    output_dir = PipelineData(name="file_dataset_inferences", datastore=datastore)
    parallel_run_config = ParallelRunConfig(
        source_directory="Code",
        entry_script="total_file_size.py",
        partition_keys=["user", "genres"],
        error_threshold=5,
        output_action="append_row",
        append_row_file_name="file_size_outputs.txt",
        environment=None,
        node_count=1,
        process_count_per_node=2,
        run_invocation_timeout=600,
    )
    parallel_run_step = ParallelRunStep(
        name="summarize-file-size",
        inputs=[partitioned_file_dataset.as_named_input("partitioned_file_input")],
        output=output_dir,
        parallel_run_config=parallel_run_config,
        allow_reuse=False,
    )
    pipeline_run = Experiment(ws, "file-dataset-partition").submit(
        Pipeline(workspace=ws, steps=[parallel_run_step])
    )
    assert pipeline_run.wait_for_completion(show_output=False) == "Finished"

    batch_run = pipeline_run.find_step_run(parallel_run_step.name)[0]
    batch_output = batch_run.get_output_data(output_dir.name)
    target_dir = tempfile.mkdtemp(dir=".")
    batch_output.download(local_path=target_dir)
    result_file = os.path.join(
        target_dir, batch_output.path_on_datastore, parallel_run_config.append_row_file_name
    )
    df = pd.read_csv(result_file, delimiter=",", header=None)
    df.columns = ["File Name", "File Size", "Ratio of Size in Partition", "user", "genres", "Total"]
    assert df.shape[0] == 6
    # One mini-batch per (user, genres): user4's two piano files share one; the others are alone.
    totals = {(r.user, r.genres): r.Total for r in df.itertuples()}
    assert totals == {
        ("user1", "disco"): 100,
        ("user1", "orchestra"): 220,
        ("user2", "piano"): 330,
        ("user3", "spirituality"): 440,
        ("user4", "piano"): 660,
    }
    assert batch.snapshot(ws, batch_run.id).mini_batches == 5


def test_tabular_dataset_partitioned_by_column(ws: Workspace) -> None:
    lines = ["WeekStarting,Store,Brand,Quantity,Advert,Price,INCOME"]
    for i in range(24):
        lines.append(
            f"1990-06-{(i % 28) + 1:02d},{1000 + i % 3},{('tropicana', 'dominicks')[i % 2]},"
            f"{i * 10},1,2.5,{i}"
        )
    oj_sales_path = "./oj.csv"
    _write(oj_sales_path, "\n".join(lines) + "\n")
    _write("Code/total_income.py", TOTAL_INCOME)
    datastore = ws.get_default_datastore()
    datastore.upload_files([oj_sales_path], ".", "oj_sales_data", overwrite=True, show_progress=False)
    dataset = Dataset.Tabular.from_delimited_files(path=(datastore, "oj_sales_data/*.csv"))
    partitioned_dataset = dataset.partition_by(
        partition_keys=["Store", "Brand"],
        target=(datastore, "partition_by_key_res"),
        name="partitioned_oj_data",
    )
    assert partitioned_dataset.partition_keys == ["Store", "Brand"]
    assert Dataset.get_by_name(ws, "partitioned_oj_data").partition_keys == ["Store", "Brand"]

    output_dir = PipelineData(name="inferences", datastore=datastore)
    parallel_run_config = ParallelRunConfig(
        source_directory="Code",
        entry_script="total_income.py",
        partition_keys=["Store", "Brand"],
        error_threshold=5,
        output_action="append_row",
        append_row_file_name="revenue_outputs.txt",
        environment=None,
        node_count=1,
        process_count_per_node=2,
        run_invocation_timeout=600,
    )
    parallel_run_step = ParallelRunStep(
        name="summarize-revenue",
        inputs=[partitioned_dataset.as_named_input("partitioned_tabular_input")],
        output=output_dir,
        parallel_run_config=parallel_run_config,
        allow_reuse=False,
    )
    pipeline_run = Experiment(ws, "tabular-dataset-partition").submit(
        Pipeline(workspace=ws, steps=[parallel_run_step])
    )
    assert pipeline_run.wait_for_completion(show_output=False) == "Finished"
    batch_run = pipeline_run.find_step_run(parallel_run_step.name)[0]
    out = batch_run.get_output_data(output_dir.name)
    df = pd.read_csv(out.local_path / "revenue_outputs.txt", delimiter=" ", header=None)
    df.columns = ["WeekStarting", "Quantity", "Advert", "Price", "INCOME", "Store", "Brand", "total_income"]
    assert df.shape[0] == 24
    source = pd.read_csv(oj_sales_path)
    expected = source.groupby(["Store", "Brand"])["INCOME"].sum().to_dict()
    for row in df.itertuples():
        assert row.total_income == expected[(row.Store, row.Brand)]  # partition columns came back, last
    assert batch.snapshot(ws, batch_run.id).mini_batches == len(expected)


GATED = """
import os, pathlib, time

def init():
    pass

def run(mini_batch):
    names = [os.path.basename(p) for p in mini_batch]
    if "f19.txt" in names:  # the last mini-batch waits for the gate: the run is killed meanwhile
        deadline = time.monotonic() + 120
        while not pathlib.Path(os.environ["GATE"]).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    with open(os.environ["CALLS"], "a") as f:
        f.write(" ".join(names) + "\\n")
    return names
"""


def test_a_killed_parallel_run_step_resumes_when_the_pipeline_is_resubmitted(
    ws: Workspace, tmp_path: Path
) -> None:
    for i in range(20):
        _write(f"files/f{i:02d}.txt", str(i))
    _write("Code/gated.py", GATED)
    gate, calls = tmp_path / "gate", tmp_path / "calls.txt"
    files = Dataset.File.from_files("files")
    output = PipelineData("scored")
    config = ParallelRunConfig(
        source_directory="Code",
        entry_script="gated.py",
        mini_batch_size=5,
        error_threshold=-1,
        output_action="append_row",
        environment=None,
        node_count=1,
        process_count_per_node=1,
        environment_variables={"GATE": str(gate), "CALLS": str(calls)},
    )
    step = ParallelRunStep(
        name="score-files", parallel_run_config=config, inputs=[files.as_named_input("f")], output=output
    )
    pipeline = Pipeline(ws, [step])
    experiment = Experiment(ws, "resume")
    first = experiment.submit(pipeline)

    deadline = time.monotonic() + 120
    while True:
        steps = first.find_step_run("score-files")
        if steps and batch.snapshot(ws, steps[0].id).finished_batches >= 3:
            break
        assert time.monotonic() < deadline, "three mini-batches never finished"
        time.sleep(0.1)
    # Kill the whole run: the pipeline's supervisor, the step's supervisor and its worker.
    supervisor = psutil.Process(int(registry.get_run(ws, first.id).details["supervisor"]["pid"]))
    doomed = [supervisor, *supervisor.children(recursive=True)]
    for proc in doomed:
        proc.send_signal(signal.SIGKILL)
    psutil.wait_procs(doomed, timeout=30)
    assert first.get_status() == "Failed"  # found dead

    gate.touch()
    second = experiment.submit(pipeline)
    assert second.wait_for_completion(show_output=False) == "Finished"
    step_run = second.find_step_run("score-files")[0]
    assert registry.get_run(ws, step_run.id).details["reuseFrom"] == steps[0].id
    scored = Counter(calls.read_text().split())
    assert sorted(scored) == [f"f{i:02d}.txt" for i in range(20)]
    assert set(scored.values()) == {1}  # the three finished mini-batches were not scored again
    lines = (step_run.get_output_data("scored").local_path / "parallel_run_step.txt").read_text().split()
    assert sorted(lines) == sorted(scored) and len(lines) == 20  # every item exactly once


SPLIT = """
import os, sys
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for part in range(3):
    with open(os.path.join(out, f"part{part}.csv"), "w") as f:
        f.write("x,y\\n" + "".join(f"{part * 10 + i},{i}\\n" for i in range(10)))
"""
ADD = """
def run(mini_batch):
    mini_batch["z"] = mini_batch["x"] + mini_batch["y"]
    return mini_batch
"""


def test_a_command_steps_output_read_as_rows_by_a_parallel_run_step(ws: Workspace) -> None:
    from modelport.data import OutputFileDatasetConfig
    from modelport.pipeline.steps import CommandStep

    _write("prep/split.py", SPLIT)
    _write("Code/add.py", ADD)
    parts = OutputFileDatasetConfig(name="parts")
    split = CommandStep(name="split", command=["python", "split.py", parts], source_directory="prep")
    config = ParallelRunConfig(
        source_directory="Code", entry_script="add.py", mini_batch_size="100", error_threshold=0,
        output_action="append_row", environment=None, process_count_per_node=1,
    )  # fmt: skip
    add = ParallelRunStep(
        name="add-columns", parallel_run_config=config,
        inputs=[parts.read_delimited_files().as_input("rows")], output=PipelineData("sums"),
    )  # fmt: skip
    run = Experiment(ws, "command-then-rows").submit(Pipeline(ws, [add]))
    assert run.wait_for_completion(show_output=False) == "Finished"
    assert [s.name for s in run.get_steps()] == ["split", "add-columns"]
    assert any(s is split for s in Pipeline(ws, [add]).steps)
    rows = run.find_step_run("add-columns")[0].get_output_data("sums").local_path / "parallel_run_step.txt"
    table = pd.read_csv(rows, delimiter=" ", header=None, names=["x", "y", "z"])
    assert len(table) == 30 and (table["z"] == table["x"] + table["y"]).all()
    assert sorted(table["x"]) == list(range(30))
