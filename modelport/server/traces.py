"""Per-request traces: v1's ``enable_app_insights``, kept on this machine.

With ``traces_file`` set, each scoring request appends one JSON line: when it came, its request
id, method, path, status, latency, run() time, and what run() printed while serving it (what it
printed still reaches the service log as before). ``modelport service traces NAME`` reads them.

They are kept within the service's retention settings, as its collected data is: when the file
passes half of ``retention_mb`` it becomes ``traces.jsonl.1`` (replacing the previous one) and a
new file starts, so the two never hold much more than ``retention_mb``. The file is also rotated
once its first trace is older than ``retention_days``, and a ``.1`` file whose last trace is older
than that is deleted: a trace is gone between one and two retention periods after it was written.
Workers notice a rotation by the file's inode and reopen it (checked at most once a second).
"""

from __future__ import annotations

import datetime
import fcntl
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import orjson

log = logging.getLogger("modelport.server")

__all__ = ["PrintCapture", "TraceWriter", "capture_prints"]

MAX_PRINTED = 64 * 1024
"""What one trace keeps of run()'s output (its end, if longer)."""


class PrintCapture:
    """A stand-in for ``sys.stdout``/``sys.stderr`` that writes through to the stream, and also
    keeps what the capturing thread writes (only that thread: the event loop's prints and the
    log's handlers are not a request's)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._local = threading.local()

    def write(self, text: str) -> int:
        buffer: list[str] | None = getattr(self._local, "buffer", None)
        if buffer is not None:
            buffer.append(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    @contextmanager
    def capturing(self) -> Iterator[list[str]]:
        buffer: list[str] = []
        self._local.buffer = buffer
        try:
            yield buffer
        finally:
            self._local.buffer = None


_installed: tuple[PrintCapture, PrintCapture] | None = None


def _install() -> tuple[PrintCapture, PrintCapture]:
    global _installed
    if _installed is None:
        out, err = PrintCapture(sys.stdout), PrintCapture(sys.stderr)
        sys.stdout, sys.stderr = out, err
        _installed = (out, err)
    return _installed


@contextmanager
def capture_prints() -> Iterator[list[str]]:
    """Collect what this thread prints (stdout and stderr) in the block into the yielded list."""
    out, err = _install()
    with out.capturing() as buffer, err.capturing() as err_buffer:
        yield buffer
        buffer.extend(err_buffer)


def printed_text(buffer: list[str]) -> str:
    text = "".join(buffer)
    return text[-MAX_PRINTED:]


CHECK_EVERY_S = 1.0
"""How often a worker looks at the trace file's size and inode (rotation, retention)."""


class TraceWriter:
    """Appends trace lines to ``path`` (mode 0600; O_APPEND, one write per line, so the workers
    of a service share the file without mixing lines), rotating it to stay within ``max_bytes``
    and ``retention_days`` (0: no age limit)."""

    def __init__(self, path: Path, max_bytes: int = 1 << 30, retention_days: int = 0) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.old = path.with_name(path.name + ".1")
        self._max_half = max(max_bytes // 2, 1)
        self._retention_s = retention_days * 86400
        self._fd = self._open()
        self._checked = time.monotonic()
        self._age_checked = 0.0

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def _check(self) -> None:
        """Reopen after another worker rotated; rotate when the file is past half the limit."""
        self._checked = time.monotonic()
        try:
            mine = os.fstat(self._fd)
            current = os.stat(self.path)
        except FileNotFoundError:
            current = None
        if current is None or current.st_ino != mine.st_ino:
            os.close(self._fd)
            self._fd = self._open()
            return
        if current.st_size > self._max_half or self._too_old():
            self._rotate()
        if self._retention_s:
            try:
                if time.time() - os.stat(self.old).st_mtime > self._retention_s:
                    self.old.unlink(missing_ok=True)
            except FileNotFoundError:
                pass

    def _too_old(self) -> bool:
        """Whether the file's first trace is older than the retention (looked at once a minute)."""
        if not self._retention_s or time.monotonic() - self._age_checked < 60:
            return False
        self._age_checked = time.monotonic()
        try:
            with open(self.path, "rb") as f:
                first = f.readline(1 << 20)
            when = datetime.datetime.fromisoformat(orjson.loads(first)["time"])
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return (datetime.datetime.now(datetime.UTC) - when).total_seconds() > self._retention_s

    def _rotate(self) -> None:
        lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # Another worker may have rotated while this one waited for the lock: look again.
            if (
                os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
                and os.stat(self.path).st_size > self._max_half
            ):
                os.replace(self.path, self.old)
            os.close(self._fd)
            self._fd = self._open()
        finally:
            os.close(lock)

    def write(
        self,
        request_id: str,
        method: str,
        path: str,
        status: int,
        latency_ms: float,
        run_ms: float | None,
        printed: str,
    ) -> None:
        record = {
            "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "request_id": request_id,
            "method": method,
            "path": path,
            "status": status,
            "latency_ms": round(latency_ms, 3),
            "run_ms": None if run_ms is None else round(run_ms, 3),
            "printed": printed,
            "pid": os.getpid(),
        }
        try:
            if time.monotonic() - self._checked >= CHECK_EVERY_S:
                self._check()
            os.write(self._fd, orjson.dumps(record) + b"\n")
        except OSError as exc:  # a full disk loses traces, never answers
            log.warning("cannot write a request trace: %s", exc)
