"""A script run as a Ray job: submitted to Ray's Jobs API, its log streamed into the run's.

The run's supervisor (``python -m modelport.jobs``) calls :func:`run` instead of starting the
script itself, with the run's variables in ``runtime_env["env_vars"]``. Where the job runs decides
the rest, and a Ray job's node is chosen by Ray only when it starts, so the rule is per cluster:

- **in place**: a cluster modelport started (``owned``) without ``job_resources``: it listens on
  127.0.0.1 only, so its nodes are this machine. The entrypoint is the script's command line run
  by the environment's interpreter (by its path) in the run's snapshot folder, the folder a local
  run works in: ``outputs/`` is uploaded and ``run.log*`` reaches the workspace as for a local run.
  Ray's job supervisor runs in the cluster's own Python and starts the entrypoint with the
  environment's interpreter, so that environment needs no Ray of its own (``py_executable`` would
  ask every training environment for the cluster's Ray, ~500 MB, for nothing the script uses);
- **shipped**: any other cluster (attached: its nodes may be other machines; or pinned to nodes by
  ``job_resources``, Ray's ``entrypoint_resources``). Nothing is read by a path of this machine:
  the snapshot is the job's ``working_dir`` (packaged and uploaded by Ray's
  ``JobSubmissionClient``), the environment Ray's ``uv`` runtime environment from the versions it
  was built with here, with modelport as a ``py_modules`` package
  (:func:`modelport.jobs.ray.shipped.node_runtime_env`; cached per node by Ray), and the
  entrypoint :mod:`modelport.jobs.ray.handback`, which runs the command (``python`` there: that
  environment; modelport's own requirements when modelport did not build one) and then
  hands ``outputs/`` and what the script logged back through the cluster's key-value store;
  when the job ends the supervisor fetches them (:func:`_collect`), writes ``outputs/`` into
  the run's snapshot (uploaded from there as for a local run) and deletes them from the
  cluster. The same on a node that sees the workspace: the rule cannot be per node.

The rest speaks Ray's Jobs REST API (``POST /api/jobs/``, ``GET /api/jobs/<id>``,
``POST /api/jobs/<id>/stop``, ``GET /api/jobs/<id>/logs``, the log tail's websocket) with
aiohttp, which Ray's own client uses: importing ``ray.job_submission`` took 2.7-5.4 s on 2 busy
cores, aiohttp 0.6-0.9 s, and a run waits for it before its script starts.

Canceling (SIGTERM to the supervisor) stops the job; a job past ``max_run_duration_seconds`` is
stopped and the run fails; a cluster that stops answering fails the run with that cause.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from modelport.errors import ComputeTargetError
from modelport.jobs.ray import RayCompute, auth_headers, connect, gcs_answers, handback
from modelport.jobs.ray.shipped import node_runtime_env

__all__ = ["JobEnd", "entrypoint", "run", "stop", "submission_id"]

LOST_AFTER_S = 20.0
"""How long the cluster may not answer before the run is failed for it."""
_POLL_S = 0.25
_TAIL_GRACE_S = 0.2  # after the job ended, what the stream has not delivered is fetched instead
_TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
_RAY_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\s+\w+ job_\w+\.py:\d+ -- ")


@dataclass
class JobEnd:
    status: str  # Completed | Failed | Canceled
    error: str | None = None
    exit_code: int | None = None
    journal: list[dict[str, Any]] = field(default_factory=list)
    """What the script logged on a node that cannot see the workspace (:func:`handback.replay`)."""
    streamed: int = 0
    """Bytes of the script's output Ray's Jobs API delivered into the run's log."""


def submission_id(run_id: str) -> str:
    return f"modelport-{run_id}"


def entrypoint(argv: list[str], folder: str) -> str:
    """The job's shell command, in place: the script's command line in the run's snapshot folder."""
    command = " ".join(shlex.quote(a) for a in argv)
    return f"cd {shlex.quote(folder)} && exec {command}"


def shipped_entrypoint(run_id: str, argv: list[str], interpreter: str | None) -> str:
    """The job's shell command, shipped: the command line under :mod:`.handback`, in Ray's copy of
    the snapshot, the environment's interpreter named ``python``: the virtualenv Ray's ``uv``
    built on the node (first on ``PATH`` there)."""
    command = ["python", *argv[1:]] if interpreter and argv and argv[0] == interpreter else list(argv)
    wrapper = ["python", "-m", "modelport.jobs.ray.handback", run_id, "--", *command]
    return "exec " + " ".join(shlex.quote(a) for a in wrapper)


