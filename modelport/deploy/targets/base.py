"""The target interface: where a prepared service bundle runs.

A target starts a :class:`~modelport.deploy.bundle.ServiceBundle` and returns a handle, a JSON-able
dict that only that target reads (the local target keeps a pid and a port there, the Ray target an
application's name and its cluster). Everything else the engine asks goes through the same handle.

:class:`Target` is the lifecycle every target has. What only some have is a capability of its
own, checked with ``isinstance`` where it is used: :class:`ProcessInspection` (the processes
serving a handle on this machine) and :class:`Routing` (one endpoint in front of several
services). A minimal target, in full, is ``tests/deploy/fake_target.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.reconcile import Observation

__all__ = ["Endpoint", "EndpointVersion", "Handle", "ProcessInspection", "Routing", "Runtime", "Target"]

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
    """Where a service answers. ``port``: its own port on this machine (kept across updates);
    None where it shares one (a Ray cluster's HTTP proxy)."""

    scoring_uri: str
    swagger_uri: str
    port: int | None = None


class Target(Protocol):
    """A place where services run. Register one in :mod:`modelport.deploy.targets`."""

    name: str
    start_phase: str
    """What :meth:`start` did, for the deployment's log (``server started``)."""

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


@runtime_checkable
class ProcessInspection(Protocol):
    """A target whose services are processes on this machine."""

    def processes(self, handle: Handle) -> list[int]:
        """The pids serving it."""
        ...

    def events(self, handle: Handle) -> list[str]:
        """Notable things the service reported (workers recycled for memory), oldest first."""
        ...

    def sweep(self, folder: Path) -> None:
        """Stop anything started from a service's ``folder`` that no handle names any more."""
        ...


@dataclass(frozen=True)
class EndpointVersion:
    """One version behind an endpoint: the service running it, its share of the traffic in
    percent (the default version takes what the others leave), and its v1 roles."""

    service: str
    traffic: float = 0.0
    default: bool = False
    control: bool = False


@runtime_checkable
class Routing(Protocol):
    """A target that puts one endpoint in front of several of its services (an AksEndpoint)."""

    def route(
        self, name: str, versions: Mapping[str, EndpointVersion], handles: Mapping[str, Handle]
    ) -> Handle:
        """Start (or update) the router ``name`` over ``versions`` (each running as the service
        whose handle ``handles`` gives under the version's name); the router's handle, which the
        lifecycle methods take like a service's."""
        ...

    def routes(self, handle: Handle) -> dict[str, EndpointVersion]:
        """The versions a router's handle routes to; empty for a service's handle."""
        ...
