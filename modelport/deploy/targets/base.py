"""The target interface: where a prepared service bundle runs.

A target starts a :class:`~modelport.deploy.bundle.ServiceBundle` and returns a handle, a JSON-able
dict that only that target reads (the local target keeps a pid and a port there; a Ray target
would keep an application name). Everything else the engine asks goes through the same handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.reconcile import Observation

__all__ = ["Endpoint", "Handle", "Runtime", "Target"]

Handle = dict[str, Any]


@dataclass(frozen=True)
class Runtime:
    """What a target needs beyond the bundle: the service's name, a port asked for (None: any),
    its key file (None: no auth), whether tokens are accepted."""

    service: str
    port: int | None = None
    keys_file: Path | None = None
    token_auth: bool = False


@dataclass(frozen=True)
class Endpoint:
    scoring_uri: str
    swagger_uri: str


class Target(Protocol):
    """A place where services run. Register one in :mod:`modelport.deploy.targets`."""

    name: str

    def start(self, bundle: ServiceBundle, runtime: Runtime) -> Handle:
        """Start the bundle; return at once (readiness is observed, not awaited)."""
        ...

    def observe(self, handle: Handle) -> Observation:
        """What runs now, and whether it is ready; the reason when it failed."""
        ...

    def stop(self, handle: Handle) -> None:
        """Stop it (gracefully: in-flight requests finish); idempotent."""
        ...

    def endpoint(self, handle: Handle) -> Endpoint: ...

    def logs(self, handle: Handle, num_lines: int) -> str:
        """The last ``num_lines`` lines of what the service printed."""
        ...

    def replace(self, old: Handle, bundle: ServiceBundle, runtime: Runtime, timeout: float) -> Handle:
        """Start ``bundle`` beside ``old`` and stop ``old`` once the new one is ready (zero
        downtime); raise DeploymentError, with ``old`` still serving, if it does not get ready."""
        ...

    def processes(self, handle: Handle) -> list[int]:
        """The pids serving it on this machine (empty where it runs elsewhere)."""
        ...

    def sweep(self, folder: Path) -> None:
        """Stop anything started from a service's ``folder`` that no handle names any more."""
        ...

    def events(self, handle: Handle) -> list[str]:
        """Notable things the service reported (workers recycled for memory), oldest first."""
        ...
