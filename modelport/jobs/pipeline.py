"""Pipeline runs on this machine: a plan of steps, run in dependency order by a supervisor.

``modelport.pipeline`` (v1's facade) turns a ``Pipeline`` into a *plan*: JSON that holds no v1
object, with every ``PipelineParameter`` resolved and every dataset turned into its files. This
module checks a plan, records the pipeline run (kind ``"pipeline"``), writes the plan into the
run's folder and starts its supervisor (``python -m modelport.jobs.pipeline_supervisor``) in its
own session, so the run goes on when the submitting Python exits. The supervisor
(:mod:`modelport.jobs.pipeline_supervisor`) starts each step as a child run once the steps it
depends on completed: a script step through :func:`modelport.jobs.submit`, a ParallelRunStep
through :func:`modelport.jobs.batch.submit`.

The plan (``plan.json`` in the pipeline run's folder)::

    {"version": 1, "continue_on_step_failure": false, "regenerate_outputs": false,
     "parameters": {"pipeline_arg": 45},                      # as resolved, for the record
     "steps": [{
        "id": "train", "name": "train.py", "kind": "script" | "batch",
        "after": ["prep"],                                    # every step it waits for
        "allow_reuse": true,
        "source_directory": "/abs/folder", "script": "train.py",
        "arguments": [{"v": "--out"}, {"output": "out"}, {"input": "raw"}],
        "command": null,                                      # or items, for a CommandStep
        "environment": {...} | null, "interpreter": "/usr/bin/python3",
        "environment_variables": {"AML_PARAMETER_alpha": "0.5"},
        "inputs": {"raw": {"kind": "files", "files": [{"source": "/abs/a.csv", "path": "a.csv"}],
                           "single": false, "mode": "mount", "partitions": [{}]},
                   "rows": {"kind": "tabular", "files": [...], "reader": {...}, "dataset": {...}},
                   "ref": {"kind": "path", "path": "/abs/datastore/x"},
                   "prev": {"kind": "step", "step": "prep", "output": "clean", "as": "files"}},
        "outputs": {"out": {"datastore": "workspaceblobstore", "path": "azureml/{run-id}/{output-name}",
                            "register": null | {"name": ..., "description": ..., "tags": {...}}}},
        "batch": null | {... a ParallelRunConfig's values, see pipeline_supervisor ...}}]}
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from typing import Any

import psutil

from modelport.errors import InvalidInputError, StorageError
from modelport.jobs import SUPERVISOR_LOG, log_file, run_dir, supervisor_alive
from modelport.registry import runs as registry
from modelport.workspace import Workspace

__all__ = ["PLAN_FILE", "STEP_KINDS", "cancel", "check_plan", "order", "submit", "v1_status"]

PLAN_FILE = "plan.json"
STEP_KINDS = ("script", "batch")
_ITEM_KEYS = ("v", "input", "output")


def check_plan(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Check a plan's shape (ids, dependencies, names) and return its steps in an order that runs
    each after those it depends on. A cycle is an :class:`InvalidInputError` naming its steps."""
    if not isinstance(plan, dict) or plan.get("version") != 1 or not isinstance(plan.get("steps"), list):
        raise InvalidInputError("not a pipeline plan (version 1 with a list of steps)")
    steps = plan["steps"]
    if not steps:
        raise InvalidInputError("a pipeline needs at least one step")
    ids = [s.get("id") for s in steps]
    if len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
        raise InvalidInputError(f"pipeline step ids must be unique non-empty strings, got {ids}")
    known = set(ids)
    for step in steps:
        if step.get("kind") not in STEP_KINDS:
            raise InvalidInputError(f"step '{step['id']}': unknown kind {step.get('kind')!r}")
        for dep in step.get("after") or []:
            if dep not in known:
                raise InvalidInputError(
                    f"step '{step['id']}' runs after '{dep}', which is not in the pipeline"
                )
        for name, spec in (step.get("inputs") or {}).items():
            if spec.get("kind") == "step" and spec.get("step") not in known:
                raise InvalidInputError(
                    f"step '{step['id']}': input '{name}' comes from step '{spec.get('step')}', "
                    "which is not in the pipeline"
                )
        for item in [*(step.get("arguments") or []), *(step.get("command") or [])]:
            if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in _ITEM_KEYS:
                raise InvalidInputError(f"step '{step['id']}': bad argument item {item!r}")
    return order(steps)


