"""Starting, resuming and canceling batch runs (the runner's public verbs).

A batch run is a run record of kind ``"batch"`` plus a folder (see :mod:`.layout`); its
supervisor (``python -m modelport.jobs.batch``) runs in its own session, so the submitting
Python may exit. Everything the supervisor needs is in ``batch.json``.

Resubmitting the same work (same :meth:`BatchSpec.fingerprint`, same experiment) after a run
that did not complete reuses that run's finished mini-batches; ``resume`` does the same for one
run id (or, when only its supervisor died, carries on in the same run).

On a Ray cluster (``compute``: a :class:`~modelport.jobs.ray.RayCompute`) the workers are Ray
actors (the ``ray`` executor); the cluster is checked first, in one line each: it answers,
``node_count`` is within its ``max_nodes``, the environment's interpreter imports its Ray. Where
the run goes is not part of the work: a run that lost its cluster resumes on the cluster given
to ``resume`` (the same name, started again), or on the one it had.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any

import psutil

from modelport import jobs
from modelport.errors import EnvironmentBuildError, InvalidInputError, StorageError
from modelport.jobs.batch.executors import check_executor
from modelport.jobs.batch.layout import RunFolder
from modelport.jobs.batch.spec import BatchSpec
from modelport.jobs.ray import RayCompute, check, check_node_count
from modelport.registry import runs as registry
from modelport.workspace import Workspace

__all__ = ["KIND", "cancel", "load", "resume", "submit"]

KIND = "batch"


def submit(
    ws: Workspace,
    experiment: str,
    spec: BatchSpec,
    *,
    parent_id: str | None = None,
    display_name: str | None = None,
    executor: str = "local",
    compute: RayCompute | None = None,
) -> registry.RunRecord:
    """Record a batch run of ``experiment`` and start its supervisor; returns at once.

    The spec is validated first (one error naming the problem, before any process starts). If an
    earlier run of the same experiment with the same fingerprint did not complete, its finished
    mini-batches are reused (the run's log says so). ``compute``: the Ray cluster whose actors
    run the mini-batches (the ``ray`` executor); None runs them on this machine.
    """
    spec.validate()
    if compute is not None:
        executor = "ray"
        check_cluster(spec, compute)
    elif executor == "ray":
        raise InvalidInputError("the ray executor needs a compute target (the Ray cluster to run on)")
    check_executor(executor)
    fingerprint = spec.fingerprint()
    previous = _unfinished_run(ws, experiment, fingerprint)
    return _start(
        ws,
        experiment,
        spec,
        fingerprint=fingerprint,
        parent_id=parent_id,
        display_name=display_name,
        executor=executor,
        reuse_from=previous.id if previous else None,
        compute=compute,
    )


def check_cluster(spec: BatchSpec, compute: RayCompute) -> None:
    """The cluster answers, ``node_count`` is within its ``max_nodes``, and the workers'
    interpreter imports its Ray: each refused in one line, before any process starts."""
    from modelport.environments.ray_check import WORKER, ray_problem, ray_requirement

    check(compute)
    check_node_count(compute, spec.node_count)
    problem = ray_problem(spec.interpreter, modules=WORKER)
    if problem is not None:
        raise EnvironmentBuildError(
            f"{problem}: batch workers on compute target '{compute.name}' are Ray actors in that "
            f"interpreter; give it `{ray_requirement()}`"
        )


def resume(ws: Workspace, run_id: str, compute: RayCompute | None = None) -> registry.RunRecord:
    """Score what run ``run_id`` left unfinished.

    A run whose supervisor died (killed, machine restarted) carries on under the same id. A run
    that ended Failed or Canceled is followed by a new run of the same work that reuses its
    finished mini-batches (and tries its failed ones again); that new run is returned. A run on a
    Ray cluster goes on on ``compute`` (the cluster as it is now: its name started again answers
    at a new address) or, when None, on the cluster it had.
    """
    record = registry.get_run(ws, run_id)
    if record.kind != KIND:
        raise InvalidInputError(f"run '{run_id}' is a {record.kind} run; only batch runs can be resumed")
    if record.status == "Completed":
        raise InvalidInputError(f"run '{run_id}' completed; there is nothing left to score")
    if record.status not in registry.FINAL:
        if jobs.supervisor_alive(record):
            pid = (record.details.get("supervisor") or {}).get("pid")
            raise InvalidInputError(f"run '{run_id}' is still running (its supervisor is pid {pid})")
        saved = load(ws, run_id)
        if saved.get("compute"):
            again = compute or RayCompute.from_json(saved["compute"])
            check_cluster(BatchSpec.from_json(saved["spec"]), again)
            _write(RunFolder.of(ws, run_id), {**saved, "compute": again.to_json()})
        _launch(ws, record.id)
        return registry.get_run(ws, record.id)
    saved = load(ws, run_id)
    spec = BatchSpec.from_json(saved["spec"])
    spec.validate()
    where = compute or (RayCompute.from_json(saved["compute"]) if saved.get("compute") else None)
    if where is not None:
        check_cluster(spec, where)
    return _start(
        ws,
        record.experiment,
        spec,
        fingerprint=spec.fingerprint(),
        parent_id=record.parent_id,
        display_name=record.display_name,
        executor=saved.get("executor", "local"),
        reuse_from=record.id,
        compute=where,
    )


def cancel(ws: Workspace, run_id: str) -> None:
    """Stop a batch run: its supervisor and workers end, the run is recorded Canceled. What was
    finished stays in its journal, so ``resume`` goes on from there."""
    record = registry.get_run(ws, run_id)
    if record.kind != KIND:
        raise InvalidInputError(f"run '{run_id}' is a {record.kind} run, not a batch run")
    registry.set_status(ws, run_id, "Canceled", "canceled by the user")
    if jobs.supervisor_alive(record):
        pid = int(record.details["supervisor"]["pid"])
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass


def load(ws: Workspace, run_id: str) -> dict[str, Any]:
    """The run's ``batch.json``: ``spec`` (BatchSpec.to_json), ``executor``, ``fingerprint``,
    ``reuse_from``, ``compute`` (a RayCompute's JSON, or None)."""
    path = RunFolder.of(ws, run_id).spec
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise InvalidInputError(f"run '{run_id}' is not a batch run (no {path.name})") from None
    except (OSError, ValueError) as exc:
        raise StorageError(f"run '{run_id}': cannot read {path}: {exc}") from exc
    return data


# -- internals ------------------------------------------------------------------------------------
def _unfinished_run(ws: Workspace, experiment: str, fingerprint: str) -> registry.RunRecord | None:
    """The newest earlier batch run of ``experiment`` doing the same work that did not complete
    and is not running any more."""
    for record in registry.list_runs(ws, experiment, include_children=True):
        if record.kind != KIND or record.details.get("fingerprint") != fingerprint:
            continue
        if record.status == "Completed":
            return None  # the newest same work completed: nothing to carry over from older runs
        if record.status in registry.FINAL or not jobs.supervisor_alive(record):
            return record
    return None


def _start(
    ws: Workspace,
    experiment: str,
    spec: BatchSpec,
    *,
    fingerprint: str,
    parent_id: str | None,
    display_name: str | None,
    executor: str,
    reuse_from: str | None,
    compute: RayCompute | None = None,
) -> registry.RunRecord:
    record = registry.create_run(
        ws,
        experiment,
        KIND,
        "Preparing",
        display_name=display_name,
        parent_id=parent_id,
        details={
            "target": compute.name if compute is not None else "local",
            "executor": executor,
            "entryScript": spec.entry_script,
            "sourceDirectory": spec.source_directory,
            "interpreter": spec.interpreter,
            "inputs": [{"name": i.name, "kind": i.kind, "files": len(i.files)} for i in spec.inputs],
            "outputAction": spec.output_action,
            "outputFile": str(spec.output_file) if spec.output_action == "append_row" else None,
            "outputDir": spec.output_dir,
            "processes": spec.node_count * spec.process_count_per_node,
            "fingerprint": fingerprint,
            "reuseFrom": reuse_from,
        },
    )
    folder = RunFolder.of(ws, record.id)
    try:
        folder.root.mkdir(parents=True, exist_ok=True)
        data = {
            "spec": spec.to_json(),
            "executor": executor,
            "fingerprint": fingerprint,
            "reuse_from": reuse_from,
            "compute": compute.to_json() if compute is not None else None,
        }
        _write(folder, data)
        folder.driver_log.parent.mkdir(parents=True, exist_ok=True)
        folder.driver_log.touch()
    except OSError as exc:
        registry.set_status(ws, record.id, "Failed", f"could not prepare the run: {exc}")
        raise StorageError(f"run '{record.id}': cannot write {folder.root}: {exc}") from exc
    _launch(ws, record.id)
    return registry.get_run(ws, record.id)


def _write(folder: RunFolder, data: dict[str, Any]) -> None:
    tmp = folder.spec.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, folder.spec)


def _launch(ws: Workspace, run_id: str) -> None:
    """Start the run's supervisor in its own session and record its pid."""
    folder = RunFolder.of(ws, run_id)
    try:
        with open(folder.supervisor_log, "ab") as errors:
            proc = subprocess.Popen(
                [sys.executable, "-m", "modelport.jobs.batch", str(ws.path), ws.name, run_id],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )
    except OSError as exc:
        registry.set_status(ws, run_id, "Failed", f"could not start the run's supervisor: {exc}")
        raise StorageError(f"run '{run_id}': cannot start {sys.executable}: {exc}") from exc
    try:
        started = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        started = 0.0
    registry.update_run(ws, run_id, details={"supervisor": {"pid": proc.pid, "started": started}})
