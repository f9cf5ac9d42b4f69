"""Daemon threads that run the user's code, off the event loop: init() first, then run() calls.

User code never runs on the event loop, so a slow or stuck run() cannot stall health checks or the
supervisor's heartbeat; the threads are daemons so a stuck run() cannot keep the process alive.
Requests are queued straight to the threads (no round trip through the event loop between two
run() calls), and a queued request that waited too long can be abandoned before it starts.
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

QUEUED, STARTED, ABANDONED = 0, 1, 2


@dataclass(slots=True, eq=False)
class Job(Generic[T]):
    """A call waiting for (or running on) a run thread; ``started`` is its monotonic start time."""

    fn: Callable[[], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    state: int = QUEUED
    started: float | None = field(default=None)


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # timed out or failed in the meantime: nobody is waiting
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class RunThreads:
    """Run submitted callables in order on ``count`` daemon threads (1: strictly one at a time)."""

    def __init__(self, count: int = 1, name: str = "modelport-run") -> None:
        self._queue: queue.SimpleQueue[Job[Any] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True) for i in range(count)
        ]

    def start(self) -> None:
        """Start the threads (once)."""
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[[], T]) -> Job[T]:
        """Queue ``fn``; await ``job.future`` (from the event loop) for its result or exception."""
        loop = asyncio.get_running_loop()
        job: Job[T] = Job(fn, loop.create_future(), loop)
        self._queue.put(job)
        return job

    def abandon(self, job: Job[Any]) -> bool:
        """Withdraw a job that has not started; False if it already started (or finished)."""
        with self._lock:
            if job.state != QUEUED:
                return False
            job.state = ABANDONED
            return True

    def stop(self) -> None:
        """Let the threads end after the calls already queued."""
        for _ in self._threads:
            self._queue.put(None)

    def _claim(self, job: Job[Any]) -> bool:
        with self._lock:
            if job.state != QUEUED:
                return False
            job.state = STARTED
            job.started = time.monotonic()
            return True

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            if not self._claim(job):  # abandoned while queued
                continue
            try:
                outcome: tuple[bool, Any] = (True, job.fn())
            except BaseException as exc:
                outcome = (False, exc)
            try:
                job.loop.call_soon_threadsafe(_resolve, job.future, *outcome)
            except RuntimeError:  # the loop is closed: the worker is shutting down
                return
