"""The scoring hot path made cheaper for issue 19 keeps every guarantee it had.

- one watch timer for all requests in flight: a request whose run() has not started within
  ``max_request_wait_ms`` still gets 503, a run() past ``scoring_timeout_ms`` still gets 504, for
  every run thread, also after the watch has gone idle;
- a whole body already received is read without a deadline, one still arriving keeps its 408;
- the header deadline, now checked by one timer per connection, still cuts late headers on a
  kept-alive connection's later requests;
- the run thread yields the GIL between jobs only when more are waiting; an event loop waiting
  for it gets its turn between two jobs instead;
- a worker's status report wakes the supervisor at once (the status file said ``ready`` up to
  ~0.25 s after the worker was, and every deployment waited for that).
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import queue
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures import wait_until


# -- the watch: 503 and 504 without a timer per request ---------------------------------------------
def test_requests_queued_behind_a_slow_run_get_503_and_it_gets_504(make_app) -> None:
    app = make_app("plain_echo.py", max_request_wait_ms=100, scoring_timeout_ms=1500)
    assert app.client.post("/score", content=b'{"a": 1}').status_code == 200
    with ThreadPoolExecutor(4) as pool:
        slow = pool.submit(app.client.post, "/score", content=json.dumps({"sleep": 5}))
        wait_until(lambda: app.app.service._jobs, 10, "the slow request to be in flight")
        queued = [pool.submit(app.client.post, "/score", content=b'{"b": 2}') for _ in range(3)]
        for future in queued:
            r = future.result(timeout=30)
            assert r.status_code == 503, r.text
            assert "overloaded" in r.json()["message"] and r.headers["retry-after"] == "1"
        r = slow.result(timeout=30)
    assert r.status_code == 504 and "1500 ms" in r.json()["message"]
    assert app.exits == [(0, "scoring timeout")]


def test_every_run_thread_that_times_out_answers_504(make_app) -> None:
    app = make_app("plain_echo.py", max_concurrent_requests=2, scoring_timeout_ms=300)
    with ThreadPoolExecutor(2) as pool:
        both = [pool.submit(app.client.post, "/score", content=json.dumps({"sleep": 3})) for _ in range(2)]
        answers = [f.result(timeout=30) for f in both]
    assert [r.status_code for r in answers] == [504, 504], [r.text for r in answers]


def test_the_watch_still_answers_503_after_it_went_idle(make_app) -> None:
    app = make_app("plain_echo.py", max_request_wait_ms=50, scoring_timeout_ms=10_000)
    assert app.client.post("/score", content=b"{}").status_code == 200
    service = app.app.service
    # The watch looked once more after that request and found nothing in flight: no timer left.
    wait_until(lambda: service._watch_handle is None and not service._jobs, 10, "the watch to go idle")
    with ThreadPoolExecutor(2) as pool:
        slow = pool.submit(app.client.post, "/score", content=json.dumps({"sleep": 1}))
        wait_until(lambda: service._jobs, 10, "the slow request to be in flight")
        r = app.client.post("/score", content=b"{}")
        assert r.status_code == 503 and "50 ms" in r.json()["message"]
        assert slow.result(timeout=30).status_code == 200


# -- reading the body -------------------------------------------------------------------------------
class _Receive:
    """An ASGI receive that either has the whole body already or never delivers it."""

    def __init__(self, complete: bool) -> None:
        self.complete = complete

    async def __call__(self) -> dict[str, Any]:
        if not self.complete:
            await asyncio.sleep(3600)
        return {"type": "http.request", "body": b'{"x": 1}', "more_body": False}


def test_a_body_already_here_needs_no_deadline_and_a_late_one_gets_408() -> None:
    from modelport.errors import RequestTimeout
    from modelport.server.app import read_body

    assert asyncio.run(read_body(_Receive(True), 1000, 8, timeout=0.05)) == b'{"x": 1}'
    with pytest.raises(RequestTimeout):
        asyncio.run(read_body(_Receive(False), 1000, 8, timeout=0.05))


# -- the run thread's yield -------------------------------------------------------------------------
class _WatchedQueue(queue.SimpleQueue[Any]):
    """The run thread's queue, telling when the thread is (back) waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        self.waiting.set()
        return super().get(block, timeout)


