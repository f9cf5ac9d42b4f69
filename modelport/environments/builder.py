"""Environments become interpreters: a cached virtualenv per spec, built once, shared by services.

``resolve_interpreter(spec, cache_root)`` returns a Python interpreter that can import the
environment's packages and modelport itself (the same source tree that runs the deployer, plus
what its scoring server imports, :data:`SERVER_REQUIREMENTS`, resolved together with the user's
packages: wide ranges, so the user's pins decide).

The cache is one folder::

    cache_root/
      <key>/              a virtualenv, complete: it holds .modelport-ready (written last)
        modelport-env.json  when and how it was built, what was asked, what got installed
        modelport-build.log the installer's output
      <key>.lock          taken while <key> is built, so two processes never build it twice
      .bytecode/          compiled modules per installed distribution, linked into new venvs
      .build-<key>-...    a build in progress (renamed to <key> when done; removed if abandoned)

``key`` hashes what decides the environment's contents: the translated requirements, the Python
version, pip options, the pin policy (:mod:`~modelport.environments.pins`), modelport's version,
runtime dependencies and source folder, and :data:`BUILDER_FORMAT`. Equal specs share one
virtualenv, whatever their names.

A pin with no wheel for this Python is replaced by the nearest release that installs (or refused,
under the ``strict`` policy): each replacement is logged as one line and kept in the build record
(``modelport-env.json``: ``replacements``), which the scoring server reads to hint at a replaced
pin when init() fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import filelock

import modelport
from modelport.environments import installers, pins, policy
from modelport.environments.diagnose import (
    cannot_install,
    diagnose_failure,
    venv_interpreter,
)
from modelport.environments.envspec import EnvSpec
from modelport.environments.packages import canonical_name, translate
from modelport.environments.progress import Progress

# Re-exported: the export's lock and tests/test_server_requirements.py read them here.
from modelport.environments.requirements import (  # noqa: F401
    _SERVER_MODULES,
    MIN_PYTHON,
    SERVER_REQUIREMENTS,
    _requirement_name,
    _runtime_requirements,
    _source_root,
)
from modelport.environments.user_managed import user_interpreter
from modelport.errors import EnvironmentBuildError, InvalidInputError

__all__ = [
    "BUILDER_FORMAT",
    "EnvSpec",
    "build_record",
    "cached_interpreter",
    "environment_notices",
    "resolve_interpreter",
    "spec_key",
]

#: Bumped when the layout or contents of built environments change, so old ones are not reused.
BUILDER_FORMAT = 2

READY_MARKER = ".modelport-ready"
RECORD_FILE = "modelport-env.json"
BUILD_LOG_FILE = "modelport-build.log"

Installer = Literal["auto", "uv", "pip"]


@dataclass(frozen=True)
class _Plan:
    """A spec made concrete: exactly what goes into the virtualenv (and so into its key)."""

    name: str
    packages: tuple[str, ...]
    runtime: tuple[str, ...]
    python: str
    pip_options: tuple[str, ...]
    source_root: str
    notes: tuple[str, ...]
    pin_policy: str = pins.POLICIES[0]
    python_replaced: str | None = None
    """The line saying the asked ``python_version`` was replaced by this Python (nearest policy)."""

    def key(self) -> str:
        body = {
            "format": BUILDER_FORMAT,
            "pin_policy": self.pin_policy,
            "modelport": modelport.__version__,
            "source": self.source_root,
            "python": self.python,
            "packages": self.packages,
            "runtime": self.runtime,
            "pip_options": self.pip_options,
        }
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def _plan(spec: EnvSpec, extra: tuple[str, ...] = ()) -> _Plan:
    # A pip list may carry options too ("--extra-index-url URL"), as in a requirements file.
    option_lines = [*spec.pip_options, *(p for p in spec.pip_packages if p.strip().startswith("-"))]
    pip_packages = [p for p in spec.pip_packages if not p.strip().startswith("-")]
    options: list[str] = []
    for line in option_lines:
        try:
            options += shlex.split(line)
        except ValueError as exc:
            raise EnvironmentBuildError(
                f"environment '{spec.name}': cannot read pip option {line!r}: {exc}"
            ) from None
    reqs = translate(spec.name, tuple(pip_packages), spec.conda_packages)
    policy = pins.effective_policy(spec.pin_policy)
    python, replaced = _python_version(spec, reqs.python, policy)
    return _Plan(
        name=spec.name,
        packages=reqs.packages,
        runtime=tuple(sorted({*_runtime_requirements(), *extra})),
        python=python,
        pip_options=tuple(options),
        source_root=str(_source_root()),
        notes=reqs.notes,
        pin_policy=policy,
        python_replaced=replaced,
    )


def _python_version(spec: EnvSpec, from_conda: str | None, policy: str) -> tuple[str, str | None]:
    """``X.Y`` to build with, and the replacement line when the asked version was below the floor."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    asked = spec.python_version or from_conda
    if asked is None:
        return running, None
    match = re.match(r"^\s*(?:python\s*)?=*\s*(\d+)(?:\.(\d+))?", asked)
    if match is None:
        raise EnvironmentBuildError(f"environment '{spec.name}': cannot read python_version {asked!r}")
    major, minor = int(match.group(1)), match.group(2)
    if minor is None:  # "3": any 3.x; the running one if it fits
        if major == sys.version_info.major:
            return running, None
        raise EnvironmentBuildError(f"environment '{spec.name}': Python {asked} is not supported")
    if (major, int(minor)) < MIN_PYTHON:
        floor = ".".join(map(str, MIN_PYTHON))
        if policy == "nearest":
            return running, pins.python_replacement(f"{major}.{minor}", running, floor)
        raise EnvironmentBuildError(
            f"environment '{spec.name}' asks for Python {major}.{minor}, but modelport's scoring server "
            f"needs Python >= {floor}: set python_version to {floor} or later, or leave it unset to use "
            f"Python {running}"
        )
    return f"{major}.{minor}", None


