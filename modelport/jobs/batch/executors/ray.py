"""The ``ray`` executor: batch workers as Ray actors on a compute target's cluster.

Each slot (``node_count`` x ``process_count_per_node``) is one long-lived actor with the run's
variables, in the run's environment, which reaches it one of two ways, decided per node before
the node's first actor starts:

- **in place**, on a node that sees this machine's file system (the same machine, mount namespace
  and root: :func:`ship.fs_view`): the environment's interpreter by its path
  (``runtime_env={"py_executable": ...}`` unless it is the one Ray's own workers run; it must
  import the cluster's Ray: checked before the run starts);
- **shipped**, on any other node (and on every node with ``MODELPORT_BATCH_SHIP_INPUTS=1``): the
  environment as Ray's ``uv`` runtime environment from the versions it was built with here, and
  modelport as a ``py_modules`` package (:func:`modelport.jobs.ray.shipped.node_runtime_env`: the
  way a service's replica gets them), built once per node and cached there by Ray (the package
  is uploaded again before a worker starts if Ray collected it meanwhile: ``packages_exist``).

On a cluster modelport started, a worker on a node modelport started with it (this machine:
its raylet's socket is in the cluster's Ray folder) runs in place. Any other node, also one
someone joined to such a cluster, the executor asks, once a run, for its view
(:func:`modelport.jobs.ray.shipped.probe_views`: one tiny task per node, no runtime environment,
no CPU; a node that does not answer, or cannot import this machine's modelport, is one that does
not see it). The actor's placement is soft (below): one that lands on another node than the one
asked runs what was chosen for that one; in place on a node that cannot see the interpreter, it
fails to start, and its replacement avoids that node.

The actor loads the entry script and calls ``init()`` once; tasks go to it in bunches, one
actor call each (:meth:`RayExecutor._flush`), and an actor runs its calls in the order they were
sent, so tasks queue on it as on a local worker.

A node need not see the workspace (issue 25): everything reaches a worker as arguments of its
Ray calls (:mod:`.ship`): the source folder as a zip with each worker's constructor, each
mini-batch's inputs as bytes read here, by the supervisor (except for a worker that sees this
machine's file system, which reads them in place: see :meth:`RayExecutor._flush`); the worker
writes them into a private
folder and calls ``run()`` with those paths. Its stdout, stderr, ``EntryScript`` logs and the
files ``run()`` writes to ``AZUREML_BI_OUTPUT_PATH`` come back with each answer and are written
into the run's folder and output folder here, before the supervisor commits the mini-batches they
came with.

Placement: v1's node *n* is the cluster's live Ray node *n* (the head first), by Ray's node
affinity scheduling, *soft*: a worker whose node is gone, or full, starts on another node. A
worker lost with its node (or killed) is reported :class:`Lost` with the tasks it held; the
supervisor replaces it and its replacement avoids the node it was lost on while other nodes
live. What a lost worker was running had not been committed, so it is scored again and nothing
twice (the supervisor's journal); what it printed since its last answer is lost with it. A
cluster that stops answering ends the run (:class:`ExecutorUnavailable`), to be resumed when it
is back.

The actors are the supervisor's (not detached): a supervisor that dies takes them with it. At
the end each sends what is left of its logs and removes its private folder; a worker killed (a
timeout, a lost node) leaves its folder in its node's temp dir.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport import _settings
from modelport.jobs.batch.executors import ship
from modelport.jobs.batch.executors.actor import BatchActor
from modelport.jobs.batch.executors.base import (
    Done,
    Event,
    ExecutorUnavailable,
    InitFailed,
    Lost,
    Ready,
    Slot,
    TaskResult,
    WorkerSetup,
)
from modelport.jobs.ray import RayCompute, connect, gcs_answers
from modelport.jobs.ray.shipped import node_runtime_env, packages_exist, probe_views, upload

__all__ = ["BatchActor", "RayExecutor"]

UNANSWERED_S = 10.0
"""How long the cluster's GCS may refuse connections before the run stops for it."""
_HEALTH_EVERY = 2.0
_CALL_SECONDS = 0.02  # of work per actor call (see RayExecutor._flush)
_MAX_PER_CALL = 32
_CLOSE_GRACE = 5.0  # seconds the workers get to send their last log lines at the end
_LOCAL_ADDRESSES = {"127.0.0.1", "localhost"}


