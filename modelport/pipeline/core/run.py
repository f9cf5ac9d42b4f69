"""v1's ``azureml.pipeline.core.run``: ``PipelineRun``, ``StepRun`` and their outputs.

Example (v1's batch-inference notebook, ``azureml`` renamed)::

    pipeline_run.wait_for_completion(show_output=True)
    batch_run = pipeline_run.find_step_run(parallelrun_step.name)[0]
    batch_output = batch_run.get_output_data(output_dir.name)
    batch_output.download(local_path=target_dir)
    result_file = os.path.join(target_dir, batch_output.path_on_datastore, "parallel_run_step.txt")
"""

from __future__ import annotations

import builtins
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from modelport import jobs
from modelport.core.datastore import Datastore
from modelport.core.run import Run
from modelport.errors import InvalidInputError, NotFoundError, NotSupported, RunFailed
from modelport.jobs import pipeline as runner
from modelport.pipeline.core._submit import GRAPH_FILE
from modelport.pipeline.core._v1_extras import PipelineRunV1, PortDataReferenceV1
from modelport.pipeline.core.published_pipeline import PublishedPipeline
from modelport.registry import datastores as stores
from modelport.registry import runs as registry

__all__ = ["PipelineRun", "PortDataReference", "StepRun", "StepRunOutput"]

_RUNNING = ("NotStarted", "Running")


class PortDataReference(PortDataReferenceV1):
    """Where a step's output is: ``datastore`` and ``path_on_datastore`` (a folder)."""

    def __init__(
        self, datastore: Datastore, path_on_datastore: str, name: str, pipeline_run_id: str | None = None
    ) -> None:
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore
        self.data_reference_name = name
        self.pipeline_run_id = pipeline_run_id

    @property
    def datastore_name(self) -> str:
        return self.datastore.name

    @property
    def local_path(self) -> Path:
        """The output's folder on this machine (no copy)."""
        return stores.resolve(self.datastore.workspace, self.datastore.name, self.path_on_datastore)

    def download(
        self, local_path: str, overwrite: bool | None = None, show_progress: bool | None = None
    ) -> str:
        """Copy the output to ``<local_path>/<path_on_datastore>/`` (v1's layout); return that folder."""
        source = self.local_path
        if not source.exists():
            raise NotFoundError(f"output '{self.data_reference_name}' is not there any more ({source})")
        target = Path(local_path) / self.path_on_datastore
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
        else:
            shutil.copytree(source, target, dirs_exist_ok=True)
        if show_progress:
            print(f"Downloaded {self.path_on_datastore} to {target}", flush=True)
        return str(target)

    def __repr__(self) -> str:
        where = self.path_on_datastore
        return f"PortDataReference(datastore={self.datastore.name!r}, path_on_datastore={where!r})"


