"""v1 pipeline members beyond what the builder and run modules implement: a step's
``run_after_steps``, ``step_type`` and ``get_source_directory``; a published pipeline's
``workspace``, ``list`` and where to look at it; a step output's references for a later run. v1's
graph-building hooks for custom step classes, and its YAML files, refuse naming the local way."""

from __future__ import annotations

import builtins
from typing import Any

from modelport._refused import refused, refused_method

__all__ = ["PipelineDataset", "PipelineRunV1", "PipelineStepV1", "PortDataReferenceV1", "PublishedPipelineV1"]

_GRAPH = (
    "v1's graph-building hooks of custom step classes are not used: modelport builds the pipeline's graph "
    "itself; use PythonScriptStep, CommandStep or ParallelRunStep"
)


class PipelineStepV1:
    """v1's ``PipelineStep`` members beyond the builder's."""

    _after: builtins.list[Any]

    @property
    def run_after_steps(self) -> builtins.list[Any]:
        """The steps this one runs after (``step.run_after(other)``)."""
        return list(self._after)

    @property
    def step_type(self) -> str:
        return type(self).__name__

    def get_source_directory(self, *_v1: Any, **_kw: Any) -> str | None:
        """The step's source folder (None for a step without one)."""
        folder = getattr(self, "source_directory", None)
        return None if folder is None else str(folder)

    create_input_output_bindings = refused_method("PipelineStep.create_input_output_bindings", _GRAPH)
    create_module_def = refused_method("PipelineStep.create_module_def", _GRAPH)
    create_node = refused_method("PipelineStep.create_node", _GRAPH)
    resolve_input_arguments = refused_method("PipelineStep.resolve_input_arguments", _GRAPH)
    validate_arguments = refused_method("PipelineStep.validate_arguments", _GRAPH)


class PortDataReferenceV1:
    """v1's ``PortDataReference`` members: the output given to another run's step."""

    datastore: Any
    path_on_datastore: str
    data_reference_name: str

    @property
    def name(self) -> str:
        return self.data_reference_name

    def _reference(self, mode: str) -> Any:
        from modelport.core.datastore import DataReference

        return DataReference(self.datastore, self.data_reference_name, self.path_on_datastore, mode=mode)

    def as_mount(self) -> Any:
        """A reference to the output's folder for a step of another pipeline run."""
        return self._reference("mount")

    def as_download(self) -> Any:
        return self._reference("download")

    def as_input(self) -> Any:
        return self._reference("mount")

    create_input_binding = refused_method("PortDataReference.create_input_binding", _GRAPH)


class PublishedPipelineV1:
    """v1's ``PublishedPipeline`` members beyond ``published_pipeline.py``'s."""

    _workspace: Any

    @property
    def workspace(self) -> Any:
        return self._workspace

    @classmethod
    def list(
        cls, workspace: Any, active_only: bool = True, _service_endpoint: Any = None
    ) -> builtins.list[Any]:
        """v1's other name of :meth:`get_all`."""
        found: builtins.list[Any] = cls.get_all(workspace, active_only=active_only)  # type: ignore[attr-defined]
        return found

    def get_portal_url(self) -> str:
        endpoint: str = self.endpoint  # type: ignore[attr-defined]
        return f"{endpoint} (POST to run it; 'modelport job list' shows its runs)"

    @property
    def portal_url(self) -> str:
        return self.get_portal_url()

    save = refused_method(
        "PublishedPipeline.save",
        "pipelines are not saved as YAML here; it stays published in the workspace, get it with "
        "PublishedPipeline.get(ws, id)",
    )
    get_graph = refused_method(
        "PublishedPipeline.get_graph", "the graph is modelport's own; list the steps with get_step_names()"
    )


class PipelineRunV1:
    """v1's ``PipelineRun`` members beyond ``run.py``'s."""

    get_pipeline_output = refused_method(
        "PipelineRun.get_pipeline_output",
        "pipeline-level output names are not kept; get a step's output with "
        "pipeline_run.find_step_run(step_name)[0].get_output_data(output_name)",
    )
    save = refused_method(
        "PipelineRun.save", "pipelines are not saved as YAML here; keep the pipeline's definition in code"
    )


PipelineDataset = refused(
    "PipelineDataset",
    "give a dataset to a step as dataset.as_named_input(name) (or .as_mount()) in its inputs or arguments",
    "modelport.pipeline.core",
)
