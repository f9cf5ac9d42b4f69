"""The service's status file: the supervisor's own account of its state, as JSON, for the engine.

Workers are forked by gunicorn, so they cannot share the supervisor's memory: each one reports
its events (its init() succeeded or failed, it is being recycled) as one datagram on a Unix
socket pair made before forking. The supervisor is the only writer of the file: it reads the
datagrams between two turns of its main loop (at least every ``POLL_S``), adds what it sees
itself (a worker exited, one was forked to replace it, the service stops), and rewrites the file
atomically (temporary file + ``os.replace``), so a reader never sees half of it::

    {"pid": 1234, "port": 5001, "workers": 2, "ready_workers": 2, "state": "ready",
     "recycles": [{"time": 1764662400.1, "pid": 1240, "rss_mb": 812.0, "limit_mb": 800.0}],
     "restarts": 1, "last_init_error": null, "updated": 1764662400.2}

``state``: ``starting`` (no worker is ready yet), ``ready`` (at least one worker's init()
succeeded and it is alive), ``replacing`` (workers were ready, none is now: the ones that ended,
recycled for memory, timed out or crashed, are being replaced), ``failed`` (init() failed: the
service stopped; the user's traceback is in ``last_init_error``), ``stopped`` (a clean shutdown).
"""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("modelport.server")

POLL_S = 0.25
"""The supervisor looks for workers' reports at least this often..."""
WAKE_SIGNAL = signal.SIGURG
"""...and at once when a worker sends this signal after its report. A report waited for the
supervisor's next turn, so the file said ``ready`` 130-240 ms (median 208 ms, 8 starts) after the
worker was; every deployment waited that long for Healthy (issue 19). SIGURG because its default
action is to be ignored: a stray one harms no process."""
MAX_RECYCLES = 20
MAX_TRACEBACK = 32 * 1024
"""A traceback longer than this is cut (from its start: the end names the error) to fit a datagram."""


class StatusReporter:
    """Made in the supervisor before forking; :meth:`report` is called in workers, the rest in
    the supervisor."""

    def __init__(self, path: Path, workers: int, port: int) -> None:
        self.path = path
        self.workers = workers
        self.port = port
        self.pid = os.getpid()
        self.state = "starting"
        self.ready: set[int] = set()
        self.was_ready = False
        self.recycles: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_RECYCLES)
        self.restarts = 0
        self.last_init_error: dict[str, str] | None = None
        self._inbox, self._outbox = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._inbox.setblocking(False)
        self._outbox.setblocking(False)  # a worker never waits for the supervisor
        self._writing = False
        self._dirty = False

    # -- in a worker ------------------------------------------------------------------------------
    def report(self, event: str, **details: Any) -> None:
        """Tell the supervisor about this worker (``ready``, ``recycle``, ``init_failed``)."""
        message = {"event": event, "pid": os.getpid(), "time": time.time(), **details}
        try:
            self._outbox.send(json.dumps(message).encode())
            if os.getppid() == self.pid:  # not once orphaned: the pid may be another process's now
                os.kill(self.pid, WAKE_SIGNAL)
        except OSError as exc:  # the supervisor is gone or not reading: the status is best effort
            log.debug("cannot report %s to the supervisor: %s", event, exc)

    # -- in the supervisor ------------------------------------------------------------------------
    def poll(self) -> None:
        """Read the workers' reports; rewrite the file if they changed anything."""
        if self._drain():
            self.write()

    def worker_exited(self, pid: int) -> None:
        """A worker ended (it will be replaced unless the service stops)."""
        self._drain()
        self.ready.discard(pid)
        self.write()

    def worker_replaced(self) -> None:
        """A worker is being forked to replace one that ended."""
        self._drain()
        self.restarts += 1
        self.write()

    def stopped(self) -> None:
        """The supervisor is exiting: ``failed`` if a worker's init() failed, else ``stopped``."""
        self._drain()
        self.ready.clear()
        self.state = "failed" if self.last_init_error is not None else "stopped"
        self.write()
        self._inbox.close()
        self._outbox.close()

    def _drain(self) -> bool:
        changed = False
        while True:
            try:
                data = self._inbox.recv(1 << 18)
            except (BlockingIOError, InterruptedError, OSError):
                return changed
            try:
                message = json.loads(data)
            except ValueError:
                continue
            changed = self._apply(message) or changed

    def _apply(self, message: dict[str, Any]) -> bool:
        event = message.get("event")
        pid = int(message.get("pid", 0))
        if event == "ready":
            self.ready.add(pid)
            self.was_ready = True
        elif event == "recycle":
            self.ready.discard(pid)
            self.recycles.append(
                {
                    "time": float(message["time"]),
                    "pid": pid,
                    "rss_mb": float(message["rss_mb"]),
                    "limit_mb": float(message["limit_mb"]),
                }
            )
        elif event == "init_failed":
            self.last_init_error = {
                "type": str(message.get("type", "")),
                "message": str(message.get("message", "")),
                "traceback": str(message.get("traceback", "")),
            }
        else:
            return False
        return True

    def snapshot(self) -> dict[str, Any]:
        """The file's content now."""
        state = self.state
        if state == "starting" and self.ready:
            state = "ready"
        elif state == "starting" and self.was_ready:
            state = "replacing"
        return {
            "pid": self.pid,
            "port": self.port,
            "workers": self.workers,
            "ready_workers": len(self.ready),
            "state": state,
            "recycles": list(self.recycles),
            "restarts": self.restarts,
            "last_init_error": self.last_init_error,
            "updated": time.time(),
        }

    def write(self) -> None:
        """Rewrite the file atomically (a hook may run while a write is in progress: then again after)."""
        if self._writing:
            self._dirty = True
            return
        self._writing = True
        try:
            while True:
                self._dirty = False
                tmp = self.path.with_name(f".{self.path.name}.{self.pid}.tmp")
                try:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    tmp.write_text(json.dumps(self.snapshot()), encoding="utf-8")
                    os.replace(tmp, self.path)
                except OSError as exc:
                    log.warning("cannot write the status file %s: %s", self.path, exc)
                if not self._dirty:
                    return
        finally:
            self._writing = False


def cut_traceback(text: str) -> str:
    """``text`` within :data:`MAX_TRACEBACK` characters, keeping its end (the error itself)."""
    return text if len(text) <= MAX_TRACEBACK else "...\n" + text[-MAX_TRACEBACK:]
