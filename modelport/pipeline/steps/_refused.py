"""v1 steps that need Azure services: they import, and building one raises one
:class:`~modelport.errors.NotSupported` naming the local step to use instead."""

from __future__ import annotations

from modelport.pipeline.core._refused import refused

__all__ = [
    "AdlaStep",
    "AutoMLStep",
    "AutoMLStepRun",
    "AzureBatchStep",
    "DataTransferStep",
    "DatabricksStep",
    "EstimatorStep",
    "HyperDriveStep",
    "HyperDriveStepRun",
    "KustoStep",
    "ModuleStep",
    "MpiStep",
    "RScriptStep",
    "SynapseSparkStep",
]

_M = "modelport.pipeline.steps"

AdlaStep = refused(
    "AdlaStep",
    "U-SQL runs on Azure Data Lake Analytics; do the transformation in a PythonScriptStep (pandas)",
    _M,
)
AutoMLStep = refused("AutoMLStep", "automated ML is an Azure service; train in a PythonScriptStep", _M)
AutoMLStepRun = refused("AutoMLStepRun", "automated ML is an Azure service; train in a PythonScriptStep", _M)
AzureBatchStep = refused(
    "AzureBatchStep",
    "it runs a Windows executable on Azure Batch; run the program here with a CommandStep",
    _M,
)
DataTransferStep = refused(
    "DataTransferStep",
    "it copies data with Azure Data Factory; copy with Datastore.upload/download or in a PythonScriptStep",
    _M,
)
DatabricksStep = refused(
    "DatabricksStep",
    "it runs on an Azure Databricks cluster; run the script in a PythonScriptStep (pyspark runs locally too)",
    _M,
)
EstimatorStep = refused(
    "EstimatorStep",
    "estimators were retired in v1 itself; use a PythonScriptStep with a RunConfiguration's environment",
    _M,
)
HyperDriveStep = refused(
    "HyperDriveStep",
    "hyperparameter tuning is an Azure service; run one PythonScriptStep per value, or loop in the script",
    _M,
)
HyperDriveStepRun = refused(
    "HyperDriveStepRun",
    "hyperparameter tuning is an Azure service; run one PythonScriptStep per value, or loop in the script",
    _M,
)
KustoStep = refused(
    "KustoStep",
    "it runs a notebook on Azure Data Explorer; query Kusto from a PythonScriptStep (azure-kusto-data)",
    _M,
)
ModuleStep = refused(
    "ModuleStep",
    "modules are Azure's versioned step store; use a PythonScriptStep with a source_directory",
    _M,
)
MpiStep = refused(
    "MpiStep", "MPI jobs need a cluster; run the script as one process with a PythonScriptStep", _M
)
RScriptStep = refused(
    "RScriptStep", "run the R script with a CommandStep(command='Rscript script.R') and R installed here", _M
)
SynapseSparkStep = refused(
    "SynapseSparkStep",
    "it runs on an Azure Synapse Spark pool; run the script in a PythonScriptStep (pyspark runs locally too)",
    _M,
)
