"""Build phases reach the log as they happen; bytecode is compiled once and shared by later venvs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelport.environments import EnvSpec, resolve_interpreter, spec_key

pytestmark = pytest.mark.process

SIX = EnvSpec("six-env", pip_packages=("six==1.16.0",))
IMPORTS = "import six, numpy, uvicorn, gunicorn, orjson, inference_schema, modelport.server.supervisor"


class TimedLog(list[tuple[float, str]]):
    def __call__(self, line: str) -> None:
        self.append((time.monotonic(), line))

    def first(self, text: str) -> float:
        return next(t for t, line in self if text in line)


def pycs(env_dir: Path) -> dict[Path, int]:
    return {p: p.stat().st_ino for p in env_dir.glob("lib/python*/site-packages/**/*.pyc")}


def test_phases_live_then_bytecode_reused(tmp_path: Path) -> None:
    log = TimedLog()
    python = resolve_interpreter(SIX, tmp_path, log)
    lines = [line for _, line in log]
    prefix = "environment 'six-env': "
    # Each phase, in order, each line as it happened (not all at once at the end).
    resolve, install = log.first(prefix + "resolve: "), log.first(prefix + "install: Installed ")
    compile_start, done = (
        log.first(prefix + "compile: bytecode of 0 package(s) reused"),
        log.first("built in"),
    )
    assert resolve <= install <= compile_start < done
    assert done - resolve > 0.2, lines  # compiling the server's packages takes seconds
    # Each package compiled is a step, shown on a terminal only: a log gets the milestone.
    assert not [line for line in lines if "compile: [" in line], lines
    (compiled,) = [line for line in lines if " package(s) compiled in " in line]
    start = next(line for line in lines if "to compile (" in line)
    total = start.split("(")[-1].split()[0]
    assert compiled.startswith(f"{prefix}compile: {total} files of ")

    # A new venv with the same packages reuses the stored bytecode. Only distributions uv
    # hard-linked from its cache are stored: one it had just downloaded or built (a fresh
    # machine, a new checkout) is stored the next time, so a third venv reuses all of them.
    env_dir = tmp_path / spec_key(SIX)
    shutil.rmtree(env_dir)
    again = TimedLog()
    assert resolve_interpreter(SIX, tmp_path, again) == python
    assert any(
        "compile: bytecode of" in line and "reused" in line and " 0 package" not in line for _, line in again
    )
    shutil.rmtree(env_dir)
    third = TimedLog()
    assert resolve_interpreter(SIX, tmp_path, third) == python
    assert any("compile: bytecode of all" in line and "reused" in line for _, line in third), [
        line for _, line in third
    ]
    before = pycs(env_dir)
    unlinked = [p.name for p in before if p.stat().st_nlink < 2]
    assert len(before) > 500 and unlinked == [
        f"_modelport_source.{sys.implementation.cache_tag}.pyc"
    ]  # written by modelport
    subprocess.run([str(python), "-I", "-c", IMPORTS], check=True, cwd=tmp_path, timeout=120)
    after = pycs(env_dir)
    assert {p for p in before if after.get(p) != before[p]} == set()
