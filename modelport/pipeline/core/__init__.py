"""v1's ``azureml.pipeline.core``: build pipelines, run and publish them, on this machine.

Example (v1's notebooks, ``azureml`` renamed)::

    from modelport.pipeline.core import Pipeline, PipelineData, PipelineParameter, PublishedPipeline
    pipeline = Pipeline(workspace=ws, steps=[compare_step])
    run = Experiment(ws, "exp").submit(pipeline, pipeline_parameters={"pipeline_arg": 45})
    run.wait_for_completion(show_output=True)

Names of v1's pipeline API that need Azure (``Schedule``, ``PipelineEndpoint``, ``Module``, ...)
import, and using them raises :class:`~modelport.errors.NotSupported` naming the local way.
"""

from __future__ import annotations

from modelport.pipeline.core._refused import (
    InputPortBinding,
    Module,
    ModuleVersion,
    ModuleVersionDescriptor,
    OutputPortBinding,
    PipelineDraft,
    PipelineEndpoint,
    Schedule,
    ScheduleRecurrence,
    TimeZone,
    TrainingOutput,
)
from modelport.pipeline.core._v1_extras import PipelineDataset
from modelport.pipeline.core.builder import PipelineData, PipelineStep, StepSequence
from modelport.pipeline.core.graph import PipelineParameter
from modelport.pipeline.core.pipeline import Pipeline
from modelport.pipeline.core.published_pipeline import PublishedPipeline
from modelport.pipeline.core.run import PipelineRun, PortDataReference, StepRun, StepRunOutput

__all__ = [
    "InputPortBinding",
    "Module",
    "ModuleVersion",
    "ModuleVersionDescriptor",
    "OutputPortBinding",
    "Pipeline",
    "PipelineData",
    "PipelineDataset",
    "PipelineDraft",
    "PipelineEndpoint",
    "PipelineParameter",
    "PipelineRun",
    "PipelineStep",
    "PortDataReference",
    "PublishedPipeline",
    "Schedule",
    "ScheduleRecurrence",
    "StepRun",
    "StepRunOutput",
    "StepSequence",
    "TimeZone",
    "TrainingOutput",
]