def test_the_run_thread_yields_only_when_jobs_are_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelport.server import runthread

    yields: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(
        runthread.time, "sleep", lambda s: yields.append(s) if s == 0 else real_sleep(s), raising=True
    )
    threads = runthread.RunThreads(1)
    # The yield is for an event loop that does not wait for the run thread (its turns are given
    # between jobs then: test_the_run_thread_gives_the_waiting_loop_its_turn_between_jobs).
    threads._wait_for_thread = lambda: None  # type: ignore[method-assign]
    # The thread looks at its queue right after a job's answer is handed over: a job submitted
    # as soon as that answer arrives can already be queued by then (a busy machine showed it),
    # and that job would rightly count as waiting. The next job is submitted only once the
    # thread is back waiting on its queue, so that nothing is ever queued behind one.
    watched = _WatchedQueue()
    threads._queue = watched
    gate = threading.Event()

    async def main() -> tuple[int, int]:
        threads.start()
        for _ in range(3):
            watched.waiting.clear()
            assert await threads.submit(lambda: real_sleep(0.005) or 1).future == 1
            assert await asyncio.to_thread(watched.waiting.wait, 30)
        alone = len(yields)
        first = threads.submit(lambda: gate.wait(10))
        second = threads.submit(lambda: 2)  # queued while the first one runs
        gate.set()
        assert await first.future is True and await second.future == 2
        return alone, len(yields)

    try:
        alone, behind = asyncio.run(main())
    finally:
        monkeypatch.setattr(runthread.time, "sleep", real_sleep)
        threads.stop()
    assert alone == 0
    assert behind == 1  # after the first of the two queued together


def test_the_run_thread_gives_the_waiting_loop_its_turn_between_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    from modelport.server import runthread

    # Only the turn can wake the loop here: its own timeout, and the thread's wait for the loop to
    # be back, are far longer than the test.
    monkeypatch.setattr(runthread, "HAND_OVER_S", 60.0)
    monkeypatch.setattr(runthread, "TURN_PAUSE_S", 60.0)
    monkeypatch.setattr(runthread, "TURN_EVERY_S", 0.0)  # a turn at every job boundary
    threads = runthread.RunThreads(1)

    def once_the_loop_waits() -> int:
        # The loop begins waiting on its next pass; the thread could otherwise be done before.
        deadline = time.monotonic() + 30
        while not threads._parked_at and time.monotonic() < deadline:
            time.sleep(0.001)
        return 0

    async def main() -> tuple[int, list[int]]:
        threads.start()
        first = threads.submit(once_the_loop_waits)
        second, third = (threads.submit(lambda n=n: n) for n in (1, 2))
        assert await first.future == 0  # the loop waited for the thread; it got a turn after this job
        behind = second.state  # and the thread waits for the loop before the next one
        fourth = threads.submit(lambda: 3)  # the loop waits for the thread again: it goes on
        return behind, [await j.future for j in (second, third, fourth)]

    try:
        behind, rest = asyncio.run(main())
    finally:
        threads.stop()
    assert behind == runthread.QUEUED
    assert rest == [1, 2, 3]


# -- header deadlines on kept-alive connections (a real server) -------------------------------------
READ_TIMEOUT_S = 1.0


def _request(sock: socket.socket, body: bytes = b'{"a": 1}') -> bytes:
    sock.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    data = b""
    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _trickle_headers(sock: socket.socket, give_up_s: float = 10.0) -> tuple[bytes, float, int]:
    """Send a request's headers a byte every 0.2 s: what came back, when, and how many bytes went."""
    head = b"POST /score HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 80 + b"\r\n\r\n"
    sock.settimeout(0.2)
    started, sent, received = time.monotonic(), 0, b""
    while time.monotonic() - started < give_up_s:
        if sent < len(head):
            try:
                sock.sendall(head[sent : sent + 1])
                sent += 1
            except OSError:
                pass
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        received += chunk
    return received, time.monotonic() - started, sent


@pytest.mark.process
@pytest.mark.parametrize("idle_first", [False, True], ids=["right-after", "after-an-idle-spell"])
def test_late_headers_of_a_later_request_on_a_kept_alive_connection_get_408(
    start_server, idle_first: bool
) -> None:
    server = start_server("plain_echo.py", "--read-timeout-s", str(READ_TIMEOUT_S), "--keepalive-s", "20")
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert _request(sock).startswith(b"HTTP/1.1 200")
        if idle_first:  # the connection's first deadline check comes and finds nothing to do
            threading.Event().wait(READ_TIMEOUT_S * 1.5)
            assert _request(sock).startswith(b"HTTP/1.1 200")  # still open: kept alive
        received, seconds, sent = _trickle_headers(sock)
    assert received.startswith(b"HTTP/1.1 408"), received[:200]
    assert b"read_timeout_s" in received
    assert seconds < READ_TIMEOUT_S + 3 and sent < 100, (seconds, sent)


