"""Bad input to v1's pipeline API (issue 20, "Bad input"): each fails where the pipeline is built,
validated or submitted, with one line naming what was wrong, before any process starts; v1's
pipeline names that need Azure import and refuse with the local way."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from modelport.core import Dataset, Experiment, Workspace
from modelport.errors import (
    ComputeTargetError,
    InvalidInputError,
    ModelportError,
    NotFoundError,
    NotSupported,
)
from modelport.exceptions import UserErrorException
from modelport.pipeline.core import Pipeline, PipelineData, PipelineParameter
from modelport.pipeline.steps import ParallelRunConfig, ParallelRunStep, PythonScriptStep
from modelport.registry import runs as registry

SCORE = "def init():\n    pass\n\ndef run(mini_batch):\n    return mini_batch\n"


@pytest.fixture
def ws(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    Path("code").mkdir()
    Path("code/score.py").write_text(SCORE)
    Path("code/norun.py").write_text("def init():\n    pass\n\ndef predict(batch):\n    return batch\n")
    Path("code/broken.py").write_text("def run(mini_batch)\n    return mini_batch\n")
    Path("code/train.py").write_text("print('hi')\n")
    Path("files").mkdir()
    Path("files/a.txt").write_text("1")
    Path("table.csv").write_text("a,b\n1,2\n")
    return Workspace.create(name="badinput", exist_ok=True)


def _config(**overrides: Any) -> ParallelRunConfig:
    values: dict[str, Any] = {
        "source_directory": "code",
        "entry_script": "score.py",
        "error_threshold": 10,
        "output_action": "append_row",
        "environment": None,
        "node_count": 1,
    }
    values.update(overrides)
    return ParallelRunConfig(**values)


def _fails(make: Callable[[], Any], kind: type[Exception], *words: str) -> str:
    with pytest.raises(kind) as info:
        make()
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    return message


def _no_run_started(ws: Workspace) -> None:
    assert ws.db.query("SELECT COUNT(*) AS n FROM runs")[0]["n"] == 0


def test_parallel_run_config_refuses_each_bad_value(ws: Workspace) -> None:
    _fails(lambda: _config(mini_batch_size="ten"), InvalidInputError, "mini_batch_size", "'ten'")
    _fails(
        lambda: _config(mini_batch_size=PipelineParameter("bs", default_value="ten")),
        InvalidInputError,
        "mini_batch_size",
    )
    _fails(lambda: _config(entry_script="missing.py"), NotFoundError, "missing.py")
    _fails(lambda: _config(entry_script="norun.py"), InvalidInputError, "norun.py", "run()")
    _fails(lambda: _config(entry_script="broken.py"), InvalidInputError, "broken.py", "line 1")
    _fails(lambda: _config(source_directory="nowhere"), NotFoundError, "nowhere")
    _fails(lambda: _config(error_threshold=-2), InvalidInputError, "error_threshold")
    _fails(lambda: _config(output_action="append"), InvalidInputError, "output_action", "'append'")
    _fails(lambda: _config(run_max_try=0), InvalidInputError, "run_max_try")
    _fails(lambda: _config(run_invocation_timeout=-5), InvalidInputError, "run_invocation_timeout")
    _fails(lambda: _config(allowed_failed_count=-3), InvalidInputError, "allowed_failed_count")
    _fails(lambda: _config(allowed_failed_percent=101), InvalidInputError, "allowed_failed_percent")
    _fails(lambda: _config(append_row_file_name="out/rows.txt"), InvalidInputError, "append_row_file_name")
    _fails(lambda: _config(logging_level="LOUD"), InvalidInputError, "logging_level")
    _fails(lambda: _config(process_count_per_node=0), InvalidInputError, "process_count_per_node")
    _fails(lambda: _config(node_count=0), InvalidInputError, "node_count")
    _fails(lambda: _config(partition_keys=["user"], mini_batch_size=5), InvalidInputError, "partition_keys")
    _fails(lambda: _config(environment_variables={"A": 1}), InvalidInputError, "environment_variables")
    _fails(lambda: _config(environment="my-env"), InvalidInputError, "environment")
    _fails(lambda: _config(compute_target=object()), NotSupported, "object", "local")
    _no_run_started(ws)


def test_parallel_run_step_refuses_bad_names_inputs_and_arguments(ws: Workspace) -> None:
    files = Dataset.File.from_files("files").as_named_input("files")
    table = Dataset.Tabular.from_delimited_files("table.csv").as_named_input("table")
    out = PipelineData("scores")
    config = _config()

    def step(**overrides: Any) -> ParallelRunStep:
        values: dict[str, Any] = {
            "name": "score-files",
            "parallel_run_config": config,
            "inputs": [files],
            "output": out,
        }
        values.update(overrides)
        return ParallelRunStep(**values)

    for name in ("Predict_Digits", "ab", "x" * 33, "score-", "1score"):
        _fails(lambda name=name: step(name=name), InvalidInputError, repr(name), "3-32")
    _fails(lambda: step(inputs=[files, table]), InvalidInputError, "one kind")
    _fails(lambda: step(inputs=[]), InvalidInputError, "inputs")
    _fails(lambda: step(inputs=[Dataset.File.from_files("files")]), InvalidInputError, "as_named_input")
    _fails(lambda: step(output=None), InvalidInputError, "append_row", "output")
    _fails(lambda: step(arguments=["model", "x"]), InvalidInputError, "'model'")
    _fails(lambda: step(arguments=["--mini_batch_size", "3"]), InvalidInputError, "--mini_batch_size")
    _fails(
        lambda: step(parallel_run_config=_config(mini_batch_size="1KB")), InvalidInputError, "'1KB'", "files"
    )
    _fails(
        lambda: step(parallel_run_config=_config(partition_keys=["user"])),
        InvalidInputError,
        "'user'",
        "partition",
    )
    _fails(lambda: table.as_mount(), InvalidInputError, "table", "tabular")
    _no_run_started(ws)


def test_python_script_step_and_pipeline_wiring_errors(ws: Workspace) -> None:
    _fails(lambda: PythonScriptStep(script_name="nope.py", source_directory="code"), NotFoundError, "nope.py")
    _fails(
        lambda: PythonScriptStep(script_name="train.py", source_directory="code", compute_target=object()),
        NotSupported,
        "PythonScriptStep 'train.py'",
        "object",
    )
    # A compute target is named; one the workspace does not know is refused at submit, naming the step.
    remote = PythonScriptStep(
        name="remote", script_name="train.py", source_directory="code", compute_target="cpu-cluster"
    )
    _fails(
        lambda: Experiment(ws, "bad").submit(Pipeline(ws, [remote])),
        ComputeTargetError,
        "step 'remote'",
        "'cpu-cluster' does not exist",
    )
    _fails(
        lambda: PythonScriptStep(script_name="train.py", source_directory="code", arguments="--alpha 1"),
        InvalidInputError,
        "arguments",
    )
    _fails(lambda: PipelineData("bad name"), InvalidInputError, "'bad name'")

    orphan = PipelineData("orphan")
    reader = PythonScriptStep(
        script_name="train.py", source_directory="code", arguments=[orphan], inputs=[orphan]
    )
    _fails(lambda: Pipeline(ws, [reader]), InvalidInputError, "'orphan'", "no step")

    a = PythonScriptStep(name="a", script_name="train.py", source_directory="code")
    b = PythonScriptStep(name="b", script_name="train.py", source_directory="code")
    a.run_after(b)
    b.run_after(a)
    _fails(lambda: Pipeline(ws, [a]), InvalidInputError, "cycle", "a", "b")

    first = PythonScriptStep(
        name="one", script_name="train.py", source_directory="code", outputs=[PipelineData("same")]
    )
    second = PythonScriptStep(
        name="two", script_name="train.py", source_directory="code", outputs=[PipelineData("same")]
    )
    _fails(lambda: Pipeline(ws, [first, second]), InvalidInputError, "'same'", "one", "two")

    shared = PipelineData("shared")
    PythonScriptStep(name="w1", script_name="train.py", source_directory="code", outputs=[shared])
    _fails(
        lambda: PythonScriptStep(
            name="w2", script_name="train.py", source_directory="code", outputs=[shared]
        ),
        InvalidInputError,
        "'shared'",
        "w1",
    )
    _fails(lambda: Pipeline(ws, []), InvalidInputError, "step")
    _no_run_started(ws)


def test_parameters_given_at_submit_are_checked_before_a_run_starts(ws: Workspace) -> None:
    files = Dataset.File.from_files("files").as_named_input("files")
    config = _config(mini_batch_size=PipelineParameter("batch_size_param", default_value="5"))
    step = ParallelRunStep(
        name="score-files", parallel_run_config=config, inputs=[files], output=PipelineData("scores")
    )
    pipeline = Pipeline(ws, [step])
    assert pipeline.validate() == []
    experiment = Experiment(ws, "bad-params")
    _fails(
        lambda: experiment.submit(pipeline, pipeline_parameters={"batch_size": "5"}),
        InvalidInputError,
        "'batch_size'",
        "batch_size_param",
    )
    _fails(
        lambda: experiment.submit(pipeline, pipeline_parameters={"batch_size_param": "ten"}),
        InvalidInputError,
        "score-files",
        "'ten'",
    )
    _fails(
        lambda: experiment.submit(pipeline, pipeline_parameters={"batch_size_param": 5.5}),
        InvalidInputError,
        "batch_size_param",
    )
    _no_run_started(ws)


#: Every name of v1's azureml.pipeline.core and azureml.pipeline.steps that needs Azure.
REFUSED = {
    "modelport.pipeline.steps": [
        "AdlaStep", "AutoMLStep", "AutoMLStepRun", "AzureBatchStep", "DataTransferStep", "DatabricksStep",
        "EstimatorStep", "HyperDriveStep", "HyperDriveStepRun", "KustoStep", "ModuleStep", "MpiStep",
        "RScriptStep", "SynapseSparkStep",
    ],
    "modelport.pipeline.core": [
        "Schedule", "ScheduleRecurrence", "TimeZone", "PipelineEndpoint", "PipelineDraft", "Module",
        "ModuleVersion", "ModuleVersionDescriptor", "TrainingOutput", "InputPortBinding", "OutputPortBinding",
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("module", "name"), [(m, n) for m, names in REFUSED.items() for n in names], ids=lambda v: str(v)
)
def test_azure_only_names_import_and_refuse_with_the_local_way(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    with pytest.raises(NotSupported) as info:
        cls(name="x", script_name="run.py", workspace=None)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message
    assert any(
        word in message for word in ("PythonScriptStep", "CommandStep", "publish", "Pipeline", "Datastore")
    )
    assert isinstance(info.value, UserErrorException)  # catchable by v1's name


def test_azure_only_class_methods_refuse_too() -> None:
    from modelport.pipeline.core import PipelineEndpoint, Schedule, ScheduleRecurrence

    for call in (
        lambda: Schedule.create(None, name="nightly", pipeline_id="x", experiment_name="e"),
        lambda: Schedule.list(None),
        lambda: PipelineEndpoint.get(None, name="endpoint"),
        lambda: ScheduleRecurrence(frequency="Day", interval=1),
    ):
        _fails(call, NotSupported, "publish")


NOTEBOOK_IMPORTS = """
from modelport.pipeline.core import Pipeline, PipelineData, PipelineParameter, PublishedPipeline, PipelineRun
from modelport.pipeline.core import StepRun, StepRunOutput, PortDataReference, StepSequence, PipelineStep
from modelport.pipeline.core.graph import PipelineParameter
from modelport.pipeline.steps import PythonScriptStep, ParallelRunStep, ParallelRunConfig, CommandStep
from modelport.data import OutputFileDatasetConfig, TabularDataset, FileDataset
from modelport.data.dataset_consumption_config import DatasetConsumptionConfig
from modelport.data.data_reference import DataReference
from modelport.data.datapath import DataPath, DataPathComputeBinding
from modelport.core.runconfig import CondaDependencies, DEFAULT_CPU_IMAGE, RunConfiguration
from modelport.core.environment import CondaDependencies
from modelport.core.authentication import InteractiveLoginAuthentication
from modelport.widgets import RunDetails
"""


@pytest.mark.parametrize("line", NOTEBOOK_IMPORTS.strip().splitlines())
def test_the_pipeline_notebooks_import_lines_resolve(line: str) -> None:
    exec(line, {})


def test_errors_are_modelport_errors() -> None:
    assert issubclass(NotSupported, ModelportError)
    assert not hasattr(registry, "pipeline")  # the store knows no pipelines: they are runs with children
