"""The supervisor of one script run: ``python -m modelport.jobs WORKSPACE_PATH WORKSPACE_NAME RUN_ID``.

Started by :func:`modelport.jobs.submit` in its own session. Runs the script with its output
appended to the run's log as it comes (unbuffered), enforces the run's time limit, then uploads
``outputs/`` and the log to the run's files and records the final state.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

from modelport.jobs import LOG_NAME, SPEC_FILE, log_file, run_dir
from modelport.registry import runs as registry
from modelport.workspace import Workspace


def _last_line(log: Path) -> str:
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""


def main(argv: list[str]) -> int:
    ws_path, ws_name, run_id = argv
    ws = Workspace(ws_name, ws_path)
    folder = run_dir(ws, run_id)
    spec = json.loads((folder / SPEC_FILE).read_text())
    log = log_file(ws, run_id)
    if registry.set_status(ws, run_id, "Running").status in registry.FINAL:
        return 0  # canceled before it started
    stopped: list[str] = []
    with open(log, "ab", buffering=0) as out:
        child = subprocess.Popen(
            spec["argv"],
            cwd=folder / "snapshot",
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **spec["env"], "PYTHONUNBUFFERED": "1"},
        )

        def on_term(signum: int, frame: FrameType | None) -> None:
            stopped.append("canceled")
            child.terminate()

        signal.signal(signal.SIGTERM, on_term)
        try:
            code = child.wait(timeout=spec.get("timeout"))
        except subprocess.TimeoutExpired:
            stopped.append(f"ran longer than max_run_duration_seconds={spec['timeout']}")
            child.kill()
            code = child.wait()
    registry.set_status(ws, run_id, "Finalizing")
    error = None
    try:
        outputs = folder / "snapshot" / "outputs"
        for f in sorted(outputs.rglob("*")) if outputs.is_dir() else []:
            if f.is_file():
                registry.add_file(ws, run_id, f"outputs/{f.relative_to(outputs).as_posix()}", f)
    except Exception as exc:  # a run whose outputs cannot be kept has failed, and says why
        error = f"could not upload outputs: {exc}"
    registry.add_file(ws, run_id, LOG_NAME, log)
    if stopped and stopped[0] == "canceled":
        registry.set_status(ws, run_id, "Canceled", "canceled by the user")
    elif stopped:
        registry.set_status(ws, run_id, "Failed", f"the script {stopped[0]}")
    elif code != 0:
        last = _last_line(log)
        registry.set_status(
            ws, run_id, "Failed", f"the script exited with code {code}" + (f": {last}" if last else "")
        )
    elif error:
        registry.set_status(ws, run_id, "Failed", error)
    else:
        registry.set_status(ws, run_id, "Completed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
