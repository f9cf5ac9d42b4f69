"""One local batch worker process: ``python -m modelport.jobs.batch.worker`` (in the environment's
interpreter, started by the local executor).

It loads the entry script, calls ``init()`` once, then runs the tasks it receives on its pipe
until told to stop or the pipe closes. Its stdout and stderr are the run's
``logs/user/{stdout,stderr}/<node>/<process>...`` files. On Linux it asks the kernel to kill it
when its supervisor dies, so a killed supervisor leaves no worker behind to compete with the
one a resume starts.

The worker config file (``worker.json`` in the run's folder) holds ``entry_script`` and
``source_directory`` (absolute), ``arguments``, ``logging_level``, ``output_dir``,
``output_action``, ``partition_keys`` and ``run_folder``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection

from modelport.jobs.batch.executors.base import Slot
from modelport.jobs.batch.script import EntryRuntime, error_line

ENV_CONFIG = "MODELPORT_BATCH_CONFIG"
ENV_SLOT = "MODELPORT_BATCH_SLOT"
ENV_FD = "MODELPORT_BATCH_FD"
ENV_PARENT = "MODELPORT_BATCH_PARENT"
_BUNCH_SECONDS = 0.02


def _die_with_parent(parent: int) -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the supervisor died before the request took effect
        os._exit(1)


def main() -> int:
    _die_with_parent(int(os.environ.pop(ENV_PARENT, os.getppid())))
    with open(os.environ.pop(ENV_CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    node, process = (int(x) for x in os.environ.pop(ENV_SLOT).split(","))
    conn = Connection(int(os.environ.pop(ENV_FD)))
    runtime = EntryRuntime(config, Slot(node, process))
    try:
        runtime.setup()
        seconds = runtime.init()
    except BaseException as exc:  # the user's init() or import: report it, whatever it was
        conn.send(("init_failed", error_line(exc), traceback.format_exc()))
        return 1
    conn.send(("ready", os.getpid(), seconds))
    # Results go back in bunches while more tasks are queued here: one message (and one wake-up
    # of the supervisor) per ~20 ms rather than per mini-batch. On a busy 2-core machine, PNG
    # mini-batches of ~2 ms spent a quarter of the worker's time in the send that woke the
    # supervisor. A result is sent at once when nothing is queued behind it; a thread sends what
    # waits longer than 20 ms while run() is busy with the next task (so a run() that hangs is
    # the one the supervisor's timeout blames). Results not sent when a worker dies only mean
    # their mini-batches are scored again: none of them was committed.
    results = _Results(conn)
    threading.Thread(target=results.keep_flushing, daemon=True).start()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return 0
        if message[0] == "stop":
            results.flush()
            return 0
        _, task, payload = message
        result = runtime.run(payload)
        results.add(task, result.to_wire(), more_queued=conn.poll())


class _Results:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.unsent: list[tuple[int, dict[str, object]]] = []
        self.since = 0.0

    def add(self, task: int, wire: dict[str, object], *, more_queued: bool) -> None:
        with self.lock:
            if not self.unsent:
                self.since = time.monotonic()
            self.unsent.append((task, wire))
            if not more_queued or time.monotonic() - self.since >= _BUNCH_SECONDS:
                self._send()

    def flush(self) -> None:
        with self.lock:
            if self.unsent:
                self._send()

    def keep_flushing(self) -> None:
        while True:
            time.sleep(_BUNCH_SECONDS)
            with self.lock:
                if self.unsent and time.monotonic() - self.since >= _BUNCH_SECONDS:
                    try:
                        self._send()
                    except OSError:
                        return  # the supervisor is gone; the main thread ends the worker

    def _send(self) -> None:
        sys.stdout.flush()
        self.conn.send(("done", list(self.unsent)))
        self.unsent.clear()


if __name__ == "__main__":
    sys.exit(main())
