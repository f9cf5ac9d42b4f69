"""v1's ``allow_reuse`` (issue 20, point 1): a step whose script (its source folder's content),
inputs, parameters and environment are unchanged reuses its earlier output and says so; any
change, ``regenerate_outputs=True`` or ``allow_reuse=False`` runs it again."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.core import Dataset, Experiment, Workspace
from modelport.pipeline.core import Pipeline, PipelineData, PipelineParameter
from modelport.pipeline.steps import PythonScriptStep

pytestmark = pytest.mark.process

PREP = """
import argparse, os, pathlib
p = argparse.ArgumentParser()
p.add_argument("--raw"); p.add_argument("--out"); p.add_argument("--scale", type=int)
a = p.parse_args()
with open(os.environ["CALLS"], "a") as f:
    f.write("prep\\n")
os.makedirs(a.out, exist_ok=True)
total = sum(int(x) for x in pathlib.Path(a.raw).read_text().split())
pathlib.Path(a.out, "total.txt").write_text(str(total * a.scale))
"""
REPORT = """
import argparse, os, pathlib
p = argparse.ArgumentParser()
p.add_argument("--total")
a = p.parse_args()
with open(os.environ["CALLS"], "a") as f:
    f.write("report\\n")
print("total is", pathlib.Path(a.total, "total.txt").read_text())
"""


def test_allow_reuse_reuses_unchanged_steps_and_reruns_changed_ones(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    calls = tmp_path / "calls.txt"
    monkeypatch.setenv("CALLS", str(calls))  # the scripts count their runs here
    ws = Workspace.create(name="reuse", exist_ok=True)
    Path("prep").mkdir()
    Path("prep/prep.py").write_text(PREP)
    Path("report").mkdir()
    Path("report/report.py").write_text(REPORT)
    Path("raw.txt").write_text("1 2 3")
    raw = Dataset.File.from_files("raw.txt").as_named_input("raw")
    total = PipelineData("total")
    scale = PipelineParameter("scale", default_value=10)
    prep = PythonScriptStep(
        name="prep", script_name="prep.py", source_directory="prep",
        arguments=["--raw", raw, "--out", total, "--scale", scale], outputs=[total],
    )  # fmt: skip
    report = PythonScriptStep(
        name="report", script_name="report.py", source_directory="report", arguments=["--total", total],
        inputs=[total],
    )  # fmt: skip
    pipeline = Pipeline(ws, [report])
    assert any(s is prep for s in pipeline.steps)
    experiment = Experiment(ws, "reuse")

    def run_once(**kwargs: object) -> tuple[list[str], dict[str, str]]:
        before = calls.read_text().split() if calls.exists() else []
        run = experiment.submit(pipeline, **kwargs)
        assert run.wait_for_completion(show_output=False) == "Finished"
        after = calls.read_text().split()
        out = run.find_step_run("report")[0].get_job_log()
        return after[len(before) :], {"log": run.get_job_log(), "report": out}

    ran, _ = run_once()
    assert ran == ["prep", "report"]

    ran, logs = run_once()  # nothing changed: both reused
    assert ran == []
    assert "[prep] reused run" in logs["log"] and "[report] reused run" in logs["log"]
    assert "reused the output of run" in logs["report"]

    ran, _ = run_once(pipeline_parameters={"scale": 100})  # a parameter changed
    assert ran == ["prep", "report"]

    Path("raw.txt").write_text("1 2 3 4")  # an input's content changed
    ran, logs = run_once()
    assert ran == ["prep", "report"]
    assert "total is 100" in logs["report"]

    Path("report/report.py").write_text(REPORT + "\n# a comment\n")  # the script's folder changed
    ran, _ = run_once()
    assert ran == ["report"]  # prep is unchanged and reused

    ran, _ = run_once(regenerate_outputs=True)  # forced
    assert ran == ["prep", "report"]

    report.allow_reuse = False
    ran, _ = run_once()
    assert ran == ["report"]
