"""The pin policy applied to a build (:mod:`~modelport.environments.pins` says what it is), and
what a build needs beyond Python packages (a Java runtime for pyspark).

:class:`Pinned` turns a plan's packages into what is installed: a pin with no wheel for this
Python is replaced by the nearest release that installs (``nearest``) or refused with one line
(``strict``), asked of uv before anything is installed; :meth:`Pinned.retry` handles a pure-Python
pin whose source build failed during the install.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Protocol

from modelport import _settings
from modelport.environments import installers, pins
from modelport.environments.diagnose import cannot_install_message
from modelport.environments.packages import canonical_name
from modelport.errors import EnvironmentBuildError

__all__ = ["MAX_ROUNDS", "Pinned", "Plan", "check_java"]


class Plan(Protocol):
    """What of a build's plan the policy reads (``builder._Plan``)."""

    @property
    def name(self) -> str: ...
    @property
    def packages(self) -> tuple[str, ...]: ...
    @property
    def runtime(self) -> tuple[str, ...]: ...
    @property
    def python(self) -> str: ...
    @property
    def pip_options(self) -> tuple[str, ...]: ...
    @property
    def pin_policy(self) -> str: ...


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return canonical_name(match.group(1)) if match else requirement.strip()


#: Packages that run on a Java runtime, which no Python package brings.
_NEEDS_JAVA = frozenset({"pyspark"})


def _java() -> str | None:
    """The ``java`` a Spark session would start: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = _settings.java_home()
    if home:
        candidate = Path(home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


def check_java(plan: Plan) -> None:
    """Refuse, in one line, an environment with pyspark on a machine without a Java runtime: its
    service would fail in init() with Spark's gateway error, after a 300 MB install."""
    needs = sorted({_name(p) for p in plan.packages} & _NEEDS_JAVA)
    if not needs or _java() is not None:
        return
    where = (
        f"JAVA_HOME={_settings.java_home()} has no bin/java"
        if _settings.java_home()
        else "no java on PATH and JAVA_HOME is unset"
    )
    raise EnvironmentBuildError(
        f"environment '{plan.name}': {', '.join(needs)} needs a Java runtime, and there is none ({where}): "
        "install one (Debian/Ubuntu: apt-get install default-jre-headless) or set JAVA_HOME"
    )


#: Rounds of "replace the pin whose source build failed, install again" before giving up.
MAX_ROUNDS = 4


class Pinned:
    """The plan's packages after the pin policy: pins without a wheel for this Python replaced by
    the nearest releases that install (nearest), or refused with one line (strict).

    Asks uv first (wheels only, nothing installed); :meth:`retry` handles a pin that did have no
    wheel and whose source build failed during the install.
    """

    def __init__(self, plan: Plan, uv: str | None, cwd: Path) -> None:
        self.plan = plan
        self.uv = uv
        self.packages: tuple[str, ...] = plan.packages
        self.replacements: tuple[pins.Replacement, ...] = ()
        self.held: dict[str, str] = {}
        self.missing: dict[str, str] = {}
        self.probe_log: list[str] = []
        if uv is None:  # pip alone cannot be asked which releases have wheels: installed as given
            return
        flags, extra_env = installers.pip_config_for_uv(plan.pip_options, dict(os.environ))
        try:
            base = installers.find_python(plan.python, uv, dict(os.environ), cwd)
        except EnvironmentBuildError as exc:
            raise EnvironmentBuildError(f"environment '{plan.name}': {exc.message}", exc.log) from None
        self.probe = pins.Probe(uv, base, plan.python, (*flags, *plan.pip_options), extra_env, self.probe_log)
        exact = [p for p in plan.packages if pins.exact_pin(p) is not None]
        missing = pins.without_wheels(exact, self.probe)
        if missing:
            self._replace(missing)

    def _replace(self, missing: dict[str, str]) -> None:
        plan = self.plan
        if plan.pin_policy == "strict":
            pin = next(iter(missing))
            name, version = pin.split("==", 1)
            raise EnvironmentBuildError(
                f"environment '{plan.name}': "
                + cannot_install_message(
                    name, version, plan.python, self.probe.python, self.uv, plan.pip_options, built=False
                ),
                "\n".join(self.probe_log),
            )
        self.missing = dict(missing)
        try:
            selection = pins.select_nearest(self.missing, plan.packages, plan.runtime, self.probe)
        except EnvironmentBuildError as exc:
            raise EnvironmentBuildError(f"environment '{plan.name}': {exc.message}", exc.log) from None
        chosen = {r.asked: f"{r.asked.split('==')[0]}=={r.version}" for r in selection.replacements}
        self.packages = tuple(chosen.get(p, p) for p in plan.packages)
        self.replacements = selection.replacements
        self.held = selection.held

    def retry(self, failed: str, log: str) -> bool:
        """Whether the install may go again with ``failed`` (a pin whose build failed) replaced."""
        if self.uv is None or self.plan.pin_policy == "strict" or failed in self.missing:
            return False
        if failed not in self.plan.packages:
            return False
        version = failed.split("==", 1)[1]
        self.probe_log.append(log)
        self._replace({**self.missing, failed: f"{version} did not build on Python {self.plan.python}"})
        return True
