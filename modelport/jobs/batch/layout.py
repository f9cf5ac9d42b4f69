"""Where a batch run's files are: its folder in the workspace, and v1's log layout inside it.

::

    <workspace>/runs/<run id>/
        batch.json                      the BatchSpec and how the run was started (executor, reuse)
        journal.db                      finished mini-batches with their rows (the exactly-once record)
        supervisor.log                  the supervisor's own errors, if it has any
        azureml-logs/70_driver_log.txt  milestones of the run (what show_output streams)
        logs/job_progress_overview.<yyyymmddHHMMSS>.txt   mini-batches planned / done / failed
        logs/job_result.txt             the result; for a failure, its first cause
        logs/sys/master_role.txt        the supervisor's view: planning, workers, retries, thresholds
        logs/sys/node/<node>/<process>.txt   one line per mini-batch: items, failed, timings
        logs/user/entry_script_log/<node>/<process>.log.txt   EntryScript().logger
        logs/user/stdout/<node>/<process>.stdout.txt           the script's print()s
        logs/user/stderr/<node>/<process>.stderr.txt
        logs/user/error.txt             one line per error of the user's script (init() or run())
        logs/user/error/<node>/<process>.txt                   their full tracebacks
        logs/perf/<node>/<process>.csv  the worker's CPU time and memory, every 2 seconds
        models/<name>/<version>/        models Model.get_model_path() materialised for this run

Node folders are named ``node000``, ``node001``, ...; processes ``process000``, ... (v1's
``agent_name``), numbered per node.
"""

from __future__ import annotations

from pathlib import Path

from modelport.jobs import LOG_NAME, run_dir
from modelport.workspace import Workspace

__all__ = ["RunFolder", "node_name", "process_name"]

SPEC_FILE = "batch.json"
JOURNAL_FILE = "journal.db"
SUPERVISOR_LOG = "supervisor.log"


def node_name(index: int) -> str:
    return f"node{index:03d}"


def process_name(index: int) -> str:
    """v1's ``agent_name`` of the ``index``-th worker process on a node."""
    return f"process{index:03d}"


class RunFolder:
    """The paths of one batch run's folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def of(cls, ws: Workspace, run_id: str) -> RunFolder:
        return cls(run_dir(ws, run_id))

    @property
    def spec(self) -> Path:
        return self.root / SPEC_FILE

    @property
    def journal(self) -> Path:
        return self.root / JOURNAL_FILE

    @property
    def supervisor_log(self) -> Path:
        return self.root / SUPERVISOR_LOG

    @property
    def driver_log(self) -> Path:
        return self.root / LOG_NAME

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def job_result(self) -> Path:
        return self.logs / "job_result.txt"

    @property
    def master_role(self) -> Path:
        return self.logs / "sys" / "master_role.txt"

    @property
    def user_error(self) -> Path:
        return self.logs / "user" / "error.txt"

    @property
    def models(self) -> Path:
        return self.root / "models"

    def progress_overviews(self) -> list[Path]:
        return sorted(self.logs.glob("job_progress_overview.*.txt"))

    def node_log(self, node: str, process: str) -> Path:
        return self.logs / "sys" / "node" / node / f"{process}.txt"

    def entry_script_log(self, node: str, process: str) -> Path:
        return self.logs / "user" / "entry_script_log" / node / f"{process}.log.txt"

    def stdout(self, node: str, process: str) -> Path:
        return self.logs / "user" / "stdout" / node / f"{process}.stdout.txt"

    def stderr(self, node: str, process: str) -> Path:
        return self.logs / "user" / "stderr" / node / f"{process}.stderr.txt"

    def error_detail(self, node: str, process: str) -> Path:
        return self.logs / "user" / "error" / node / f"{process}.txt"

    def entry_script_log_dir(self, node: str) -> Path:
        """v1's ``EntryScript().log_dir``: the node's folder under ``logs/user/entry_script_log``."""
        return self.logs / "user" / "entry_script_log" / node
