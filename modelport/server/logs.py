"""Logging of the scoring server: one format, to stdout and (appending) to ``--log-file``.

Every line: ``<time> <LEVEL> [<pid>] <logger>: <message>``; request lines come from
``modelport.access`` as ``<METHOD> <path> <status> <ms>ms rid=<request id>``.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)s [%(process)d] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
_MARK = "_modelport_handler"

access_log = logging.getLogger("modelport.access")


# gunicorn's account of a worker whose import or init() failed, after the traceback that said why.
_BOOT_FAILURE = {
    ("gunicorn.error", "Worker (pid:%s) exited with code %s."),
    ("gunicorn.error", "Shutting down: %s"),
    ("gunicorn.error", "Reason: %s"),
    ("modelport.server", "worker %d exiting (%s)"),
}


# A worker's own report of its failed import or init(), with the user's traceback.
_START_FAILED = "%s failed in worker %d; the service stops.\n%s"


class _ForPeople(logging.Filter):
    """The console of ``modelport serve``: modelport's lines and everyone's warnings, not gunicorn's
    and uvicorn's routine ones (booting, process ids, startup and shutdown steps), nor their
    repetition of a failed start (issue 19: ~20 lines ending in ``Worker failed to boot.``). Made
    before the workers are forked: with several workers failing the same way, the first one's
    traceback is shown, once."""

    def __init__(self) -> None:
        super().__init__()
        import multiprocessing

        # Shared with the forked workers (anonymous shared memory and a semaphore).
        self.start_failure_shown = multiprocessing.get_context("fork").Value("b", 0)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(("gunicorn", "uvicorn")) and record.levelno < logging.WARNING:
            return False
        if record.name == "modelport.server" and record.msg == _START_FAILED:
            with self.start_failure_shown.get_lock():
                first = not self.start_failure_shown.value
                self.start_failure_shown.value = 1
            return first
        if record.msg == "Worker (pid:%s) was sent %s!" and record.args and "SIGINT" in record.args:
            return False  # Ctrl-C reaches every process of the terminal's group: expected
        if (record.name, record.msg) in _BOOT_FAILURE:
            args = record.args if isinstance(record.args, tuple) else ()
            failed = 3 in args or "Worker failed to boot." in args or "Master" in args
            return not (failed or any(str(a).startswith(("init() failed", "loading")) for a in args))
        return True


class _TurnWriter:
    """A handler's writing, batched per turn of the event loop: a record emitted on a thread running
    an event loop is kept and written with the others of the same turn, in one ``write``, by a
    callback the first one schedules on that loop; a record from any other thread (the run thread,
    the arbiter) is written at once, after the kept ones, so the order stays the order of emission.

    One write per record made one ``write`` system call per request for the access line, which
    releases the GIL, and the run thread took it: the event loop then waited for run() to hand it
    back before it could go on to the next request (py-spy: 10% of the event loop's time at 64
    connections; docs/performance.md, issue 19). A line waits at most for the rest of its turn."""

    stream: Any
    terminator: str

    def _init_turns(self) -> None:
        self._kept: list[str] = []
        self._write_scheduled = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record) + self.terminator  # type: ignore[attr-defined]
            loop = asyncio._get_running_loop()
            if loop is None or loop.is_closed():
                self._kept.append(msg)
                self._write_kept()
                return
            self._kept.append(msg)
            if not self._write_scheduled:
                self._write_scheduled = True
                loop.call_soon(self._write_turn)
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)  # type: ignore[attr-defined]

    def _write_turn(self) -> None:
        with self.lock:  # type: ignore[attr-defined]
            self._write_scheduled = False
            try:
                self._write_kept()
            except Exception:  # as logging's handleError does, without a record to name
                if logging.raiseExceptions:
                    import traceback

                    traceback.print_exc(file=sys.stderr)

    def _write_kept(self) -> None:
        """Write what is kept (the handler's lock held)."""
        if not self._kept:
            return
        text = "".join(self._kept)
        self._kept.clear()
        if self.stream is None:  # a closed FileHandler reopens its file, as on any emit
            self.stream = self._open()  # type: ignore[attr-defined]
        self.stream.write(text)
        self.stream.flush()

    def flush(self) -> None:
        with self.lock:  # type: ignore[attr-defined]
            if self.stream is not None:
                self._write_kept()


class TurnStreamHandler(_TurnWriter, logging.StreamHandler):
    """A StreamHandler writing the records of an event-loop turn together (see _TurnWriter)."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self._init_turns()


class TurnFileHandler(_TurnWriter, logging.FileHandler):
    """A FileHandler writing the records of an event-loop turn together (see _TurnWriter)."""

    def __init__(self, filename: Path, mode: str = "a", encoding: str | None = None) -> None:
        self._init_turns()
        super().__init__(filename, mode=mode, encoding=encoding)


def configure(level: str = "info", log_file: Path | None = None, *, quiet_console: bool = False) -> None:
    """Send every logger's records to stdout and ``log_file``, and nowhere else (idempotent).

    The server owns its process's logging: a handler someone configured before (the ``modelport``
    command's ``basicConfig``, to stderr) would print every line a second time. ``quiet_console``
    (``modelport serve``, unless the level is debug): stdout leaves out gunicorn's and uvicorn's
    routine lines; ``log_file`` still gets every line."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        if getattr(handler, _MARK, False):
            handler.close()
    formatter = logging.Formatter(FORMAT, DATE_FORMAT)
    handlers: list[logging.Handler] = [TurnStreamHandler(sys.stdout)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(TurnFileHandler(log_file, mode="a", encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        setattr(handler, _MARK, True)
        root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    if quiet_console and root.level > logging.DEBUG:
        handlers[0].addFilter(_ForPeople())
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def log_request(method: str, path: str, status: int, ms: float, request_id: str) -> None:
    """The one line logged per request."""
    access_log.info("%s %s %d %.2fms rid=%s", method, path, status, ms, request_id)
