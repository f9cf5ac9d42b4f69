"""v1's ``azureml.pipeline.steps``: the steps that run on this machine, and those that cannot.

``PythonScriptStep``, ``CommandStep``, ``ParallelRunConfig`` and ``ParallelRunStep`` run here.
v1's steps that need Azure services (``AzureBatchStep``, ``DatabricksStep``, ``AdlaStep``,
``KustoStep``, ``HyperDriveStep``, ...) import, and building one raises
:class:`~modelport.errors.NotSupported` naming the local step to use instead.

Example::

    from modelport.pipeline.steps import PythonScriptStep, ParallelRunConfig, ParallelRunStep
"""

from __future__ import annotations

from modelport.pipeline.steps._refused import (
    AdlaStep,
    AutoMLStep,
    AutoMLStepRun,
    AzureBatchStep,
    DatabricksStep,
    DataTransferStep,
    EstimatorStep,
    HyperDriveStep,
    HyperDriveStepRun,
    KustoStep,
    ModuleStep,
    MpiStep,
    RScriptStep,
    SynapseSparkStep,
)
from modelport.pipeline.steps.command_step import CommandStep
from modelport.pipeline.steps.parallel_run_config import ParallelRunConfig
from modelport.pipeline.steps.parallel_run_step import ParallelRunStep
from modelport.pipeline.steps.python_script_step import PythonScriptStep

__all__ = [
    "AdlaStep",
    "AutoMLStep",
    "AutoMLStepRun",
    "AzureBatchStep",
    "CommandStep",
    "DataTransferStep",
    "DatabricksStep",
    "EstimatorStep",
    "HyperDriveStep",
    "HyperDriveStepRun",
    "KustoStep",
    "ModuleStep",
    "MpiStep",
    "ParallelRunConfig",
    "ParallelRunStep",
    "PythonScriptStep",
    "RScriptStep",
    "SynapseSparkStep",
]
