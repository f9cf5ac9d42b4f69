"""The section classes of v1's ``azureml.core.runconfig``.

A local run is one process on this machine in its environment. ``DockerConfiguration`` is kept on
the run configuration (there is no container locally) and ``ContainerRegistry`` on the environment;
``EnvironmentDefinition`` is :class:`~modelport.core.environment.Environment`. The sections for
remote compute, distributed training and v1's data wiring import and refuse, naming the local way.
"""

from __future__ import annotations

from typing import Any

from modelport._refused import refused
from modelport.core.container_registry import ContainerRegistry
from modelport.core.environment import Environment

__all__ = [
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
]


class DockerConfiguration:
    """v1's container settings of a run. A local run uses no container: they are kept on the run
    configuration (``run_config.docker``) and have no local effect.

    Example::

        docker = DockerConfiguration(use_docker=True)
        src = ScriptRunConfig(".", script="train.py", docker_runtime_config=docker)
    """

    def __init__(
        self,
        use_docker: bool = False,
        shared_volumes: bool = True,
        arguments: list[str] | None = None,
        shm_size: str | None = None,
        **_v1: Any,
    ) -> None:
        self.use_docker = use_docker
        self.shared_volumes = shared_volumes
        self.arguments = list(arguments or [])
        self.shm_size = shm_size

    def __repr__(self) -> str:
        return f"DockerConfiguration(use_docker={self.use_docker!r}, shm_size={self.shm_size!r})"


class AzureContainerRegistry(ContainerRegistry):
    """v1's Azure Container Registry record: a :class:`ContainerRegistry`."""


EnvironmentDefinition = Environment

_M = "modelport.core.runconfig"
_DISTRIBUTED = (
    "distributed training needs several nodes; run the script as one process with "
    "compute_target='local', or train on the Ray cluster an AksCompute names (Ray Train)"
)
_DATA = (
    "v1's run-configuration data wiring is not used here; give data to the script in "
    "ScriptRunConfig(arguments=[dataset.as_named_input('x').as_mount(), OutputFileDatasetConfig(...)])"
)
_COMPUTE = "remote compute is not reached from here; run with compute_target='local'"

MpiConfiguration = refused("MpiConfiguration", _DISTRIBUTED, _M)
PyTorchConfiguration = refused("PyTorchConfiguration", _DISTRIBUTED, _M)
TensorflowConfiguration = refused("TensorflowConfiguration", _DISTRIBUTED, _M)
ParallelTaskConfiguration = refused("ParallelTaskConfiguration", _DISTRIBUTED, _M)
AmlComputeConfiguration = refused("AmlComputeConfiguration", _COMPUTE, _M)
KubernetesComputeConfiguration = refused("KubernetesComputeConfiguration", _COMPUTE, _M)
HdiConfiguration = refused("HdiConfiguration", _COMPUTE, _M)
SparkConfiguration = refused(
    "SparkConfiguration",
    "Spark settings for Azure's Spark compute; build a local SparkSession in the script (pyspark)",
    _M,
)
ApplicationEndpointConfiguration = refused(
    "ApplicationEndpointConfiguration",
    "endpoints of a remote run (Jupyter, SSH) are Azure's; the script runs on this machine, reach it here",
    _M,
)
HistoryConfiguration = refused(
    "HistoryConfiguration",
    "a local run always keeps its logs, outputs and metrics in the workspace; drop the setting",
    _M,
)
DatacacheConfiguration = refused("DatacacheConfiguration", _DATA, _M)
Data = refused("Data", _DATA, _M)
DataLocation = refused("DataLocation", _DATA, _M)
DataPath = refused("DataPath", _DATA, _M)
DataReferenceConfiguration = refused("DataReferenceConfiguration", _DATA, _M)
Dataset = refused("Dataset", _DATA, _M)
DatasetRegistrationOptions = refused("DatasetRegistrationOptions", _DATA, _M)
GlobsOptions = refused("GlobsOptions", _DATA, _M)
MountOptions = refused("MountOptions", _DATA, _M)
OutputData = refused("OutputData", _DATA, _M)
OutputOptions = refused("OutputOptions", _DATA, _M)
RegistrationOptions = refused("RegistrationOptions", _DATA, _M)
UploadOptions = refused("UploadOptions", _DATA, _M)
Uri = refused("Uri", _DATA, _M)