def spec_key(spec: EnvSpec) -> str:
    """The cache key of a (not user-managed) spec: a hex digest naming its virtualenv folder."""
    return _plan(spec).key()


def cached_interpreter(spec: EnvSpec, cache_root: Path) -> Path | None:
    """The interpreter for ``spec`` if it is ready now, without building; None otherwise.

    A user-managed spec needs no build: its interpreter is returned if the file exists.
    """
    if spec.user_managed:
        path = Path(spec.interpreter_path or sys.executable)
        return path if path.exists() else None
    return _ready(Path(cache_root).absolute() / spec_key(spec))


def _ready(env_dir: Path) -> Path | None:
    python = installers.venv_python(env_dir)
    # exists() follows the interpreter's symlink, so a venv whose base Python is gone is not ready.
    if (env_dir / READY_MARKER).is_file() and python.exists():
        return python
    return None


def resolve_interpreter(
    spec: EnvSpec,
    cache_root: Path,
    log: Callable[[str], None] = print,
    *,
    installer: Installer = "auto",
    lock_timeout: float = 3600.0,
    build_timeout: float = 3600.0,
    extra_requirements: tuple[str, ...] = (),
) -> Path:
    """The Python interpreter for ``spec``: built into ``cache_root`` the first time, then reused.

    ``log`` receives one line per step (and the notes on what was translated). ``installer``
    forces a tool: ``"uv"``, ``"pip"`` (venv + pip), or ``"auto"`` (uv when found, else pip).
    ``extra_requirements`` join modelport's own (a Ray service's replicas need the cluster's Ray:
    ``("ray[serve]==2.60.0",)``); they are part of the cache key.
    Raises :class:`EnvironmentBuildError` when the environment cannot be built; its ``log`` holds
    the installer's output.

    Example::

        python = resolve_interpreter(EnvSpec("env", pip_packages=("scikit-learn==1.5.2",)), cache)
        subprocess.run([python, "-m", "modelport.server", ...])
    """
    if spec.docker_base:
        log(
            f"environment '{spec.name}': docker base {spec.docker_base} is recorded: a local service runs "
            "no container; an export's Dockerfile builds on it (docs/export.md)"
        )
    if spec.user_managed:
        return user_interpreter(spec.name, spec.interpreter_path)
    plan = _plan(spec, extra_requirements)
    for note in (*plan.notes, *([f"environment '{spec.name}': {spec.note}"] if spec.note else [])):
        log(note)
    if plan.python_replaced:
        log(f"environment '{spec.name}': {plan.python_replaced}")
    policy.check_java(plan)
    cache_root = Path(cache_root).absolute()
    key = plan.key()
    env_dir = cache_root / key
    python = _ready(env_dir)
    if python is not None:
        _say_replacements(spec.name, build_record(python), log)
        return python

    cache_root.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(cache_root / f"{key}.lock"))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        log(f"environment '{spec.name}': waiting for another process to finish this environment")
        try:
            lock.acquire(timeout=lock_timeout)
        except filelock.Timeout:
            raise EnvironmentBuildError(
                f"environment '{spec.name}': another process has held {lock.lock_file} for more than "
                f"{lock_timeout:.0f} s"
            ) from None
    try:
        python = _ready(env_dir)
        if python is not None:
            _say_replacements(spec.name, build_record(python), log)
            return python
        _clean(cache_root, key)
        return _build(plan, key, cache_root, log, installer, build_timeout)
    finally:
        lock.release()


