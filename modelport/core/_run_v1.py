"""The rest of v1's ``Run`` surface, kept out of ``run.py`` (``Experiment``'s is in ``_experiment_v1.py``):
what has a local meaning works (``get_all_logs``, ``get_detailed_status``,
``flush``, ``portal_url``), and what needs Azure (Key Vault secrets, snapshots, child runs,
compute listings, AutoML charts) refuses with one line naming the local way."""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

from modelport._refused import refused_method
from modelport.core._cloud_only import KEYVAULT

__all__ = ["RunV1"]

_CHILD = (
    "child runs are made by pipelines here; log into this run, or submit another run with "
    "Experiment.submit(ScriptRunConfig(...))"
)
_SNAPSHOT = (
    "a run's source folder is copied when it is submitted; get it back with run.download_files(), "
    "or submit the folder again"
)
_CHART = (
    "v1's AutoML chart metrics are not kept; log the values with run.log_table(name, {column: [...]}) "
    "or save them as a file with run.upload_file(name, path)"
)
_DOCS = "there is no documentation page per run type; see docs/v1-data-and-runs.md"


class RunV1:
    """v1's ``Run`` members beyond what ``run.py`` implements (a base of :class:`Run`)."""

    identity = None  # v1's managed identity of a remote run: none locally
    _record: Any

    @property
    def description(self) -> str | None:
        """The run's description, if one was given (``details['description']``)."""
        value = self._record.details.get("description")
        return None if value is None else str(value)

    @property
    def portal_url(self) -> str:
        """Where to look at the run: locally, the CLI command and the workspace folder."""
        url: str = self.get_portal_url()  # type: ignore[attr-defined]
        return url

    def flush(self, timeout_seconds: int = 300) -> None:
        """Nothing to wait for: metrics and files are in the workspace when logged."""

    def get_detailed_status(self) -> dict[str, Any]:
        """v1's ``{"status": ..., "details": ...}``: the status and, for a failed run, why."""
        status: str = self.get_status()  # type: ignore[attr-defined]
        return {"status": status, "details": self._record.error}

    def _log_names(self) -> builtins.list[str]:
        names: builtins.list[str] = self.get_file_names()  # type: ignore[attr-defined]
        return [n for n in names if n.split("/", 1)[0] in ("logs", "azureml-logs") or n.endswith(".log")]

    def get_all_logs(self, destination: str | os.PathLike[str] | None = None) -> builtins.list[str]:
        """Copy the run's log files under ``destination`` (default: ``./<run id>-logs``); return
        their paths."""
        folder = Path(destination or f"{self._record.id}-logs")
        paths = []
        for name in self._log_names():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            self.download_file(name, str(target))  # type: ignore[attr-defined]
            paths.append(str(target))
        return paths

    def get_details_with_logs(self) -> dict[str, Any]:
        """:meth:`get_details` plus the text of each log file under ``logFiles``."""
        details: dict[str, Any] = self.get_details()  # type: ignore[attr-defined]
        logs: dict[str, str] = {}
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            for path in self.get_all_logs(tmp):
                logs[Path(path).relative_to(tmp).as_posix()] = Path(path).read_text(errors="replace")
        return {**details, "logFiles": logs}

    def get_environment(self) -> Any:
        """The registered environment the run's script ran in; a run in this Python (no
        environment) or in an environment never registered raises ``NotFoundError`` saying so."""
        from modelport.core.environment import Environment
        from modelport.errors import EnvironmentNotFound, NotFoundError

        name = self._record.details.get("environment")
        if not name:
            raise NotFoundError(f"run '{self._record.id}' ran in this Python, not in an environment")
        workspace = self.experiment.workspace  # type: ignore[attr-defined]
        try:
            return Environment.get(workspace, name)
        except EnvironmentNotFound:
            raise NotFoundError(
                f"run '{self._record.id}' ran in environment '{name}', which is not registered; "
                "register it (env.register(ws)) to get it back by name"
            ) from None

    get_secret = refused_method("Run.get_secret", KEYVAULT)
    get_secrets = refused_method("Run.get_secrets", KEYVAULT)
    child_run = refused_method("Run.child_run", _CHILD)
    create_children = refused_method("Run.create_children", _CHILD)
    submit_child = refused_method("Run.submit_child", _CHILD)
    start = refused_method(
        "Run.start", "a run starts when it is made here; use Experiment.start_logging() or submit()"
    )
    get_snapshot_id = refused_method("Run.get_snapshot_id", _SNAPSHOT)
    restore_snapshot = refused_method("Run.restore_snapshot", _SNAPSHOT)
    take_snapshot = refused_method("Run.take_snapshot", _SNAPSHOT)
    clean = refused_method(
        "Run.clean", "a local run leaves nothing on a compute to clean; its files are in the workspace"
    )
    list_by_compute = staticmethod(
        refused_method("Run.list_by_compute", "every run here is local; list them with Run.list(experiment)")
    )
    add_type_provider = staticmethod(
        refused_method("Run.add_type_provider", "run types are modelport's own; use Run, or PipelineRun")
    )
    get_docs_url = refused_method("Run.get_docs_url", _DOCS)
    log_accuracy_table = refused_method("Run.log_accuracy_table", _CHART)
    log_confusion_matrix = refused_method("Run.log_confusion_matrix", _CHART)
    log_predictions = refused_method("Run.log_predictions", _CHART)
    log_residuals = refused_method("Run.log_residuals", _CHART)
