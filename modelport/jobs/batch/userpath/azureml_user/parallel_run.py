"""v1's ``azureml_user.parallel_run``: ``EntryScript`` for ParallelRunStep entry scripts.

Example (v1's entry script, unchanged)::

    from azureml_user.parallel_run import EntryScript

    def init():
        entry_script = EntryScript()
        entry_script.logger.info("init() on %s", entry_script.agent_name)   # logs/user/entry_script_log/...

    def run(mini_batch):
        log_dir = EntryScript().log_dir          # logs/user/entry_script_log/<node>/
        ...
"""

from __future__ import annotations

import logging

from modelport.errors import NotSupported
from modelport.jobs.batch.context import WorkerContext, current

__all__ = ["EntryScript"]


class EntryScript:
    """The running worker's helpers (the same values wherever it is made in one process).

    ``logger`` writes to ``logs/user/entry_script_log/<node>/<process>.log.txt`` at the run's
    ``logging_level``; ``log_dir`` is that node's folder (write your own files there);
    ``output_dir`` is ``AZUREML_BI_OUTPUT_PATH`` (where ``append_row`` writes); ``agent_name``
    is the worker's name (``process000``, ...).
    """

    def __init__(self) -> None:
        ctx = current()
        if ctx is None:
            raise NotSupported(
                "EntryScript works inside a batch run's worker (ParallelRunStep or modelport batch score); "
                "to test a script outside one, call its init() and run() yourself"
            )
        self._ctx: WorkerContext = ctx

    @property
    def logger(self) -> logging.Logger:
        return self._ctx.logger

    @property
    def log_dir(self) -> str:
        return self._ctx.log_dir

    @property
    def output_dir(self) -> str:
        return self._ctx.output_dir

    @property
    def working_dir(self) -> str:
        return self._ctx.working_dir

    @property
    def agent_name(self) -> str:
        return self._ctx.agent_name

    @property
    def node_id(self) -> str:
        return self._ctx.node_id
