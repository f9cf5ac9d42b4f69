"""Script runs on this machine: what ``Experiment.submit(ScriptRunConfig(...))`` does locally.

``submit`` records the run, copies the source directory to the run's folder (v1's snapshot),
turns the environment into an interpreter, and starts a supervisor process
(``python -m modelport.jobs``) in its own session. The supervisor runs the script with that
interpreter, its output going to the run's log as it is written, uploads ``outputs/`` and the
log to the run's files when the script ends, and records Completed or Failed. The deploying
Python may exit meanwhile: the run goes on, and its state stays in the workspace.

A script's ``Run.get_context()`` finds its run through :func:`context` (the environment
variables the supervisor sets).

With ``compute`` (a :class:`~modelport.jobs.ray.RayCompute`: an ``AmlCompute`` target), the
supervisor submits the script as a Ray job to that cluster (:mod:`modelport.jobs.ray.job`) and
streams its log into the same file; the rest (snapshot, outputs, the end) is the same.

::

    <workspace>/runs/<run id>/
        snapshot/                 the source directory as submitted; the script's working folder
        snapshot/outputs/         what the script writes there becomes the run's outputs/ files
        inputs/<name>/            dataset inputs, copied
        run.json                  what the supervisor runs (argv, variables, time limit)
        azureml-logs/70_driver_log.txt   the script's stdout and stderr (v1's name)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from modelport import _settings
from modelport.errors import InvalidInputError, NotFoundError, StorageError
from modelport.jobs.ray import RayCompute, check
from modelport.registry import runs as registry
from modelport.workspace import Workspace

__all__ = ["LOG_NAME", "RunContext", "cancel", "context", "log_file", "submit", "supervisor_alive"]

LOG_NAME = "azureml-logs/70_driver_log.txt"
SUPERVISOR_LOG = "supervisor.log"  # the supervisor's own errors, if it has any
SPEC_FILE = "run.json"  # what the supervisor runs: argv, environment variables, time limit
_IGNORE = shutil.ignore_patterns(
    ".git", "__pycache__", ".venv", ".modelport", ".azureml", "*.pyc", ".ipynb_checkpoints", "outputs"
)
# What the supervisor tells the script (v1's run id variable too, for scripts that read it).
ENV_RUN_ID = "MODELPORT_RUN_ID"
ENV_WORKSPACE_PATH = "MODELPORT_RUN_WORKSPACE"
ENV_WORKSPACE_NAME = "MODELPORT_RUN_WORKSPACE_NAME"
ENV_V1_RUN_ID = "AZUREML_RUN_ID"
ENV_RUN_JOURNAL = "MODELPORT_RUN_JOURNAL"  # set by modelport.jobs.ray.handback on such a node

Progress = Callable[[str], None]


def run_dir(ws: Workspace, run_id: str) -> Path:
    return ws.path / "runs" / run_id


def log_file(ws: Workspace, run_id: str) -> Path:
    return run_dir(ws, run_id) / LOG_NAME


def submit(
    ws: Workspace,
    experiment: str,
    *,
    source_directory: str | os.PathLike[str],
    command: Sequence[str],
    interpreter: str,
    environment_variables: dict[str, str] | None = None,
    environment_name: str | None = None,
    max_run_duration_seconds: float | None = None,
    inputs: dict[str, Callable[[Path], str]] | None = None,
    tags: dict[str, Any] | None = None,
    display_name: str | None = None,
    details: dict[str, Any] | None = None,
    parent_id: str | None = None,
    compute: RayCompute | None = None,
) -> registry.RunRecord:
    """Start ``command`` (``[interpreter, script, *arguments]``) as a run of ``experiment``.

    ``inputs`` maps an input name to a function that materializes it under a folder and returns
    the path the script gets; a command item ``"{input:NAME}"`` is replaced by that path.
    ``parent_id``: the run this one is a child of (a pipeline run for a step's run).
    ``compute``: the Ray cluster the script runs on as a Ray job (None: this machine); a cluster
    that does not answer, or runs no Jobs API, is refused before anything is recorded.
    """
    src = Path(source_directory)
    if not src.is_dir():
        raise NotFoundError(f"source_directory {source_directory} is not a folder")
    if compute is not None:
        check(compute, jobs=True)
    record = registry.create_run(
        ws,
        experiment,
        "script",
        "Preparing",
        tags=tags,
        display_name=display_name,
        parent_id=parent_id,
        details={
            **(details or {}),
            "target": compute.name if compute is not None else "local",
            "sourceDirectory": str(src.resolve()),
            "environment": environment_name,
            "interpreter": interpreter,
        },
    )
    folder = run_dir(ws, record.id)
    try:
        shutil.copytree(src, folder / "snapshot", ignore=_snapshot_ignore(ws))
        (folder / "snapshot" / "outputs").mkdir(exist_ok=True)
        log_file(ws, record.id).parent.mkdir(parents=True, exist_ok=True)
        log_file(ws, record.id).touch()
        paths = {name: make(folder / "inputs") for name, make in (inputs or {}).items()}
    except OSError as exc:
        registry.set_status(ws, record.id, "Failed", f"could not prepare the run: {exc}")
        raise StorageError(f"run '{record.id}': cannot copy {src} into {folder}: {exc}") from exc
    except Exception as exc:
        registry.set_status(ws, record.id, "Failed", f"could not prepare the run: {exc}")
        raise
    argv = [_fill(str(item), paths) for item in command]
    spec = {
        "argv": argv,
        "env": {
            **(environment_variables or {}),
            ENV_RUN_ID: record.id,
            ENV_V1_RUN_ID: record.id,
            ENV_WORKSPACE_PATH: str(ws.path),
            ENV_WORKSPACE_NAME: ws.name,
        },
        "timeout": max_run_duration_seconds,
        "ray": compute.to_json() if compute is not None else None,
    }
    registry.update_run(ws, record.id, details={"command": spec["argv"], "inputDatasets": paths})
    (folder / SPEC_FILE).write_text(json.dumps(spec))
    try:
        with open(folder / SUPERVISOR_LOG, "ab") as errors:
            proc = subprocess.Popen(
                [sys.executable, "-m", "modelport.jobs", str(ws.path), ws.name, record.id],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )
    except OSError as exc:
        registry.set_status(ws, record.id, "Failed", f"could not start the run's supervisor: {exc}")
        raise StorageError(f"run '{record.id}': cannot start {sys.executable}: {exc}") from exc
    try:
        started = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        started = 0.0
    registry.update_run(ws, record.id, details={"supervisor": {"pid": proc.pid, "started": started}})
    return registry.get_run(ws, record.id)


def _snapshot_ignore(ws: Workspace) -> Callable[[str, list[str]], set[str]]:
    """What a snapshot leaves out: caches and VCS folders, and modelport's own folders (the
    workspace, the modelport home, the environment cache) when they sit inside the source folder,
    which would otherwise be copied into themselves."""
    skip = {ws.path.resolve(), _settings.home().resolve(), _settings.env_cache_root().resolve()}

    def ignore(folder: str, names: list[str]) -> set[str]:
        out = set(_IGNORE(folder, names))
        out.update(n for n in names if (Path(folder) / n).resolve() in skip)
        return out

    return ignore


def _fill(item: str, paths: dict[str, str]) -> str:
    if item.startswith("{input:") and item.endswith("}"):
        name = item[len("{input:") : -1]
        if name not in paths:
            raise InvalidInputError(f"script argument names input '{name}', which was not given")
        return paths[name]
    return item


def supervisor_alive(record: registry.RunRecord) -> bool:
    """Whether the process supervising a script run is still there (the same process, not a
    new one that got its pid)."""
    sup = record.details.get("supervisor") or {}
    pid = sup.get("pid")
    if not pid:
        return record.status == "Preparing"  # not started yet: submit() is still at it
    try:
        proc = psutil.Process(int(pid))
        return abs(proc.create_time() - float(sup.get("started", 0))) < 1.0 and proc.status() != "zombie"
    except psutil.Error:
        return False


def cancel(ws: Workspace, record: registry.RunRecord) -> None:
    """Stop a run's process group (the supervisor and the script or batch workers) and record Canceled."""
    registry.set_status(ws, record.id, "Canceled", "canceled by the user")
    if record.kind in ("script", "batch") and supervisor_alive(record):
        pid = int(record.details["supervisor"]["pid"])
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    elif record.kind == "script" and record.details.get("rayJob"):
        # Its supervisor is gone but its Ray job may still run on the cluster: stop it there.
        from modelport.jobs.ray import job as ray_job

        spec = json.loads((run_dir(ws, record.id) / SPEC_FILE).read_text())
        ray_job.stop(RayCompute.from_json(spec["ray"]), record.id)


class RunContext:
    """The run a submitted script belongs to, from the supervisor's environment variables."""

    def __init__(
        self, workspace_path: str, workspace_name: str, run_id: str, journal: str | None = None
    ) -> None:
        self.workspace_path = workspace_path
        self.workspace_name = workspace_name
        self.run_id = run_id
        self.journal = journal
        """Where to write what the run logs, on a Ray node that cannot see the workspace (the
        run's supervisor records it: :mod:`modelport.jobs.ray.handback`); None: the workspace."""


def context() -> RunContext | None:
    """The submitted run this process runs in, or None outside one (v1's offline run)."""
    run_id = os.environ.get(ENV_RUN_ID)
    path = os.environ.get(ENV_WORKSPACE_PATH)
    name = os.environ.get(ENV_WORKSPACE_NAME)
    if run_id and path and name:
        return RunContext(path, name, run_id, os.environ.get(ENV_RUN_JOURNAL) or None)
    return None
