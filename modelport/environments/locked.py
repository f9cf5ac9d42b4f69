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

__all__ = [
    "NOT_SHIPPED",
    "distributions",
    "installed_versions",
    "locked_packages",
    "modelport_requirements",
    "pins",
    "split_options",
]

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


def modelport_requirements() -> list[str]:
    """modelport's own requirements (its core install, no extras), each at the version installed
    here: what a node needs to run modelport when the run's environment brings nothing (no
    environment, or none modelport built). A source checkout without package metadata gets the
    scoring server's requirements."""
    import importlib.metadata as metadata
    import re

    from modelport.environments.requirements import SERVER_REQUIREMENTS

    try:
        wanted = [r for r in metadata.requires("modelport") or [] if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        return sorted(SERVER_REQUIREMENTS)
    out = []
    for requirement in wanted:
        name = re.split(r"[\s;<>=!~\[]", requirement.strip(), maxsplit=1)[0]
        extras = re.search(r"\[[^\]]*\]", requirement)
        if canonical_name(name) in NOT_SHIPPED:
            continue
        try:
            out.append(f"{name}{extras.group(0) if extras else ''}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(requirement.split(";")[0].strip())
    return sorted(out)
