"""Daemon threads that run the user's code, off the event loop: init() first, then run() calls.

User code never runs on the event loop, so a slow or stuck run() cannot stall health checks or the
supervisor's heartbeat; the threads are daemons so a stuck run() cannot keep the process alive.
Requests are queued straight to the threads (no round trip through the event loop between two
run() calls), and a queued request that waited too long can be abandoned before it starts.

With batching on (:meth:`RunThreads.enable_batching`), a thread that takes a batchable job also
takes the batchable jobs queued behind it (waiting at most the batch latency, counted from when
the first one was queued) and hands them to the batch runner together.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

QUEUED, STARTED, ABANDONED = 0, 1, 2
YIELD_EVERY_S = 0.002
"""Between jobs, the run thread lets the event loop have the GIL at least this often."""
HAND_OVER_S = 0.02
"""The longest the event loop waits, blocked, for the run thread to run what it was given (a run()
still going then is left to run beside the loop's I/O, 503s, 504s and health checks)."""
TURN_EVERY_S = 0.005
"""While the event loop waits for it, the run thread gives it a turn between two jobs this often..."""
TURN_PAUSE_S = 0.005
"""...and waits for the loop to be back waiting, at most this long, before its next job."""


@dataclass(slots=True, eq=False)
class Job(Generic[T]):
    """A call waiting for (or running on) a run thread; ``started`` is its monotonic start time."""

    fn: Callable[[], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    state: int = QUEUED
    started: float | None = field(default=None)
    batchable: bool = False
    payload: Any = None
    """For a batchable job: what the batch runner gets for it (``fn`` runs it alone)."""
    queued: float = field(default_factory=time.monotonic)


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
        self._batch_runner: Callable[[list[Any]], list[tuple[bool, Any]]] | None = None
        self._batch_max = 1
        self._batch_wait_s = 0.0
        self._expecting: Callable[[], bool] = lambda: True
        # Finished jobs, resolved on their loop by one _resolve_done for all those that finish before
        # it runs: a call_soon_threadsafe per job wrote the loop's wake-up pipe once per request.
        self._done: collections.deque[tuple[Job[Any], bool, Any]] = collections.deque()
        self._resolving = False  # a _resolve_done is scheduled and has not begun
        self._idle = threading.Event()  # the waiting loop may go on: nothing queued, or its turn
        self._waiting = False  # the event loop will wait for it (_wait_for_thread) on its next turn
        self._parked_at = 0.0  # when the event loop began waiting for the run thread (0.0: it is not)
        self._loop_back = threading.Event()  # the loop is done with the turn it was given
        self._turn_given = False  # the run thread woke the waiting loop for its turn
        self._threads = [
            threading.Thread(target=self._loop, name=f"{name}-{i}", daemon=True) for i in range(count)
        ]

    def start(self) -> None:
        """Start the threads (once)."""
        for thread in self._threads:
            thread.start()

    def enable_batching(
        self,
        runner: Callable[[list[Any]], list[tuple[bool, Any]]],
        max_jobs: int,
        wait_s: float,
        expecting: Callable[[], bool] | None = None,
    ) -> None:
        """Run batchable jobs up to ``max_jobs`` at a time through ``runner(payloads)``, which
        returns one ``(ok, result or exception)`` per payload, in order. ``expecting()``: whether
        another request is on its way (being received); only then is it worth waiting for."""
        self._batch_runner = runner
        self._batch_max = max(1, max_jobs)
        self._batch_wait_s = max(0.0, wait_s)
        if expecting is not None:
            self._expecting = expecting

    def submit(self, fn: Callable[[], T], payload: Any = None, batchable: bool = False) -> Job[T]:
        """Queue ``fn``; await ``job.future`` (from the event loop) for its result or exception.
        A ``batchable`` job may instead be run with others, its ``payload`` given to the batch runner."""
        loop = asyncio.get_running_loop()
        job: Job[T] = Job(fn, loop.create_future(), loop, batchable=batchable, payload=payload)
        self._idle.clear()
        self._queue.put(job)
        if not self._waiting and len(self._threads) == 1 and self._batch_runner is None:
            self._waiting = True
            loop.call_soon(self._wait_for_thread)
        return job

    def _wait_for_thread(self) -> None:
        """On the event loop, once the requests it has just read are queued: wait, blocked (the
        GIL released), until the run thread has run them or gives the loop its turn between two
        jobs (every TURN_EVERY_S), or HAND_OVER_S at most.

        Two threads that both want the GIL trade it several times within one run() (numpy
        releases it often; the loop is woken by the next request and by each answer), 2-4 context
        switches a trade. Waiting here, the loop leaves the GIL to run() and takes it back once
        for a whole burst of answers and requests, between two run() calls, as a one-thread server
        does (docs/performance.md, issue 19). A run() still going after HAND_OVER_S is left to the
        thread: the loop goes on with its I/O, 503s, 504s and health checks, at most HAND_OVER_S
        late."""
        self._waiting = False
        self._parked_at = time.monotonic()
        self._loop_back.set()  # a run thread that gave the loop its turn goes on
        self._idle.wait(HAND_OVER_S)
        self._parked_at = 0.0
        if self._turn_given:
            self._turn_given = False
            asyncio.get_running_loop().call_soon(self._turn_over, 2)

    def _turn_over(self, hops: int) -> None:
        """On the event loop, after the turn the run thread gave it: let the thread go on once the
        loop has done what was ready (resolved the finished jobs, then sent their answers: two
        passes through its ready callbacks), even if it reads no new request to queue."""
        if hops > 1:
            asyncio.get_running_loop().call_soon(self._turn_over, hops - 1)
            return
        self._loop_back.set()

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
        held: collections.deque[Job[Any] | None] = collections.deque()  # taken while batching
        yielded = 0.0
        while True:
            if held:
                job = held.popleft()
            else:
                if self._queue.empty():
                    self._idle.set()
                job = self._queue.get()
            if job is None:
                return
            going_on = self._run(job, held)
            # Drop the job before waiting for the next one: it holds its request, whose body
            # (61 MB for the tutorial's 10,000 rows) would stay in memory until the next request.
            job = None
            if not going_on:
                return
            if held or not self._queue.empty():
                now = time.monotonic()
                parked = self._parked_at
                if parked:
                    if now - parked >= TURN_EVERY_S:
                        # The loop waits for this thread (_wait_for_thread) and has answers to send
                        # and requests to read: its turn now, between two run() calls, rather than
                        # at its timeout in the middle of one, where the two threads would trade
                        # the GIL at every numpy call. This thread waits until the loop has sent
                        # the answers or is back waiting (it queued what it read), or
                        # TURN_PAUSE_S at most.
                        self._loop_back.clear()
                        self._turn_given = True
                        self._idle.set()
                        self._loop_back.wait(TURN_PAUSE_S)
                        yielded = time.monotonic()
                elif now - yielded >= YIELD_EVERY_S:
                    # Under load this thread goes from one run() to the next holding the GIL, and
                    # the event loop, which has the answers to send, gets it only when the
                    # interpreter forces a switch (every 5 ms): answers leave in bursts, and some
                    # wait several bursts. Handing the GIL over between jobs took the p99 at 64
                    # connections from 2-4x the median to ~1.2x, for ~5% fewer requests/s. With
                    # nothing queued the thread blocks on the queue just below, which hands the
                    # GIL over anyway: a yield there was one more hand-over per request (a
                    # context switch each way; docs/performance.md, issue 19).
                    time.sleep(0)
                    yielded = now

    def _run(self, job: Job[Any], held: collections.deque[Job[Any] | None]) -> bool:
        """Run ``job`` (with a batch gathered behind it, if batchable); False once the loop is closed."""
        if not self._claim(job):  # abandoned while queued
            return True
        if job.batchable and self._batch_runner is not None and self._batch_max > 1:
            batch = [job, *self._gather(job, held)]
            if len(batch) > 1:
                return self._run_batch(batch)
        try:
            outcome: tuple[bool, Any] = (True, job.fn())
        except BaseException as exc:
            outcome = (False, exc)
        return self._finished(job, *outcome)

    def _finished(self, job: Job[Any], ok: bool, value: Any) -> bool:
        """Hand ``job``'s outcome to its loop (on the run thread); False once the loop is closed."""
        self._done.append((job, ok, value))
        if self._resolving:  # the loop will take this one with the others
            return True
        self._resolving = True
        try:
            job.loop.call_soon_threadsafe(self._resolve_done)
        except RuntimeError:  # the loop is closed: the worker is shutting down
            return False
        return True

    def _resolve_done(self) -> None:
        """On the event loop: resolve every finished job's future."""
        # Cleared before taking the jobs: one appended from now on schedules another call (which
        # may then find nothing), so none is left waiting.
        self._resolving = False
        done = self._done
        while done:
            job, ok, value = done.popleft()
            if job.loop is asyncio.get_running_loop():
                _resolve(job.future, ok, value)
            else:  # another loop's job (a test's second loop): resolved on its own
                with contextlib.suppress(RuntimeError):
                    job.loop.call_soon_threadsafe(_resolve, job.future, ok, value)

    def _gather(self, first: Job[Any], held: collections.deque[Job[Any] | None]) -> list[Job[Any]]:
        """More batchable jobs for ``first``'s batch: those queued now, then, while a request is
        being received, those arriving until the batch latency (from ``first``'s arrival) is over.
        Others are held, in order."""
        jobs: list[Job[Any]] = []
        deadline = first.queued + self._batch_wait_s
        while len(jobs) + 1 < self._batch_max and not held:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._expecting():
                    break
                try:
                    nxt = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if nxt is None or not nxt.batchable:
                held.append(nxt)  # run (or stop) after this batch, in arrival order
                break
            if self._claim(nxt):
                jobs.append(nxt)
        return jobs

    def _run_batch(self, batch: list[Job[Any]]) -> bool:
        assert self._batch_runner is not None
        try:
            outcomes = self._batch_runner([job.payload for job in batch])
        except BaseException as exc:  # a bug of ours: every request of the batch gets it
            outcomes = [(False, exc)] * len(batch)
        going_on = True
        for job, outcome in zip(batch, outcomes, strict=True):
            going_on = self._finished(job, *outcome) and going_on
        return going_on
