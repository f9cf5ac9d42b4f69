"""The pin policy: what a build does with a pin that has no wheel for this Python.

v1 environments pin the packages of their year (``scikit-learn==0.22.1``, ``numpy==1.19.5``) for
Python 3.6-3.8; on this Python those releases have no wheel, and building them from source fails
(numpy 1.19.5 compiled for 5 m 54 s on 2 cores before failing). Two policies:

- ``nearest`` (the default): each such pin is replaced by the oldest release at or above it that
  installs here, chosen jointly for all of them by uv (``--resolution lowest-direct``), and a
  ``python_version`` below the scoring server's floor uses this Python. Each replacement is one
  line, said where the build's output goes and kept in the environment's build record::

      scikit-learn==0.22.1 -> 1.1.3: 0.22.1 has no wheel for Python 3.11

- ``strict``: the build refuses such a pin with one line naming it and the newest release that
  installs (what modelport did before the policy existed).

``MODELPORT_PIN_POLICY`` sets it for every environment; an environment's own ``pin_policy``
(``Environment.pin_policy``) wins. Which pins have no wheel is asked of uv from the index, wheels
only, without installing anything (~0.1 s a pin from uv's cache). A release with wheels for other
Pythons only is a compiled package: it is not built from source. A release with no wheel at all
(pure Python, sdist only) is built as before, and replaced only if that build fails.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from modelport import _settings
from modelport.environments.installers import summarize
from modelport.environments.packages import canonical_name
from modelport.errors import EnvironmentBuildError, InvalidInputError

__all__ = [
    "POLICIES",
    "Probe",
    "Replacement",
    "Selection",
    "effective_policy",
    "exact_pin",
    "is_notice",
    "python_replacement",
    "select_nearest",
    "without_wheels",
]

#: The pin policies, the default first.
POLICIES = ("nearest", "strict")

# "name==1.2.3", "name[extra]==1.2.*": one exact version, no marker (a pin, in the sense here).
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([0-9][^\s;,<>=!~]*)$")
_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


# "environment 'tutorial-env': scikit-learn==0.22.1 -> 1.1.3: ..." or "...: python 3.6 -> 3.11: ..."
_NOTICE = re.compile(r"^environment '[^']*': (?:python \S+|\S+==\S+) -> \S+: ")


def is_notice(line: str) -> bool:
    """Whether a build's output line says a pin (or the Python version) was replaced."""
    return _NOTICE.match(line) is not None


def effective_policy(own: str | None) -> str:
    """The policy a build follows: the environment's own, else ``MODELPORT_PIN_POLICY``, else nearest.

    >>> effective_policy("strict")
    'strict'
    """
    for where, value in (
        ("the environment's pin_policy", own),
        (_settings.PIN_POLICY, _settings.pin_policy()),
    ):
        if value is None or value == "":
            continue
        text = str(value).strip().lower()
        if text not in POLICIES:
            raise InvalidInputError(
                f"{where} is {value!r}: use 'nearest' (the default: the nearest release that installs) "
                "or 'strict' (refuse a pin that does not install)"
            )
        return text
    return POLICIES[0]


@dataclass(frozen=True)
class Replacement:
    """One pin replaced: ``asked`` (``scikit-learn==0.22.1``) became ``version`` because ``reason``."""

    name: str
    asked: str
    version: str
    reason: str

    def line(self) -> str:
        """``scikit-learn==0.22.1 -> 1.1.3: 0.22.1 has no wheel for Python 3.11``."""
        return f"{self.asked} -> {self.version}: {self.reason}"

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "asked": self.asked, "version": self.version, "reason": self.reason}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Replacement:
        return cls(str(d["name"]), str(d["asked"]), str(d["version"]), str(d["reason"]))


def python_replacement(asked: str, used: str, floor: str) -> str:
    """The line for a ``python_version`` below the server's floor: ``python 3.6 -> 3.11: ...``."""
    return f"python {asked} -> {used}: modelport's scoring server needs Python >= {floor}"


