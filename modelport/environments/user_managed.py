"""A user-managed environment (``python.user_managed_dependencies = True``): an interpreter used as
is, checked for what modelport's scoring server imports, never built or changed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from modelport.environments import installers
from modelport.environments.requirements import (
    _SERVER_MODULES,
    MIN_PYTHON,
    SERVER_REQUIREMENTS,
    _requirement_name,
    _source_root,
)
from modelport.errors import EnvironmentBuildError

__all__ = ["user_interpreter"]


def user_interpreter(name: str, interpreter_path: str | None) -> Path:
    """The interpreter of the user-managed environment ``name``, checked (one line naming what it
    lacks); None: the deploying interpreter."""
    given = interpreter_path
    if given is None:
        return Path(sys.executable)
    path = Path(given).expanduser()
    if not path.is_absolute() and os.sep not in given:
        path = Path(shutil.which(given) or given)
    if not path.is_file():
        raise EnvironmentBuildError(
            f"environment '{name}' is user-managed, but its interpreter_path '{given}' does not exist"
        )
    # Not resolve(): every venv's python is a symlink to some base interpreter.
    if path.absolute() == Path(sys.executable).absolute():
        return path
    try:
        # -I and a neutral cwd: a modelport next to the caller must not make the check pass.
        proc = subprocess.run(
            [str(path), "-I", "-c", _CHECK, json.dumps(sorted(_SERVER_MODULES.values()))],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=path.parent,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentBuildError(
            f"environment '{name}' is user-managed, but its interpreter '{given}' does not run: {exc}",
            str(exc),
        ) from None
    try:
        found = json.loads(proc.stdout)
    except ValueError:
        raise EnvironmentBuildError(
            f"environment '{name}' is user-managed, but its interpreter '{given}' does not run "
            f"Python 3 code: {installers.summarize(proc.stderr)}",
            proc.stdout + proc.stderr,
        ) from None
    problem = _user_interpreter_problem(path, found)
    if problem is not None:
        raise EnvironmentBuildError(
            f"environment '{name}' is user-managed (used as is, nothing is installed into it), but "
            f"its interpreter '{given}' {problem}",
            proc.stdout + proc.stderr,
        )
    return path


# Run by a user-managed interpreter: its version and which of the server's modules it lacks.
_CHECK = """\
import importlib.util, json, sys
missing = [m for m in ["modelport", *json.loads(sys.argv[1])] if importlib.util.find_spec(m) is None]
print(json.dumps({"version": list(sys.version_info[:2]), "missing": missing}))
"""


def _user_interpreter_problem(path: Path, found: dict[str, Any]) -> str | None:
    """What stops ``path`` from running the scoring server, with the command that fixes it."""
    version = tuple(found["version"])
    if version < MIN_PYTHON:
        floor = ".".join(map(str, MIN_PYTHON))
        return f"is Python {version[0]}.{version[1]}; modelport's scoring server needs Python >= {floor}"
    missing = found["missing"]
    if not missing:
        return None
    if "modelport" in missing:
        return (
            "cannot import modelport: install it (with its scoring server's requirements) with "
            f"`{path} -m pip install {_source_root()}`"
        )
    modules = {module: name for name, module in _SERVER_MODULES.items()}
    requirements = [r for r in SERVER_REQUIREMENTS if _requirement_name(r) in {modules[m] for m in missing}]
    quoted = " ".join(shlex.quote(r.split(";")[0]) for r in requirements)
    names = ", ".join(_requirement_name(r) for r in requirements)
    return (
        f"lacks what modelport's scoring server imports: {names}; "
        f"install them with `{path} -m pip install {quoted}`"
    )
