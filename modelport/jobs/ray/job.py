"""A script run as a Ray job: submitted through Ray's Jobs API, its log streamed into the run's.

The run's supervisor (``python -m modelport.jobs``) calls :func:`run` instead of starting the
script itself. The job's entrypoint is the script's command line, run by the environment's
interpreter, with the run's variables in ``runtime_env["env_vars"]``, in the run's snapshot
folder: the same folder a local run works in, so ``outputs/`` is uploaded and ``run.log*``
reaches the workspace as for a local run. An owned cluster's nodes are this machine (it runs in
Ray's single-machine mode) and read the snapshot in place. An attached cluster's nodes may be
other machines: Ray ships the snapshot too (``runtime_env["working_dir"]``), and a node that
does not see the workspace runs the script in that copy (its ``outputs/`` then stays there).

Ray's job supervisor runs in the cluster's own Python and starts the entrypoint with the
environment's interpreter, so that environment needs no Ray of its own (``py_executable`` would
ask every training environment for the cluster's Ray, ~500 MB, for nothing the script uses).

Canceling (SIGTERM to the supervisor) stops the job (``stop_job``); a job past
``max_run_duration_seconds`` is stopped and the run fails; a cluster that stops answering fails
the run with that cause.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import threading
import time
from dataclasses import dataclass
from typing import IO, Any

from modelport.jobs.ray import RayCompute, auth_headers

__all__ = ["JobEnd", "entrypoint", "run", "stop"]

LOST_AFTER_S = 20.0
"""How long the cluster may not answer before the run is failed for it."""
_POLL_S = 0.25
_RAY_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+\w+ job_\w+\.py:\d+ -- ")


@dataclass
class JobEnd:
    status: str  # Completed | Failed | Canceled
    error: str | None = None
    exit_code: int | None = None


def submission_id(run_id: str) -> str:
    return f"modelport-{run_id}"


def entrypoint(argv: list[str], folder: str, shipped: bool) -> str:
    """The job's shell command: the script's command line in the run's snapshot folder."""
    command = " ".join(shlex.quote(a) for a in argv)
    cd = shlex.quote(folder)
    if not shipped:
        return f"cd {cd} && exec {command}"
    note = shlex.quote(
        f"modelport: {folder} is not on this node: the script runs in Ray's copy of the snapshot "
        "(its outputs/ stays on the node)"
    )
    return f"if [ -d {cd} ]; then cd {cd}; else echo {note} >&2; fi; exec {command}"


def _client(compute: RayCompute) -> Any:
    from ray.job_submission import JobSubmissionClient

    return JobSubmissionClient(compute.dashboard, headers=auth_headers(compute))


