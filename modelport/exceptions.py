"""v1's exception names (``azureml.exceptions``), as names of modelport's own error tree.

v1 code that catches ``WebserviceException`` catches what a service operation raises here
(:class:`~modelport.errors.ServiceError`: a failed deployment, a service not found, an error the
service answered or no answer); ``ModelNotFoundException`` is
:class:`~modelport.errors.ModelNotFound`, and so on. Every one is a
:class:`~modelport.errors.ModelportError`, which ``AzureMLException`` names.

Example::

    from modelport.exceptions import WebserviceException

    try:
        service = Webservice(ws, "mnist-svc")
    except WebserviceException:
        service = Model.deploy(ws, "mnist-svc", [model], inference_config, deployment_config)
"""

from __future__ import annotations

from modelport.errors import (
    AuthError,
    ComputeTargetError,
    EnvironmentBuildError,
    InvalidInputError,
    ModelNotFound,
    ModelportError,
    NotFoundError,
    NotSupported,
    RunFailed,
    ServiceError,
    StorageError,
    WorkspaceNotFound,
)

__all__ = [
    "ActivityFailedException",
    "AuthenticationException",
    "AzureMLAggregatedException",
    "AzureMLException",
    "ComputeTargetException",
    "DatasetTimestampMissingError",
    "DiscoveryUrlNotFoundException",
    "ExperimentExecutionException",
    "ModelNotFoundException",
    "ModelPathNotFoundException",
    "NotSupported",
    "ParallelRunException",
    "ProjectSystemException",
    "RunConfigurationException",
    "RunEnvironmentException",
    "ServiceException",
    "SnapshotException",
    "TrainingException",
    "UnauthorizedException",
    "UserErrorException",
    "WebserviceException",
    "WorkspaceException",
    "WorkspacePrivateEndpointException",
]

AzureMLException = ModelportError
"""Every error modelport raises on purpose."""
UserErrorException = InvalidInputError
"""Bad input: a value, a file or an argument the call cannot use (the message names it)."""
WebserviceException = ServiceError
ModelNotFoundException = ModelNotFound
ModelPathNotFoundException = NotFoundError
ProjectSystemException = WorkspaceNotFound
ComputeTargetException = ComputeTargetError
ActivityFailedException = RunFailed
ExperimentExecutionException = RunFailed
TrainingException = RunFailed
RunConfigurationException = InvalidInputError
SnapshotException = StorageError
AuthenticationException = AuthError
UnauthorizedException = AuthError
DiscoveryUrlNotFoundException = NotSupported
DatasetTimestampMissingError = InvalidInputError
AzureMLAggregatedException = ModelportError
"""v1 raised it for several errors at once; here each error is raised on its own."""
ParallelRunException = RunFailed
"""A ParallelRunStep's run failed (its run id and log say why)."""
RunEnvironmentException = EnvironmentBuildError
"""An environment could not be built into an interpreter."""
ServiceException = ModelportError
"""v1's error for a failed call to an Azure service; here any modelport error."""
WorkspaceException = WorkspaceNotFound
WorkspacePrivateEndpointException = NotSupported
"""Private endpoints are Azure networking; a local workspace has none."""
