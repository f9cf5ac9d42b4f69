"""The supervisor of one script run: ``python -m modelport.jobs WORKSPACE_PATH WORKSPACE_NAME RUN_ID``.

Started by :func:`modelport.jobs.submit` in its own session. Runs the script with its output
appended to the run's log as it comes (unbuffered), enforces the run's time limit, then uploads
``outputs/`` and the log to the run's files and records the final state. A run on a Ray cluster
(``"ray"`` in its ``run.json``) runs as a Ray job instead (:mod:`modelport.jobs.ray.job`), its
log streamed into the same file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import IO, Any

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
    error: str | None = None
    with open(log, "ab", buffering=0) as out:
        if spec.get("ray"):
            code, stopped, error = _on_cluster(ws, run_id, spec, folder, out)
        else:
            code, stopped = _here(spec, folder, out)
    registry.set_status(ws, run_id, "Finalizing")
    try:
        outputs = folder / "snapshot" / "outputs"
        for f in sorted(outputs.rglob("*")) if outputs.is_dir() else []:
            if f.is_file():
                registry.add_file(ws, run_id, f"outputs/{f.relative_to(outputs).as_posix()}", f)
    except Exception as exc:  # a run whose outputs cannot be kept has failed, and says why
        error = error or f"could not upload outputs: {exc}"
    registry.add_file(ws, run_id, LOG_NAME, log)
    if stopped and stopped[0] == "canceled":
        registry.set_status(ws, run_id, "Canceled", "canceled by the user")
    elif stopped:
        registry.set_status(ws, run_id, "Failed", f"the script {stopped[0]}")
    elif code is not None and code != 0:
        last = _last_line(log)
        registry.set_status(
            ws, run_id, "Failed", f"the script exited with code {code}" + (f": {last}" if last else "")
        )
    elif error:
        registry.set_status(ws, run_id, "Failed", error)
    else:
        registry.set_status(ws, run_id, "Completed")
    return 0


def _here(spec: dict[str, Any], folder: Path, out: IO[bytes]) -> tuple[int | None, list[str]]:
    """Run the script on this machine: its exit code, and why it was stopped (if it was)."""
    stopped: list[str] = []
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
    return code, stopped


def _on_cluster(
    ws: Workspace, run_id: str, spec: dict[str, Any], folder: Path, out: IO[bytes]
) -> tuple[int | None, list[str], str | None]:
    """Run the script as a Ray job: its exit code, why it was stopped, and any other failure."""
    from modelport.jobs.ray import RayCompute, handback
    from modelport.jobs.ray import job as ray_job

    compute = RayCompute.from_json(spec["ray"])
    cancel = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: cancel.set())

    def submitted(job_id: str) -> None:
        registry.update_run(
            ws, run_id, details={"rayJob": {"submissionId": job_id, "dashboard": compute.dashboard}}
        )

    try:
        end = ray_job.run(
            compute,
            run_id,
            spec["argv"],
            str(folder / "snapshot"),
            spec["env"],
            out,
            cancel,
            spec.get("timeout"),
            on_submitted=submitted,
            interpreter=registry.get_run(ws, run_id).details.get("interpreter"),
        )
    except Exception as exc:  # the job could not be submitted: the run fails with why
        line = f"could not submit the script as a Ray job to compute target '{compute.name}': {exc}"
        out.write(f"{line}\n".encode())
        return None, [], line.splitlines()[0]
    if end.journal:  # what the script logged on a node that cannot see the workspace
        handback.replay(ws, run_id, end.journal)
    if end.status == "Canceled":
        return None, ["canceled"], None
    if end.exit_code is not None:
        return end.exit_code, [], None
    return None, [], end.error


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
