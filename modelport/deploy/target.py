"""Deployment targets: where a prepared service runs. The local process target is the first.

A target gets a :class:`LaunchSpec` (an interpreter, an app folder, a server config file) and
returns a :class:`ProcessHandle`; it can tell whether that handle still runs, and stop it. The same
HTTP contract holds on every target; a Ray Serve target would implement this same protocol.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import psutil


@dataclass
class LaunchSpec:
    interpreter: str
    app_root: Path
    config_file: Path
    log_file: Path
    environment: dict[str, str] = field(default_factory=dict)


@dataclass
class ProcessHandle:
    pid: int
    create_time: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ProcessHandle | None:
        if not data:
            return None
        return cls(int(data["pid"]), float(data["create_time"]))


class Target(Protocol):
    compute_type: str

    def start(self, spec: LaunchSpec) -> ProcessHandle: ...

    def is_running(self, handle: ProcessHandle) -> bool: ...

    def stop(self, handle: ProcessHandle, timeout: float = 10.0) -> None: ...


def _process(handle: ProcessHandle) -> psutil.Process | None:
    """The process behind ``handle``, if it is still the same process (pids get reused)."""
    try:
        proc = psutil.Process(handle.pid)
        if abs(proc.create_time() - handle.create_time) > 0.05:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def process_tree(handle: ProcessHandle) -> list[psutil.Process]:
    proc = _process(handle)
    if proc is None:
        return []
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


class LocalTarget:
    """Runs the scoring server as a detached process group on this machine."""

    compute_type = "Local"

    def start(self, spec: LaunchSpec) -> ProcessHandle:
        spec.log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(spec.environment)
        env["PYTHONUNBUFFERED"] = "1"
        with open(spec.log_file, "ab") as log:
            proc = subprocess.Popen(
                [spec.interpreter, "-m", "modelport.server", "--config", str(spec.config_file)],
                cwd=spec.app_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the deploying process; its own process group
            )
        return ProcessHandle(proc.pid, psutil.Process(proc.pid).create_time())

    def is_running(self, handle: ProcessHandle) -> bool:
        return _process(handle) is not None

    def stop(self, handle: ProcessHandle, timeout: float = 10.0) -> None:
        """SIGTERM the process group (graceful: in-flight requests finish), SIGKILL what remains."""
        procs = process_tree(handle)
        if not procs:
            return
        try:
            os.killpg(handle.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            for p in procs:
                _signal(p, signal.SIGTERM)
        _gone, alive = psutil.wait_procs(procs, timeout=timeout)
        for p in alive:
            _signal(p, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
        # Reap our own child if the deployer started it (avoids a zombie in long-lived processes).
        try:
            os.waitpid(handle.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _process(handle) is not None:
            time.sleep(0.05)


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


TARGETS: dict[str, Target] = {"Local": LocalTarget(), "ACI": LocalTarget(), "AKS": LocalTarget()}
