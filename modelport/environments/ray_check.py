"""Whether an environment's interpreter can run Ray's workers: the check every Ray path shares.

Ray starts a replica (Serve), an actor (a batch worker) or a job's supervisor in the interpreter
``runtime_env={"py_executable": ...}`` names, and that interpreter must import the cluster's Ray,
the same version. When it cannot, Ray does not say so: Serve waits forever for the replica
(ray-project/ray#26332 and the platform notes) and an actor never starts. So modelport asks the
interpreter first (:func:`ray_problem`) and fails at once with the cause; an environment
modelport builds gets the cluster's Ray added instead (:func:`with_ray`).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from modelport.errors import EnvironmentBuildError, InvalidInputError

__all__ = ["CHECK_TIMEOUT_S", "SERVE", "WORKER", "ray_problem", "ray_requirement", "ray_version", "with_ray"]

CHECK_TIMEOUT_S = 60.0
SERVE = ("ray", "ray.serve")
"""What a Serve replica imports."""
WORKER = ("ray",)
"""What an actor (a batch worker) imports."""

_checked: set[tuple[str, float, str, tuple[str, ...]]] = set()


def ray_version() -> str:
    """This machine's Ray version (the cluster's, for a cluster modelport started)."""
    try:
        import ray
    except ImportError:
        raise InvalidInputError("Ray is not installed: pip install 'modelport[ray]'") from None
    return str(ray.__version__)


def ray_requirement() -> str:
    """The requirement that gives an environment this machine's Ray."""
    return f"ray[serve]=={ray_version()}"


def ray_problem(interpreter: str, version: str | None = None, modules: Sequence[str] = SERVE) -> str | None:
    """None if ``interpreter`` imports ``modules`` with Ray ``version`` (this machine's by
    default); else why not, in one line. Importing Ray Serve takes 2-4 s here, so this process's
    own interpreter is not asked and a good answer is remembered (per interpreter file and its
    modification time)."""
    version = version or ray_version()
    if Path(interpreter).absolute() == Path(sys.executable).absolute():
        return None  # this process, with the same Ray
    try:
        key = (interpreter, Path(interpreter).stat().st_mtime, version, tuple(modules))
    except OSError as exc:
        return f"{interpreter} does not run: {exc}"
    if key in _checked:
        return None
    problem = _ask(interpreter, version, tuple(modules))
    if problem is None:
        _checked.add(key)
    return problem


def _ask(interpreter: str, version: str, modules: tuple[str, ...]) -> str | None:
    what = "Ray Serve" if "ray.serve" in modules else "Ray"
    try:
        proc = subprocess.run(
            [interpreter, "-c", f"import {', '.join(modules)}; print(ray.__version__)"],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{interpreter} does not run: {exc}"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["import ray failed"])[-1]
        return f"the environment's interpreter {interpreter} cannot import {what} ({last})"
    found = proc.stdout.strip()
    if found != version:
        return f"the environment has Ray {found}, the cluster runs Ray {version}; they must match"
    return None


def with_ray(
    interpreter: str,
    spec: dict[str, Any] | None,
    cache_root: Path,
    log: Callable[[str], None],
    modules: Sequence[str] = SERVE,
) -> str:
    """``interpreter`` if it imports this machine's Ray; else the same environment built with Ray
    added (a cached environment of its own), when modelport builds it. An environment the user
    manages (or none: a given interpreter) is the user's to complete: EnvironmentBuildError with
    the cause, in one line."""
    problem = ray_problem(interpreter, modules=modules)
    if problem is None:
        return interpreter
    if spec is None or spec.get("user_managed_dependencies"):
        raise EnvironmentBuildError(
            f"{problem}: a Ray worker's environment needs `{ray_requirement()}` "
            "(add it to the environment's pip packages)"
        )
    from modelport.environments.builder import EnvSpec, resolve_interpreter

    log(f"adding {ray_requirement()} to the environment for the Ray cluster")
    python = str(
        resolve_interpreter(
            EnvSpec.from_dict(spec), cache_root, log=log, extra_requirements=(ray_requirement(),)
        )
    )
    problem = ray_problem(python, modules=modules)
    if problem is not None:
        raise EnvironmentBuildError(problem)
    return python
