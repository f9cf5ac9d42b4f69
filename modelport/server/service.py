"""One worker's scoring service: the script, its run thread, readiness, admission and timeouts.

Transport-agnostic: a protocol's handler calls :meth:`ScoringService.score` with a ScoringRequest
and its codec (which decodes, calls run() and encodes on the run thread); the ASGI app maps what
it raises to HTTP in one place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelport.errors import ModelportError, ScoringTimeout, ScriptError, ServiceUnavailable
from modelport.protocols import Codec, score_batch
from modelport.runtime import fastjson
from modelport.runtime.loader import ScriptLocation
from modelport.runtime.request import ScoringRequest
from modelport.runtime.script import Scored, ScoringScript
from modelport.server.config import ServerConfig
from modelport.server.runthread import Job, RunThreads
from modelport.server.traces import capture_prints, printed_text

log = logging.getLogger("modelport.server")

ExitHook = Callable[[int, str], None]
"""Called with (exit code, reason) when this worker must end: 3 = init() failed (the supervisor
stops the whole service), 0 = replace me (a timed-out run() or too much memory)."""

ReportHook = Callable[..., None]
"""``report(event, **details)``: tells the supervisor's status file about this worker
(``init_failed`` with type/message/traceback, ``recycle`` with rss_mb/limit_mb)."""

INIT_FAILED_EXIT = 3
RELEASE_AFTER_BYTES = 4 * 1024 * 1024
"""After a request body this large, freed memory is handed back to the OS (see release_memory)..."""
RELEASE_IDLE_S = 0.5
"""...once the worker has been idle this long: not on the request's path, and not between two large
requests (the second would have to fault its pages in again)."""


class ScoringService:
    """init() once, then run() per request, off the event loop.

    Requests queue for the run thread(s) (``max_concurrent_requests`` of them, default 1: run()
    calls one at a time). A request whose run() has not started ``max_request_wait_ms`` after it
    arrived answers 503 + Retry-After; a run() exceeding ``scoring_timeout_ms`` answers 504 and the
    worker asks to be replaced, failing the requests queued behind it with 503.
    """

    def __init__(
        self,
        config: ServerConfig,
        location: ScriptLocation,
        on_exit: ExitHook,
        on_ready: Callable[[], None] | None = None,
        observe_run: Callable[[float], None] | None = None,
        on_report: ReportHook | None = None,
    ) -> None:
        self.config = config
        self._report = on_report
        self.location = location
        self._on_exit = on_exit
        self._on_ready = on_ready
        self._observe_run = observe_run
        self.script: ScoringScript | None = None
        self.init_error: ScriptError | None = None
        self.stopping: str | None = None  # why this worker no longer takes requests
        self._threads = RunThreads(config.max_concurrent_requests)
        self._ready: asyncio.Event | None = None
        self._jobs: set[Job[Any]] = set()
        self._watch_handle: asyncio.TimerHandle | None = None
        self._watch_due = 0.0
        self._timeout_s = config.scoring_timeout_ms / 1000
        self._wait_s = max(config.max_request_wait_ms / 1000, 0.001)
        self._memory_limit = (config.max_worker_memory_mb or 0) * 1024 * 1024
        self._memory_over: float | None = None
        self._process: Any = None  # psutil.Process of this worker, for the memory limit
        self._batching = False  # adaptive batching on (set once the script is known to take arrays)
        self.receiving = 0
        self._release: asyncio.TimerHandle | None = None  # a pending release_memory()
        """Requests whose body is being read (the app counts them): a batch waits only for those."""
        self.hold_until_ready_s = 0.0
        """How long :meth:`start` waits for init() before returning, so before the worker accepts
        connections. Replacement workers set it: while other workers serve, new connections should
        go to them rather than wait seconds for this worker's model."""

    # -- lifecycle ------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether init() succeeded in this worker and it still takes requests."""
        return self._ready is not None and self._ready.is_set() and self.stopping is None

    async def start(self) -> None:
        """Start the run thread and init() on it; returns at once (readiness says when init is done),
        or once init() is done if ``hold_until_ready_s`` is set (at most that long)."""
        self._ready = asyncio.Event()
        self._threads.start()
        job = self._threads.submit(self._load_and_init)
        after_init = asyncio.get_running_loop().create_task(self._after_init(job))
        if self.hold_until_ready_s > 0:
            await asyncio.wait((after_init,), timeout=self.hold_until_ready_s)

    def _load_and_init(self) -> ScoringScript:
        started = time.perf_counter()
        log.info("loading %s and calling init()", self.location.entry_script)
        if self.config.fast_json_loads:
            fastjson.install()
        script = ScoringScript.load(self.location)
        if self.config.max_batch_size is not None:
            if not script.batchable:
                raise ScriptError(
                    "load",
                    "ValueError",
                    f"max_batch_size is set, but run() in {self.location.entry_script.name} does not take "
                    "one array input: declare it with @modelport.runtime.array_input(...) (or inference-"
                    "schema's NumpyParameterType as its only parameter), or deploy without batching",
                )
            if self.config.max_batch_size > 1:
                self._threads.enable_batching(
                    self._score_batch_in_thread,
                    self.config.max_batch_size,
                    self.config.max_batch_latency_ms / 1000,
                    lambda: self.receiving > 0,
                )
                self._batching = True
        script.init()
        log.info(
            "init() finished in %.0f ms (run() input style: %s)",
            (time.perf_counter() - started) * 1e3,
            script.style.value,
        )
        return script

    async def _after_init(self, job: Job[ScoringScript]) -> None:
        try:
            self.script = await job.future
        except ScriptError as exc:
            self.init_error = exc
            what = "init()" if exc.phase == "init" else f"loading {self.location.entry_script.name}"
            detail = exc.traceback_text.rstrip() or f"{exc.exc_type}: {exc.exc_message}"
            log.error("%s failed in worker %d; the service stops.\n%s", what, os.getpid(), detail)
            self._report_init_failure(exc)
            self.stopping = f"{what} failed"
            self._on_exit(INIT_FAILED_EXIT, f"{what} failed: {exc.exc_type}: {exc.exc_message}")
            return
        except BaseException as exc:  # a bug of ours, not the script's: still fatal
            log.exception("loading the scoring script failed")
            self.init_error = ScriptError("init", type(exc).__name__, str(exc))
            self._report_init_failure(self.init_error)
            self.stopping = "init() failed"
            self._on_exit(INIT_FAILED_EXIT, f"loading failed: {exc}")
            return
        assert self._ready is not None
        self._ready.set()
        if self._on_ready is not None:
            self._on_ready()

    def _report_init_failure(self, exc: ScriptError) -> None:
        if self._report is not None:
            from modelport.server.status import cut_traceback

            self._report(
                "init_failed",
                type=exc.exc_type,
                message=exc.exc_message,
                traceback=cut_traceback(exc.traceback_text),
            )

    async def stop(self) -> None:
        """Stop taking requests; the run thread ends after what is queued."""
        self.stopping = self.stopping or "shutting down"
        self._threads.stop()
        if self.config.fast_json_loads:
            fastjson.uninstall()

    # -- scoring --------------------------------------------------------------------------------
    async def score(self, codec: Codec, request: ScoringRequest) -> Scored:
        """Run the script for one request. Raises InvalidInputError (4xx), ScriptError (500),
        ServiceUnavailable (503) or ScoringTimeout (504)."""
        if self.stopping is not None:
            raise ServiceUnavailable(f"this worker is restarting ({self.stopping}); retry", retry_after=1)
        assert self._ready is not None
        if not self._ready.is_set():
            await self._wait_for_init()
        try:
            return await self._run(codec, request)
        finally:
            if self._memory_over is not None and self.stopping is None:
                self._recycle()
            if len(request.body) >= RELEASE_AFTER_BYTES:
                self._release_when_idle()

    def _release_when_idle(self) -> None:
        if self._release is not None:
            self._release.cancel()
        self._release = asyncio.get_running_loop().call_later(RELEASE_IDLE_S, self._release_if_idle)

    def _release_if_idle(self) -> None:
        self._release = None
        if self._jobs or self.receiving:  # busy: look again later
            self._release_when_idle()
            return
        release_memory()

    async def _wait_for_init(self) -> None:
        assert self._ready is not None
        # While init() runs (first start or after a respawn) requests wait for it rather than fail:
        # there is no other copy of the model in this worker to serve them.
        try:
            await asyncio.wait_for(self._ready.wait(), self._timeout_s)
        except TimeoutError:
            raise ServiceUnavailable("init() is still running; retry later", retry_after=5) from None
        if self.stopping is not None:
            raise ServiceUnavailable(f"this worker is restarting ({self.stopping}); retry", retry_after=1)

    async def _run(self, codec: Codec, request: ScoringRequest) -> Scored:
        script = self.script
        assert script is not None
        if self._batching:
            job = self._threads.submit(
                lambda: self._score_in_thread(codec, script, request),
                payload=(codec, request),
                batchable=True,
            )
        else:
            job = self._threads.submit(lambda: self._score_in_thread(codec, script, request))
        self._jobs.add(job)
        self._watch(job.queued + self._wait_s)
        try:
            # The future ends with run()'s answer, or with the 503 or 504 the watch gives it.
            return await job.future
        finally:
            self._jobs.discard(job)

    # -- the watch: 503 for a request whose run() did not start in time, 504 for a run() too long --
    # One timer for all requests in flight, not one per request: a timer per request (asyncio.wait
    # with a timeout) was created and cancelled for every request, and uvloop closes a cancelled
    # timer's handle on the loop's next turn, which needs the GIL while the run thread holds it:
    # the event loop then waited out the whole run() before it could sleep, one more GIL hand-over
    # and context switch per request (docs/performance.md, issue 19).
    def _watch(self, due: float) -> None:
        """Have :meth:`_check_jobs` run by ``due`` (monotonic seconds)."""
        if self._watch_handle is not None:
            if self._watch_due <= due:
                return
            self._watch_handle.cancel()
        self._watch_due = due
        delay = max(0.0, due - time.monotonic())
        self._watch_handle = asyncio.get_running_loop().call_later(delay, self._check_jobs)

    def _check_jobs(self) -> None:
        """Fail the jobs past their deadline, then watch for the next deadline."""
        self._watch_handle = None
        now = time.monotonic()
        timed_out: list[Job[Any]] = []
        following: float | None = None
        for job in list(self._jobs):
            if job.future.done():
                continue
            if job.started is None:
                due = job.queued + self._wait_s
                if due <= now and self._threads.abandon(job):
                    job.future.set_exception(
                        ServiceUnavailable(
                            f"overloaded: run() did not start within {self.config.max_request_wait_ms} ms "
                            f"(max_request_wait_ms); retry",
                            retry_after=1,
                        )
                    )
                    continue
                if job.started is None:
                    following = due if following is None else min(following, due)
                    continue
            due = job.started + self._timeout_s
            if due <= now:
                timed_out.append(job)
                continue
            following = due if following is None else min(following, due)
        for job in timed_out:
            self._timed_out(job)  # the first one fails everything still queued with 503
            job.future.set_exception(ScoringTimeout(self.config.scoring_timeout_ms))
        if following is not None:
            self._watch(following)

    def _score_in_thread(self, codec: Codec, script: ScoringScript, request: ScoringRequest) -> Scored:
        script.last_run_s = None
        try:
            if not self.config.traces_file:
                return codec.score(script, request)
            with capture_prints() as printed:
                try:
                    scored = codec.score(script, request)
                except ModelportError as exc:
                    exc.printed = printed_text(printed)  # type: ignore[attr-defined]
                    raise
            scored.printed = printed_text(printed)
            return scored
        finally:
            if self._observe_run is not None and script.last_run_s is not None:
                self._observe_run(script.last_run_s)
            if self._memory_limit:
                self._check_memory()

    def _score_batch_in_thread(self, items: list[tuple[Codec, ScoringRequest]]) -> list[tuple[bool, Any]]:
        script = self.script
        assert script is not None
        script.last_run_s = None
        try:
            if not self.config.traces_file:
                outcomes = score_batch(script, items, self.config.max_batch_size)
            else:  # every request of the batch gets what the batch's run() calls printed
                with capture_prints() as printed:
                    outcomes = score_batch(script, items, self.config.max_batch_size)
                for outcome in outcomes:
                    outcome.printed = printed_text(printed)  # type: ignore[union-attr]
        finally:
            if self._observe_run is not None and script.last_run_s is not None:
                self._observe_run(script.last_run_s)
            if self._memory_limit:
                self._check_memory()
        return [(not isinstance(o, ModelportError), o) for o in outcomes]

    def _check_memory(self) -> None:
        if self._process is None:
            import psutil

            self._process = psutil.Process()
        rss = self._process.memory_info().rss
        if rss > self._memory_limit:
            self._memory_over = rss

    def _recycle(self) -> None:
        rss_mb = (self._memory_over or 0) / 1024 / 1024
        limit_mb = self._memory_limit / 1024 / 1024
        log.warning("worker %d recycled: rss %.0f MB > limit %.0f MB", os.getpid(), rss_mb, limit_mb)
        if self._report is not None:
            self._report("recycle", rss_mb=round(rss_mb, 1), limit_mb=limit_mb)
        self.stopping = "memory limit"
        self._on_exit(0, "memory limit")

    def _timed_out(self, job: Job[Any]) -> None:
        if self.stopping is None:
            log.error(
                "run() exceeded the scoring timeout of %d ms in worker %d; replacing this worker",
                self.config.scoring_timeout_ms,
                os.getpid(),
            )
            self.stopping = "run() timed out"
            # The run thread is stuck: fail everything queued behind it now instead of letting
            # each request wait out its own timeout.
            for other in list(self._jobs):
                if self._threads.abandon(other) and not other.future.done():
                    other.future.set_exception(
                        ServiceUnavailable("this worker is restarting after a scoring timeout; retry", 1)
                    )
            self._on_exit(0, "scoring timeout")


def release_memory() -> None:
    """Give the memory freed by a large request back to the OS.

    Parsing a large body makes many short-lived objects; glibc keeps some freed pages in its heaps
    (the run thread has its own arena): after three 10,000-row requests a worker was 6% above its
    idle size without this, 3% with it (measured; docs/performance.md). It costs a few ms.
    """
    global _malloc_trim
    if _malloc_trim is None:
        try:
            import ctypes

            _malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):  # not glibc: nothing to trim
            _malloc_trim = False
    if _malloc_trim:
        _malloc_trim(0)


_malloc_trim: Any = None


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    """Atomically write the ready file (JSON) so a reader never sees it half-written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    os.replace(tmp, path)