def build_record(interpreter: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record modelport wrote when it built the virtualenv ``interpreter`` belongs to."""
    try:
        data = json.loads((Path(interpreter).parent.parent / RECORD_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _replacements(record: Mapping[str, Any] | None) -> list[pins.Replacement]:
    found = []
    for item in (record or {}).get("replacements") or []:
        try:
            found.append(pins.Replacement.from_dict(item))
        except (KeyError, TypeError):
            continue
    return found


def _say_replacements(name: str, record: Mapping[str, Any] | None, log: Callable[[str], None]) -> None:
    for replacement in _replacements(record):
        log(f"environment '{name}': {replacement.line()}")


def environment_notices(
    spec: EnvSpec | Mapping[str, Any] | None, interpreter: str | os.PathLike[str] | None
) -> list[str]:
    """What a service's environment replaced, one line each (``python 3.6 -> 3.11: ...``,
    ``scikit-learn==0.22.1 -> 1.1.3: 0.22.1 has no wheel for Python 3.11``): from the spec (its
    Python) and the build record beside ``interpreter`` (its pins). Empty when nothing was replaced."""
    lines: list[str] = []
    if spec:
        try:
            env = spec if isinstance(spec, EnvSpec) else EnvSpec.from_dict(spec)
            if not env.user_managed:
                replaced = _plan(env).python_replaced
                lines += [replaced] if replaced else []
        except (EnvironmentBuildError, InvalidInputError):
            pass
    if interpreter:
        lines += [r.line() for r in _replacements(build_record(interpreter))]
    return lines


def _clean(cache_root: Path, key: str) -> None:
    """Remove what a killed build left behind: a folder without its marker, abandoned temp folders."""
    leftovers = [cache_root / key, *cache_root.glob(f".build-{key}-*")]
    for path in leftovers:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _build(
    plan: _Plan, key: str, cache_root: Path, log: Callable[[str], None], installer: Installer, timeout: float
) -> Path:
    uv = installers.find_uv() if installer != "pip" else None
    if installer == "uv" and uv is None:
        raise EnvironmentBuildError(f"environment '{plan.name}': uv was asked for but is not installed")
    tool = "uv" if uv is not None else "venv + pip"
    progress = Progress(log, prefix=f"environment '{plan.name}': ")
    progress(f"building a Python {plan.python} virtualenv with {tool} ({key})")
    started = time.monotonic()
    tmp = cache_root / f".build-{key}-{os.getpid()}-{secrets.token_hex(4)}"
    env_dir = cache_root / key
    try:
        pinned = policy.Pinned(plan, uv, cache_root)
        said: set[str] = set()
        for _round in range(policy.MAX_ROUNDS):
            for replacement in pinned.replacements:  # each said once, as it is decided
                if replacement.line() not in said:
                    said.add(replacement.line())
                    progress(replacement.line())
            try:
                built = installers.build_venv(
                    tmp,
                    python=plan.python,
                    requirements=[*pinned.packages, *plan.runtime],
                    pip_options=plan.pip_options,
                    source_root=plan.source_root,
                    uv=uv,
                    cwd=cache_root,
                    timeout=timeout,
                    log=progress,
                    bytecode_store=cache_root / ".bytecode",
                    constraints=[f"{n}=={v}" for n, v in sorted(pinned.held.items())],
                )
                break
            except EnvironmentBuildError as exc:
                progress.done()
                failed = cannot_install(exc.log)
                # A pure-Python sdist that would not build: the nearest release that installs.
                if failed is not None and pinned.retry(f"{canonical_name(failed[0])}=={failed[1]}", exc.log):
                    shutil.rmtree(tmp, ignore_errors=True)
                    progress(
                        f"{failed[0]}=={failed[1]} did not build; choosing the nearest release that installs"
                    )
                    continue
                message = (
                    diagnose_failure(
                        exc.log,
                        user=pinned.packages,
                        server=plan.runtime,
                        python_version=plan.python,
                        python=venv_interpreter(tmp),
                        uv=uv,
                        pip_options=plan.pip_options,
                    )
                    or exc.message
                )
                raise EnvironmentBuildError(
                    f"environment '{plan.name}': {message}", "\n".join([*pinned.probe_log, exc.log])
                ) from None
        else:  # pragma: no cover - every round replaced one more pin and failed again
            raise EnvironmentBuildError(f"environment '{plan.name}': no set of releases installs", "")
        installers.relocate(tmp, env_dir)
        seconds = time.monotonic() - started
        record = {
            "format": BUILDER_FORMAT,
            "key": key,
            "name": plan.name,
            "python": plan.python,
            "base_interpreter": built.base_interpreter,
            "installer": built.tool,
            "requirements": list(pinned.packages),
            "asked_requirements": list(plan.packages),
            "pin_policy": plan.pin_policy,
            "replacements": [r.to_dict() for r in pinned.replacements],
            "held": dict(sorted(pinned.held.items())),
            "runtime_requirements": list(plan.runtime),
            "pip_options": list(plan.pip_options),
            "installed": built.installed,
            "modelport_version": modelport.__version__,
            "modelport_source": plan.source_root,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(seconds, 3),
            "builder_pid": os.getpid(),
        }
        (tmp / BUILD_LOG_FILE).write_text("\n".join([*pinned.probe_log, built.log]))
        (tmp / RECORD_FILE).write_text(json.dumps(record, indent=2) + "\n")
        (tmp / READY_MARKER).write_text(key + "\n")  # last: its presence means the build is complete
        os.rename(tmp, env_dir)
    finally:
        progress.done()
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    progress(f"built in {seconds:.1f} s at {env_dir}")
    return installers.venv_python(env_dir)
