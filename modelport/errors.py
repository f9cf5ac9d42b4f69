"""One exception hierarchy for modelport.

Every error a user can expect derives from :class:`ModelportError`. The CLI catches that base
class and prints one line; the scoring server maps ``http_status`` to a response in one place;
the SDK turns an HTTP error back into the same class.

::

    ModelportError
     ├── NotFoundError                 404
     │    ├── WorkspaceNotFound
     │    │    └── WorkspaceConfigNotFound  (no config file from a folder up)
     │    ├── ModelNotFound
     │    ├── EnvironmentNotFound
     │    └── ServiceNotFound          (also a ServiceError)
     ├── AlreadyExistsError            409
     │    └── ServiceExists            (also a ServiceError)
     ├── InUseError                    409 (a model version a service was deployed with)
     ├── InvalidInputError             400
     │    ├── UnsupportedMediaType     415
     │    ├── PayloadTooLarge          413
     │    ├── RequestTimeout           408 (the client did not send its request in time)
     │    └── NotSupported             400 (a v1 feature with no local meaning; names the alternative)
     ├── IntegrityError                500 (a stored file does not match its recorded sha256)
     ├── StorageError                  500 (the workspace cannot be read or written)
     ├── EnvironmentBuildError         500 (an environment could not become an interpreter)
     ├── ScriptError                   500 (the user's init()/run() raised; keeps its traceback)
     ├── ServiceError                  (what a service operation raises; v1's WebserviceException)
     │    ├── DeploymentError          500 (a service ended Failed/Unhealthy; carries state and cause)
     │    ├── ServiceCallError         (a scoring call answered non-200; carries status and body)
     │    └── ServiceUnavailable       503 (overloaded, restarting or not answering; retry_after)
     ├── ComputeTargetError            (a compute target could not be created, attached or used)
     ├── RunFailed                     (an experiment run ended Failed; carries its id)
     ├── AuthError                     401
     ├── MethodNotAllowed              405
     └── ScoringTimeout                504 (run() did not finish within the scoring timeout)

``modelport.exceptions`` gives these classes v1's names (``WebserviceException`` is
:class:`ServiceError`, ``ModelNotFoundException`` is :class:`ModelNotFound`, ...).
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "AuthError",
    "ComputeTargetError",
    "DeploymentError",
    "EnvironmentBuildError",
    "EnvironmentNotFound",
    "InUseError",
    "IntegrityError",
    "InvalidInputError",
    "MethodNotAllowed",
    "ModelNotFound",
    "ModelportError",
    "NotFoundError",
    "NotSupported",
    "PayloadTooLarge",
    "RequestTimeout",
    "RunFailed",
    "ScoringTimeout",
    "ScriptError",
    "ServiceCallError",
    "ServiceError",
    "ServiceExists",
    "ServiceNotFound",
    "ServiceUnavailable",
    "StorageError",
    "UnsupportedMediaType",
    "WorkspaceConfigNotFound",
    "WorkspaceNotFound",
]


class ModelportError(Exception):
    """Base class of every error modelport raises on purpose.

    An error carries what an HTTP answer to it needs besides its body: ``http_status``, and the
    headers :meth:`response_headers` gives (each class says its own, as starlette's
    ``HTTPException`` carries its headers; the server adds them without asking which error it is).
    """

    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def response_headers(self) -> dict[str, str]:
        """Headers an HTTP answer to this error carries (none by default)."""
        return {}

    def __str__(self) -> str:
        return self.message

    @property
    def status_code(self) -> int:
        """The HTTP status this error stands for (v1's ``WebserviceException.status_code``)."""
        return self.http_status

    @property
    def details(self) -> str:
        """v1's ``ServiceException.details``: here the message."""
        return self.message

    @property
    def inner_exception(self) -> BaseException | None:
        """The exception this one was raised from, if any (v1's ``AzureMLException.inner_exception``)."""
        return self.__cause__ or self.__context__

    def print_stacktrace(self) -> None:
        """Print this error's traceback, as v1's ``print_stacktrace`` did."""
        import traceback

        traceback.print_exception(self)


class NotFoundError(ModelportError):
    http_status = 404


class WorkspaceNotFound(NotFoundError):
    found_multiple = False  # v1's flag for a name found in several resource groups: never, here

    def __init__(self, name: str, where: str | None = None) -> None:
        hint = f" under {where}" if where else ""
        super().__init__(f"workspace '{name}' not found{hint}")
        self.name = name


class WorkspaceConfigNotFound(WorkspaceNotFound):
    """No workspace config file in a folder or any folder above it (from ``from_config``).

    A :class:`WorkspaceNotFound`, so code catching that keeps working. ``start`` is the folder the
    search began in; ``hint`` says how to pick a workspace (the CLI gives its own flags).
    """

    SDK_HINT = (
        "open a workspace by name with Workspace.get(NAME), or write a config for this folder with "
        "Workspace.create(NAME, exist_ok=True).write_config()"
    )

    def __init__(self, start: str, hint: str | None = None) -> None:
        # Not WorkspaceNotFound's message: there is no workspace name to say was not found.
        NotFoundError.__init__(
            self,
            f"no workspace config found: no .modelport/config.json or .azureml/config.json in {start} "
            f"or any folder above it; {hint or self.SDK_HINT}",
        )
        self.name = "(from config)"
        self.start = start


class ModelNotFound(NotFoundError):
    def __init__(self, name: str | None, version: int | None = None, detail: str = "") -> None:
        if name is None:
            msg = "no model matches"
        elif version is None:
            msg = f"model '{name}' not found"
        else:
            msg = f"model '{name}' has no version {version}"
        super().__init__(msg + (f" ({detail})" if detail else ""))
        self.name = name
        self.version = version


class EnvironmentNotFound(NotFoundError):
    def __init__(self, name: str, version: str | None = None) -> None:
        msg = (
            f"environment '{name}' not found"
            if version is None
            else f"environment '{name}' has no version {version}"
        )
        super().__init__(msg)
        self.name = name
        self.version = version


class ServiceError(ModelportError):
    """What a service operation raises (v1's ``WebserviceException``): a service not found or
    already there, a deployment that failed, a call it answered with an error or did not answer."""


class ServiceNotFound(NotFoundError, ServiceError):
    def __init__(self, name: str) -> None:
        super().__init__(f"service '{name}' not found")
        self.name = name


class AlreadyExistsError(ModelportError):
    http_status = 409


class ServiceExists(AlreadyExistsError, ServiceError):
    """A service of that name exists (deploy with ``overwrite=True`` to replace it)."""


class InUseError(ModelportError):
    """It cannot go: something else uses it (a model that a service was deployed with)."""

    http_status = 409


class InvalidInputError(ModelportError):
    http_status = 400


class UnsupportedMediaType(InvalidInputError):
    http_status = 415


class PayloadTooLarge(InvalidInputError):
    http_status = 413

    def response_headers(self) -> dict[str, str]:
        return {"Connection": "close"}  # the rest of the body is not read: the connection goes


class RequestTimeout(InvalidInputError):
    """The client did not send its whole request within the server's read timeout."""

    http_status = 408

    def response_headers(self) -> dict[str, str]:
        return {"Connection": "close"}  # a client this slow does not keep the connection


class NotSupported(InvalidInputError):
    """A v1 feature that has no meaning on this machine (remote training compute, cloud image
    registries, ...). The message says what to do instead."""


class IntegrityError(ModelportError):
    """A stored file no longer matches the sha256 recorded when it was registered."""


class StorageError(ModelportError):
    """The workspace could not be read or written (disk full, read-only, corrupted database)."""


class EnvironmentBuildError(ModelportError):
    """An environment could not be turned into an interpreter; ``log`` holds the installer's output."""

    def __init__(self, message: str, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class ScriptError(ModelportError):
    """The user's scoring script raised. Keeps the original exception's type name and traceback."""

    def __init__(self, phase: str, exc_type: str, exc_message: str, traceback_text: str = "") -> None:
        super().__init__(f"{phase}() raised {exc_type}: {exc_message}")
        self.phase = phase
        self.exc_type = exc_type
        self.exc_message = exc_message
        self.traceback_text = traceback_text

    def response_headers(self) -> dict[str, str]:
        return {"x-ms-run-function-failed": "True"}  # what v1's server says when run() raised


class DeploymentError(ServiceError):
    """A deployment did not reach Healthy. ``state`` is where it ended, ``cause`` says why, and
    ``hint`` where to look next (the SDK says ``service.get_logs()``; the CLI its own command)."""

    def __init__(self, service: str, state: str, cause: str, hint: str | None = None) -> None:
        super().__init__(f"service '{service}' is {state}: {cause}" + (f"\n({hint})" if hint else ""))
        self.service = service
        self.state = state
        self.cause = cause
        self.hint = hint


class ServiceCallError(ServiceError):
    """A scoring call answered with a status other than 200."""

    def __init__(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"service answered {status}: {body[:2000]}")
        self.http_status = status
        self.body = body
        self.headers = headers or {}


class ComputeTargetError(ModelportError):
    """A compute target (a Ray cluster for AKS-style deployments) could not be made or used."""


class RunFailed(ModelportError):
    """An experiment run ended Failed. ``run_id`` names it; its log says why."""

    def __init__(self, run_id: str, message: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class AuthError(ModelportError):
    http_status = 401

    def response_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class MethodNotAllowed(ModelportError):
    """An HTTP method a route does not serve; ``allowed`` lists the ones it does."""

    http_status = 405

    def __init__(self, method: str, path: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"method {method} is not allowed on {path}; allowed: {', '.join(allowed)}")
        self.allowed = allowed

    def response_headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class ServiceUnavailable(ServiceError):
    """The service cannot take this request now (overloaded, starting or restarting); retry later."""

    http_status = 503

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ScoringTimeout(ModelportError):
    """run() did not return within the scoring timeout; the worker running it is replaced."""

    http_status = 504

    def __init__(self, timeout_ms: int) -> None:
        super().__init__(f"run() did not finish within the scoring timeout of {timeout_ms} ms")
        self.timeout_ms = timeout_ms
