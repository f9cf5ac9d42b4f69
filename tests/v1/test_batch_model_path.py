"""``Model.get_model_path(name)`` inside a submitted script run (v1: the run's workspace), as
batch workers use it too: the model is copied into the run's folder once per run."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.core import Experiment, Model, ScriptRunConfig, Workspace

pytestmark = pytest.mark.process

SCRIPT = """
from modelport.core import Run
from modelport.core.model import Model

path = Model.get_model_path("bundle")
run = Run.get_context()
run.log("path", path)
run.log("first", Model.get_model_path("single", version=1))
print(open(Model.get_model_path("single")).read())
"""


def test_get_model_path_in_a_script_run(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.create("mp-ws")
    Path("bundle").mkdir()
    Path("bundle/a.txt").write_text("a")
    Path("bundle/b.txt").write_text("b")
    Model.register(ws, model_path="bundle", model_name="bundle")
    Path("one.txt").write_text("version one")
    Model.register(ws, model_path="one.txt", model_name="single")
    Path("one.txt").write_text("version two")
    Model.register(ws, model_path="one.txt", model_name="single")
    Path("src").mkdir()
    Path("src/use.py").write_text(SCRIPT)
    run = Experiment(ws, "mp").submit(ScriptRunConfig(source_directory="src", script="use.py"))
    run.wait_for_completion()
    metrics = run.get_metrics()
    folder = ws.path / "runs" / run.id / "models"
    assert metrics["path"] == str(folder / "bundle" / "1" / "bundle")  # a folder model: its folder
    assert sorted(p.name for p in Path(metrics["path"]).iterdir()) == ["a.txt", "b.txt"]
    assert metrics["first"] == str(folder / "single" / "1" / "one.txt")
    assert Path(metrics["first"]).read_text() == "version one"
    log = (ws.path / "runs" / run.id / "azureml-logs" / "70_driver_log.txt").read_text()
    assert "version two" in log  # the latest version when none is named
