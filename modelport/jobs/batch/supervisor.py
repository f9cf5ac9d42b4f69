"""The supervisor of one batch run: planning, dispatch, retries, timeouts, thresholds, the end.

It owns every decision; the executor only moves tasks and reports events. The order of
operations that makes the output exactly-once is: a finished mini-batch is committed to the
journal (rows included), then its rows are appended to the output file (see :mod:`.journal`).

Scheduling: each ready worker holds the task it runs and enough queued behind it to last about
50 ms (at least one, so it never waits for a round trip; more when mini-batches are quick, so
a supervisor kept off the CPU for a few milliseconds by a busy machine does not starve it; the
queues shrink near the end so no worker sits idle while another holds the last tasks); a failed
try goes back to the front of the queue; the first task a
worker holds is timed from when the worker started it, and past ``run_invocation_timeout`` the
worker is killed and replaced and the try counts as failed. A worker that dies is replaced and
the mini-batch it was running counts one try; the tasks queued behind it go back to the queue
without one.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport import jobs
from modelport.jobs.batch import thresholds
from modelport.jobs.batch.executors import create
from modelport.jobs.batch.executors.base import (
    Done,
    Executor,
    ExecutorUnavailable,
    InitFailed,
    Lost,
    Ready,
    Slot,
    WorkerSetup,
)
from modelport.jobs.batch.journal import Journal, Totals
from modelport.jobs.batch.layout import RunFolder
from modelport.jobs.batch.logs import RunLogs
from modelport.jobs.batch.output import OutputFile
from modelport.jobs.batch.plan import MiniBatch, plan
from modelport.jobs.batch.spec import BatchSpec
from modelport.registry import runs as registry
from modelport.workspace import Workspace

__all__ = ["Outcome", "Supervisor"]

_OVERVIEW_EVERY = 2.0  # seconds between progress overview rewrites
_STATUS_EVERY = 2.0  # seconds between looks at the run record (a cancel without a signal)
_MILESTONES = (10, 25, 50, 75, 90)
_QUEUED_SECONDS = 0.05  # of work queued on each worker (see _dispatch)
_MAX_QUEUED = 64


@dataclass
class Outcome:
    status: str  # Completed | Failed | Canceled
    error: str | None = None


@dataclass
class _SlotState:
    started: float
    ready: bool = False
    pid: int | None = None
    queue: deque[int] = field(default_factory=deque)
    head_started: float | None = None


class Supervisor:
    def __init__(
        self,
        ws: Workspace,
        run_id: str,
        spec: BatchSpec,
        *,
        executor: str = "local",
        reuse_from: str | None = None,
        compute: dict[str, Any] | None = None,
    ) -> None:
        self.ws = ws
        self.run_id = run_id
        self.spec = spec
        self.folder = RunFolder.of(ws, run_id)
        self.executor_name = executor
        self.compute = compute
        self.reuse_from = reuse_from
        self.began = time.time()
        self.logs = RunLogs(self.folder, self.began)
        self.journal = Journal(self.folder.journal)
        self.output: OutputFile | None = None
        self.batches: dict[int, MiniBatch] = {}
        self.pending: deque[int] = deque()
        self.tries: dict[int, int] = {}
        self.slots: dict[Slot, _SlotState] = {}
        self.executor: Executor | None = None
        self.init_failures = 0
        self.restarts = 0
        self.first_error: str | None = None
        self.stop: Outcome | None = None
        self.canceled = False
        self.failed_batches = 0
        self.failed_items = 0
        self.finished_count = 0
        self.milestone = 0
        self.session_done = 0  # items finished in this session (for the rate)
        self.batch_seconds = 1.0  # a mini-batch's time in a worker (moving average; a guess at first)

    # -- the whole run ------------------------------------------------------------------------------
    def run(self) -> Outcome:
        try:
            # Workers start first: their interpreter start, imports and init() (seconds, often)
            # overlap the planning and the journal's setup instead of following them.
            if self.journal.has_plan() and not self._unfinished_left():
                self._prepare()
            else:
                self._start_workers()
                self._prepare()
            if self.pending:
                self._loop()
            outcome = self.stop or Outcome("Completed")
        except ExecutorUnavailable as exc:  # the cluster went away: what finished is kept
            outcome = Outcome("Failed", str(exc))
            self.logs.driver(f"Stopping: {exc}; what finished is kept (resume to go on)")
        finally:
            if self.executor is not None:
                self.executor.close()
            if self.output is not None:
                self.output.close()
        self.journal.checkpoint()
        totals = self.journal.totals()
        self._write_overview(totals, final=outcome)
        self._write_result(totals, outcome)
        self.journal.close()
        self.logs.close()
        return outcome

    def _unfinished_left(self) -> bool:
        return len(self.journal.finished()) < len(self.journal.plan())

    def request_cancel(self) -> None:
        self.canceled = True

    # -- before the first mini-batch ----------------------------------------------------------------
    def _prepare(self) -> None:
        spec, logs = self.spec, self.logs
        fresh = not self.journal.has_plan()
        if fresh:
            batches = plan(spec)
            self.journal.save_plan(batches)
            items = sum(b.items for b in batches)
            what = "files" if spec.kind == "files" else "records"
            how = (
                f"one per value of {', '.join(spec.partition_keys)}"
                if spec.partition_keys
                else f"mini_batch_size={spec.mini_batch_size}"
            )
            logs.driver(f"Planned {len(batches)} mini-batches over {items} {what} ({how})")
        else:
            batches = self.journal.plan()
            logs.driver(f"Resuming run {self.run_id}: {len(batches)} mini-batches planned earlier")
        if self.reuse_from and self.journal.meta("reused") is None:
            old = RunFolder.of(self.ws, self.reuse_from).journal
            n = self.journal.import_from(old, self.reuse_from) if old.is_file() else 0
            self.journal.set_meta("reused", str(n))
            logs.driver(
                f"Reused {n} finished mini-batches of run {self.reuse_from} (the same work, not completed)"
            )
        self.batches = {b.index: b for b in batches}
        finished = self.journal.finished()
        if spec.output_action == "append_row":
            self.output = OutputFile(spec.output_file, self.journal)
            note = self.output.reconcile(fresh=self.journal.meta("output") is None)
            self.journal.set_meta("output", str(spec.output_file))
            if note:
                logs.master(f"output file {spec.output_file}: {note}")
        self.pending = deque(b.index for b in batches if b.index not in finished)
        for f in finished.values():
            self.finished_count += 1
            self.failed_items += f.failed_items
            self.failed_batches += 0 if f.ok else 1
        if finished:
            logs.driver(f"{len(finished)} mini-batches were already finished; {len(self.pending)} to go")
        self._write_overview(self.journal.totals())

    def _start_workers(self) -> None:
        spec = self.spec
        config = {
            "entry_script": str(spec.script_path.resolve()),
            "source_directory": spec.source_directory,
            "arguments": list(spec.arguments),
            "logging_level": spec.logging_level,
            "output_dir": spec.output_dir,
            "output_action": spec.output_action,
            "partition_keys": list(spec.partition_keys),
            "run_folder": str(self.folder.root),
        }
        config_file = self.folder.root / "worker.json"
        config_file.write_text(json.dumps(config))
        Path(spec.output_dir).mkdir(parents=True, exist_ok=True)
        own = {
            **spec.environment_variables,
            "AZUREML_BI_OUTPUT_PATH": spec.output_dir,
            "PYTHONUNBUFFERED": "1",
            jobs.ENV_RUN_ID: self.run_id,
            jobs.ENV_V1_RUN_ID: self.run_id,
            jobs.ENV_WORKSPACE_PATH: str(self.ws.path),
            jobs.ENV_WORKSPACE_NAME: self.ws.name,
        }
        if spec.model_workspace:
            own["MODELPORT_MODEL_WORKSPACE"] = spec.model_workspace
        setup = WorkerSetup(
            interpreter=spec.interpreter,
            environment={**os.environ, **own},
            config_file=str(config_file),
            run_folder=str(self.folder.root),
            cwd=spec.source_directory,
            variables=own,
            user_variables=dict(spec.environment_variables),
            compute=self.compute,
        )
        self.executor = create(self.executor_name, setup)
        workers = spec.node_count * spec.process_count_per_node
        for node in range(spec.node_count):
            for process in range(spec.process_count_per_node):
                self._start(Slot(node, process))
        self.logs.driver(
            f"Starting {workers} worker process(es) ({spec.node_count} node(s) x "
            f"{spec.process_count_per_node}) with {spec.interpreter}"
        )

    def _start(self, slot: Slot) -> None:
        assert self.executor is not None
        self.slots[slot] = _SlotState(started=time.monotonic())
        self.executor.start_worker(slot)

    # -- the loop -----------------------------------------------------------------------------------
    def _loop(self) -> None:
        assert self.executor is not None
        next_overview = time.monotonic() + _OVERVIEW_EVERY
        next_status = time.monotonic() + _STATUS_EVERY
        while self.stop is None:
            if self.canceled:
                self.stop = Outcome("Canceled", "canceled by the user")
                self.logs.driver("Canceled: stopping the workers; what finished is kept (resume to go on)")
                break
            if not self.pending and not any(s.queue for s in self.slots.values()):
                self._check_thresholds()  # allowed_failed_percent is judged once all were scheduled
                break
            for event in self.executor.poll(self._wait()):
                if isinstance(event, Done):
                    self._done(event)
                elif isinstance(event, Ready):
                    self._ready(event)
                elif isinstance(event, InitFailed):
                    self._init_failed(event)
                elif isinstance(event, Lost):
                    self._lost(event.slot, f"the worker process {event.reason}", event.tasks)
                if self.stop is not None:
                    break
            if self.stop is not None:
                break
            now = time.monotonic()
            self._check_timeouts(now)
            self._dispatch(now)
            if now >= next_overview:
                next_overview = now + _OVERVIEW_EVERY
                self._write_overview(self.journal.totals())
                for slot, pid in self.executor.pids().items():
                    self.logs.perf(slot, pid)
            if now >= next_status:
                next_status = now + _STATUS_EVERY
                if registry.get_run(self.ws, self.run_id).status == "Canceled":
                    self.canceled = True

    def _wait(self) -> float:
        """How long poll() may block: until the nearest run() or init() deadline, at most 0.5 s."""
        wait = 0.5
        now = time.monotonic()
        for s in self.slots.values():
            if s.ready and s.head_started is not None:
                wait = min(wait, s.head_started + self.spec.run_invocation_timeout - now)
        return max(0.0, wait)

    def _dispatch(self, now: float) -> None:
        assert self.executor is not None
        ready = [slot for slot, s in self.slots.items() if s.ready]
        if not ready or not self.pending:
            return
        # Measured on PNG mini-batches of ~2 ms: with one task queued per worker, two workers
        # and a busy 2-core machine, workers waited on the supervisor half the time (0.44x a
        # multiprocessing.Pool, whose queue holds every task). ~50 ms of queued work covers the
        # scheduler's delays; spreading what is left keeps the end balanced.
        target = max(2, min(_MAX_QUEUED, math.ceil(_QUEUED_SECONDS / max(self.batch_seconds, 1e-4))))
        depth = max(1, min(target, len(self.pending) // len(ready) + 1))
        for slot in sorted(ready, key=lambda sl: len(self.slots[sl].queue)):
            s = self.slots[slot]
            while len(s.queue) < depth and self.pending:
                idx = self.pending.popleft()
                s.queue.append(idx)
                if s.head_started is None:
                    s.head_started = now
                self.executor.send(slot, idx, self.batches[idx].payload)

    def _check_timeouts(self, now: float) -> None:
        assert self.executor is not None
        limit = self.spec.run_invocation_timeout
        for slot, s in list(self.slots.items()):
            if s.ready and s.head_started is not None and now - s.head_started > limit:
                self.executor.kill_worker(slot)
                self._lost(
                    slot,
                    f"run() did not return within run_invocation_timeout={limit} s; the worker was killed",
                    tuple(s.queue),
                )
            elif not s.ready and now - s.started > 3 * limit + 30:
                self.executor.kill_worker(slot)
                self.slots.pop(slot, None)
                self._fail(f"init() on {slot} did not finish within 3 x run_invocation_timeout + 30 s")

    # -- events -------------------------------------------------------------------------------------
    def _ready(self, event: Ready) -> None:
        s = self.slots.get(event.slot)
        if s is None:
            return
        s.ready, s.pid = True, event.pid
        where = f" on {event.where}" if event.where else ""
        self.logs.master(
            f"{event.slot} ready: pid {event.pid}{where}, init() took {event.init_seconds:.3f} s"
        )
        self.logs.node(event.slot, f"pid {event.pid} started; init() took {event.init_seconds:.3f} s")

    def _init_failed(self, event: InitFailed) -> None:
        self.slots.pop(event.slot, None)
        if self.canceled:
            return  # ended by the cancel, not by its init()
        self.init_failures += 1
        where = self.logs.user_error(event.slot, "init()", event.error, event.traceback or event.error)
        self._note_error(f"init() failed on {event.slot}: {event.error} (see {where})")
        budget = 3 * self.spec.process_count_per_node * self.spec.node_count
        if self.init_failures >= budget:
            self._fail(f"init() failed {self.init_failures} times (v1 gives up after 3 x processes)")
            return
        self.restarts += 1
        self._start(event.slot)

    def _done(self, event: Done) -> None:
        s = self.slots.get(event.slot)
        if s is None:
            return  # a worker already written off (killed on a timeout) answered late
        if event.task in s.queue:
            s.queue.remove(event.task)
        s.head_started = time.monotonic() if s.queue else None
        r = event.result
        idx = event.task
        tries = self.tries.get(idx, 0) + 1
        if not r.ok:
            where = self.logs.user_error(
                event.slot, f"mini-batch {idx} (try {tries})", r.error or "", r.traceback or ""
            )
            self._tried(idx, tries, f"run() raised {r.error} (see {where})", r.items, event.slot)
            return
        took = r.read_seconds + r.run_seconds
        self.batch_seconds = took if self.finished_count == 0 else 0.8 * self.batch_seconds + 0.2 * took
        failed = max(0, r.items - r.row_count)
        fin = self.journal.record(
            idx,
            ok=True,
            items=r.items,
            failed_items=failed,
            tries=tries,
            rows=r.rows if self.output is not None else None,
            slot=str(event.slot),
            seconds=r.read_seconds + r.run_seconds,
        )
        if self.output is not None:
            self.output.append(fin.out_start, r.rows)
        self.finished_count += 1
        self.session_done += r.items
        self.logs.node(
            event.slot,
            f"mini-batch {idx}: pid {s.pid} items {r.items} succeeded {r.items - failed} failed {failed} "
            f"start {_clock(r.started)} read {r.read_seconds:.4f} s run() {r.run_seconds:.4f} s try {tries}",
        )
        if failed:
            self.failed_items += failed
            self._note_error(
                f"mini-batch {idx}: run() returned {r.row_count} rows for {r.items} items; "
                f"{failed} items count as failed"
            )
            self._check_thresholds()
        self._milestones()

    def _lost(self, slot: Slot, reason: str, tasks: tuple[int, ...]) -> None:
        s = self.slots.pop(slot, None)
        if self.canceled:
            return  # a cancel signals the workers too: their end is no failure of the script
        self.logs.master(f"{slot} lost: {reason}")
        self.logs.node(slot, f"worker lost: {reason}")
        if tasks:
            head, rest = tasks[0], tasks[1:]
            for idx in reversed(rest):
                self.pending.appendleft(idx)
            tries = self.tries.get(head, 0) + 1
            where = self.logs.user_error(slot, f"mini-batch {head} (try {tries})", reason, reason)
            self._tried(head, tries, f"{reason} (see {where})", self.batches[head].items, slot)
        if self.stop is None and (s is not None or tasks):
            self.restarts += 1
            self._start(slot)

    def _tried(self, idx: int, tries: int, error: str, items: int, slot: Slot) -> None:
        """A try of mini-batch ``idx`` failed: again while tries are left, else failed for good."""
        self.tries[idx] = tries
        self._note_error(f"mini-batch {idx} on {slot}, try {tries} of {self.spec.run_max_try}: {error}")
        if tries < self.spec.run_max_try:
            self.pending.appendleft(idx)
            return
        self.journal.record(
            idx, ok=False, items=items, failed_items=items, tries=tries, rows=None, error=error
        )
        self.finished_count += 1
        self.failed_batches += 1
        self.failed_items += items
        self.logs.driver(f"mini-batch {idx} failed after {tries} tries: {error}")
        self._check_thresholds()

    def _check_thresholds(self) -> None:
        reason = thresholds.exceeded(
            self.spec,
            failed_items=self.failed_items,
            failed_batches=self.failed_batches,
            total_batches=len(self.batches),
            all_scheduled=not self.pending,
        )
        if reason:
            self._fail(reason)

    def _fail(self, reason: str) -> None:
        cause = f"{reason}. First error: {self.first_error}" if self.first_error else reason
        self.stop = Outcome("Failed", cause)
        self.logs.driver(f"Stopping: {cause}")

    def _note_error(self, text: str) -> None:
        self.logs.master(text)
        if self.first_error is None:
            self.first_error = text
            self.logs.driver(f"First error: {text}")

    def _milestones(self) -> None:
        total = len(self.batches)
        pct = 100 * self.finished_count // total if total else 100
        while self.milestone < len(_MILESTONES) and pct >= _MILESTONES[self.milestone]:
            totals = self.journal.totals()
            elapsed = time.time() - self.began
            rate = self.session_done / elapsed if elapsed > 0 else 0.0
            self.logs.driver(
                f"Progress {_MILESTONES[self.milestone]}%: {totals.finished_batches}/{total} mini-batches, "
                f"{totals.done_items} items ({rate:.1f} items/s), {totals.failed_items} failed items"
            )
            self.milestone += 1

    # -- reports ------------------------------------------------------------------------------------
    def _write_overview(self, totals: Totals, final: Outcome | None = None) -> None:
        elapsed = time.time() - self.began
        rate = self.session_done / elapsed if elapsed > 0 else 0.0
        left = max(0, totals.planned_items - totals.done_items)
        running = sum(len(s.queue) for s in self.slots.values())
        lines = [
            f"Job progress overview, {_clock(time.time())} (run {self.run_id})",
            f"Mini-batches: {totals.mini_batches} planned, {totals.finished_batches} finished "
            f"({totals.done_batches} succeeded, {totals.failed_batches} failed), {running} on workers, "
            f"{len(self.pending)} waiting",
            f"Items: {totals.planned_items} planned, {totals.done_items} processed "
            f"({totals.succeeded_items} succeeded, {totals.failed_items} failed)",
            f"Rate: {rate:.1f} items/s over {elapsed:.1f} s"
            + (f"; about {left / rate:.0f} s left" if rate > 0 and final is None else ""),
            f"Workers: {sum(1 for s in self.slots.values() if s.ready)} ready of "
            f"{self.spec.node_count * self.spec.process_count_per_node}; replaced {self.restarts} time(s)",
        ]
        if totals.reused_batches:
            lines.append(f"Reused: {totals.reused_batches} mini-batches finished by an earlier run")
        if final is not None:
            lines.append(f"Result: {final.status}" + (f": {final.error}" if final.error else ""))
        elif self.first_error:
            lines.append(f"First error: {self.first_error} (all errors: logs/user/error.txt)")
        self.logs.overview("\n".join(lines) + "\n")

    def _write_result(self, totals: Totals, outcome: Outcome) -> None:
        summary = (
            f"{totals.finished_batches} of {totals.mini_batches} mini-batches finished "
            f"({totals.failed_batches} failed); {totals.succeeded_items} items succeeded, "
            f"{totals.failed_items} failed"
        )
        if outcome.status == "Completed":
            text = f"Completed: {summary}."
            if self.spec.output_action == "append_row":
                text += f"\nOutput: {self.spec.output_file}"
        elif outcome.status == "Canceled":
            text = f"Canceled: {summary}. Resume with: modelport job resume {self.run_id}"
        else:
            text = f"Failed: {outcome.error}\n{summary}.\nErrors of the entry script: logs/user/error.txt"
        self.logs.result(text)
        self.logs.driver(text.splitlines()[0])


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


def load_spec(data: dict[str, Any]) -> BatchSpec:
    return BatchSpec.from_json(data["spec"])
