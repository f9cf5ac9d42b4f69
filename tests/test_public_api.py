"""The public surface is deliberate: each v1 module exports what v1 code imports, and no more."""

from __future__ import annotations

import importlib

import pytest

EXPECTED = {
    "modelport.core": {
        "VERSION",
        "ComputeTarget",
        "ContainerRegistry",
        "Dataset",
        "Datastore",
        "Environment",
        "Experiment",
        "Image",
        "Keyvault",
        "LinkedService",
        "Model",
        "PrivateEndPoint",
        "PrivateEndPointConfig",
        "Run",
        "RunConfiguration",
        "ScriptRun",
        "ScriptRunConfig",
        "SynapseWorkspaceLinkedServiceConfiguration",
        "Webservice",
        "Workspace",
        "attach_legacy_compute_target",
        "diagnostic_log",
        "get_run",
        "is_compute_target_prepared",
        "prepare_compute_target",
        "remove_legacy_compute_target",
    },
    "modelport.core.model": {"InferenceConfig", "Model", "ModelPackage"},
    "modelport.core.image": {"ContainerImage", "ContainerImageConfig", "Image"},
    "modelport.core.profile": {"ModelProfile"},
    "modelport.core.compute_target": {"ComputeTarget", "ComputeTargetException"},
    "modelport.data": {
        "FileDataset",
        "OutputFileDatasetConfig",
        "OutputTabularDatasetConfig",
        "TabularDataset",
    },
    "modelport.data.dataset_consumption_config": {"DatasetConsumptionConfig"},
    "modelport.core.authentication": {
        "AbstractAuthentication",
        "ArmTokenAuthentication",
        "Audience",
        "AzureCliAuthentication",
        "AzureMLTokenAuthentication",
        "InteractiveLoginAuthentication",
        "MsiAuthentication",
        "ServicePrincipalAuthentication",
        "TokenAuthentication",
    },
    "modelport.pipeline.core": {
        "InputPortBinding",
        "Module",
        "ModuleVersion",
        "ModuleVersionDescriptor",
        "OutputPortBinding",
        "Pipeline",
        "PipelineData",
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
    },
    "modelport.pipeline.steps": {
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
    },
    "modelport.widgets": {"RunDetails"},
    "modelport.core.workspace": {"Workspace"},
    "modelport.core.datastore": {"DataReference", "Datastore"},
    "modelport.core.dataset": {"Dataset", "FileDataset", "TabularDataset"},
    "modelport.core.experiment": {"Experiment"},
    "modelport.core.run": {"Run"},
    "modelport.core.script_run_config": {"RunConfiguration", "ScriptRunConfig"},
    "modelport.core.runconfig": {
        "CondaDependencies",
        "DEFAULT_CPU_IMAGE",
        "DEFAULT_GPU_IMAGE",
        "MPI_CPU_IMAGE",
        "MPI_GPU_IMAGE",
        "RunConfiguration",
        # v1's section classes (modelport.core._runconfig_sections)
        "AmlComputeConfiguration",
        "ApplicationEndpointConfiguration",
        "AzureContainerRegistry",
        "ContainerRegistry",
        "Data",
        "DataLocation",
        "DataPath",
        "DataReferenceConfiguration",
        "DatacacheConfiguration",
        "Dataset",
        "DatasetRegistrationOptions",
        "DockerConfiguration",
        "EnvironmentDefinition",
        "GlobsOptions",
        "HdiConfiguration",
        "HistoryConfiguration",
        "KubernetesComputeConfiguration",
        "MountOptions",
        "MpiConfiguration",
        "OutputData",
        "OutputOptions",
        "ParallelTaskConfiguration",
        "PyTorchConfiguration",
        "RegistrationOptions",
        "SparkConfiguration",
        "TensorflowConfiguration",
        "UploadOptions",
        "Uri",
    },
    "modelport.core.resource_configuration": {"ResourceConfiguration"},
    "modelport.core.environment": {
        "DEFAULT_CPU_IMAGE",
        "DEFAULT_GPU_IMAGE",
        "DockerSection",
        "Environment",
        "PythonSection",
    },
    "modelport.core.conda_dependencies": {"CondaDependencies"},
    "modelport.core.webservice": {
        "AciWebservice",
        "AksWebservice",
        "LocalWebservice",
        "UnknownWebservice",
        "Webservice",
    },
}


@pytest.mark.parametrize("module", sorted(EXPECTED))
def test_all_matches_exports(module: str) -> None:
    mod = importlib.import_module(module)
    assert set(mod.__all__) == EXPECTED[module]
    for name in mod.__all__:
        assert getattr(mod, name) is not None


def test_errors_tree_is_complete() -> None:
    import modelport.errors as errors

    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.ModelportError)
        assert name in (errors.__doc__ or ""), f"{name} is missing from the tree in errors.py's docstring"