# -- the supervisor is woken by a worker's report ---------------------------------------------------
def test_a_report_from_a_forked_worker_wakes_the_supervisor(tmp_path: Path) -> None:
    from modelport.server.status import WAKE_SIGNAL, StatusReporter

    reporter = StatusReporter(tmp_path / "status.json", workers=1, port=5001)
    woken = threading.Event()
    previous = signal.signal(WAKE_SIGNAL, lambda signum, frame: woken.set())
    try:
        child = os.fork()
        if child == 0:  # the "worker"
            try:
                reporter.report("ready")
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        wait_until(woken.is_set, 10, "the wake signal")
        reporter.poll()
    finally:
        signal.signal(WAKE_SIGNAL, previous)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "ready" and status["ready_workers"] == 1


@pytest.mark.process
def test_the_supervisor_catches_the_wake_signal(start_server, tmp_path: Path) -> None:
    from modelport.server.status import WAKE_SIGNAL

    server = start_server("plain_echo.py", "--status-file", str(tmp_path / "status.json"))
    caught = next(
        line.split()[1]
        for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines()
        if line.startswith("SigCgt:")
    )
    assert int(caught, 16) & (1 << (WAKE_SIGNAL - 1)), caught

    def ready() -> bool:
        return json.loads((tmp_path / "status.json").read_text())["state"] == "ready"

    wait_until(ready, 30, "the status file to say ready")


# -- answers handed to the loop in bursts -----------------------------------------------------------
def test_jobs_finished_while_the_loop_is_busy_are_resolved_by_one_wake_up() -> None:
    from modelport.server.runthread import RunThreads

    threads = RunThreads(1)
    threads.start()
    ran = threading.Semaphore(0)

    def job(n: int) -> int:
        ran.release()
        return n

    async def main() -> tuple[list[int], int]:
        loop = asyncio.get_running_loop()
        real = loop.call_soon_threadsafe
        wake_ups = []

        def counted(*args: Any, **kwargs: Any) -> Any:
            wake_ups.append(args[0])
            return real(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]
        jobs = [threads.submit(functools.partial(job, n)) for n in range(4)]
        for _ in jobs:  # the loop is held here (as by a burst of I/O) while all four run
            assert ran.acquire(timeout=30)
        results = [await j.future for j in jobs]
        return results, len(wake_ups)

    try:
        results, wake_ups = asyncio.run(main())
    finally:
        threads.stop()
    assert results == [0, 1, 2, 3]
    assert wake_ups == 1


# -- the log lines of one turn of the event loop, written together ----------------------------------
class _Writes:
    """A stream recording each write."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass


def test_log_lines_of_one_loop_turn_are_written_together_and_in_order() -> None:
    import logging

    from modelport.server.logs import TurnStreamHandler

    stream = _Writes()
    handler = TurnStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("modelport.test-turns")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    async def main() -> list[str]:
        for n in range(3):
            logger.info("on the loop %d", n)
        written_during_the_turn = list(stream.writes)
        await asyncio.sleep(0)  # the turn ends: the kept lines go out
        await asyncio.sleep(0)
        return written_during_the_turn

    try:
        during = asyncio.run(main())
        after_turn = list(stream.writes)
        # Kept on the loop, then a line from another thread: the kept ones first, then it.
        logger.info("off the loop")
        off_loop = stream.writes[len(after_turn) :]
        stream.writes.clear()

        async def kept_then_thread() -> None:
            logger.info("kept")
            await asyncio.to_thread(logger.info, "from a thread")

        asyncio.run(kept_then_thread())
        mixed = list(stream.writes)
        stream.writes.clear()

        async def kept_then_closed() -> None:  # closing writes what is kept
            logger.info("kept at close")
            handler.close()

        asyncio.run(kept_then_closed())
    finally:
        logger.removeHandler(handler)
    assert during == []
    assert after_turn == ["on the loop 0\non the loop 1\non the loop 2\n"]
    assert off_loop == ["off the loop\n"]  # no loop running: written at once
    assert mixed == ["kept\nfrom a thread\n"]
    assert stream.writes == ["kept at close\n"]