@dataclass
class _Worker:
    slot: Slot
    actor: Any
    generation: int
    tasks: deque[int] = field(default_factory=deque)
    outbox: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    ready: bool = False
    node_id: str | None = None
    where: str = ""
    pid: int | None = None
    same_view: bool = False  # it sees this machine's files at their paths (see _flush)
    shell: str | None = None  # a worker kept between runs: its name (.warm)


@dataclass(frozen=True)
class _Pending:
    slot: Slot
    generation: int
    tasks: tuple[int, ...]  # empty: the worker's start (init())


class RayExecutor:
    name = "ray"

    def __init__(self, setup: WorkerSetup) -> None:
        if not setup.compute:
            raise ExecutorUnavailable("the ray executor needs a compute target (the Ray cluster to run on)")
        import ray

        self.setup = setup
        self.compute = RayCompute.from_json(setup.compute)
        connect(self.compute)
        self.ray = ray
        self.config = dict(json.loads(Path(setup.config_file).read_text()))
        self.actor_class = ray.remote(max_restarts=0, max_task_retries=0)(BatchActor)
        # A runtime_env costs each worker a set-up by Ray's runtime-env agent (measured: 4.2-5.7 s
        # to a first call, against 2.4-2.9 s without, on 2 busy cores): the run's own variables
        # go to the actor's constructor instead, the interpreter only when it is not the one Ray's
        # workers run anyway, and the user's variables (they may matter before the first line
        # runs, as OMP_NUM_THREADS does) only when there are some.
        self.runtime_env: dict[str, Any] = {}
        if os.path.abspath(setup.interpreter) != os.path.abspath(self.compute.python or ""):
            self.runtime_env["py_executable"] = setup.interpreter
        if setup.user_variables:
            self.runtime_env["env_vars"] = dict(setup.user_variables)
        # For a node that cannot see this machine (see the module docstring): made when first needed.
        self.shipped_env: dict[str, Any] | None = None
        self.sees: dict[str, bool] = {}  # node id -> it sees this machine's files (probed once a run)
        self.ship_all = _settings.batch_ship_inputs()
        # The source folder goes to every worker with its constructor: a node need not see it (nor
        # the workspace). Not ray.put() once: a replacement asked of a cluster that is going away
        # then waits on Ray recovering that object (measured: the run never ended), where plain
        # bytes fail at once.
        self.source, self.entry = ship.zip_folder(
            self.config["source_directory"], self.config["entry_script"]
        )
        self.parquet: dict[str, Any] = {}  # a Parquet input file -> its bytes in the object store
        # "": no worker sees the same view, so every one gets its inputs as bytes.
        self.view = "" if self.ship_all else ship.fs_view()
        # Workers kept from an earlier run of this environment, and kept for the next (.warm).
        self.pool: Any = None
        if self.compute.keep_warm_s > 0 and not _settings.batch_fresh_workers():
            from modelport.jobs.batch.executors.warm import WarmPool

            self.pool = WarmPool(ray, setup.interpreter, self.compute.keep_warm_s)
        self.workers: dict[Slot, _Worker] = {}
        self.pending: dict[Any, _Pending] = {}
        self.generation = 0
        self.suspect: set[str] = set()  # nodes a worker was lost on
        self.local_nodes: set[str] = set()  # nodes on this machine (their workers' pids are readable)
        self.task_seconds = 0.0  # a mini-batch's time in an actor (moving average)
        self.unanswered_since: float | None = None
        self.next_health = 0.0
        self.gone = False

    # -- placement ------------------------------------------------------------------------------
    def _node_for(self, slot: Slot) -> str | None:
        nodes = sorted(
            (n for n in self.ray.nodes() if n.get("Alive")),
            key=lambda n: (not n.get("Resources", {}).get("node:__internal_head__"), n["NodeID"]),
        )
        self.local_nodes = {n["NodeID"] for n in nodes if n.get("NodeManagerAddress") in _LOCAL_ADDRESSES}
        if not nodes:
            return None
        trusted = [n for n in nodes if n["NodeID"] not in self.suspect] or nodes
        return str(trusted[slot.node % len(trusted)]["NodeID"])

    def _sees(self, node: str) -> bool:
        """Whether ``node`` sees this machine's files at their paths (then its worker runs the
        environment in place). Asked of every live node not asked yet, at once, the first time."""
        if self.ship_all:
            return False
        if node not in self.sees and self._started_here(node):
            # A node of a cluster modelport started, started with it: this machine. No probe,
            # which cost a run's start 1.4 s when it started a worker process on each node. A
            # node someone joined to that cluster is probed like any other (it may be a
            # container or a mount namespace that does not see this machine's files).
            self.sees[node] = True
        if node not in self.sees:
            alive = [n["NodeID"] for n in self.ray.nodes() if n.get("Alive")]
            unknown = [n for n in alive if n not in self.sees]
            here = ship.fs_view()
            views = probe_views(self.ray, sorted({*unknown, node}))
            self.sees.update({n: bool(here) and view == here for n, view in views.items()})
        return self.sees[node]

    def _started_here(self, node: str) -> bool:
        """Whether ``node`` is one modelport started for this cluster: its raylet's socket is in
        the cluster's Ray folder (known only for a cluster modelport started)."""
        folder = self.compute.temp_dir
        if not folder:
            return False
        info: dict[str, Any] = next((n for n in self.ray.nodes() if n["NodeID"] == node), {})
        return str(info.get("RayletSocketName") or "").startswith(folder.rstrip("/") + "/")

    def _shipped_env(self) -> dict[str, Any]:
        if self.shipped_env is None or not packages_exist(self.shipped_env):
            self.shipped_env = upload(node_runtime_env(self.setup.interpreter, self.setup.user_variables))
        return self.shipped_env

    # -- the executor interface -------------------------------------------------------------------
    def start_worker(self, slot: Slot) -> None:
        self._check_cluster(at_once=True)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        node = self._node_for(slot)
        options: dict[str, Any] = {"name": None}
        # No live node: the cluster is going away, and asking its GCS anything more (the upload of
        # a shipped environment) would wait for it; the actor fails at once instead.
        renv = self.runtime_env if node is None or self._sees(node) else self._shipped_env()
        if renv:
            options["runtime_env"] = renv
        if node is not None:
            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=True)
        variables = dict(self.setup.variables)
        args = (self.config, slot.node, slot.process, variables, self.source, self.entry, self.view)
        shell = None
        if self.pool is not None:
            del options["name"]
            actor, shell, _ = self.pool.acquire(node, options)
            started = actor.begin.remote(*args, idle_s=self.pool.idle_s)
        else:
            actor = self.actor_class.options(**options).remote(*args)
            started = actor.start.remote()  # type: ignore[attr-defined]
        self.generation += 1
        self.workers[slot] = _Worker(slot, actor, self.generation, node_id=node, shell=shell)
        self.pending[started] = _Pending(slot, self.generation, ())

    def send(self, slot: Slot, task: int, payload: dict[str, Any]) -> None:
        # Held until poll(): what the supervisor sends in one round goes in as few actor calls as
        # keep the actor busy (see _flush).
        w = self.workers[slot]
        w.tasks.append(task)
        w.outbox.append((task, payload))

    def _flush(self) -> None:
        """Send what send() held, a bunch of mini-batches per actor call.

        One actor call per mini-batch was the first suspect for the Ray runner's gap (PNG
        mini-batches take ~1 ms; a call has its own task spec, result object and wake-up of the
        supervisor). A call now carries ~_CALL_SECONDS of work (10-30 times fewer calls); the
        supervisor keeps more than that queued on a worker, so a second call is in flight when
        the first returns and the actor never waits for a round trip. Measured (CPU seconds of
        the PNG run, medians of 3 on a busy machine): 13.0 -> 12.4, within the noise: the calls
        were not where the CPU went (docs/scale-out.md says where it does).

        Inputs go with the call as bytes (:mod:`.ship`), except to a worker that sees this
        process's file system (the same machine, mount namespace and root: :func:`ship.fs_view`,
        compared by the worker itself): it reads them at their paths. Measured on the PNG input
        (10,000 files of ~300 bytes, one session, medians of 3, 2 busy cores): shipping cost the
        run 12.6 CPU s against 11.6 reading in place (+9%); on the CSV input no difference showed
        (18.5 against 19.6). A node that cannot see the files never takes this way: its view
        differs."""
        size = max(1, min(_MAX_PER_CALL, int(_CALL_SECONDS / self.task_seconds) if self.task_seconds else 1))
        for w in self.workers.values():
            while w.outbox:
                bunch, w.outbox = w.outbox[:size], w.outbox[size:]
                if w.same_view:
                    calls = [(task, payload, False) for task, payload in bunch]
                else:
                    calls = [(task, self._pack(payload), True) for task, payload in bunch]
                ref = w.actor.run.remote(calls)
                self.pending[ref] = _Pending(w.slot, w.generation, tuple(t for t, _ in bunch))

    def kill_worker(self, slot: Slot) -> None:
        w = self.workers.pop(slot, None)
        if w is not None:
            self._forget(w)
            self._kill(w)

    def _pack(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload with its inputs' bytes (the supervisor sees the workspace; a node may not)."""
        if payload.get("format") == "parquet":
            for part in payload["parts"]:
                if part["file"] not in self.parquet:
                    self.parquet[part["file"]] = self.ray.put(Path(part["file"]).read_bytes())
        return ship.pack(payload, self.parquet)

    def poll(self, timeout: float) -> list[Event]:
        self._check_cluster()
        self._flush()
        refs = list(self.pending)
        if not refs:
            time.sleep(timeout)
            return []
        ready, _ = self.ray.wait(refs, num_returns=1, timeout=timeout)
        if not ready:
            return []
        ready, _ = self.ray.wait(refs, num_returns=len(refs), timeout=0)
        done = set(ready)
        events: list[Event] = []
        for ref in refs:  # in the order sent: a worker's results in the order it ran them
            if ref not in done or ref not in self.pending:
                continue
            p = self.pending.pop(ref)
            w = self.workers.get(p.slot)
            if w is None or w.generation != p.generation:
                continue  # a worker written off (killed, replaced) answered late
            events.extend(self._resolve(w, p, ref))
        return events

    def _resolve(self, w: _Worker, p: _Pending, ref: Any) -> list[Event]:
        from ray.exceptions import RayActorError

        try:
            value = self.ray.get(ref, timeout=0)
        except RayActorError as exc:
            return self._lost(w, f"died on {w.where or 'its Ray node'}: {_first_line(exc)}")
        except Exception as exc:  # a worker that failed outside the user's code (Ray's OOM killer, ...)
            return self._lost(w, f"failed on {w.where or 'its Ray node'}: {_first_line(exc)}")
        if not p.tasks:
            self._write_back(value[-1])
            if value[0] == "ready":
                w.ready, w.pid, w.where, w.node_id = True, int(value[1]), str(value[3]), str(value[4])
                w.same_view = bool(value[5])
                return [Ready(w.slot, int(value[1]), float(value[2]), str(value[3]))]
            self.workers.pop(w.slot, None)
            self._forget(w)
            self._kill(w)
            return [InitFailed(w.slot, str(value[1]), str(value[2]))]
        # Into the workspace before the supervisor commits these mini-batches.
        self._write_back(value["files"])
        events: list[Event] = []
        for task, wire in value["results"]:
            if w.tasks and w.tasks[0] == task:
                w.tasks.popleft()
            elif task in w.tasks:
                w.tasks.remove(task)
            result = TaskResult.from_wire(wire)
            took = result.read_seconds + result.run_seconds
            self.task_seconds = took if not self.task_seconds else 0.8 * self.task_seconds + 0.2 * took
            events.append(Done(w.slot, int(task), result))
        return events

    def _lost(self, w: _Worker, reason: str) -> list[Event]:
        self.workers.pop(w.slot, None)
        self._forget(w)
        self._kill(w)
        if w.node_id:
            self.suspect.add(w.node_id)
        if w.ready or w.tasks:
            return [Lost(w.slot, reason, tuple(w.tasks))]
        return [InitFailed(w.slot, f"the worker {reason} before init() finished", "")]

    def pids(self) -> dict[Slot, int]:
        # Only what runs on this machine can be read with psutil (logs/perf). No call to the
        # cluster here: one to a cluster that just went away blocks until Ray gives up on it.
        return {
            s: w.pid for s, w in self.workers.items() if w.pid is not None and w.node_id in self.local_nodes
        }

    def close(self) -> None:
        workers, self.workers = list(self.workers.values()), {}
        self.pending.clear()
        # A cluster that went away as the run finished (its last mini-batches committed) has not
        # been seen gone yet: Ray's shutdown would wait for it, and the run would never end.
        self.gone = self.gone or not gcs_answers(self.compute.address)
        if self.gone:
            # Nothing to tell a cluster that is not there, and Ray's own shutdown at exit would
            # wait for it (a driver that cannot reach its cluster is ended by Ray after 60 s).
            import atexit

            atexit.unregister(self.ray.shutdown)
            return
        # Each worker sends what its last lines wrote and removes its private folder (after the
        # calls queued before this one; a worker that takes longer is killed with what it holds).
        # A kept worker (.warm) also puts its process back as it was before the run, and is
        # kept only when it did so in time.
        closing = {(w.actor.end if w.shell else w.actor.close).remote(): w for w in workers if w.ready}
        ready, _ = self.ray.wait(list(closing), num_returns=len(closing), timeout=_CLOSE_GRACE)
        kept = set()
        for ref in ready:
            try:
                self._write_back(self.ray.get(ref, timeout=0))
            except Exception:  # a worker that died meanwhile: its last lines are lost, not the run
                continue
            if closing[ref].shell:
                kept.add(closing[ref].slot)
        for w in workers:
            if w.slot in kept and w.shell:
                self.pool.release(w.shell)
            else:
                self._kill(w)
        self.ray.shutdown()

    # -- helpers ----------------------------------------------------------------------------------
    def _write_back(self, files: dict[str, list[tuple[str, bytes]]]) -> None:
        ship.write_back(files, self.setup.run_folder, self.config["output_dir"])

    def _forget(self, w: _Worker) -> None:
        for ref in [r for r, p in self.pending.items() if p.slot == w.slot and p.generation == w.generation]:
            del self.pending[ref]

    def _kill(self, w: _Worker) -> None:
        try:
            self.ray.kill(w.actor, no_restart=True)
        except Exception:  # already dead, or its node is gone
            pass
        if w.shell and self.pool is not None:
            try:
                self.pool.forget(w.shell)
            except Exception:  # the cluster is going away: the lease goes with it
                pass

    def _check_cluster(self, at_once: bool = False) -> None:
        """Raise ExecutorUnavailable once the cluster's GCS has refused connections for
        UNANSWERED_S (at once before starting a worker: an actor asked of a cluster that is gone
        would wait for it)."""
        now = time.monotonic()
        if not at_once and now < self.next_health:
            return
        self.next_health = now + _HEALTH_EVERY
        if gcs_answers(self.compute.address):
            self.unanswered_since = None
            return
        self.unanswered_since = self.unanswered_since or now
        if at_once or now - self.unanswered_since > UNANSWERED_S:
            self.gone = True
            raise ExecutorUnavailable(
                f"lost its Ray cluster: compute target '{self.compute.name}' at {self.compute.address} "
                "stopped answering"
            )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]
