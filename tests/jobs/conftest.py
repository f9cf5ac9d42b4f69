"""Batch runner tests: real supervisor and worker processes (this interpreter), a workspace under
tmp_path, and at teardown every batch run still going is canceled and its processes stopped."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture
def files(tmp_path: Path) -> Callable[..., tuple[str, ...]]:
    """``files("ok", "skip", ...)``: one file per word, named f000.txt, f001.txt, ..."""

    def make(*words: str, folder: str = "data") -> tuple[str, ...]:
        root = tmp_path / folder
        root.mkdir(exist_ok=True)
        out = []
        for i, word in enumerate(words):
            p = root / f"f{i:03d}.txt"
            p.write_text(word)
            out.append(str(p))
        return tuple(out)

    return make


@pytest.fixture
def make_spec(tmp_path: Path) -> Callable[..., Any]:
    from modelport.jobs.batch import BatchInput, BatchSpec

    marks = tmp_path / "marks"
    marks.mkdir()

    def make(paths: tuple[str, ...], script: str = "behave.py", **kw: Any) -> Any:
        inputs = kw.pop("inputs", None) or (BatchInput("data", "files", paths),)
        env = {"MARKS": str(marks), **kw.pop("environment_variables", {})}
        return BatchSpec(
            entry_script=script,
            source_directory=str(SCRIPTS),
            interpreter=sys.executable,
            inputs=inputs,
            output_dir=kw.pop("output_dir", str(tmp_path / "out")),
            mini_batch_size=kw.pop("mini_batch_size", 2),
            process_count_per_node=kw.pop("process_count_per_node", 2),
            environment_variables=env,
            **kw,
        )

    return make


def wait_final(ws: Any, run_id: str, timeout: float = 90) -> Any:
    from modelport.registry import runs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = runs.get_run(ws, run_id)
        if record.status in runs.FINAL:
            return record
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not end within {timeout} s (status {record.status})")


@pytest.fixture
def run_batch(ws: Any) -> Callable[..., Any]:
    from modelport.jobs import batch

    def go(spec: Any, experiment: str = "exp", timeout: float = 90) -> Any:
        return wait_final(ws, batch.submit(ws, experiment, spec).id, timeout)

    return go


@pytest.fixture(autouse=True)
def _stop_batch_runs(home: Path) -> Iterator[None]:
    yield
    from modelport.registry import runs
    from modelport.workspace import Workspace

    for ws in Workspace.list().values():
        for name in runs.experiments(ws):
            for r in runs.list_runs(ws, name, include_children=True):
                sup = r.details.get("supervisor") or {}
                pid = sup.get("pid")
                if not pid:
                    continue
                try:
                    proc = psutil.Process(int(pid))
                    if abs(proc.create_time() - float(sup.get("started", 0))) < 1.0:
                        os.killpg(int(pid), signal.SIGKILL)
                except (psutil.Error, ProcessLookupError, PermissionError):
                    pass


def output_lines(spec: Any) -> list[str]:
    return Path(spec.output_file).read_text().splitlines()
