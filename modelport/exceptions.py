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
RunEnvironmentException = EnvironmentBuildError
"""An environment could not be built into an interpreter."""
ServiceException = ModelportError
"""v1's error for a failed call to an Azure service; here any modelport error."""
WorkspaceException = WorkspaceNotFound


_RETRY_CODES = ("Retry.NoRetry", "Retry.StopProcess", "Retry.RestartProcess")


class ParallelRunException(RunFailed):
    """What a ParallelRunStep's entry script raises from ``run(mini_batch)`` to say how the batch
    should go on (v1's signature): ``code`` is ``"Retry.NoRetry"``, ``"Retry.StopProcess"`` or
    ``"Retry.RestartProcess"`` (or None), ``delay_seconds`` how long to wait before the next
    mini-batch. A :class:`~modelport.errors.RunFailed` (its ``run_id`` is None until a run
    carries it).

    Example::

        from modelport.exceptions import ParallelRunException

        def run(mini_batch):
            if not reachable():
                raise ParallelRunException("the scorer is down", code="Retry.NoRetry", delay_seconds=5)
    """

    def __init__(self, exception_message: str, code: str | None = None, delay_seconds: float = 0) -> None:
        if code is not None and code not in _RETRY_CODES:
            raise InvalidInputError(
                f"ParallelRunException: code must be one of {', '.join(_RETRY_CODES)} or None, got {code!r}"
            )
        if isinstance(delay_seconds, bool) or not isinstance(delay_seconds, int | float) or delay_seconds < 0:
            raise InvalidInputError(
                f"ParallelRunException: delay_seconds must be a number >= 0, got {delay_seconds!r}"
            )
        super().__init__(None, exception_message)  # type: ignore[arg-type]  # no run yet
        self.code = code
        self.delay_seconds = delay_seconds


class WorkspacePrivateEndpointException(NotSupported):
    """Private endpoints are Azure networking; a local workspace has none. Using one
    (``Workspace.add_private_endpoint``, ``PrivateEndPointConfig``) raises this, a
    :class:`~modelport.errors.NotSupported`. ``found_multiple`` is v1's flag for a name found in
    several workspaces: never, here."""

    def __init__(self, exception_message: str, found_multiple: bool = False) -> None:
        super().__init__(exception_message)
        self.found_multiple = found_multiple
