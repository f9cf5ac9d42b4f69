"""One daemon thread per worker that runs the user's code: init() first, then run() calls in turn.

User code never runs on the event loop, so a slow or stuck run() cannot stall health checks or the
supervisor's heartbeat; the thread is a daemon so a stuck run() cannot keep the process alive.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(slots=True, eq=False)
class Job(Generic[T]):
    """A call waiting for (or running on) the run thread; ``started`` is its monotonic start time."""

    fn: Callable[[], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    started: float | None = field(default=None)


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # timed out or failed in the meantime: nobody is waiting
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class RunThread:
    """Runs submitted callables one at a time, in order, on a single daemon thread."""

    def __init__(self, name: str = "modelport-run") -> None:
        self._queue: queue.SimpleQueue[Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.current: Job[Any] | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        self._thread.start()

    def submit(self, fn: Callable[[], T]) -> Job[T]:
        """Queue ``fn``; await ``job.future`` (from the event loop) for its result or exception."""
        loop = asyncio.get_running_loop()
        job: Job[T] = Job(fn, loop.create_future(), loop)
        self._queue.put(job)
        return job

    def stop(self) -> None:
        """Let the thread end after the calls already queued."""
        self._queue.put(None)

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if job.future.done():  # failed while queued (the worker is restarting)
                continue
            job.started = time.monotonic()
            self.current = job
            try:
                result = job.fn()
            except BaseException as exc:
                outcome: tuple[bool, Any] = (False, exc)
            else:
                outcome = (True, result)
            finally:
                self.current = None
            try:
                job.loop.call_soon_threadsafe(_resolve, job.future, *outcome)
            except RuntimeError:  # the loop is closed: the worker is shutting down
                return
