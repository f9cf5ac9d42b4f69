"""The build context's locks: every third-party package pinned with its sha256 hashes, and modelport
itself as a wheel with its hash, so ``uv pip install --require-hashes`` installs exactly what the
service ran with.

What is locked is what the service's interpreter holds: the versions installed in the environment
modelport built for it (or, for a service deployed without an environment, in the interpreter that
runs it), resolved again for Linux with ``uv pip compile --generate-hashes`` from the requirements
that interpreter was built from, with every version pinned to the installed one (``-c``). uv's cache
makes this ~0.6 s when the packages' metadata was fetched before; the lock itself is cached under
``<env cache>/locks/``, keyed by everything that determines it (Python, requirements, index
options, the installed set, uv's and modelport's versions), so locking again the same inputs is
a file read.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import json
import os
import pickletools
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import modelport
from modelport import _settings
from modelport.environments import installers
from modelport.errors import EnvironmentBuildError

__all__ = ["Lock", "lock_interpreter", "modelport_wheel", "uv_version"]

LOCK_FILE = "requirements.lock"
MODELPORT_LOCK_FILE = "modelport.lock"
WHEELS_DIR = "wheels"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)$")


@dataclass(frozen=True)
class Lock:
    """What the context's Dockerfile installs: ``python`` (``X.Y``), the third-party lock's text,
    and the pins it was made from (``name -> version``)."""

    python: str
    text: str
    pins: dict[str, str]
    cached: bool = False
    """Whether the lock came from the lock cache (same inputs locked before)."""


def _uv() -> str:
    uv = installers.find_uv()
    if uv is None:
        raise EnvironmentBuildError("exporting needs uv to lock the requirements, and uv is not installed")
    return uv


@functools.cache
def uv_version() -> str:
    """The uv version that wrote the locks (the Dockerfile installs the same one)."""
    out = subprocess.run([_uv(), "--version"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"(\d+\.\d+\.\d+)", out)
    return match.group(1) if match else "0.13.9"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _frozen(interpreter: str) -> dict[str, str]:
    """``name -> version`` of what ``interpreter`` has installed (modelport itself left out)."""
    proc = subprocess.run(
        [_uv(), "pip", "freeze", "--python", interpreter],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if proc.returncode != 0:
        raise EnvironmentBuildError(f"cannot list the packages of {interpreter}: {proc.stderr.strip()}")
    pins: dict[str, str] = {}
    for line in proc.stdout.splitlines():
        match = _PIN.match(line.strip())
        if match and _canonical(match.group(1)) != "modelport":
            pins[_canonical(match.group(1))] = match.group(2)
    return pins


def _imported_modules(app_root: Path) -> set[str]:
    """Top-level modules the scripts under ``app_root`` import."""
    found: set[str] = set()
    for path in app_root.rglob("*.py"):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


_PICKLES = {".pkl", ".pickle", ".joblib", ".sav"}


def _pickled_modules(app_root: Path) -> set[str]:
    """Top-level modules the (uncompressed) pickles under ``app_root`` name: a pickled model needs
    its library (scikit-learn for the tutorial's) though no script imports it."""
    found: set[str] = set()
    for path in app_root.rglob("*"):
        if path.suffix.lower() not in _PICKLES or not path.is_file():
            continue
        strings: list[str] = []
        try:
            with path.open("rb") as stream:
                for opcode, arg, _pos in pickletools.genops(stream):
                    if opcode.name == "GLOBAL" and isinstance(arg, str):
                        found.add(arg.split(" ")[0].split(".")[0])
                    elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                        found.add(strings[-2].split(".")[0])
                    elif isinstance(arg, str):
                        strings.append(arg)
        except Exception:  # compressed, or not a pickle, or raw arrays after the objects (joblib)
            continue
    return found


def _this_interpreter_needs(app_root: Path, preload: list[str]) -> list[str]:
    """For a service on the running interpreter (no environment): modelport's own requirements and
    the distributions that provide what its scripts (and preloaded libraries) import and its
    pickled models name."""
    from modelport.environments.builder import _runtime_requirements

    providers = importlib.metadata.packages_distributions()
    wanted = set(_runtime_requirements())
    for module in sorted(_imported_modules(app_root) | _pickled_modules(app_root) | set(preload)):
        if module == "modelport" or module in sys.stdlib_module_names:
            continue
        wanted.update(providers.get(module, []))
    return sorted(wanted)


def _environment_record(interpreter: str) -> dict[str, Any] | None:
    """The record modelport wrote when it built the environment ``interpreter`` belongs to."""
    record = Path(interpreter).parent.parent / "modelport-env.json"
    try:
        data = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def lock_interpreter(interpreter: str, app_root: Path, preload: list[str] | None = None) -> Lock:
    """Lock what ``interpreter`` (a service bundle's) holds, with hashes, for Linux."""
    from modelport.environments.builder import _requirement_name, _runtime_requirements

    record = _environment_record(interpreter)
    if record is not None:
        python = str(record["python"])
        wanted = [str(r) for r in [*record.get("requirements", []), *record.get("runtime_requirements", [])]]
        # An environment built by an earlier modelport may lack a server requirement added since
        # (swagger-ui-bundle): the image runs today's server, so it gets what that imports.
        named = {_requirement_name(r) for r in wanted}
        wanted += [r for r in _runtime_requirements() if _requirement_name(r) not in named]
        options = [str(o) for o in record.get("pip_options", [])]
    else:
        if Path(interpreter).absolute() != Path(sys.executable).absolute():
            raise EnvironmentBuildError(
                f"cannot lock the user-managed interpreter {interpreter}: export a service whose "
                "environment modelport builds (user_managed_dependencies=False)"
            )
        python = f"{sys.version_info.major}.{sys.version_info.minor}"
        wanted = _this_interpreter_needs(app_root, preload or [])
        options = []
    pins = _frozen(interpreter)
    # What determines the lock: the Python, the requirements, the index options, the installed
    # set and the tools. The same inputs give the same lock, so it is computed once per inputs.
    key = hashlib.sha256(
        json.dumps(
            [python, wanted, options, sorted(pins.items()), uv_version(), modelport.__version__]
        ).encode()
    ).hexdigest()[:24]
    cached = _settings.env_cache_root() / "locks" / f"{key}.lock"
    if cached.is_file():
        return Lock(python=python, text=cached.read_text(), pins=pins, cached=True)
    uv = _uv()
    flags, extra_env = installers.pip_config_for_uv(options, {})
    with tempfile.TemporaryDirectory(prefix="modelport-lock-") as tmp:
        requirements = Path(tmp) / "requirements.in"
        constraints = Path(tmp) / "constraints.txt"
        requirements.write_text("".join(f"{r}\n" for r in wanted))
        constraints.write_text("".join(f"{name}=={version}\n" for name, version in sorted(pins.items())))
        cmd = [uv, "pip", "compile", "--quiet", "--no-header", "--generate-hashes"]
        cmd += ["--python-version", python, "--python-platform", "linux", *flags, *options]
        cmd += [str(requirements), "-c", str(constraints)]
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
            env={**_env(), **extra_env},
            cwd=tmp,
        )
    if proc.returncode != 0:
        raise EnvironmentBuildError(
            f"cannot lock the service's requirements: {installers.summarize(proc.stderr)}", proc.stderr
        )
    header = (
        f"# Locked by modelport {modelport.__version__} with uv {uv_version()} "
        f"for Python {python} on Linux:\n"
        "# the versions the service's interpreter holds, each file checked by its sha256.\n"
    )
    text = header + proc.stdout
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(text)
    partial.replace(cached)  # atomic: a concurrent export reads the old lock or the new, never half
    return Lock(python=python, text=text, pins=pins)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}