def exact_pin(requirement: str) -> tuple[str, str] | None:
    """``(canonical name, version)`` of a pin (``name==X``); None for anything else.

    >>> exact_pin("Scikit_Learn==0.22.1")
    ('scikit-learn', '0.22.1')
    >>> exact_pin("numpy>=1.20") is None
    True
    """
    match = _PIN.match(requirement.strip())
    if match is None:
        return None
    return canonical_name(match.group(1)), match.group(3)


@dataclass(frozen=True)
class Probe:
    """How to ask uv about the index: its executable, the flags carrying pip's configuration and
    the environment's pip options, extra environment variables, and the target interpreter."""

    uv: str
    python: str
    python_version: str
    flags: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    """Every command asked and what uv said (it goes to the build log)."""

    def compile(
        self, lines: Sequence[str], *args: str, target: Sequence[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        """``uv pip compile`` of ``lines`` (no install); ``target`` replaces ``--python``."""
        where = list(target) or ["--python", self.python]
        cmd = [self.uv, "pip", "compile", "-", "--no-header", *where, *self.flags, *args]
        environ = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        environ.update({"UV_PYTHON_DOWNLOADS": "never", **self.env})
        text = "".join(f"{line}\n" for line in lines)
        try:
            proc = subprocess.run(
                cmd, input=text, capture_output=True, text=True, timeout=300, check=False, env=environ
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EnvironmentBuildError(f"asking uv which releases install failed: {exc}", str(exc)) from None
        shown = text.strip().replace("\n", " ")
        self.log.append(f"$ {' '.join(cmd)}  <<< {shown}\n{proc.stdout}{proc.stderr}")
        return proc


def without_wheels(pins: Sequence[str], probe: Probe) -> dict[str, str]:
    """The pins (requirement -> reason) that install here only by building a compiled release.

    One uv call for all pins (the common case: every pin has a wheel); when it fails, one per pin,
    and for each pin without a wheel here, one per older Python until one has a wheel: a release
    with wheels for other Pythons only is compiled code, never built here. Pins with no wheel for
    any Python (pure-Python sdists) are left to the install, which builds them.
    """
    if not pins:
        return {}
    wheels_only = ("--no-deps", "--only-binary", ":all:", "--quiet", "--no-annotate")
    if probe.compile(pins, *wheels_only).returncode == 0:
        return {}
    found: dict[str, str] = {}
    major, minor = (int(p) for p in probe.python_version.split(".")[:2])
    for pin in pins:
        proc = probe.compile([pin], *wheels_only)
        if proc.returncode == 0:
            continue
        version = pin.split("==", 1)[1]
        said = proc.stderr
        for older in range(minor - 1, 5, -1):
            elsewhere = probe.compile([pin], *wheels_only, target=["--python-version", f"{major}.{older}"])
            if elsewhere.returncode == 0:
                python = f"Python {probe.python_version}"
                found[pin] = (
                    f"{version} does not support {python}"
                    if re.search(r"(?:depends on|requires) Python", said)
                    else f"{version} has no wheel for {python}"
                )
                break
    return found


@dataclass(frozen=True)
class Selection:
    """What :func:`select_nearest` chose: the replacements, and the versions of what the replaced
    releases depend on that the user did not pin (held at the resolver's joint choice, so that a
    release of 2022 gets a numpy it was built for)."""

    replacements: tuple[Replacement, ...]
    held: dict[str, str]


def select_nearest(
    missing: Mapping[str, str], user: Sequence[str], server: Sequence[str], probe: Probe
) -> Selection:
    """The oldest releases at or above the ``missing`` pins that install here, chosen jointly.

    uv resolves with ``--resolution lowest-direct``: the missing pins become lower bounds, beside
    the user's other requirements and the server's; direct requirements get their lowest version
    that resolves with all the others (wheels only, for every direct requirement the user did not
    pin exactly), indirect ones their highest. When the user's other pins leave no such release
    (``torch==1.13.1`` installs here, but no ``torchvision`` that goes with it does), they become
    lower bounds too: lowest-direct keeps each at its pin wherever the pin works, and a pin that
    moved is a replacement like the others. Raises :class:`EnvironmentBuildError` (one line) when
    nothing at or above the pins resolves.
    """
    proc = _lowest(missing, user, server, probe, relax_all=False)
    if proc.returncode != 0:
        proc = _lowest(missing, user, server, probe, relax_all=True)
    if proc.returncode != 0:
        asked = ", ".join(missing)
        raise EnvironmentBuildError(
            f"no release at or above {asked} installs on Python {probe.python_version} together with the "
            f"other requirements (uv: {summarize(proc.stderr)})",
            proc.stderr,
        )
    versions, via = _read_compiled(proc.stdout)
    replacements = []
    for requirement in user:
        pin = exact_pin(requirement)
        if pin is None:
            continue
        name, asked = pin
        chosen = versions.get(name)
        if chosen is None:
            raise EnvironmentBuildError(f"uv chose no release for {requirement}", proc.stdout + proc.stderr)
        if requirement in missing:
            replacements.append(Replacement(name, requirement, chosen, missing[requirement]))
        elif not _matches(asked, chosen):
            moved = ", ".join(f"{r.name} {r.version}" for r in replacements) or "the replaced pins"
            replacements.append(Replacement(name, requirement, chosen, f"{asked} does not go with {moved}"))
    relaxed = {r.name for r in replacements}
    # Held: what a replaced release depends on and nobody pinned, at the joint choice (numpy for
    # scikit-learn 1.1.3: a numpy 2 would not import it). Not the server's requirements with a
    # range (gunicorn>=23): lowest-direct took their floor, which says nothing about the era.
    named = {_name(r) for r in user} | {_name(r) for r in server if _name(r) != r.split(";")[0].strip()}
    held = {
        name: version
        for name, version in versions.items()
        if name not in named and name not in relaxed and via.get(name, set()) & relaxed
    }
    return Selection(tuple(replacements), held)


def _matches(asked: str, chosen: str) -> bool:
    """Whether ``chosen`` is the pinned version (``1.19.*`` matches ``1.19.5``)."""
    if asked.endswith("*"):
        return chosen.startswith(asked.rstrip("*"))
    return asked == chosen


def _lowest(
    missing: Mapping[str, str], user: Sequence[str], server: Sequence[str], probe: Probe, *, relax_all: bool
) -> subprocess.CompletedProcess[str]:
    lines: list[str] = []
    keep_building: set[str] = set()
    for requirement in user:
        pin = exact_pin(requirement)
        if pin is not None and (relax_all or requirement in missing):
            lines.append(f"{requirement.split('==')[0]}>={pin[1].rstrip('*').rstrip('.')}")
        else:
            lines.append(requirement)
        if pin is not None and requirement not in missing:
            keep_building.add(pin[0])  # a pin that installs (from source, perhaps): as the user asked
    lines += list(server)
    no_build: list[str] = []
    for name in sorted({_name(line) for line in lines} - keep_building):
        no_build += ["--only-binary", name]
    # The annotated output says which requirement pulled each package in ("# via scikit-learn").
    return probe.compile(lines, "--resolution", "lowest-direct", *no_build)


def _name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return canonical_name(match.group(1)) if match else requirement.strip()


def _read_compiled(output: str) -> tuple[dict[str, str], dict[str, set[str]]]:
    """``uv pip compile``'s annotated output as (name -> version, name -> what pulled it in)."""
    versions: dict[str, str] = {}
    via: dict[str, set[str]] = {}
    current: str | None = None
    for raw in output.splitlines():
        line = raw.strip()
        match = _LINE.match(line)
        if match is not None:
            current = canonical_name(match.group(1))
            versions[current] = match.group(2)
            via[current] = set()
            continue
        if current is None or not line.startswith("#"):
            continue
        text = line.lstrip("#").strip()
        if text.startswith("via "):
            text = text[4:]
        if text and text != "via" and not text.startswith("-r ") and not text.startswith("-c "):
            via[current].add(canonical_name(text.split()[0]))
    return versions, via
