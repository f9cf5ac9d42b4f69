"""v1's module-level functions of ``azureml.core``: ``get_run`` and ``diagnostic_log``."""

from __future__ import annotations

import logging
import os
from typing import Any

from modelport.core.run import Run

__all__ = ["diagnostic_log", "get_run"]


def get_run(experiment: Any, run_id: str, rehydrate: bool = True, clean_up: bool = True) -> Run:
    """The run ``run_id`` of ``experiment`` (v1's ``azureml.core.get_run``)."""
    return Run(experiment, run_id)


class diagnostic_log:
    """Write modelport's debug log to ``log_path`` (default ``modelport.log``) while capturing, as
    v1's ``diagnostic_log`` did for the SDK's own log.

    Example::

        with diagnostic_log("deploy.log"):
            service = Model.deploy(ws, "svc", [model], inference_config)
    """

    def __init__(self, log_path: str | os.PathLike[str] | None = None) -> None:
        self.log_path = os.fspath(log_path or "modelport.log")
        self._handler: logging.Handler | None = None
        self._previous = logging.NOTSET

    def start_capture(self) -> None:
        if self._handler is not None:
            return
        handler = logging.FileHandler(self.log_path, encoding="utf-8")
        handler.setLevel(logging.DEBUG)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger("modelport")
        self._previous = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        self._handler = handler

    def stop_capture(self) -> None:
        if self._handler is None:
            return
        logger = logging.getLogger("modelport")
        logger.removeHandler(self._handler)
        logger.setLevel(self._previous)
        self._handler.close()
        self._handler = None

    def __enter__(self) -> diagnostic_log:
        self.start_capture()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_capture()
