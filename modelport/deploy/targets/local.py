"""The local target: a bundle's scoring server as a detached process group on this machine.

The handle is ``{"pid", "create_time", "port", "root", "keys_file"}``: the supervisor process
(pids get reused, so its start time too), the port it listens on (127.0.0.1), the bundle folder
where the server writes its status file, and the key file its readiness probe authenticates
with; with TLS (v1's ``ssl_enabled``) also ``"scheme": "https"`` and ``"trust_file"`` (what a
client verifies the service's certificate with), and with v1's probe timings ``"probe"``
(:mod:`modelport.deploy.probes`).
The server reports its own state there (ready workers, recycles, init()'s traceback:
:class:`~modelport.servicefiles.ServiceStatus`); this target reads it and never parses log text.

How the server is sized here is this target's to decide (the bundle is the same on every
target): its worker count, memory per worker and preloaded libraries
(:func:`modelport.deploy.workers.forked`), and the CPUs its workers may use (:func:`cpu_affinity`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import psutil

from modelport import keys as keyfile
from modelport.client import probe_ready
from modelport.deploy._files import tail
from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.keywords import copy_tls_files
from modelport.deploy.ports import free_port, port_is_free
from modelport.deploy.probes import PROBE_FILE, ProbeTimings, probed
from modelport.deploy.reconcile import Observation
from modelport.deploy.targets.base import Endpoint, Handle, Runtime
from modelport.deploy.workers import forked
from modelport.errors import DeploymentError, InvalidInputError
from modelport.servicefiles import ServerSettings, ServiceState, ServiceStatus

__all__ = ["LocalTarget", "cpu_affinity", "process_tree", "stray_servers"]

HOST = "127.0.0.1"
STATUS_FILE = "status.json"
READY_FILE = "ready.json"
LAUNCH_FILE = "local.json"
TLS_FOLDER = "tls"
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


def cpu_affinity(name: str, cores: float | None) -> list[int] | None:
    """The CPUs a service asking for ``cores`` runs on: that many (rounded up), starting at a
    core picked from its name so services spread over the machine; None for all of them."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cores or not cpus:
        return None
    want = min(len(cpus), max(1, int(-(-cores // 1))))
    if want >= len(cpus):
        return None
    start = sum(name.encode()) % len(cpus)  # spread services over the cores
    return sorted(cpus[(start + i) % len(cpus)] for i in range(want))


def _replacing(status: ServiceStatus) -> str:
    """Why a server that was ready has no ready worker now."""
    recycles = status.recycles
    if recycles and status.updated - recycles[-1].time < REPLACING_RECENT_S:
        return f"{recycles[-1].describe()}; its replacement is starting"
    return "a worker exited and its replacement is starting (see the service's logs)"


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.Error:
        pass


def _keys_file(handle: Handle) -> Path | None:
    if "keys_file" in handle:
        return Path(handle["keys_file"]) if handle["keys_file"] else None
    # A server an earlier version started: its handle did not name its keys; its settings do.
    try:
        return ServerSettings.from_json_file(Path(handle["root"]) / LAUNCH_FILE).keys_file
    except (InvalidInputError, OSError):
        return None


class LocalTarget:
    """Runs the scoring server (gunicorn + uvicorn workers) as its own process group."""

    name = "local"
    start_phase = "server started"

    def start(self, bundle: ServiceBundle, runtime: Runtime) -> Handle:
        port = runtime.port or free_port()
        if runtime.port and not port_is_free(port):
            raise InvalidInputError(f"port {port} is already in use on {HOST}")
        return self._launch(bundle, runtime, port)

    def _launch(self, bundle: ServiceBundle, runtime: Runtime, port: int) -> Handle:
        root = bundle.root
        for stale in (STATUS_FILE, READY_FILE, PROBE_FILE):
            (root / stale).unlink(missing_ok=True)
        asked = bundle.spec.settings
        tls: dict[str, Any] = {}
        if asked.ssl_enabled and asked.ssl_cert_pem_file and asked.ssl_key_pem_file:
            # The server serves 0600 copies: the originals may move or change after deployment.
            cert, key, trust = copy_tls_files(
                asked.ssl_cert_pem_file, asked.ssl_key_pem_file, root / TLS_FOLDER
            )
            tls = {"ssl_certfile": cert, "ssl_keyfile": key}
        settings = replace(
            forked(bundle.server_settings(), bundle),
            cpu_affinity=cpu_affinity(runtime.service, bundle.spec.settings.cpu_cores),
            host=HOST,
            port=port,
            reuse_port=True,  # a replacement listens beside the old one during an update
            keys_file=runtime.keys_file,
            token_auth=runtime.token_auth,
            ready_file=root / READY_FILE,
            status_file=root / STATUS_FILE,
            **tls,
        )
        launch = root / LAUNCH_FILE
        settings.write(launch)
        env = dict(os.environ)
        env.update(bundle.spec.environment_variables)
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
        handle: Handle = {
            "pid": proc.pid,
            "create_time": psutil.Process(proc.pid).create_time(),
            "port": port,
            "root": str(root),
            "keys_file": str(runtime.keys_file) if runtime.keys_file else None,
        }
        if tls:
            handle.update(scheme="https", trust_file=str(trust))
        timings = ProbeTimings.of(asked)
        if timings is not None:
            handle["probe"] = asdict(timings)
        return handle

    def observe(self, handle: Handle) -> Observation:
        status = ServiceStatus.read(Path(handle["root"]) / STATUS_FILE)
        failure = status.last_init_error if status is not None else None
        if _process(handle) is None:
            # Without a status file (a server that died before writing one), the log's last lines.
            reason = (failure.describe() if failure else None) or self.logs(handle, 20) or "it exited"
            return Observation(
                running=False,
                failed=True,
                reason=f"the server (pid {handle['pid']}) is not running: {reason}",
            )
        if status is not None:
            if status.state is ServiceState.FAILED:
                return Observation(
                    running=True, failed=True, reason=failure.describe() if failure else "init() failed"
                )
            if status.state is ServiceState.REPLACING:
                # Its only workers are being replaced (a memory recycle, a timeout, a crash): not
                # ready until a new one is, and the reason says why.
                return Observation(running=True, ready=False, reason=_replacing(status))
            ready = status.ready_workers >= 1 and self._ready(handle)
            return Observation(running=True, ready=ready)
        # A server that writes no status file (older versions): its ready file, then the route.
        ready = (Path(handle["root"]) / READY_FILE).is_file() and self._answers(handle)
        return Observation(running=True, ready=ready)

    def _ready(self, handle: Handle) -> bool:
        """Readiness of a server whose status file says it has ready workers: it answers, checked
        on every observation, or with the deployment's probe timings (v1's period_seconds, ...)."""
        timings = handle.get("probe")
        if not timings:
            return self._answers(handle, busy_is_ready=True)
        return probed(
            Path(handle["root"]),
            float(handle["create_time"]),
            ProbeTimings(**timings),
            lambda timeout: self._answers(handle, busy_is_ready=True, timeout=timeout),
        )

    def _answers(self, handle: Handle, busy_is_ready: bool = False, timeout: float = 2.0) -> bool:
        """Whether this server (not only some process on its port) answers readiness; with
        ``busy_is_ready``, also one that took the probe's connection but was too busy to answer it
        in time (its status file says it has ready workers)."""
        keys = _keys_file(handle)
        key = keyfile.probe_credential(keys) if keys is not None and keys.is_file() else None
        url = f"{handle.get('scheme', 'http')}://{HOST}:{handle['port']}/health/ready"
        if "trust_file" not in handle:
            return probe_ready(url, key, timeout=timeout, busy_is_ready=busy_is_ready)
        # Our own server, found by its pid: its certificate need not name 127.0.0.1 for this probe
        # (clients verify it; see trust_file). Not verifying here keeps a certificate issued for
        # the service's public name from making the service look down.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return probe_ready(url, key, timeout=timeout, busy_is_ready=busy_is_ready, verify=False)

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
        base = f"{handle.get('scheme', 'http')}://{HOST}:{handle['port']}"
        return Endpoint(f"{base}/score", f"{base}/swagger.json", port=int(handle["port"]))

    def logs(self, handle: Handle, num_lines: int) -> str:
        return tail(Path(handle["root"]) / "service.log", num_lines)

    def events(self, handle: Handle) -> list[str]:
        status = ServiceStatus.read(Path(handle["root"]) / STATUS_FILE)
        return [r.describe() for r in status.recycles] if status is not None else []

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
