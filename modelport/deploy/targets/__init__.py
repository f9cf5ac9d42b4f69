"""The target registry: names to targets, and v1's compute types to target names (here only).

Adding a target is one module and one entry in :data:`FACTORIES` (or a call to :func:`register`,
as the tests' in-process fake target does).
"""

from __future__ import annotations

from collections.abc import Callable

from modelport.deploy.targets.base import Endpoint, Handle, Runtime, Target
from modelport.errors import InvalidInputError

__all__ = ["COMPUTE_TARGETS", "Endpoint", "Handle", "Runtime", "Target", "get", "register", "target_for"]


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


def target_for(compute_type: str) -> str:
    """The target name for a v1 compute type (``Local``, ``ACI``, ``AKS``)."""
    try:
        return COMPUTE_TARGETS[compute_type]
    except KeyError:
        raise InvalidInputError(
            f"unknown compute type {compute_type!r}; known: {', '.join(COMPUTE_TARGETS)}"
        ) from None
