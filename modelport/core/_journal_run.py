"""``Run.get_context()`` in a script on a Ray node that cannot see the workspace.

Such a script cannot write into the workspace's database; what it logs (metrics, tags,
properties) goes to a journal file instead, one JSON line an entry, which
:mod:`modelport.jobs.ray.handback` sends back with the run's ``outputs/`` and the run's supervisor
records, in order, when the job ends. The script sees a run with its real id; reading the run
back (``get_metrics``) gives what this process logged.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

from modelport.core.run import _check_name, _OfflineRun, _plain
from modelport.errors import NotSupported
from modelport.registry import runs as registry

__all__ = ["JournalRun"]


class JournalRun(_OfflineRun):
    """A submitted run whose records go to ``journal`` (see the module docstring)."""

    def __init__(self, run_id: str, journal: str) -> None:
        super().__init__()
        self._id = run_id
        self._journal = Path(journal)

    def _write(self, entry: dict[str, Any]) -> None:
        with open(self._journal, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")

    def _log_metric(self, name: str, kind: str, value: Any, step: int | None = None) -> None:
        name, value = _check_name(name), _plain(value, name)
        metric = registry.Metric(name, kind, value, step, "")
        self._write({"metric": name, "kind": kind, "value": value, "step": step})
        self._metrics.append(metric)

    def _keep(self, name: str, kind: str, value: Any) -> None:
        self._log_metric(name, kind, value)

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        self._log_metric(name, "scalar", value, step)

    def tag(self, key: str, value: Any = None) -> None:
        self.set_tags({key: "" if value is None else value})

    def set_tags(self, tags: dict[str, Any]) -> None:
        self._write({"tags": registry.check_str_dict(tags, "tags")})

    def add_properties(self, properties: dict[str, Any]) -> None:
        self._write({"properties": registry.check_str_dict(properties, "properties")})

    @property
    def type(self) -> str:
        return "azureml.scriptrun"

    def get_details(self) -> dict[str, Any]:
        return {"runId": self._id, "target": "ray", "status": "Running"}

    def register_model(
        self, model_name: str, model_path: str | None = None, *_args: Any, **_kwargs: Any
    ) -> Any:
        raise NotSupported(
            "register_model inside a run on a Ray node that cannot see the workspace: the run's "
            "outputs/ reach the workspace when the script ends; register from the submitting code "
            "with run.wait_for_completion() and run.register_model(...)"
        )

    def get_file_names(self) -> builtins.list[str]:
        return []

    def __repr__(self) -> str:
        return f"JournalRun(id={self.id!r})"
