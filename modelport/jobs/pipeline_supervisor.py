"""The supervisor of one pipeline run.

``python -m modelport.jobs.pipeline_supervisor WS_PATH WS_NAME RUN_ID``

Started by :func:`modelport.jobs.pipeline.submit` in its own session. It reads the run's plan and
starts every step whose dependencies completed, each in a thread that follows its child run
(:func:`modelport.jobs.pipeline_steps.run_step`), so independent steps run at the same time. A step
that fails ends the pipeline run Failed, naming the step; the steps still running are canceled
unless the plan says ``continue_on_step_failure``, in which case every step that does not depend
on the failed one still runs. SIGTERM (``PipelineRun.cancel()``) cancels the running steps.

The pipeline run's log (``azureml-logs/70_driver_log.txt``) says when each step starts, is reused,
ends, or is not run and why.
"""

from __future__ import annotations

import json
import queue
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from modelport.jobs import LOG_NAME, log_file, run_dir
from modelport.jobs.pipeline import PLAN_FILE, check_plan, dependencies
from modelport.jobs.pipeline_steps import run_step
from modelport.jobs.pipeline_types import StepContext, StepResult
from modelport.registry import runs as registry
from modelport.workspace import Workspace


class _Log:
    """The pipeline run's log: whole lines, with the time, from any thread."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (open for the run's life)
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self._file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")

    def close(self) -> None:
        self._file.close()


class Scheduler:
    def __init__(self, ws: Workspace, record: registry.RunRecord, plan: dict[str, Any], log: _Log) -> None:
        self.ws = ws
        self.record = record
        self.plan = plan
        self.log = log
        self.steps = {s["id"]: s for s in check_plan(plan)}
        self.cancelled = threading.Event()  # running steps stop their runs
        self.user_cancel = threading.Event()  # PipelineRun.cancel(): SIGTERM
        self.results: dict[str, StepResult] = {}
        self.children: dict[str, str] = {}
        self.events: queue.Queue[tuple[str, StepResult]] = queue.Queue()
        self._lock = threading.Lock()

    # -- what steps see ------------------------------------------------------------------------
    def outputs_of(self, step_id: str) -> dict[str, str]:
        return self.results[step_id].outputs

    def on_child(self, step_id: str, run_id: str) -> None:
        with self._lock:
            self.children[step_id] = run_id
        self._note(step_id, runId=run_id, status="Running")

    def _note(self, step_id: str, **fields: Any) -> None:
        with self._lock:
            steps = registry.get_run(self.ws, self.record.id).details.get("steps") or {}
            steps.setdefault(step_id, {"name": self.steps[step_id]["name"]}).update(fields)
            registry.update_run(self.ws, self.record.id, details={"steps": steps})

    # -- running -------------------------------------------------------------------------------
    def _start(self, step: dict[str, Any]) -> None:
        ctx = StepContext(
            ws=self.ws,
            experiment=self.record.experiment,
            pipeline_run_id=self.record.id,
            regenerate_outputs=bool(self.plan.get("regenerate_outputs")),
            log=self.log,
            cancelled=self.cancelled,
            outputs_of=self.outputs_of,
            on_child=self.on_child,
        )

        def work() -> None:
            try:
                result = run_step(ctx, step)
            except Exception as exc:  # a bug here must fail the step, not hang the pipeline
                self.log(f"[{step['name']}] unexpected error:\n{traceback.format_exc()}")
                result = StepResult("Failed", self.children.get(step["id"]), f"{type(exc).__name__}: {exc}")
            self.events.put((step["id"], result))

        threading.Thread(target=work, name=f"step-{step['id']}", daemon=True).start()

    def run(self) -> tuple[str, str | None]:
        """Run every step; return the pipeline run's final status and error."""
        keep_going = bool(self.plan.get("continue_on_step_failure"))
        pending = dict(self.steps)
        running: set[str] = set()
        first_error: str | None = None
        stopping = False
        while pending or running:
            if self.user_cancel.is_set():
                stopping = True
                self.cancelled.set()
            for sid, step in list(pending.items()):
                deps = dependencies(step)
                failed = [d for d in deps if d in self.results and self.results[d].status != "Completed"]
                if failed or stopping:
                    del pending[sid]
                    why = (
                        "the pipeline run was canceled"
                        if self.user_cancel.is_set()
                        else f"step '{self.steps[failed[0]]['name']}' it depends on did not complete"
                        if failed
                        else "an earlier step failed"
                    )
                    self.log(f"[{step['name']}] not run: {why}")
                    self._note(sid, status="NotStarted", reason=why)
                    continue
                if all(d in self.results for d in deps):
                    del pending[sid]
                    running.add(sid)
                    self._start(step)
            if not running:
                if pending:  # cannot happen for a checked plan; never spin on it
                    raise RuntimeError(f"steps {sorted(pending)} can never start")
                continue
            try:
                sid, result = self.events.get(timeout=0.5)
            except queue.Empty:
                continue
            running.discard(sid)
            self.results[sid] = result
            name = self.steps[sid]["name"]
            self._note(sid, status=result.status, runId=result.run_id, reusedFrom=result.reused_from)
            if result.status == "Completed":
                self.log(
                    f"[{name}] Completed"
                    + (f" (reused run {result.reused_from})" if result.reused_from else "")
                )
                continue
            self.log(f"[{name}] {result.status}" + (f": {result.error}" if result.error else ""))
            if result.status == "Failed" and first_error is None:
                first_error = f"step '{name}' failed: {result.error or 'see its log'}"
                if not keep_going:
                    self.log("stopping: a step failed and continue_on_step_failure is False")
                    stopping = True
                    self.cancelled.set()
        if self.user_cancel.is_set() and first_error is None:
            return "Canceled", "canceled by the user"
        if first_error is not None:
            return "Failed", first_error
        if any(r.status != "Completed" for r in self.results.values()):
            return "Canceled", "a step was canceled"
        return "Completed", None


def main(argv: list[str]) -> int:
    ws_path, ws_name, run_id = argv
    ws = Workspace(ws_name, ws_path)
    folder = run_dir(ws, run_id)
    plan = json.loads((folder / PLAN_FILE).read_text())
    log = _Log(log_file(ws, run_id))
    record = registry.set_status(ws, run_id, "Running")
    if record.status in registry.FINAL:
        return 0  # canceled before it started
    scheduler = Scheduler(ws, record, plan, log)

    def on_term(signum: int, frame: FrameType | None) -> None:
        scheduler.user_cancel.set()

    signal.signal(signal.SIGTERM, on_term)
    log(f"pipeline run {run_id} started: {len(scheduler.steps)} step(s)")
    try:
        status, error = scheduler.run()
    except Exception as exc:
        log(f"the pipeline run's supervisor failed:\n{traceback.format_exc()}")
        status, error = "Failed", f"the pipeline run's supervisor failed: {type(exc).__name__}: {exc}"
    log(f"pipeline run {run_id} {status}" + (f": {error}" if error else ""))
    log.close()
    registry.add_file(ws, run_id, LOG_NAME, log_file(ws, run_id))
    registry.set_status(ws, run_id, status, error)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
