"""The local target: a bundle's scoring server as a detached process group on this machine.

The handle is ``{"pid", "create_time", "port", "root"}``: the supervisor process (pids get
reused, so its start time too), the port it listens on (127.0.0.1), and the bundle folder where
the server writes its status file. The server reports its own state there (ready workers,
recycles, init()'s traceback); this target reads it and never parses log text.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from modelport import keys as keyfile
from modelport.client import probe_ready
from modelport.deploy._files import tail
from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.ports import free_port, port_is_free
from modelport.deploy.reconcile import Observation
from modelport.deploy.targets.base import Endpoint, Handle, Runtime
from modelport.errors import DeploymentError, InvalidInputError

__all__ = ["LocalTarget", "process_tree", "stray_servers"]

HOST = "127.0.0.1"
STATUS_FILE = "status.json"
READY_FILE = "ready.json"
LAUNCH_FILE = "local.json"
REPLACING_RECENT_S = 120.0
"""A recycle this recent (before the status file's last update) explains a worker being replaced."""


def _process(handle: Handle) -> psutil.Process | None:
    """The process behind ``handle``, if it is still the same process (pids get reused)."""
    try:
        proc = psutil.Process(int(handle["pid"]))
        if abs(proc.create_time() - float(handle["create_time"])) > 0.05:
            return None
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.Error, KeyError, TypeError, ValueError):
        return None


def process_tree(handle: Handle | None) -> list[psutil.Process]:
    proc = _process(handle) if handle else None
    if proc is None:
        return []
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def stray_servers(folder: Path) -> list[psutil.Process]:
    """Server processes started from ``folder`` (a service's folder) that may be known to no record.

    A deployer killed between starting the server and saving its handle leaves one behind; it is
    found by its command line, which names ``<folder>/<deployment>/local.json``.
    """
    marker = str(folder) + os.sep
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if "modelport.server" in cmdline and any(arg.startswith(marker) for arg in cmdline):
            found.append(proc)
    return found


