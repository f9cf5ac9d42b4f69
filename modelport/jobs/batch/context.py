"""The worker a process is, for v1's ``EntryScript`` (set by :mod:`.worker`; None elsewhere)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

__all__ = ["WorkerContext", "current", "set_current"]


@dataclass(frozen=True)
class WorkerContext:
    logger: logging.Logger
    log_dir: str  # logs/user/entry_script_log/<node>
    output_dir: str  # AZUREML_BI_OUTPUT_PATH
    agent_name: str  # processNNN
    node_id: str  # nodeNNN
    working_dir: str


_current: WorkerContext | None = None


def current() -> WorkerContext | None:
    return _current


def set_current(ctx: WorkerContext | None) -> None:
    """This worker's context (None: no run's, as a kept worker between runs is)."""
    global _current
    _current = ctx
