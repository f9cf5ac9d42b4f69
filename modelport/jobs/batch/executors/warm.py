"""Warm batch workers: Ray actors a run leaves behind for the next run of the same environment.

v1's AmlCompute kept its nodes for ``idle_seconds_before_scaledown`` after a run so that the next
one started sooner. On Ray the cost of a run's start is the workers' processes: each Ray worker
is a fresh Python that imports Ray and modelport, and the entry script then imports its
libraries (measured on the batch benchmark's PNG input: two workers cost ~2 CPU s more than the
local runner's, whose whole run of 10,000 images is ~5 CPU s). So on a cluster modelport started,
a run's workers are :class:`BatchShell` actors, detached and named, and at the end of a run each
one that ended cleanly is reset and kept for ``idle_seconds_before_scaledown`` seconds (v1's
default, 1800; 0 turns it off). The next run with the same interpreter, variables and modelport
code on the same node takes it instead of starting a process: it still gets the run's own source
folder and calls the run's ``init()``, as a new worker would.

What a kept worker keeps, and what it does not:

- it keeps the libraries its scripts imported (that is the point) and their module state;
- it drops the run's own modules (every module loaded from the run's source folder, the entry
  script included), the run's log handlers, ``sys.path``, ``sys.argv``, the environment
  variables, the working directory and stdout/stderr, all put back as they were before the run;
- a worker that did not end cleanly (killed on a timeout, lost, a run cancelled mid-mini-batch)
  is never kept.

Which run uses a worker is a lease in the cluster's key-value store, taken atomically
(``put`` without overwrite), so two runs never share one; a worker ends itself (after taking its
own lease, so no run picks it meanwhile) once nobody called it for its idle time, or, while
leased by a run that stopped calling it (a supervisor killed with SIGKILL), for at least
``LEASED_IDLE_S``.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import os
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import Any

from modelport.jobs.batch import context
from modelport.jobs.batch.executors import ship
from modelport.jobs.batch.executors.actor import BatchActor

__all__ = ["BatchShell", "WarmPool", "shell_key"]

NAMESPACE = "modelport-batch"
"""The Ray namespace of the kept workers' names and leases."""
LEASED_IDLE_S = 600.0
"""A leased worker nobody called for this long (its run's supervisor is gone) ends itself."""
_WATCH_EVERY_S = 2.0


def _lease_key(name: str) -> bytes:
    return f"lease/{name}".encode()


