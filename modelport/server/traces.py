"""Per-request traces: v1's ``enable_app_insights``, kept on this machine.

With ``traces_file`` set, each scoring request appends one JSON line: when it came, its request
id, method, path, status, latency, run() time, and what run() printed while serving it (what it
printed still reaches the service log as before). ``modelport service traces NAME`` reads them.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import threading
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


class TraceWriter:
    """Appends trace lines to ``path`` (mode 0600; O_APPEND, one write per line, so the workers
    of a service share the file without mixing lines)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

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
            os.write(self._fd, orjson.dumps(record) + b"\n")
        except OSError as exc:  # a full disk loses traces, never answers
            log.warning("cannot write a request trace: %s", exc)