class StepRunOutput:
    """One output of a step run (v1's ``StepRunOutput``): ``name``, ``step_run``,
    ``pipeline_run_id``, ``get_port_data_reference()`` (where the data is); ``context`` (v1's
    graph context: the workspace the run and its data belong to) and ``step_output`` (v1's
    output port: the output as the step run recorded it, ``{"name", "datastore", "path"}``)."""

    def __init__(
        self,
        name: str,
        reference: PortDataReference,
        step_run: StepRun | None = None,
        step_output: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self._reference = reference
        self.step_run = step_run
        self.pipeline_run_id = None if step_run is None else step_run.pipeline_run_id
        self.context = reference.datastore.workspace
        self.step_output = {
            "name": name,
            "datastore": reference.datastore_name,
            "path": reference.path_on_datastore,
            **(step_output or {}),
        }

    def get_port_data_reference(self) -> PortDataReference:
        return self._reference


class StepRun(Run):
    """The run of one step of a pipeline run."""

    @property
    def type(self) -> str:
        return "azureml.StepRun"

    @property
    def pipeline_run_id(self) -> str | None:
        return self._record.parent_id

    def get_status(self) -> str:
        """v1's step states: ``NotStarted``, ``Running``, ``Finished``, ``Failed``, ``Canceled``."""
        return runner.v1_status(self.status)

    def get_job_log(self) -> str:
        """The step's log: the script's output (or the batch run's log)."""
        return _read(jobs.log_file(self._ws, self.id)) or _batch_log(self._ws, self.id)

    def get_stdout_log(self) -> str:
        return self.get_job_log()

    def get_stderr_log(self) -> str:
        return self.get_job_log()

    def get_outputs(self) -> dict[str, StepRunOutput]:
        """Every output of the step, by name."""
        outputs = self._refresh().details.get("outputs") or {}
        return {
            name: StepRunOutput(name, self._reference(name, o), self, dict(o)) for name, o in outputs.items()
        }

    def get_output(self, name: str) -> StepRunOutput:
        outputs = self.get_outputs()
        if name not in outputs:
            raise NotFoundError(
                f"step run '{self.name}' has no output '{name}'; its outputs: {', '.join(outputs) or 'none'}"
            )
        return outputs[name]

    def get_output_data(self, name: str) -> PortDataReference:
        """Where the step's output ``name`` is (``.download(local_path)``, ``.path_on_datastore``)."""
        return self.get_output(name).get_port_data_reference()

    def _reference(self, name: str, o: dict[str, str]) -> PortDataReference:
        return PortDataReference(Datastore(self._ws, o["datastore"]), o["path"], name, self.pipeline_run_id)

    def wait_for_completion(  # type: ignore[override]
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        """Wait for the step to end, printing its log as it is written; return its status."""
        start = time.monotonic()
        if show_output:
            print(f"StepRunId: {self.id}", flush=True)
        offset = 0
        shown = None
        log = jobs.log_file(self._ws, self.id)
        while True:
            status = self.get_status()
            if show_output:
                if status != shown:
                    print(f"StepRun( {self.name} ) Status: {status}", flush=True)
                    shown = status
                offset = _stream(log, offset)
            if status not in _RUNNING:
                break
            if time.monotonic() - start > timeout_seconds:
                print(f"Timed out of waiting. Elapsed time: {time.monotonic() - start:.0f} s", flush=True)
                return status
            time.sleep(0.2)
        if show_output:
            title = f"StepRun({self.name}) Execution Summary"
            print(f"\n{title}\n{'=' * len(title)}\nStepRun( {self.name} ) Status: {status}\n", flush=True)
        if status == "Failed" and raise_on_error:
            raise RunFailed(self.id, f"step '{self.name}' failed: {self._record.error}; its log: {log}")
        return status

    def complete(self, _set_status: bool = True) -> None:
        raise NotSupported("a step run ends when its step ends; it cannot be completed by hand")

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        raise NotSupported("a step run ends when its step ends; cancel its pipeline run instead")


class PipelineRun(Run, PipelineRunV1, kinds=("pipeline",)):
    """A run of a pipeline: ``PipelineRun(experiment, run_id)`` opens one.

    Example::

        >>> run = Experiment(ws, "exp").submit(pipeline, pipeline_parameters={"pipeline_arg": 45})
        >>> run.wait_for_completion(show_output=True)
        'Finished'
        >>> [s.name for s in run.get_steps()]
    """

    def __init__(self, experiment: Any, run_id: str, _service_endpoint: Any = None, **_v1: Any) -> None:
        super().__init__(experiment, run_id)
        if self._record.kind != "pipeline":
            raise InvalidInputError(f"run '{run_id}' is a {self._record.kind} run, not a pipeline run")

    @property
    def type(self) -> str:
        return "azureml.PipelineRun"

    @property
    def workspace(self) -> Any:
        return self.experiment.workspace

    def get_status(self) -> str:
        """v1's pipeline states: ``NotStarted``, ``Running``, ``Finished``, ``Failed``, ``Canceled``."""
        return runner.v1_status(self.status)

    def get_children(
        self, recursive: bool = False, tags: Any = None, properties: Any = None, **_v1: Any
    ) -> Any:
        """The step runs, in the order they started (a generator, as v1's)."""
        for child in super().get_children():
            yield StepRun._wrap(child.experiment, child._record)

    def get_steps(self) -> builtins.list[StepRun]:
        return builtins.list(self.get_children())

    def find_step_run(self, name: str) -> builtins.list[StepRun]:
        """The step runs of the step named ``name``."""
        return [s for s in self.get_children() if s.name == name]

    def get_job_log(self) -> str:
        """The pipeline run's log: when each step started, was reused, ended, and why."""
        return _read(jobs.log_file(self._ws, self.id))

    def get_graph(self) -> dict[str, Any]:
        """The pipeline this run ran, as JSON."""
        path = jobs.run_dir(self._ws, self.id) / GRAPH_FILE
        if not path.is_file():
            raise NotFoundError(f"pipeline run '{self.id}' kept no graph")
        graph: dict[str, Any] = json.loads(path.read_text())
        return graph

    def publish_pipeline(
        self,
        name: str,
        description: str | None,
        version: str | None,
        continue_on_step_failure: bool | None = None,
        **_v1: Any,
    ) -> Any:
        """Publish the pipeline this run ran (see ``Pipeline.publish``)."""
        return PublishedPipeline._create(
            self._ws,
            self.get_graph(),
            name=name,
            description=description,
            version=version,
            continue_on_step_failure=bool(continue_on_step_failure),
        )

    def cancel(self) -> None:
        """Cancel the run: the steps running are stopped and the others not started."""
        runner.cancel(self._ws, self._refresh())
        self._refresh()

    def complete(self, _set_status: bool = True) -> None:
        raise NotSupported("a pipeline run ends when its steps end; it cannot be completed by hand")

    def fail(
        self, error_details: Any = None, error_code: str | None = None, _set_status: bool = True
    ) -> None:
        raise NotSupported("a pipeline run ends when its steps end; cancel it with run.cancel()")

    def wait_for_completion(  # type: ignore[override]
        self, show_output: bool = True, timeout_seconds: float = sys.maxsize, raise_on_error: bool = True
    ) -> str:
        """Wait for the run to end; with ``show_output``, print each step's log as it runs (one
        step after another, as v1 did). Returns v1's final status (``'Finished'``); a failed run
        raises :class:`~modelport.errors.RunFailed` naming the step that failed."""
        start = time.monotonic()
        print(f"PipelineRunId: {self.id}", flush=True)
        status = self.get_status()
        shown: set[str] = set()
        last = None
        while status in _RUNNING:
            if show_output:
                if status != last:
                    print(f"PipelineRun Status: {status}", flush=True)
                    last = status
                for step in self.get_children():
                    if step.id in shown:
                        continue
                    shown.add(step.id)
                    print("\n", flush=True)
                    left = timeout_seconds - (time.monotonic() - start)
                    step.wait_for_completion(
                        show_output=True, timeout_seconds=max(left, 0), raise_on_error=False
                    )
            if time.monotonic() - start > timeout_seconds:
                print(f"Timed out of waiting. Elapsed time: {time.monotonic() - start:.0f} s", flush=True)
                return self.get_status()
            time.sleep(0.2)
            status = self.get_status()
        rec = self._refresh()
        if show_output:
            for step in self.get_children():  # steps that ended between two looks
                if step.id not in shown:
                    print("\n", flush=True)
                    step.wait_for_completion(show_output=True, raise_on_error=False)
            print(f"\nPipelineRun Execution Summary\n{'=' * 29}\nPipelineRun Status: {status}", flush=True)
            if rec.error:
                print(f"\nError:\n{rec.error}", flush=True)
            print("", flush=True)
        if status == "Failed" and raise_on_error:
            raise RunFailed(
                rec.id,
                f"pipeline run '{rec.id}' failed: {rec.error}; its log: {jobs.log_file(self._ws, rec.id)}",
            )
        return status

    @staticmethod
    def get(workspace: Any, run_id: str, _service_endpoint: Any = None) -> PipelineRun:
        from modelport.core.experiment import Experiment

        record = registry.get_run(workspace, run_id)
        return PipelineRun(Experiment(workspace, record.experiment), run_id)

    @staticmethod
    def get_pipeline_runs(
        workspace: Any, pipeline_id: str, _service_endpoint: Any = None
    ) -> builtins.list[PipelineRun]:
        """The runs started from the published pipeline ``pipeline_id``, newest first."""
        from modelport.core.experiment import Experiment

        rows = workspace.db.query(
            "SELECT id, experiment FROM runs WHERE kind = 'pipeline' "
            "AND json_extract(details, '$.publishedPipelineId') = ? ORDER BY created_time DESC",
            (pipeline_id,),
        )
        return [PipelineRun(Experiment(workspace, r["experiment"]), r["id"]) for r in rows]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _batch_log(ws: Any, run_id: str) -> str:
    """A batch step's log: its job result and progress overview (v1's logs/ layout)."""
    logs = jobs.run_dir(ws, run_id) / "logs"
    parts = [_read(p) for p in sorted(logs.glob("job_progress_overview*.txt"))]
    parts.append(_read(logs / "job_result.txt"))
    return "\n".join(p for p in parts if p)


def _stream(log: Path, offset: int) -> int:
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            chunk = f.read()
    except OSError:
        return offset
    if chunk:
        sys.stdout.write(chunk.decode("utf-8", "replace"))
        sys.stdout.flush()
    return offset + len(chunk)
