"""The supervisor process of one batch run: ``python -m modelport.jobs.batch WS_PATH WS_NAME RUN_ID``.

Started by :func:`modelport.jobs.batch.submit` (or ``resume``) in its own session. It holds an
exclusive lock on the run's folder while it lives (a second supervisor of the same run exits at
once), records the run Running, runs :class:`~modelport.jobs.batch.supervisor.Supervisor`, keeps
the log files as the run's files and records how the run ended. SIGTERM (``cancel``) stops it
cleanly, with what finished kept for a resume.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import time
import traceback
from types import FrameType

import psutil

from modelport.errors import ModelportError
from modelport.jobs.batch.layout import RunFolder
from modelport.jobs.batch.runs import load
from modelport.jobs.batch.supervisor import Supervisor, load_spec
from modelport.registry import runs as registry
from modelport.workspace import Workspace


def _keep_logs(ws: Workspace, run_id: str, folder: RunFolder) -> None:
    """The log files become the run's files (``run.get_file_names()``, ``download_files``)."""
    for path in sorted(folder.logs.rglob("*")):
        if path.is_file() and path.suffix != ".tmp":
            registry.add_file(ws, run_id, path.relative_to(folder.root).as_posix(), path)
    if folder.driver_log.is_file():
        registry.add_file(
            ws, run_id, folder.driver_log.relative_to(folder.root).as_posix(), folder.driver_log
        )


def main(argv: list[str]) -> int:
    ws_path, ws_name, run_id = argv
    ws = Workspace(ws_name, ws_path)
    folder = RunFolder.of(ws, run_id)
    lock = open(folder.root / "supervisor.lock", "a")  # noqa: SIM115 (held for the process's life)
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another supervisor runs this run
    if registry.get_run(ws, run_id).status in registry.FINAL:
        return 0  # canceled before it started
    me = psutil.Process(os.getpid())
    registry.update_run(ws, run_id, details={"supervisor": {"pid": me.pid, "started": me.create_time()}})
    registry.set_status(ws, run_id, "Running")
    saved = load(ws, run_id)
    supervisor = Supervisor(
        ws,
        run_id,
        load_spec(saved),
        executor=saved.get("executor", "local"),
        reuse_from=saved.get("reuse_from"),
        compute=saved.get("compute"),
    )

    def on_term(signum: int, frame: FrameType | None) -> None:
        supervisor.request_cancel()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        outcome = supervisor.run()
    except ModelportError as exc:  # expected (the output file is another run's): said in one line
        registry.set_status(ws, run_id, "Failed", str(exc))
        folder.job_result.parent.mkdir(parents=True, exist_ok=True)
        folder.job_result.write_text(f"Failed: {exc}\n")
        return 1
    except Exception as exc:  # a bug or a broken workspace: the run says so, with the traceback kept
        traceback.print_exc()  # to supervisor.log
        registry.set_status(ws, run_id, "Failed", f"the batch supervisor failed: {type(exc).__name__}: {exc}")
        return 1
    registry.set_status(ws, run_id, "Finalizing")
    try:
        _keep_logs(ws, run_id, folder)
    except Exception:
        traceback.print_exc()
    registry.set_status(ws, run_id, outcome.status, outcome.error)
    registry.update_run(ws, run_id, details={"ended": time.time()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
