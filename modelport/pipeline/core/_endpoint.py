"""The REST endpoint of a workspace's published pipelines: one small server process per workspace.

``POST /pipelines/v1.0/PipelineRuns/PipelineSubmit/<published id>`` with v1's body::

    {"ExperimentName": "My_Pipeline1", "ParameterAssignments": {"pipeline_arg": 45},
     "DataSetDefinitionValueAssignments": {"ds_param": {"SavedDataSetReference": {"Id": "name:version"}}},
     "DisplayName": "...", "RunSource": "SDK"}

starts a run and answers ``{"Id": run_id, ...}``. It needs ``Authorization: Bearer <key>`` with the
login key of the modelport home that published it (``InteractiveLoginAuthentication``'s header);
otherwise 401. Bad input is 400 with one line saying what was wrong, an unknown pipeline 404.

The process runs in its own session, bound to 127.0.0.1, recorded in ``<workspace>/pipelines/
endpoint.json`` (pid, start time, port): it outlives the Python that published, as a service does,
and :func:`url` finds it gone (killed, machine restarted) and starts it again, on the same port
when that port is free. The server itself is :mod:`modelport.pipeline.core._endpoint_server`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import filelock
import psutil
import requests

from modelport.core.authentication import login_key, login_key_file
from modelport.deploy.ports import free_port, port_is_free
from modelport.errors import StorageError
from modelport.workspace import Workspace

__all__ = ["known_url", "stop", "url"]

HOST = "127.0.0.1"
SUBMIT_PATH = "/pipelines/v1.0/PipelineRuns/PipelineSubmit/"
START_TIMEOUT_S = 60.0
log = logging.getLogger("modelport.pipeline.endpoint")


def _folder(ws: Workspace) -> Path:
    return ws.path / "pipelines"


def _record_file(ws: Workspace) -> Path:
    return _folder(ws) / "endpoint.json"


def _read_record(ws: Workspace) -> dict[str, Any] | None:
    try:
        data = json.loads(_record_file(ws).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _process(record: dict[str, Any]) -> psutil.Process | None:
    try:
        proc = psutil.Process(int(record["pid"]))
        if (
            abs(proc.create_time() - float(record["create_time"])) > 0.05
            or proc.status() == psutil.STATUS_ZOMBIE
        ):
            return None
        return proc
    except (psutil.Error, KeyError, TypeError, ValueError):
        return None


def _answers(ws: Workspace, port: int) -> bool:
    """Whether this workspace's endpoint (not another process that took the port) answers."""
    try:
        r = requests.get(f"http://{HOST}:{port}/health", timeout=2)
        return r.status_code == 200 and r.json().get("workspace") == str(ws.path)
    except (requests.RequestException, ValueError):
        return False


def ensure(ws: Workspace) -> int:
    """The port of the workspace's endpoint process, started (or started again) if needed."""
    _folder(ws).mkdir(parents=True, exist_ok=True)
    login_key()  # the key the endpoint checks exists before it starts
    with filelock.FileLock(str(_folder(ws) / "endpoint.lock"), timeout=START_TIMEOUT_S):
        record = _read_record(ws)
        if record is not None and _process(record) is not None:
            port = int(record["port"])
            deadline = time.monotonic() + 10.0
            while time.monotonic() < deadline:
                if _answers(ws, port):
                    return port
                time.sleep(0.2)
            _kill(record)  # alive but deaf: replace it
        port = int(record["port"]) if record and port_is_free(int(record["port"])) else free_port(HOST)
        return _start(ws, port)


def _start(ws: Workspace, port: int) -> int:
    logfile = _folder(ws) / "endpoint.log"
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "modelport.pipeline.core._endpoint_server",
                str(ws.path),
                ws.name,
                str(port),
                str(login_key_file()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while not _answers(ws, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            tail = logfile.read_text(errors="replace").strip().splitlines()[-5:]
            raise StorageError(
                f"the published-pipeline endpoint of workspace '{ws.name}' did not start on port {port}: "
                + (" | ".join(tail) or "no output")
            )
        time.sleep(0.1)
    record = {"pid": proc.pid, "create_time": psutil.Process(proc.pid).create_time(), "port": port}
    tmp = _record_file(ws).with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, _record_file(ws))
    return port


def _kill(record: dict[str, Any]) -> None:
    proc = _process(record)
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, PermissionError, psutil.Error):
        pass
    except psutil.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def url(ws: Workspace, pipeline_id: str) -> str:
    """The endpoint URL of the published pipeline ``pipeline_id`` (its process started if needed)."""
    return f"http://{HOST}:{ensure(ws)}{SUBMIT_PATH}{pipeline_id}"


def known_url(ws: Workspace, pipeline_id: str) -> str | None:
    """The endpoint URL as last recorded, without starting anything (for reprs)."""
    record = _read_record(ws)
    return f"http://{HOST}:{record['port']}{SUBMIT_PATH}{pipeline_id}" if record else None


def stop(ws: Workspace) -> None:
    """Stop the workspace's endpoint process (published pipelines stay; the next use starts it)."""
    record = _read_record(ws)
    if record is not None:
        _kill(record)
        _record_file(ws).unlink(missing_ok=True)


def pid(ws: Workspace) -> int | None:
    """The endpoint process's pid, if it is running."""
    record = _read_record(ws)
    proc = _process(record) if record else None
    return proc.pid if proc else None
