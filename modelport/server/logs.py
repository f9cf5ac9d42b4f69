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


def configure(level: str = "info", log_file: Path | None = None) -> None:
    """Send every logger's records to stdout and ``log_file``, and nowhere else (idempotent).

    The server owns its process's logging: a handler someone configured before (the ``modelport``
    command's ``basicConfig``, to stderr) would print every line a second time."""
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
    for name in ("uvicorn", "uvicorn.error", "gunicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True


def log_request(method: str, path: str, status: int, ms: float, request_id: str) -> None:
    """The one line logged per request."""
    access_log.info("%s %s %d %.2fms rid=%s", method, path, status, ms, request_id)