def shell_key(runtime_env: dict[str, Any], python: str) -> str:
    """What a kept worker must share with a run that takes it: the interpreter, the runtime env
    (the user's variables among them) and modelport's own code (a worker of older code is not
    taken after an upgrade)."""
    here = Path(__file__).resolve().parent.parent
    code = sorted((str(p.relative_to(here)), p.stat().st_mtime_ns) for p in here.rglob("*.py"))
    blob = json.dumps([runtime_env, python, code], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class BatchShell(BatchActor):
    """A batch worker (:class:`BatchActor`) that can serve several runs, one after the other.

    It is created empty, leased to the run that created it; :meth:`begin` sets it up for a run
    and calls the run's ``init()``; :meth:`end` sends the run's last files, puts the process back
    as it was and lets the next run lease it."""

    def __init__(self, name: str, idle_s: float) -> None:
        self.name = name
        self.idle_s = float(idle_s)
        self.runs = 0
        self.busy = 0  # calls in progress
        self.last_call = time.monotonic()
        self.lock = threading.Lock()
        self.prepared = False  # set up for a run (its private folder exists)
        self.runtime: Any = None
        self.base_env = dict(os.environ)
        self.base_path = list(sys.path)
        self.base_argv = list(sys.argv)
        self.base_cwd = os.getcwd()
        self.base_fds = {1: os.dup(1), 2: os.dup(2)}
        threading.Thread(target=self._watch, name="modelport-warm-watch", daemon=True).start()

    # -- the calls a run makes --------------------------------------------------------------------
    def begin(self, *run: Any, idle_s: float | None = None) -> tuple[Any, ...]:
        """Set up for a run (``run``: as :meth:`BatchActor._begin` takes it) and call its
        ``init()``: what :meth:`BatchActor.start` returns. ``idle_s``: how long to keep this
        worker after the run (the run's compute setting)."""
        with self._call():
            if idle_s is not None:
                self.idle_s = float(idle_s)
            self._begin(*run)
            self.prepared = True
            self.runs += 1
            started = self.start()
            if started[0] == "ready" and self.runs > 1:  # master_role.txt says so
                where = f"{started[3]}, kept from an earlier run ({self.runs})"
                started = (*started[:3], where, *started[4:])
            return started

    def run(self, tasks: list[tuple[int, dict[str, Any], bool]]) -> dict[str, Any]:
        with self._call():
            return super().run(tasks)

    def end(self) -> dict[str, list[tuple[str, bytes]]]:
        """The run's last files; then the process as it was before the run."""
        with self._call():
            try:
                return self._files()
            finally:
                self._reset()

    def runs_served(self) -> int:
        return self.runs

    # -- keeping the process clean between runs ---------------------------------------------------
    def _reset(self) -> None:
        private = self.private if self.prepared else None
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in self.base_fds.items():
            os.dup2(saved, fd)
        if private is not None:
            prefix = str(private) + os.sep
            for name, module in list(sys.modules.items()):
                where = getattr(module, "__file__", None) or ""
                if where.startswith(prefix):
                    del sys.modules[name]
            for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
                if not isinstance(logger, logging.Logger):
                    continue
                for handler in list(logger.handlers):
                    if isinstance(handler, logging.FileHandler) and handler.baseFilename.startswith(prefix):
                        logger.removeHandler(handler)
                        handler.close()
        context.set_current(None)
        self.runtime = None
        os.chdir(self.base_cwd)
        os.environ.clear()
        os.environ.update(self.base_env)
        sys.path[:] = self.base_path
        sys.argv[:] = self.base_argv
        if private is not None:
            ship.remove(private)
        self.prepared = False
        gc.collect()

    # -- lifetime ---------------------------------------------------------------------------------
    def _call(self) -> _Busy:
        return _Busy(self)

    def _watch(self) -> None:
        from ray.experimental import internal_kv

        while True:
            time.sleep(_WATCH_EVERY_S)
            with self.lock:
                if self.busy:
                    continue
                idle = time.monotonic() - self.last_call
            leased = internal_kv._internal_kv_exists(_lease_key(self.name), namespace=NAMESPACE)
            if idle < (max(self.idle_s, LEASED_IDLE_S) if leased else self.idle_s):
                continue
            # Take the lease before going, so that no run leases a worker that is ending.
            if not leased:
                taken = internal_kv._internal_kv_put(
                    _lease_key(self.name), b"ending", overwrite=False, namespace=NAMESPACE
                )
                if taken:  # a run leased it in the meantime
                    continue
            internal_kv._internal_kv_del(_lease_key(self.name), namespace=NAMESPACE)
            self._exit()

    def _exit(self) -> None:
        import ray

        try:  # Ray's own way: the actor is then DEAD as asked, not "died unexpectedly"
            ray.kill(ray.get_runtime_context().current_actor, no_restart=True)
        finally:
            time.sleep(10)
            os._exit(0)


class _Busy:
    def __init__(self, shell: BatchShell) -> None:
        self.shell = shell

    def __enter__(self) -> None:
        with self.shell.lock:
            self.shell.busy += 1
            self.shell.last_call = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        with self.shell.lock:
            self.shell.busy -= 1
            self.shell.last_call = time.monotonic()


class WarmPool:
    """A run's side: lease a kept worker for a node, or start one that will be kept."""

    def __init__(self, ray: Any, python: str, idle_s: float) -> None:
        self.ray = ray
        self.python = python
        self.idle_s = idle_s
        self.shell_class = ray.remote(max_restarts=0, max_task_retries=0)(BatchShell)
        self.leased: set[str] = set()

    def acquire(self, node: str | None, options: dict[str, Any]) -> tuple[Any, str, bool]:
        """``(actor, name, kept)``: a kept worker for ``node`` leased to this run, or a new one
        (started with ``options``: runtime env, placement). A kept worker is one started with the
        same runtime env (interpreter, variables) and modelport code, for the same node."""
        from ray.experimental import internal_kv

        key = shell_key(options.get("runtime_env") or {}, self.python)
        prefix = f"mp-batch-{key}-{(node or 'any')[:12]}-"
        names = sorted(
            a["name"]
            for a in self.ray.util.list_named_actors(all_namespaces=True)
            if a.get("namespace") == NAMESPACE and str(a.get("name", "")).startswith(prefix)
        )
        for name in names:
            if name in self.leased:
                continue
            if internal_kv._internal_kv_put(_lease_key(name), b"run", overwrite=False, namespace=NAMESPACE):
                continue  # leased by another run
            try:
                actor = self.ray.get_actor(name, namespace=NAMESPACE)
            except ValueError:  # ended (or died) since it was listed
                internal_kv._internal_kv_del(_lease_key(name), namespace=NAMESPACE)
                continue
            self.leased.add(name)
            return actor, name, True
        name = prefix + secrets.token_hex(4)
        internal_kv._internal_kv_put(_lease_key(name), b"run", overwrite=True, namespace=NAMESPACE)
        actor = self.shell_class.options(
            **options, name=name, namespace=NAMESPACE, lifetime="detached"
        ).remote(name, self.idle_s)
        self.leased.add(name)
        return actor, name, False

    def release(self, name: str) -> None:
        """Let the next run take this worker (it ended its run cleanly)."""
        from ray.experimental import internal_kv

        self.leased.discard(name)
        internal_kv._internal_kv_del(_lease_key(name), namespace=NAMESPACE)

    def forget(self, name: str) -> None:
        """A worker killed or lost: its lease goes with it."""
        self.release(name)
