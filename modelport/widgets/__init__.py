"""v1's ``azureml.widgets``: ``RunDetails(run).show()``, as text (there is no notebook widget).

v1 drew a live Jupyter widget of a run; here ``show()`` prints the run's status, its metrics and
where its log is, so a notebook cell that calls it still tells the reader what happened.

Example::

    from modelport.widgets import RunDetails
    RunDetails(run).show()
"""

from __future__ import annotations

from typing import Any

from modelport.errors import InvalidInputError, ModelportError

__all__ = ["RunDetails"]


class RunDetails:
    """A text view of an experiment run (v1's widget)."""

    def __init__(self, run_instance: Any) -> None:
        if not hasattr(run_instance, "get_status"):
            raise InvalidInputError(f"RunDetails takes a Run, got {type(run_instance).__name__}")
        self.run = run_instance

    def render(self) -> str:
        run = self.run
        try:
            experiment = f" of experiment {run.experiment.name}"
        except ModelportError:  # an offline run (Run.get_context() outside a submitted script)
            experiment = " (offline)"
        lines = [f"Run {getattr(run, 'id', '?')}{experiment}: {run.get_status()}"]
        for name, value in sorted((run.get_metrics() or {}).items()):
            lines.append(f"  {name}: {value}")
        return "\n".join(lines)

    def show(self) -> None:
        """Print the run's status and metrics."""
        print(self.render(), flush=True)

    def get_widget_data(self, widget_settings: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"status": self.run.get_status(), "metrics": self.run.get_metrics()}
