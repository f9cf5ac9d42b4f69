"""Executors a batch run can use, by name (one module each; imported when used).

``local``: worker processes on this machine (:mod:`.local`); ``ray``: Ray actors on a compute
target's cluster (:mod:`.ray`).
"""

from __future__ import annotations

import importlib

from modelport.errors import InvalidInputError
from modelport.jobs.batch.executors.base import Executor, WorkerSetup

__all__ = ["EXECUTORS", "check_executor", "create"]

#: executor name -> module:class
EXECUTORS: dict[str, str] = {
    "local": "modelport.jobs.batch.executors.local:LocalExecutor",
    "ray": "modelport.jobs.batch.executors.ray:RayExecutor",
}


def check_executor(name: str) -> None:
    if name not in EXECUTORS:
        raise InvalidInputError(f"unknown batch executor {name!r}; one of {', '.join(sorted(EXECUTORS))}")


def create(name: str, setup: WorkerSetup) -> Executor:
    check_executor(name)
    module, _, cls = EXECUTORS[name].partition(":")
    executor: Executor = getattr(importlib.import_module(module), cls)(setup)
    return executor
