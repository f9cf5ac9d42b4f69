"""The ``local`` executor: worker processes on this machine, one pipe each.

Each worker is ``<interpreter> -m modelport.jobs.batch.worker`` with its end of a socket pair;
messages are pickled over it (``multiprocessing.connection``); results come back in bunches
while a worker has more tasks queued (see the worker). Tasks queue on the worker's pipe
in the order sent, so a worker given a second task while running one starts it the moment it
finishes (no round trip between mini-batches). A worker's pipe closing means it ended; if that
was not asked for, a :class:`Lost` event names how (exit code or signal) and the tasks it held.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import IO, Any

from modelport.jobs.batch.executors.base import (
    Done,
    Event,
    InitFailed,
    Lost,
    Ready,
    Slot,
    TaskResult,
    WorkerSetup,
)
from modelport.jobs.batch.worker import ENV_CONFIG, ENV_FD, ENV_PARENT, ENV_SLOT

__all__ = ["LocalExecutor"]

_STOP_GRACE = 2.0  # seconds a worker told to stop gets before it is killed


@dataclass
class _Worker:
    slot: Slot
    proc: subprocess.Popen[bytes]
    conn: Connection
    tasks: deque[int] = field(default_factory=deque)
    ready: bool = False
    init_failed: bool = False  # it said so; its pipe closing next is no news
    files: list[IO[bytes]] = field(default_factory=list)


class LocalExecutor:
    name = "local"

    def __init__(self, setup: WorkerSetup) -> None:
        self.setup = setup
        self.workers: dict[Slot, _Worker] = {}

    def start_worker(self, slot: Slot) -> None:
        folder = Path(self.setup.run_folder) / "logs" / "user"
        out = folder / "stdout" / slot.node_name / f"{slot.process_name}.stdout.txt"
        err = folder / "stderr" / slot.node_name / f"{slot.process_name}.stderr.txt"
        out.parent.mkdir(parents=True, exist_ok=True)
        err.parent.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair()
        stdout, stderr = open(out, "ab"), open(err, "ab")  # noqa: SIM115 (closed with the worker)
        env = {
            **self.setup.environment,
            ENV_CONFIG: self.setup.config_file,
            ENV_SLOT: f"{slot.node},{slot.process}",
            ENV_FD: str(theirs.fileno()),
            ENV_PARENT: str(os.getpid()),
        }
        try:
            proc = subprocess.Popen(
                [self.setup.interpreter, "-m", "modelport.jobs.batch.worker"],
                cwd=self.setup.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(theirs.fileno(),),
            )
        finally:
            theirs.close()
        conn = Connection(ours.detach())
        self.workers[slot] = _Worker(slot, proc, conn, files=[stdout, stderr])

    def send(self, slot: Slot, task: int, payload: dict[str, Any]) -> None:
        w = self.workers[slot]
        w.tasks.append(task)
        try:
            w.conn.send(("run", task, payload))
        except OSError:
            pass  # it died: its pipe's end is seen by poll(), which reports it Lost with this task

    def kill_worker(self, slot: Slot) -> None:
        w = self.workers.pop(slot, None)
        if w is not None:
            self._end(w, kill=True)

    def poll(self, timeout: float) -> list[Event]:
        by_conn = {w.conn: w for w in self.workers.values()}
        if not by_conn:
            return []
        events: list[Event] = []
        for conn in wait(list(by_conn), timeout):
            w = by_conn[conn]  # type: ignore[index]
            try:
                while True:
                    events.extend(self._events(w, w.conn.recv()))
                    if not w.conn.poll():
                        break
            except (EOFError, OSError):
                self.workers.pop(w.slot, None)
                code = self._end(w, kill=False)
                if w.ready or w.tasks:
                    events.append(Lost(w.slot, _how(code), tuple(w.tasks)))
                elif not w.init_failed:
                    events.append(
                        InitFailed(w.slot, f"the worker process {_how(code)} before init() finished", "")
                    )
        return events

    def _events(self, w: _Worker, message: tuple[Any, ...]) -> list[Event]:
        kind = message[0]
        if kind == "ready":
            w.ready = True
            return [Ready(w.slot, int(message[1]), float(message[2]))]
        if kind == "init_failed":
            w.init_failed = True
            return [InitFailed(w.slot, str(message[1]), str(message[2]))]
        done: list[Event] = []
        for task, wire in message[1]:  # a bunch of results, in the order the tasks ran
            if w.tasks and w.tasks[0] == task:
                w.tasks.popleft()
            done.append(Done(w.slot, int(task), TaskResult.from_wire(wire)))
        return done

    def pids(self) -> dict[Slot, int]:
        return {slot: w.proc.pid for slot, w in self.workers.items()}

    def close(self) -> None:
        workers, self.workers = list(self.workers.values()), {}
        for w in workers:
            try:
                w.conn.send(("stop",))
            except OSError:
                pass
        for w in workers:
            try:
                w.proc.wait(timeout=_STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
            self._end(w, kill=True)

    def _end(self, w: _Worker, *, kill: bool) -> int | None:
        if kill and w.proc.poll() is None:
            w.proc.kill()
        try:
            code = w.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        w.conn.close()
        for f in w.files:
            f.close()
        return code


def _how(code: int | None) -> str:
    if code is None:
        return "did not end"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        hint = " (killed: out of memory, or by someone)" if -code == signal.SIGKILL else ""
        return f"was killed by {name}{hint}"
    return f"exited with code {code}"