class _LogWriter:
    """Appends the job's log to the run's, leaving out the lines Ray's job supervisor writes
    before the script starts (the run's log holds the script's output, as for a local run)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.started = False
        self.pending = ""
        self.received = 0  # characters of Ray's log seen (to fetch only what the stream missed)

    def feed(self, text: str) -> None:
        self.received += len(text)
        data = self.pending + text
        lines = data.split("\n")
        self.pending = lines.pop()
        for line in lines:
            self._line(line + "\n")

    def close(self) -> None:
        if self.pending:
            self._line(self.pending)
            self.pending = ""

    def _line(self, line: str) -> None:
        if not self.started:
            if _RAY_LINE.match(line):
                return
            if line.startswith("Running entrypoint for job "):
                self.started = True
                return
            self.started = True
        self.out.write(line.encode("utf-8", "replace"))
        self.out.flush()


def run(
    compute: RayCompute,
    run_id: str,
    argv: list[str],
    folder: str,
    env: dict[str, str],
    out: IO[bytes],
    stop_requested: threading.Event,
    timeout: float | None,
    on_submitted: Any = None,
) -> JobEnd:
    """Submit the run's command as a Ray job, stream its log into ``out`` until it ends, and say
    how it ended. ``stop_requested`` (a cancel) stops the job; so does ``timeout``."""
    client = _client(compute)
    shipped = not compute.owned
    runtime_env: dict[str, Any] = {"env_vars": {**env, "PYTHONUNBUFFERED": "1"}}
    if shipped:
        runtime_env["working_dir"] = folder
    job_id = client.submit_job(
        entrypoint=entrypoint(argv, folder, shipped),
        submission_id=submission_id(run_id),
        runtime_env=runtime_env,
        metadata={"modelport_run": run_id},
    )
    if on_submitted is not None:
        on_submitted(job_id)
    return asyncio.run(_follow(client, compute, job_id, _LogWriter(out), stop_requested, timeout))


async def _follow(
    client: Any,
    compute: RayCompute,
    job_id: str,
    log: _LogWriter,
    stop_requested: threading.Event,
    timeout: float | None,
) -> JobEnd:
    deadline = time.monotonic() + timeout if timeout else None
    why_stopped: str | None = None
    tail = asyncio.create_task(_tail(client, job_id, log))
    unanswered_since: float | None = None
    info: Any = None
    while True:
        if why_stopped is None and stop_requested.is_set():
            why_stopped = "canceled"
        if why_stopped is None and deadline is not None and time.monotonic() > deadline:
            why_stopped = f"ran longer than max_run_duration_seconds={timeout}"
        try:
            if why_stopped is not None:
                await asyncio.to_thread(client.stop_job, job_id)
            info = await asyncio.to_thread(client.get_job_info, job_id)
            unanswered_since = None
        except Exception as exc:  # the cluster or its dashboard does not answer
            now = time.monotonic()
            unanswered_since = unanswered_since or now
            if now - unanswered_since > LOST_AFTER_S:
                tail.cancel()
                log.close()
                return JobEnd(
                    "Failed",
                    f"lost its Ray cluster (compute target '{compute.name}' at {compute.address} "
                    f"stopped answering: {type(exc).__name__}: {exc})",
                )
            info = None
        if info is not None and info.status.is_terminal():
            break
        if tail.done():  # the stream ended (or broke): the status poll says what happened
            await asyncio.sleep(_POLL_S)
            continue
        try:
            await asyncio.wait_for(asyncio.shield(tail), timeout=_POLL_S)
        except Exception:  # a timeout, or the stream broke: the status poll says more
            pass
    try:
        await asyncio.wait_for(tail, timeout=10)
    except Exception:  # what the stream missed is fetched below
        tail.cancel()
    try:
        whole = await asyncio.to_thread(client.get_job_logs, job_id)
        if len(whole) > log.received:
            log.feed(whole[log.received :])
    except Exception:  # the log so far is kept
        pass
    log.close()
    return _end(info, why_stopped)


async def _tail(client: Any, job_id: str, log: _LogWriter) -> None:
    async for chunk in client.tail_job_logs(job_id):
        log.feed(chunk)


def _end(info: Any, why_stopped: str | None) -> JobEnd:
    status = str(getattr(info.status, "value", info.status))
    code = getattr(info, "driver_exit_code", None)
    if status == "SUCCEEDED":
        return JobEnd("Completed", exit_code=code)
    if why_stopped == "canceled":
        return JobEnd("Canceled", "canceled by the user")
    if why_stopped is not None:
        return JobEnd("Failed", f"the script {why_stopped}")
    if status == "STOPPED":
        return JobEnd("Failed", "the Ray job was stopped on the cluster")
    if code is not None:
        return JobEnd("Failed", f"the script exited with code {code}", exit_code=code)
    message = (info.message or "").strip().splitlines()
    return JobEnd("Failed", f"the Ray job failed: {message[0] if message else status}")


def stop(compute: RayCompute, run_id: str) -> None:
    """Stop the run's job when no supervisor is left to do it (best effort: the cluster may be gone)."""
    try:
        _client(compute).stop_job(submission_id(run_id))
    except Exception:  # a job that is gone, or a cluster that is: nothing runs
        pass
