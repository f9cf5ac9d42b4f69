"""The target registry: names to targets, and where a deployment runs (here only).

Adding a target is one module and one entry in :data:`FACTORIES` (or a call to :func:`register`,
as the tests' in-process fake target does). A deployment runs on the target :func:`choose` names
from its settings.
"""

from __future__ import annotations

from collections.abc import Callable

from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.targets.base import (
    Endpoint,
    EndpointVersion,
    Handle,
    ProcessInspection,
    Routing,
    Runtime,
    Target,
)
from modelport.errors import InvalidInputError

__all__ = [
    "COMPUTE_TARGETS",
    "Endpoint",
    "EndpointVersion",
    "Handle",
    "ProcessInspection",
    "Routing",
    "Runtime",
    "Target",
    "choose",
    "get",
    "register",
]


def _local() -> Target:
    from modelport.deploy.targets.local import LocalTarget

    return LocalTarget()


def _ray() -> Target:
    from modelport.deploy.targets.ray import RayTarget

    return RayTarget()


FACTORIES: dict[str, Callable[[], Target]] = {"local": _local, "ray": _ray}
"""Target name -> a function that makes it (imported lazily: a target may need an extra)."""

COMPUTE_TARGETS: dict[str, str] = {"Local": "local", "ACI": "local", "AKS": "local"}
"""v1's compute types -> the target that runs them on this machine."""

CLUSTER_TARGET = "ray"
"""Where a service deployed to a compute target (an AKS cluster: ``deployment_target``) runs."""

_made: dict[str, Target] = {}


def register(name: str, factory: Callable[[], Target]) -> None:
    """Add (or replace) a target."""
    FACTORIES[name] = factory
    _made.pop(name, None)


def get(name: str) -> Target:
    """The target called ``name``."""
    if name not in _made:
        factory = FACTORIES.get(name)
        if factory is None:
            raise InvalidInputError(
                f"unknown deployment target {name!r}; known: {', '.join(sorted(FACTORIES))}"
            )
        _made[name] = factory()
    return _made[name]


def choose(settings: DeploymentSettings) -> str:
    """The name of the target a deployment with ``settings`` runs on: the one they name; else,
    given a compute target (an AKS cluster), :data:`CLUSTER_TARGET`; else the one v1's compute
    type (``Local``, ``ACI``, ``AKS``) lands on."""
    if settings.target:
        return settings.target
    if settings.compute_target:
        return CLUSTER_TARGET
    try:
        return COMPUTE_TARGETS[settings.compute_type]
    except KeyError:
        raise InvalidInputError(
            f"unknown compute type {settings.compute_type!r}; known: {', '.join(COMPUTE_TARGETS)}"
        ) from None
