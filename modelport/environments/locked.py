"""An environment's exact versions, for a machine that cannot run its interpreter by path.

A Ray node that does not see this machine's files cannot start the environment's interpreter
(a path here); it gets an environment of its own, built by Ray's ``uv`` runtime environment from
the versions this machine built and tested (:func:`locked_packages`). Shared by the Ray target's
replicas (``modelport.deploy.ray_env``) and the batch and script runs on a Ray cluster
(``modelport.jobs.ray.shipped``): the layers keep those two apart, so the list lives here.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterable, Mapping
from typing import Any

from modelport.environments.builder import build_record
from modelport.environments.packages import canonical_name
from modelport.errors import InvalidInputError

__all__ = ["NOT_SHIPPED", "distributions", "installed_versions", "locked_packages", "pins", "split_options"]

NOT_SHIPPED = frozenset({"ray", "modelport"})
"""Never in a node's list: the node's Ray runs the work (its version is the cluster's), and
modelport goes to the node as a ``py_modules`` package."""

_FREEZE = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions() if d.metadata['Name']}))"
)


def distributions(interpreter: str) -> dict[str, str]:
    """What a user-managed interpreter has installed (name -> version): a node cannot run that
    interpreter (a path of this machine), so it gets the same versions in an environment of its own."""
    try:
        out = subprocess.run(
            [interpreter, "-c", _FREEZE], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        found = json.loads(out.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        raise InvalidInputError(f"cannot list the packages of the interpreter {interpreter}: {exc}") from None
    return {str(k): str(v) for k, v in found.items()}


def installed_versions(interpreter: str, user_managed: bool = False) -> Mapping[str, str] | None:
    """The versions in ``interpreter``'s environment: its build record's (an environment modelport
    built), what it has installed (``user_managed``), or None (neither: no environment)."""
    if user_managed:
        return distributions(interpreter)
    record = build_record(interpreter)
    installed: Any = record.get("installed") if record else None
    return installed if isinstance(installed, Mapping) else None


def pins(installed: Mapping[str, str]) -> list[str]:
    """``name==version`` for each, sorted, without what a node never installs (:data:`NOT_SHIPPED`)."""
    return [
        f"{name}=={version}"
        for name, version in sorted(installed.items())
        if canonical_name(name) not in NOT_SHIPPED
    ]


def split_options(lines: Iterable[str]) -> list[str]:
    """An environment's pip option lines (``--extra-index-url URL``) as arguments for uv."""
    options: list[str] = []
    for line in lines:
        options += shlex.split(line)
    return options


def locked_packages(interpreter: str) -> tuple[list[str], list[str]] | None:
    """(requirements, uv options) rebuilding the environment modelport built at ``interpreter``
    (from its build record), or None when modelport did not build it."""
    record = build_record(interpreter)
    installed = record.get("installed") if record else None
    if record is None or not isinstance(installed, Mapping):
        return None
    return pins(installed), split_options(record.get("pip_options") or ())
