"""Logging of the scoring server: one format, to stdout and (appending) to ``--log-file``.

Every line: ``<time> <LEVEL> [<pid>] <logger>: <message>``; request lines come from
``modelport.access`` as ``<METHOD> <path> <status> <ms>ms rid=<request id>``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

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
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stdout)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="a", encoding="utf-8"))
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
