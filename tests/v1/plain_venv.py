"""A user's own Python, as plain as v1 users had it: a virtualenv with modelport (this checkout,
editable) and ``mlflow-skinny`` (what v1's ``azureml-mlflow`` brought), and nothing else: no
SQLAlchemy, no onnxruntime, no scikit-learn. Built once per test session (~7 s from uv's cache),
under a file lock so parallel test processes share it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import filelock

from modelport.environments.installers import find_uv, pip_config_for_uv

ROOT = Path(__file__).parents[2]
PACKAGES = ("mlflow-skinny==3.17.2",)


def plain_venv(base: Path) -> Path:
    """The interpreter of the plain virtualenv under ``base`` (built the first time)."""
    folder = base / "plain-venv"
    python = folder / "bin" / "python"
    with filelock.FileLock(str(base / "plain-venv.lock")):
        if (folder / ".ready").is_file():
            return python
        uv = find_uv()
        assert uv is not None
        env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
        flags, extra = pip_config_for_uv([], env)
        subprocess.run(
            [uv, "venv", "-q", "--python", os.path.realpath(_base_python()), str(folder)], check=True, env=env
        )
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(python), *flags, "-e", str(ROOT), *PACKAGES],
            check=True,
            env={**env, **extra},
        )
        (folder / ".ready").write_text("")
    return python


def _base_python() -> str:
    import sys

    return getattr(sys, "_base_executable", sys.executable)


def run_program(
    python: Path, code: str, cwd: Path, home: Path, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run a v1-style program with ``python`` in ``cwd``, its workspaces under ``home``."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["MODELPORT_HOME"] = str(home)
    (cwd / "program.py").write_text(code)
    return subprocess.run(
        [str(python), "program.py"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
