"""Each comparator in its own cached virtualenv, built with ``uv`` and keyed by what it pins.

A venv lives at ``<cache>/venvs/<name>-<hash>``; the hash covers the requirements and the Python
version, so a changed pin builds a new one and an unchanged one is reused. A venv is complete only
once its ``bench-env.json`` (the requirements asked for and the versions installed) is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

MARKER = "bench-env.json"
BUILD_TIMEOUT_S = 900


@dataclass
class BuiltEnv:
    """A ready virtualenv: its interpreter and the versions of the packages asked for."""

    name: str
    path: Path
    requirements: list[str]
    installed: dict[str, str]
    relaxed: list[str]  # requirements that had to be loosened because the exact pin was unavailable
    reused: bool

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    def bin(self, tool: str) -> Path:
        return self.path / "bin" / tool


def _uv() -> str:
    local = Path(sys.executable).parent / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:
        raise RuntimeError("uv not found: install it into the bench's interpreter (scripts/setup.sh does)")
    return found


def _key(requirements: list[str]) -> str:
    text = json.dumps([sys.version_info[:3], sorted(requirements), "compiled"])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _package_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]


def _relax(requirement: str) -> str:
    """``pkg==1.5.1`` -> ``pkg>=1.5,<1.6`` (the nearest series), other specifiers unchanged."""
    match = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)==(\d+)\.(\d+)(?:\.\d+)?", requirement)
    if match is None:
        return requirement
    name, major, minor = match.groups()
    return f"{name}>={major}.{minor},<{major}.{int(minor) + 1}"


def _install(venv: Path, requirements: list[str], log: Path) -> bool:
    with log.open("a") as out:
        done = subprocess.run(
            # Compiled to bytecode as pip does by default (uv does not): without it every server
            # start compiles scipy and scikit-learn again, ~1 s of a cold start.
            [
                _uv(),
                "pip",
                "install",
                "--compile-bytecode",
                "--python",
                str(venv / "bin" / "python"),
                *requirements,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    return done.returncode == 0


def _versions(python: Path, names: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    out = subprocess.run([str(python), "-c", code, *names], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def ensure_env(cache: Path, name: str, requirements: list[str], log: Path) -> BuiltEnv:
    """The venv for ``requirements`` under ``cache``, built now unless a complete one exists."""
    path = cache / "venvs" / f"{name}-{_key(requirements)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=BUILD_TIMEOUT_S):
        marker = path / MARKER
        if marker.exists():
            info = json.loads(marker.read_text())
            return BuiltEnv(name, path, requirements, info["installed"], info["relaxed"], reused=True)
        shutil.rmtree(path, ignore_errors=True)  # a half-built venv from an interrupted run
        log.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [_uv(), "venv", "--quiet", "--python", sys.executable, str(path)],
            check=True,
            timeout=BUILD_TIMEOUT_S,
        )
        asked, relaxed = list(requirements), []
        if not _install(path, asked, log):
            asked = [_relax(r) for r in requirements]
            relaxed = [r for r in requirements if _relax(r) != r]
            if not relaxed or not _install(path, asked, log):
                raise RuntimeError(f"could not install {name} ({' '.join(requirements)}); see {log}")
        names = [_package_name(r) for r in requirements if not r.startswith("-") and "/" not in r]
        if "-e" in requirements:  # an editable source tree: modelport's
            names.append("modelport")
        installed = _versions(path / "bin" / "python", sorted(set(names)))
        marker.write_text(json.dumps({"requirements": asked, "installed": installed, "relaxed": relaxed}))
        return BuiltEnv(name, path, requirements, installed, relaxed, reused=False)
