"""One line saying why an install failed, instead of the installer's log.

Two failures are common enough to name precisely:

- a pin that cannot install on this Python (``scikit-learn==0.22.1`` on 3.11: no wheel, and its
  source build fails): the line names the package, the Python version and the newest version of
  it that does install here (asked of uv, wheels only);
- a pin that conflicts with what modelport's scoring server needs: the line puts the user's pin
  and the server's requirement side by side.

The installer's whole output stays in :attr:`EnvironmentBuildError.log` (and the service log).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from modelport.environments.installers import summarize, venv_python
from modelport.environments.packages import canonical_name

__all__ = ["cannot_install", "cannot_install_message", "diagnose_failure", "newest_installable"]

# uv: "Failed to build `scikit-learn==0.22.1`", "Failed to download and build `x==1`",
# "Because scikit-learn==0.22.1 has no usable wheels", "... has no wheels with a matching Python ...".
_CANNOT_INSTALL = (
    re.compile(r"Failed to (?:download and )?build `([A-Za-z0-9._-]+)==([^`\s]+)`"),
    re.compile(r"Because ([A-Za-z0-9._-]+)==(\S+) has no (?:usable )?wheels"),
    re.compile(r"Because ([A-Za-z0-9._-]+)==(\S+) (?:depends on|requires) Python"),
    re.compile(r"the current Python version \(\S+\) does not satisfy \S+ and ([A-Za-z0-9._-]+)==(\S+)"),
)
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NO_SOLUTION = re.compile(r"^error: No solution found when resolving dependencies:?\s*(cause:\s*)?")


def _name(requirement: str) -> str:
    match = _NAME.match(requirement.strip())
    return canonical_name(match.group(0)) if match else requirement.strip()


def diagnose_failure(
    output: str,
    *,
    user: Sequence[str],
    server: Sequence[str],
    python_version: str,
    python: Path | None,
    uv: str | None,
    pip_options: Sequence[str] = (),
) -> str | None:
    """The one line for an install that failed with ``output``; None when it is neither case.

    ``user`` are the environment's requirements, ``server`` modelport's; ``python`` the new
    virtualenv's interpreter (to ask uv which versions install on it).
    """
    found = cannot_install(output)
    if found is not None:
        name, version = found
        return cannot_install_message(name, version, python_version, python, uv, pip_options, built=True)
    if "No solution found" not in output and "unsatisfiable" not in output:
        return None
    reason = _NO_SOLUTION.sub("", summarize(output))
    mentioned = {canonical_name(n) for n in _NAME.findall(reason)}
    # A server requirement takes part when uv quotes it; one without a version range never conflicts.
    servers = [r for r in (s.split(";")[0].strip() for s in server) if r != _name(r) and r in reason]
    pins = [r for r in user if _name(r) in mentioned]
    if not servers or not pins:
        return None
    return (
        f"your pin(s) {', '.join(pins)} conflict with what modelport's scoring server needs: "
        f"{', '.join(servers)} (uv: {reason}). Loosen the pin, or ask for a version that works with "
        "the server's requirement"
    )


def cannot_install(output: str) -> tuple[str, str] | None:
    """``(name, version)`` of the pin an installer's ``output`` says cannot install here, if any."""
    for pattern in _CANNOT_INSTALL:
        match = pattern.search(output)
        if match is not None:
            return match.group(1), match.group(2)
    return None


def cannot_install_message(
    name: str,
    version: str,
    python_version: str,
    python: Path | str | None,
    uv: str | None,
    pip_options: Sequence[str] = (),
    *,
    built: bool,
) -> str:
    """The one line refusing ``name==version``: why, and the newest release that installs here.

    ``built``: whether a source build was tried (and failed); else the release has wheels for
    other Pythons only, and building such a compiled release is not tried.
    """
    newest = newest_installable(name, Path(python) if python else None, uv, pip_options) if uv else None
    hint = (
        f"the newest {name} that installs on Python {python_version} is {newest}: pin "
        f"{name}=={newest} or leave the version open"
        if newest
        else f"no version of {name} installs from a wheel on Python {python_version}"
    )
    why = (
        "no wheel for it, and building it from source failed"
        if built
        else "its wheels are for other Pythons only, and such a compiled release is not built from source"
    )
    return (
        f"{name}=={version} cannot be installed on Python {python_version} ({why}); "
        f"{hint}. The installer's log is in the service log"
    )


def newest_installable(
    name: str, python: Path | None, uv: str | None, pip_options: Sequence[str] = ()
) -> str | None:
    """The newest version of ``name`` with a wheel for ``python`` (uv, from its index); None if none."""
    if uv is None or python is None:
        return None
    cmd = [uv, "pip", "compile", "-", "--only-binary", ":all:", "--no-deps", "--no-header"]
    cmd += ["--no-annotate", "--quiet", "--python", str(python), *pip_options]
    try:
        proc = subprocess.run(
            cmd, input=f"{name}\n", capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in proc.stdout.splitlines():
        left, sep, version = line.strip().partition("==")
        if sep and canonical_name(left) == canonical_name(name):
            return version.strip()
    return None


def venv_interpreter(env_dir: Path) -> Path | None:
    """The interpreter of a (possibly half-built) virtualenv, if it exists."""
    python = venv_python(env_dir)
    return python if python.exists() else None
