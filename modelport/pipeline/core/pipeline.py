"""v1's ``azureml.pipeline.core.Pipeline``: steps that run in dependency order on this machine.

Example (v1's getting-started notebook, ``azureml`` renamed)::

    step1 = PythonScriptStep(name="train_step", script_name="train.py", source_directory="train")
    step2 = PythonScriptStep(name="compare_step", script_name="compare.py", source_directory="compare")
    step2.run_after(step1)
    pipeline = Pipeline(workspace=ws, steps=[step2])       # step1 comes in as step2 waits for it
    pipeline.validate()
    run = Experiment(ws, "Hello_World").submit(pipeline, regenerate_outputs=False)
    run.wait_for_completion(show_output=True)
"""

from __future__ import annotations

import os
from typing import Any

from modelport.core.datastore import Datastore
from modelport.core.experiment import Experiment
from modelport.errors import InvalidInputError, NotSupported
from modelport.jobs import pipeline as runner
from modelport.pipeline.core._plan import GraphBuilder, collect, resolve
from modelport.pipeline.core._submit import submit_graph
from modelport.pipeline.core.builder import PipelineStep, StepSequence
from modelport.pipeline.core.published_pipeline import PublishedPipeline
from modelport.workspace import Workspace

__all__ = ["Pipeline"]


class Pipeline:
    """A set of steps to run together (v1's ``Pipeline``).

    ``steps`` may be a list of steps, one step or a ``StepSequence``. With ``resolve_closure``
    (the default) the steps they wait for (the writers of their inputs, their ``run_after``)
    are part of the pipeline too. Everything about the steps' wiring is checked here and in
    :meth:`validate`, before any process starts.
    """

    def __init__(
        self,
        workspace: Workspace,
        steps: Any,
        description: str | None = None,
        default_datastore: Datastore | None = None,
        default_source_directory: str | None = None,
        resolve_closure: bool = True,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        **_v1: Any,
    ) -> None:
        if not isinstance(workspace, Workspace):
            raise InvalidInputError(
                f"Pipeline: workspace must be a Workspace, got {type(workspace).__name__}"
            )
        if isinstance(steps, StepSequence):
            given = list(steps.steps)
        elif isinstance(steps, PipelineStep):
            given = [steps]
        elif isinstance(steps, list | tuple):
            given = [s for item in steps for s in (item.steps if isinstance(item, StepSequence) else [item])]
        else:
            raise InvalidInputError(f"Pipeline: steps must be a list of steps, got {type(steps).__name__}")
        if not given:
            raise InvalidInputError("Pipeline: give at least one step")
        for s in given:
            if not isinstance(s, PipelineStep):
                raise InvalidInputError(f"Pipeline: {s!r} is not a pipeline step")
        if default_datastore is not None and not isinstance(default_datastore, Datastore):
            raise InvalidInputError("Pipeline: default_datastore must be a Datastore")
        self._workspace = workspace
        self._given = given
        self.description = description
        self._default_datastore = default_datastore or Datastore.get_default(workspace)
        self._default_source_directory = (
            os.path.abspath(default_source_directory) if default_source_directory is not None else None
        )
        self._resolve_closure = resolve_closure
        self.graph  # noqa: B018 (build it now: a wiring error shows where the pipeline is made)

    @property
    def graph(self) -> dict[str, Any]:
        """The pipeline as JSON: its steps, their inputs and outputs, and its parameters."""
        steps = collect(self._given, self._resolve_closure)
        builder = GraphBuilder(
            self._workspace, steps, self._default_datastore, self._default_source_directory
        )
        built = builder.build()
        graph = {
            "version": 1,
            "description": self.description,
            "parameters": builder.parameters,
            "steps": built,
        }
        runner.check_plan({"version": 1, "steps": [_as_plan_shape(s) for s in built]})
        return graph

    @property
    def steps(self) -> list[PipelineStep]:
        return collect(self._given, self._resolve_closure)

    def validate(self) -> list[str]:
        """Check the pipeline: its wiring (each input has a step that writes it, no cycle, unique
        output names), every step's settings, and the parameters' default values. Raises an
        :class:`~modelport.errors.InvalidInputError` naming the first problem; returns ``[]``
        (v1's empty list of errors) when there is none."""
        resolve(self._workspace, self.graph)
        return []

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        continue_on_step_failure: bool = False,
        regenerate_outputs: bool = False,
        parent_run_id: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """Submit a run of the pipeline to the experiment ``experiment_name``."""
        return Experiment(self._workspace, experiment_name).submit(
            self,
            pipeline_parameters=pipeline_parameters,
            continue_on_step_failure=continue_on_step_failure,
            regenerate_outputs=regenerate_outputs,
            **kwargs,
        )

    def _submit_to_experiment(
        self,
        experiment: Experiment,
        tags: dict[str, Any] | None = None,
        pipeline_parameters: dict[str, Any] | None = None,
        continue_on_step_failure: bool = False,
        regenerate_outputs: bool = False,
        display_name: str | None = None,
        **_v1: Any,
    ) -> Any:
        if experiment.workspace != self._workspace:
            raise InvalidInputError(
                f"the pipeline belongs to workspace '{self._workspace.name}', the experiment to "
                f"'{experiment.workspace.name}'"
            )
        graph = self.graph
        graph["continue_on_step_failure"] = bool(continue_on_step_failure)
        return submit_graph(
            experiment,
            graph,
            pipeline_parameters,
            regenerate_outputs=regenerate_outputs,
            tags=tags,
            display_name=display_name,
        )

    def publish(
        self,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> Any:
        """Publish the pipeline: a :class:`PublishedPipeline` whose ``endpoint`` starts runs of it
        over REST (on 127.0.0.1, with ``InteractiveLoginAuthentication``'s header)."""
        graph = self.graph
        resolve(self._workspace, graph)  # the defaults must make a valid run
        return PublishedPipeline._create(
            self._workspace,
            graph,
            name=name,
            description=description or self.description,
            version=version,
            continue_on_step_failure=bool(continue_on_step_failure),
        )

    def service_endpoint(self) -> str:
        return "local"

    @staticmethod
    def load_yaml(*_args: Any, **_kwargs: Any) -> Pipeline:
        raise NotSupported("Pipeline.load_yaml: build the pipeline in Python with its steps")

    def __repr__(self) -> str:
        return f"Pipeline(workspace={self._workspace.name!r}, steps={[s.name for s in self.steps]!r})"


def _as_plan_shape(step: dict[str, Any]) -> dict[str, Any]:
    """A graph step as the runner's plan checks it (parameters filled with a stand-in)."""
    items = [i if "param" not in i else {"v": ""} for i in step.get("arguments") or []]
    command = [i if "param" not in i else {"v": ""} for i in step.get("command") or []]
    return {**step, "arguments": items, "command": command or None}
