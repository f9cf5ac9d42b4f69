"""v1 pipeline names that have no meaning on this machine: they import, and using them raises one
:class:`~modelport.errors.NotSupported` that names the local way to do it.

Constructing one, or calling any of its class methods (``Schedule.create(...)``,
``PipelineEndpoint.get(...)``), raises; nothing is an ``ImportError`` or an ``AttributeError``.
"""

from __future__ import annotations

from modelport._refused import refused

__all__ = [
    "InputPortBinding",
    "Module",
    "ModuleVersion",
    "ModuleVersionDescriptor",
    "OutputPortBinding",
    "PipelineDraft",
    "PipelineEndpoint",
    "Schedule",
    "ScheduleRecurrence",
    "TimeZone",
    "TrainingOutput",
    "refused",
]

_SCHEDULE = (
    "schedules run on Azure's triggers, which a local workspace does not have; publish the pipeline "
    "(pipeline.publish(...)) and POST to its endpoint from cron or a systemd timer, or submit it from "
    "a script your scheduler runs"
)
_MODULES = "modules are Azure's versioned step store; use a PythonScriptStep with a source_directory"

Schedule = refused("Schedule", _SCHEDULE, __name__)
ScheduleRecurrence = refused("ScheduleRecurrence", _SCHEDULE, __name__)
TimeZone = refused("TimeZone", _SCHEDULE, __name__)
PipelineEndpoint = refused(
    "PipelineEndpoint",
    "versioned pipeline endpoints need Azure; publish the pipeline (pipeline.publish(...)) and call "
    "PublishedPipeline.endpoint, one endpoint per published version",
    __name__,
)
PipelineDraft = refused(
    "PipelineDraft", "drafts live in Azure's studio; build a Pipeline and submit or publish it", __name__
)
Module = refused("Module", _MODULES, __name__)
ModuleVersion = refused("ModuleVersion", _MODULES, __name__)
ModuleVersionDescriptor = refused("ModuleVersionDescriptor", _MODULES, __name__)
TrainingOutput = refused(
    "TrainingOutput",
    "it names outputs of AutoML and HyperDrive steps, which need Azure; write the model from a "
    "PythonScriptStep into a PipelineData or OutputFileDatasetConfig",
    __name__,
)
InputPortBinding = refused(
    "InputPortBinding",
    "give a step its input directly: inputs=[a PipelineData] or output.as_input() in arguments",
    __name__,
)
OutputPortBinding = refused(
    "OutputPortBinding",
    "give a step its output directly: outputs=[PipelineData(...)] or an OutputFileDatasetConfig in arguments",
    __name__,
)
