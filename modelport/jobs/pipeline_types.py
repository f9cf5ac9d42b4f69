"""What a pipeline run's supervisor and its steps pass each other (see pipeline_steps)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport.jobs import run_dir
from modelport.workspace import Workspace

__all__ = ["Inputs", "StepContext", "StepResult", "step_details"]


@dataclass
class StepResult:
    status: str  # Completed | Failed | Canceled
    run_id: str | None
    error: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> absolute folder
    reused_from: str | None = None


@dataclass
class StepContext:
    """What a step needs from the pipeline run that runs it."""

    ws: Workspace
    experiment: str
    pipeline_run_id: str
    regenerate_outputs: bool
    log: Callable[[str], None]
    cancelled: threading.Event
    outputs_of: Callable[[str], dict[str, str]]
    on_child: Callable[[str, str], None]

    def outputs_folder(self, step: dict[str, Any]) -> Path:
        """A step's own folder for what it writes outside any declared output."""
        folder = run_dir(self.ws, self.pipeline_run_id) / "steps" / step["id"] / "output"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


@dataclass
class Inputs:
    paths: dict[str, str] = field(default_factory=dict)  # name -> what the script gets
    tabular: dict[str, Any] = field(default_factory=dict)  # name -> dataset ref (Run.input_datasets)
    files: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # name -> local files
    digests: dict[str, str] = field(default_factory=dict)


def step_details(step: dict[str, Any], key: str, outputs: dict[str, Any]) -> dict[str, Any]:
    """What a step's run records of its step: which step, its reuse key, where its outputs are."""
    return {"nodeId": step["id"], "stepName": step["name"], "reuseKey": key, "outputs": outputs}