def is_shipped(compute: RayCompute) -> bool:
    """Whether a script run on ``compute`` is shipped (see the module docstring)."""
    return not compute.owned or bool(compute.job_resources)


class _Api:
    """Ray's Jobs REST API at a cluster's dashboard, with its token."""

    def __init__(self, compute: RayCompute) -> None:
        import aiohttp

        self.aiohttp = aiohttp
        self.base = str(compute.dashboard).rstrip("/")
        self.session = aiohttp.ClientSession(
            headers=auth_headers(compute), timeout=aiohttp.ClientTimeout(total=30)
        )

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        async with self.session.request(method, f"{self.base}{path}", json=body) as response:
            if response.status >= 400:
                text = (await response.text()).strip().splitlines()
                why = text[0] if text else response.reason
                if response.status in (401, 403):
                    why = f"the cluster refused its token ({why})"
                status = response.status
                raise ComputeTargetError(f"Ray's Jobs API answered {status} to {method} {path}: {why}")
            return await response.json(content_type=None)

    async def tail(self, job_id: str, log: _LogWriter) -> None:
        async with self.session.ws_connect(f"{self.base}/api/jobs/{job_id}/logs/tail") as ws:
            async for message in ws:
                if message.type == self.aiohttp.WSMsgType.TEXT:
                    log.feed(message.data)
                elif message.type in (self.aiohttp.WSMsgType.CLOSED, self.aiohttp.WSMsgType.ERROR):
                    return

    async def close(self) -> None:
        await self.session.close()


class _LogWriter:
    """Appends the job's log to the run's, leaving out the lines Ray's job supervisor writes
    before the script starts (the run's log holds the script's output, as for a local run)."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.started = False
        self.pending = ""
        self.received = 0  # characters of Ray's log seen (to fetch only what the stream missed)
        self.written = 0  # bytes of the script's output written into the run's log

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
            self.started = True
            if line.startswith("Running entrypoint for job "):
                return
        data = line.encode("utf-8", "replace")
        self.out.write(data)
        self.out.flush()
        self.written += len(data)


def _submit_shipped(compute: RayCompute, body: dict[str, Any]) -> str:
    """Submit with Ray's own client, which packages and uploads ``working_dir``."""
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(compute.dashboard, headers=auth_headers(compute))
    return str(client.submit_job(**body))


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
    interpreter: str | None = None,
) -> JobEnd:
    """Submit the run's command as a Ray job, stream its log into ``out`` until it ends, and say
    how it ended. ``stop_requested`` (a cancel) stops the job; so does ``timeout``. ``folder``:
    the run's snapshot; ``interpreter``: the environment's (``argv[0]`` when the command starts
    with it)."""
    shipped = is_shipped(compute)
    env_vars = {**env, "PYTHONUNBUFFERED": "1"}
    body: dict[str, Any] = {"submission_id": submission_id(run_id), "metadata": {"modelport_run": run_id}}
    if shipped:
        env_vars[handback.ENV_GCS] = compute.address
        runtime_env = node_runtime_env(interpreter or argv[0], env_vars, always_uv=True)
        runtime_env["working_dir"] = folder
        body["entrypoint"] = shipped_entrypoint(run_id, argv, interpreter)
    else:
        runtime_env = {"env_vars": env_vars}
        body["entrypoint"] = entrypoint(argv, folder)
    body["runtime_env"] = runtime_env
    if compute.job_resources:
        body["entrypoint_resources"] = dict(compute.job_resources)
    job_id = _submit_shipped(compute, body) if shipped else None
    end = asyncio.run(_main(compute, body, job_id, out, stop_requested, timeout, on_submitted))
    return _collect(compute, run_id, Path(folder), end, out) if shipped else end