def _source_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((root / "modelport").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    for name in ("pyproject.toml", "README.md"):
        if (root / name).is_file():
            digest.update((root / name).read_bytes())
    return digest.hexdigest()[:20]


def modelport_wheel(out_dir: Path) -> tuple[Path, str]:
    """A wheel of the modelport that runs now, in ``out_dir``, and its sha256.

    Built with ``uv build`` from a copy of the source tree (setuptools writes ``build/`` into the
    tree it builds), once per source digest: later exports copy the cached wheel (~1.8 s saved)."""
    root = Path(modelport.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise EnvironmentBuildError(
            f"modelport's source tree (pyproject.toml) is not next to {root / 'modelport'}: "
            "export needs it to build modelport's wheel for the image"
        )
    cache = _settings.env_cache_root() / "wheels" / _source_digest(root)
    wheels = sorted(cache.glob("modelport-*.whl")) if cache.is_dir() else []
    if not wheels:
        with tempfile.TemporaryDirectory(prefix="modelport-wheel-") as tmp:
            src = Path(tmp) / "src"
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(root / "modelport", src / "modelport", ignore=ignore)
            for name in ("pyproject.toml", "README.md", "LICENSE"):
                if (root / name).is_file():
                    shutil.copy2(root / name, src / name)
            built = Path(tmp) / "dist"
            proc = subprocess.run(
                [_uv(), "build", "--wheel", "--quiet", "--out-dir", str(built), str(src)],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
                env=_env(),
                cwd=tmp,
            )
            if proc.returncode != 0:
                raise EnvironmentBuildError(
                    f"cannot build modelport's wheel: {installers.summarize(proc.stderr)}", proc.stderr
                )
            cache.mkdir(parents=True, exist_ok=True)
            for wheel in built.glob("*.whl"):
                shutil.copy2(wheel, cache / wheel.name)
        wheels = sorted(cache.glob("modelport-*.whl"))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheels[0].name
    shutil.copy2(wheels[0], target)
    return target, hashlib.sha256(target.read_bytes()).hexdigest()
