"""v1's ``azureml.widgets``: ``RunDetails(run).show()``, as text (there is no notebook widget).

v1 drew a live Jupyter widget of a run; here ``show()`` prints the run's status, its metrics and
where its log is, so a notebook cell that calls it still tells the reader what happened. For a
pipeline run it prints one line per step: its name, status and run id, and the run it reused.

Example::

    from modelport.widgets import RunDetails
    RunDetails(pipeline_run).show()
"""

from __future__ import annotations

from typing import Any

from modelport.errors import InvalidInputError, ModelportError

__all__ = ["ParallelRunStepDetails", "RunDetails"]


class RunDetails:
    """A text view of an experiment run or a pipeline run (v1's widget)."""

    def __init__(self, run_instance: Any) -> None:
        if not hasattr(run_instance, "get_status"):
            raise InvalidInputError(f"RunDetails takes a Run, got {type(run_instance).__name__}")
        self.run = run_instance

    def _steps(self) -> list[dict[str, Any]]:
        """The steps of a pipeline run, as its supervisor records them (in the pipeline's order),
        with what each step run says now."""
        run = self.run
        record = getattr(run, "_record", None)
        if record is None or record.kind != "pipeline":
            return []
        steps = run._refresh().details.get("steps") or {}
        children = {c.id: c for c in run.get_children()}
        rows = []
        for node, info in steps.items():
            child = children.get(info.get("runId"))
            rows.append(
                {
                    "step": info.get("name", node),
                    "status": child.get_status() if child is not None else info.get("status", "NotStarted"),
                    "run": info.get("runId") or "-",
                    "reused": info.get("reusedFrom"),
                    "why": info.get("reason"),
                }
            )
        return rows

    def render(self) -> str:
        run = self.run
        try:
            experiment = f" of experiment {run.experiment.name}"
        except ModelportError:  # an offline run (Run.get_context() outside a submitted script)
            experiment = " (offline)"
        lines = [f"Run {getattr(run, 'id', '?')}{experiment}: {run.get_status()}"]
        for row in self._steps():
            extra = (
                f" (reused {row['reused']})" if row["reused"] else f" ({row['why']})" if row["why"] else ""
            )
            lines.append(f"  step {row['step']}: {row['status']}  run {row['run']}{extra}")
        for name, value in sorted((run.get_metrics() or {}).items()):
            lines.append(f"  {name}: {value}")
        return "\n".join(lines)

    def show(self) -> None:
        """Print the run's status, its steps (for a pipeline run) and its metrics."""
        print(self.render(), flush=True)

    def get_widget_data(self, widget_settings: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"status": self.run.get_status(), "metrics": self.run.get_metrics(), "steps": self._steps()}


class ParallelRunStepDetails(RunDetails):
    """v1's view of a ParallelRunStep's run: here the same text view (status, metrics, log)."""

    @property
    def step_run(self) -> Any:
        """The step run shown (v1's attribute)."""
        return self.run