def _collect(compute: RayCompute, run_id: str, snapshot: Path, end: JobEnd, out: IO[bytes]) -> JobEnd:
    """What a shipped job handed back: ``outputs/`` written into the snapshot, the journal kept
    for the supervisor, the cluster's copy deleted (also for a job that was stopped)."""
    import ray

    try:
        if not gcs_answers(compute.address):  # ray.init would wait for a cluster that is gone
            raise ComputeTargetError(f"no Ray cluster answers at {compute.address}")
        connect(compute)
        try:
            came = handback.receive(run_id, snapshot)
        finally:
            ray.shutdown()
    except Exception as exc:  # the cluster went away with them, or they could not be written
        line = f"could not fetch the run's outputs from compute target '{compute.name}': {exc}"
        out.write(f"modelport: {line}\n".encode())
        return end if end.status != "Completed" else JobEnd("Failed", line.splitlines()[0])
    if came is not None and came.log and not end.streamed:
        # Ray's Jobs API serves the log of a job whose driver ran on the head's node only
        # (measured, Ray 2.60: nothing of a driver on another node, live or after): the node's
        # copy, handed back with outputs/, is the run's log then.
        out.write(came.log)
        out.flush()
    if end.status == "Canceled":
        return end
    if came is None:
        if end.status == "Completed":
            return JobEnd("Failed", "the run's outputs/ did not come back from its Ray node")
        return end
    if came.error is not None:
        return JobEnd("Failed", came.error)
    end.journal = came.journal
    return end


async def _main(
    compute: RayCompute,
    body: dict[str, Any],
    job_id: str | None,
    out: IO[bytes],
    stop_requested: threading.Event,
    timeout: float | None,
    on_submitted: Any,
) -> JobEnd:
    api = _Api(compute)
    try:
        if job_id is None:
            job_id = str((await api.request("POST", "/api/jobs/", body))["submission_id"])
        if on_submitted is not None:
            on_submitted(job_id)
        return await _follow(api, compute, job_id, _LogWriter(out), stop_requested, timeout)
    finally:
        await api.close()


async def _follow(
    api: _Api,
    compute: RayCompute,
    job_id: str,
    log: _LogWriter,
    stop_requested: threading.Event,
    timeout: float | None,
) -> JobEnd:
    deadline = time.monotonic() + timeout if timeout else None
    why_stopped: str | None = None
    tail = asyncio.create_task(api.tail(job_id, log))
    unanswered_since: float | None = None
    info: dict[str, Any] = {}
    while True:
        if why_stopped is None and stop_requested.is_set():
            why_stopped = "canceled"
        if why_stopped is None and deadline is not None and time.monotonic() > deadline:
            why_stopped = f"ran longer than max_run_duration_seconds={timeout}"
        try:
            if why_stopped is not None:
                await api.request("POST", f"/api/jobs/{job_id}/stop")
            info = await api.request("GET", f"/api/jobs/{job_id}")
            unanswered_since = None
        except Exception as exc:  # the cluster (or its dashboard) does not answer
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
            info = {}
        if info.get("status") in _TERMINAL:
            break
        if tail.done():  # the stream ended (or broke): the status poll says what happened
            await asyncio.sleep(_POLL_S)
            continue
        try:
            await asyncio.wait_for(asyncio.shield(tail), timeout=_POLL_S)
        except Exception:  # a timeout, or the stream broke: the status poll says more
            pass
    try:
        await asyncio.wait_for(tail, timeout=_TAIL_GRACE_S)
    except Exception:  # what the stream has not delivered is fetched below
        tail.cancel()
    try:
        whole = str((await api.request("GET", f"/api/jobs/{job_id}/logs")).get("logs") or "")
        if len(whole) > log.received:
            log.feed(whole[log.received :])
    except Exception:  # the log so far is kept
        pass
    log.close()
    end = _end(info, why_stopped)
    end.streamed = log.written
    return end


def _end(info: dict[str, Any], why_stopped: str | None) -> JobEnd:
    status = info.get("status")
    code = info.get("driver_exit_code")
    if status == "SUCCEEDED":
        return JobEnd("Completed", exit_code=code)
    if why_stopped == "canceled":
        return JobEnd("Canceled", "canceled by the user")
    if why_stopped is not None:
        return JobEnd("Failed", f"the script {why_stopped}")
    if status == "STOPPED":
        return JobEnd("Failed", "the Ray job was stopped on the cluster")
    if code is not None:
        return JobEnd("Failed", f"the script exited with code {code}", exit_code=int(code))
    message = str(info.get("message") or "").strip().splitlines()
    return JobEnd("Failed", f"the Ray job failed: {message[0] if message else status}")


def stop(compute: RayCompute, run_id: str) -> None:
    """Stop the run's job when no supervisor is left to do it (best effort: the cluster may be gone)."""

    async def go() -> None:
        api = _Api(compute)
        try:
            await api.request("POST", f"/api/jobs/{submission_id(run_id)}/stop")
        finally:
            await api.close()

    try:
        asyncio.run(go())
    except Exception:  # a job that is gone, or a cluster that is: nothing runs
        pass
