"""``modelport batch score`` and ``modelport job ...`` as a user runs them (the CLI as a process):
the v1 entry-script contract inside the workers (EntryScript, arguments, Model.get_model_path),
a folder, a CSV, bad flags refused in one line, the job commands, a real built environment."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelport.core import Environment, Model, Workspace
from modelport.core.conda_dependencies import CondaDependencies

pytestmark = pytest.mark.process

SCORE = """
import argparse, os, sys
from azureml_user.parallel_run import EntryScript
from modelport.core.model import Model


def init():
    global offset, model_path
    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=int, default=0)
    args, _ = parser.parse_known_args()
    offset = args.offset
    model_path = Model.get_model_path("adder")
    with open(model_path) as f:
        offset += int(f.read())
    EntryScript().logger.info("init: model at %s", model_path)


def run(mini_batch):
    out = []
    for path in mini_batch:
        with open(path) as f:
            value = int(f.read())
        name = os.path.basename(model_path)
        out.append(f"{os.path.basename(path)}: {value + offset} {name} {sys.executable}")
    return out
"""

TABLE = """
def run(mini_batch):
    mini_batch["total"] = mini_batch["a"] + mini_batch["b"]
    return mini_batch[["a", "total"]]
"""


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "modelport.cli", *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def project(home: Path, tmp_path: Path) -> Path:
    ws = Workspace.create("batch-ws")
    (tmp_path / "model.txt").write_text("100")
    Model.register(ws, model_path=str(tmp_path / "model.txt"), model_name="adder")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "score.py").write_text(SCORE)
    (tmp_path / "code" / "table.py").write_text(TABLE)
    (tmp_path / "images").mkdir()
    for i in range(23):
        (tmp_path / "images" / f"{i:02d}.txt").write_text(str(i))
    (tmp_path / "t.csv").write_text("a,b\n" + "".join(f"{i},{i * 10}\n" for i in range(300)))
    return tmp_path


def test_score_a_folder_with_v1s_entry_script_contract(project: Path) -> None:
    out = project / "preds" / "out.txt"
    proc = _cli(
        "batch", "score", "-w", "batch-ws", "--entry-script", str(project / "code" / "score.py"),
        "--input", str(project / "images"), "--output", str(out), "--mini-batch-size", "4",
        "--processes", "2", "--", "--offset", "1000",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Completed: 23 items scored, 0 failed" in proc.stdout
    assert "\r" not in proc.stderr and "100%" in proc.stderr  # milestone lines, no bar redraws in a log
    lines = sorted(out.read_text().splitlines())
    assert len(lines) == 23
    assert lines[0] == f"00.txt: 1100 model.txt {sys.executable}"
    # the model was copied out of the workspace once for the run, not once per worker
    run_id = proc.stderr.split("run ", 1)[1].split(":", 1)[0]
    models = list((home_ws() / "runs" / run_id / "models" / "adder").iterdir())
    assert sorted(p.name for p in models) == ["1", "1.lock"]


def home_ws() -> Path:
    return Workspace.get("batch-ws").path


def test_score_a_csv_in_byte_sized_mini_batches(project: Path) -> None:
    pytest.importorskip("pandas")
    out = project / "sums.txt"
    proc = _cli(
        "batch", "score", "-w", "batch-ws", "--entry-script", str(project / "code" / "table.py"),
        "--input", str(project / "t.csv"), "-o", str(out), "--mini-batch-size", "1KB", "--processes", "1",
        "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = sorted(tuple(map(int, line.split())) for line in out.read_text().splitlines())
    assert rows == [(i, i * 11) for i in range(300)]  # space-separated, no header, no index


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--entry-script", "{p}/code/missing.py", "--input", "{p}/images"],
            "entry_script missing.py not found",
        ),
        (["--entry-script", "{p}/code/norun.py", "--input", "{p}/images"], "has no run() function"),
        (
            ["--entry-script", "{p}/code/score.py", "--input", "{p}/images", "--input", "{p}/t.csv"],
            "one kind",
        ),
        (["--entry-script", "{p}/code/score.py", "--input", "{p}/images", "--mini-batch-size", "ten"], "ten"),
        (
            ["--entry-script", "{p}/code/table.py", "--input", "{p}/t.csv", "--mini-batch-size", "10XB"],
            "10XB",
        ),
        (
            ["--entry-script", "{p}/code/score.py", "--input", "{p}/nowhere"],
            "no such folder, file or registered",
        ),
    ],
)
def test_bad_flags_are_one_line_before_any_process(project: Path, args: list[str], message: str) -> None:
    (project / "code" / "norun.py").write_text("def init():\n    pass\n")
    proc = _cli(
        "batch", "score", "-w", "batch-ws", "-o", str(project / "x.txt"), *[a.format(p=project) for a in args]
    )
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr
    from modelport.registry import runs

    assert runs.list_runs(Workspace.get("batch-ws"), "batch-score") == []


def test_job_commands_show_logs_cancel_and_resume(project: Path) -> None:
    slow = project / "code" / "slow.py"
    slow.write_text("import time\n\ndef run(mb):\n    time.sleep(0.1)\n    return [p for p in mb]\n")
    out = project / "slow.txt"
    proc = _cli(
        "batch", "score", "-w", "batch-ws", "--entry-script", str(slow), "--input", str(project / "images"),
        "-o", str(out), "--mini-batch-size", "1", "--processes", "1", "--detach",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip()
    deadline = time.monotonic() + 60
    while not out.exists() or len(out.read_text().splitlines()) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _cli("job", "cancel", "-w", "batch-ws", run_id).returncode == 0
    shown = _cli("job", "show", "-w", "batch-ws", run_id)
    assert "Canceled" in shown.stdout and "miniBatches" in shown.stdout
    listed = _cli("job", "list", "-w", "batch-ws", "--kind", "batch")
    assert run_id in listed.stdout
    resumed = _cli("job", "resume", "-w", "batch-ws", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert f"run {run_id} goes on as run" in resumed.stderr
    assert sorted(out.read_text().splitlines()) == sorted(str(p) for p in (project / "images").iterdir())


def test_job_logs_points_at_the_first_error(project: Path) -> None:
    bad = project / "code" / "bad.py"
    bad.write_text("def run(mb):\n    raise KeyError('no such column: pixels')\n")
    proc = _cli(
        "batch", "score", "-w", "batch-ws", "--entry-script", str(bad), "--input", str(project / "images"),
        "-o", str(project / "bad.txt"), "--processes", "1", "--max-tries", "1", "--error-threshold", "0",
    )  # fmt: skip
    assert proc.returncode == 1
    assert "error_threshold=0" in proc.stderr and "modelport job logs" in proc.stderr
    run_id = proc.stderr.split("run ", 1)[1].split(":", 1)[0]
    logs = _cli("job", "logs", "-w", "batch-ws", run_id)
    assert "First error" in logs.stdout
    assert "-- first error:" in logs.stderr and "KeyError: 'no such column: pixels'" in logs.stderr
    assert "logs/user/error.txt" in logs.stderr


def test_workers_run_in_a_built_environment(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace.get("batch-ws")
    env = Environment("batch-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["joblib"])
    env.register(ws)
    out = project / "env.txt"
    proc = _cli(
        "batch", "score", "-w", "batch-ws", "--entry-script", str(project / "code" / "score.py"),
        "--input", str(project / "images"), "-o", str(out), "--environment", "batch-env", "--processes", "2",
        timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pythons = {line.rsplit(" ", 1)[1] for line in out.read_text().splitlines()}
    assert len(pythons) == 1
    python = Path(pythons.pop())
    assert python.is_relative_to(Path(os.environ["MODELPORT_HOME"]) / "envs") and python != Path(
        sys.executable
    )