def read_status(root: str | Path) -> dict[str, Any] | None:
    """The server's status file (see docs/serving.md), or None before it was written."""
    try:
        data = json.loads((Path(root) / STATUS_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _init_failure(status: dict[str, Any] | None) -> str | None:
    error = (status or {}).get("last_init_error")
    if not isinstance(error, dict):
        return None
    text = str(error.get("traceback") or "").strip()
    return text or f"init() raised {error.get('type')}: {error.get('message')}"


def _recycle_text(recycle: dict[str, Any]) -> str:
    return (
        f"worker {recycle.get('pid')} recycled: rss {float(recycle.get('rss_mb') or 0):.0f} MB > limit "
        f"{float(recycle.get('limit_mb') or 0):.0f} MB"
    )


def _replacing(status: dict[str, Any]) -> str:
    """Why a server that was ready has no ready worker now."""
    recycles = [r for r in status.get("recycles") or [] if isinstance(r, dict)]
    updated = float(status.get("updated") or 0)
    if recycles and updated - float(recycles[-1].get("time") or 0) < REPLACING_RECENT_S:
        return f"{_recycle_text(recycles[-1])}; its replacement is starting"
    return "a worker exited and its replacement is starting (see the service's logs)"


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


class LocalTarget:
    """Runs the scoring server (gunicorn + uvicorn workers) as its own process group."""

    name = "local"

    def start(self, bundle: ServiceBundle, runtime: Runtime) -> Handle:
        port = runtime.port or free_port()
        if runtime.port and not port_is_free(port):
            raise InvalidInputError(f"port {port} is already in use on {HOST}")
        return self._launch(bundle, runtime, port)

    def _launch(self, bundle: ServiceBundle, runtime: Runtime, port: int) -> Handle:
        root = bundle.root
        for stale in (STATUS_FILE, READY_FILE):
            (root / stale).unlink(missing_ok=True)
        settings = bundle.server_settings()
        settings.update(
            host=HOST,
            port=port,
            reuse_port=True,  # a replacement listens beside the old one during an update
            keys_file=str(runtime.keys_file) if runtime.keys_file else None,
            token_auth=runtime.token_auth,
            ready_file=str(root / READY_FILE),
            status_file=str(root / STATUS_FILE),
        )
        launch = root / LAUNCH_FILE
        launch.write_text(json.dumps(settings, indent=2))
        env = dict(os.environ)
        env.update(bundle.environment_variables)
        env["PYTHONUNBUFFERED"] = "1"
        with open(bundle.log_file, "ab") as log:
            proc = subprocess.Popen(
                [bundle.interpreter, "-m", "modelport.server", "--config", str(launch)],
                cwd=bundle.app_root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the deploying process; its own process group
            )
        return {
            "pid": proc.pid,
            "create_time": psutil.Process(proc.pid).create_time(),
            "port": port,
            "root": str(root),
        }

    def observe(self, handle: Handle) -> Observation:
        status = read_status(handle["root"])
        if _process(handle) is None:
            # Without a status file (a server that died before writing one), the log's last lines.
            reason = _init_failure(status) or self.logs(handle, 20) or "it exited"
            return Observation(
                running=False,
                failed=True,
                reason=f"the server (pid {handle['pid']}) is not running: {reason}",
            )
        if status is not None:
            if status.get("state") == "failed":
                return Observation(running=True, failed=True, reason=_init_failure(status) or "init() failed")
            if status.get("state") == "replacing":
                # Its only workers are being replaced (a memory recycle, a timeout, a crash): not
                # ready until a new one is, and the reason says why.
                return Observation(running=True, ready=False, reason=_replacing(status))
            ready = int(status.get("ready_workers") or 0) >= 1 and self._answers(handle, busy_is_ready=True)
            return Observation(running=True, ready=ready)
        # A server that writes no status file (older versions): its ready file, then the route.
        ready = (Path(handle["root"]) / READY_FILE).is_file() and self._answers(handle)
        return Observation(running=True, ready=ready)

    def _answers(self, handle: Handle, busy_is_ready: bool = False) -> bool:
        """Whether this server (not only some process on its port) answers readiness; with
        ``busy_is_ready``, also one that took the probe's connection but was too busy to answer it
        in time (its status file says it has ready workers)."""
        key = self._probe_key(handle)
        return probe_ready(f"http://{HOST}:{handle['port']}/health/ready", key, busy_is_ready=busy_is_ready)

    @staticmethod
    def _probe_key(handle: Handle) -> str | None:
        settings = json.loads((Path(handle["root"]) / LAUNCH_FILE).read_text())
        keys_file = settings.get("keys_file")
        if not keys_file or not Path(keys_file).is_file():
            return None
        return keyfile.probe_credential(Path(keys_file))

    def stop(self, handle: Handle, timeout: float = 10.0) -> None:
        """SIGTERM the process group (in-flight requests finish), SIGKILL what remains."""
        procs = process_tree(handle)
        if not procs:
            return
        pid = int(handle["pid"])
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            for p in procs:
                _signal(p, signal.SIGTERM)
        _gone, alive = psutil.wait_procs(procs, timeout=timeout)
        for p in alive:
            _signal(p, signal.SIGKILL)
        psutil.wait_procs(alive, timeout=5)
        # Reap our own child if this process started it (no zombie in long-lived processes).
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _process(handle) is not None:
            time.sleep(0.05)

    def processes(self, handle: Handle) -> list[int]:
        return [p.pid for p in process_tree(handle)]

    def sweep(self, folder: Path) -> None:
        for proc in stray_servers(folder):
            try:
                self.stop({"pid": proc.pid, "create_time": proc.create_time()})
            except psutil.Error:
                pass

    def endpoint(self, handle: Handle) -> Endpoint:
        base = f"http://{HOST}:{handle['port']}"
        return Endpoint(f"{base}/score", f"{base}/swagger.json")

    def logs(self, handle: Handle, num_lines: int) -> str:
        return tail(Path(handle["root"]) / "service.log", num_lines)

    def events(self, handle: Handle) -> list[str]:
        status = read_status(handle["root"]) or {}
        return [_recycle_text(r) for r in status.get("recycles") or [] if isinstance(r, dict)]

    def replace(self, old: Handle, bundle: ServiceBundle, runtime: Runtime, timeout: float) -> Handle:
        """The new server listens on the old one's port beside it (SO_REUSEPORT); the old one is
        stopped only once the new one is ready, so the port always answers."""
        new = self._launch(bundle, runtime, int(old["port"]))
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            seen = self.observe(new)
            if seen.ready:
                break
            if seen.failed or time.monotonic() > deadline:
                self.stop(new)
                cause = seen.reason or f"not ready after {timeout:.0f} s"
                raise DeploymentError(
                    runtime.service,
                    "Failed",
                    f"the replacement did not start, the old deployment keeps serving: {cause}",
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        self.stop(old)
        return new