def order(steps: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Steps sorted so each comes after every step it depends on (Kahn's algorithm, stable)."""
    steps = list(steps)
    deps = {s["id"]: set(dependencies(s)) for s in steps}
    done: list[dict[str, Any]] = []
    placed: set[str] = set()
    while len(done) < len(steps):
        ready = [s for s in steps if s["id"] not in placed and deps[s["id"]] <= placed]
        if not ready:
            stuck = sorted(s["id"] for s in steps if s["id"] not in placed)
            raise InvalidInputError(
                f"the pipeline's steps depend on each other in a cycle: {', '.join(stuck)}"
            )
        for s in ready:
            placed.add(s["id"])
            done.append(s)
    return done


def dependencies(step: dict[str, Any]) -> list[str]:
    """The ids of the steps ``step`` waits for: its data's producers and its ``run_after``."""
    found = list(step.get("after") or [])
    for spec in (step.get("inputs") or {}).values():
        if spec.get("kind") == "step" and spec["step"] not in found:
            found.append(spec["step"])
    return found


def submit(
    ws: Workspace,
    experiment: str,
    plan: dict[str, Any],
    *,
    tags: dict[str, Any] | None = None,
    display_name: str | None = None,
    details: dict[str, Any] | None = None,
) -> registry.RunRecord:
    """Record a pipeline run of ``plan`` and start its supervisor; return at once."""
    check_plan(plan)
    record = registry.create_run(
        ws,
        experiment,
        "pipeline",
        "Preparing",
        tags=tags,
        display_name=display_name,
        details={
            **(details or {}),
            "target": "local",
            "parameters": plan.get("parameters") or {},
            "steps": {s["id"]: {"name": s["name"], "status": "NotStarted"} for s in plan["steps"]},
        },
    )
    folder = run_dir(ws, record.id)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / PLAN_FILE).write_text(json.dumps(plan, indent=1))
        log_file(ws, record.id).parent.mkdir(parents=True, exist_ok=True)
        log_file(ws, record.id).touch()
        with open(folder / SUPERVISOR_LOG, "ab") as errors:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "modelport.jobs.pipeline_supervisor",
                    str(ws.path),
                    ws.name,
                    record.id,
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )
    except OSError as exc:
        registry.set_status(ws, record.id, "Failed", f"could not start the pipeline run: {exc}")
        raise StorageError(f"pipeline run '{record.id}': cannot start its supervisor: {exc}") from exc
    try:
        started = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        started = 0.0
    registry.update_run(ws, record.id, details={"supervisor": {"pid": proc.pid, "started": started}})
    return registry.get_run(ws, record.id)


def cancel(ws: Workspace, record: registry.RunRecord) -> None:
    """Cancel a pipeline run: its supervisor stops the steps running; if the supervisor is gone,
    they are stopped from here."""
    registry.set_status(ws, record.id, "Canceled", "canceled by the user")
    if supervisor_alive(record) and record.details.get("supervisor"):
        try:
            os.killpg(int(record.details["supervisor"]["pid"]), signal.SIGTERM)
            return
        except (ProcessLookupError, PermissionError):
            pass
    for child in registry.children(ws, record.id):
        if child.status not in registry.FINAL:
            cancel_step(ws, child)


def cancel_step(ws: Workspace, child: registry.RunRecord) -> None:
    """Stop one step's run, whichever runner started it."""
    if child.kind == "batch":
        from modelport.jobs.batch import cancel as cancel_batch

        cancel_batch(ws, child.id)
    else:
        from modelport import jobs

        jobs.cancel(ws, child)


#: The store's run states as v1's pipeline service named them (``get_status()`` of a PipelineRun
#: or StepRun: "Finished", not "Completed").
_V1_STATUS = {
    "NotStarted": "NotStarted",
    "Queued": "NotStarted",
    "Preparing": "NotStarted",
    "Starting": "Running",
    "Running": "Running",
    "Finalizing": "Running",
    "Completed": "Finished",
    "Failed": "Failed",
    "Canceled": "Canceled",
}


def v1_status(status: str) -> str:
    return _V1_STATUS.get(status, status)
