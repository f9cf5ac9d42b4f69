"""An in-process deployment target: proof that a target is one module and one registry entry.

``FakeTarget`` "runs" a bundle by importing its entry script in this process and calling init():
a script whose init() raises leaves a failed service with that traceback, as the local target
would report it. Nothing listens on a socket; the endpoint names a port nothing serves on, so a
call to the service fails the way a call to a dead service does.
"""

from __future__ import annotations

import importlib.util
import itertools
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.ports import free_port
from modelport.deploy.reconcile import Observation
from modelport.deploy.targets import Endpoint, Handle, Runtime
from modelport.errors import DeploymentError, InvalidInputError


@dataclass
class Running:
    bundle: Path
    port: int
    failed: bool = False
    reason: str | None = None
    ready: bool = True
    log: list[str] = field(default_factory=list)


class FakeTarget:
    name = "fake"
    start_phase = "server started"

    def __init__(self) -> None:
        self.running: dict[str, Running] = {}
        self.busy_ports: set[int] = set()
        self.started = itertools.count()

    def _init(self, bundle: ServiceBundle) -> str | None:
        """Import the bundle's entry script and call its init(); the traceback if it raised."""
        script = bundle.server_settings().entry_script
        spec = importlib.util.spec_from_file_location(f"fake_{uuid.uuid4().hex}", script)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            init = getattr(module, "init", None)
            if init is not None:
                init()
        except Exception:
            return traceback.format_exc()
        return None

    def _run(self, bundle: ServiceBundle, port: int) -> Handle:
        next(self.started)
        handle_id = uuid.uuid4().hex
        failure = self._init(bundle)
        self.running[handle_id] = Running(
            bundle.root,
            port,
            failed=failure is not None,
            reason=failure,
            log=[f"started {bundle.deployment_id}"],
        )
        return {"id": handle_id, "port": port}

    def start(self, bundle: ServiceBundle, runtime: Runtime) -> Handle:
        if runtime.port in self.busy_ports:
            raise InvalidInputError(f"port {runtime.port} is already in use on 127.0.0.1")
        return self._run(bundle, runtime.port or free_port())

    def observe(self, handle: Handle) -> Observation:
        state = self.running.get(handle["id"])
        if state is None:
            return Observation(running=False, failed=True, reason="the fake service was stopped")
        if state.failed:
            return Observation(running=True, failed=True, reason=state.reason)
        return Observation(running=True, ready=state.ready, reason=None if state.ready else "warming up")

    def stop(self, handle: Handle) -> None:
        self.running.pop(handle["id"], None)

    def endpoint(self, handle: Handle) -> Endpoint:
        base = f"http://127.0.0.1:{handle['port']}"  # nothing listens there: calls fail as on a dead service
        return Endpoint(f"{base}/score", f"{base}/swagger.json", port=int(handle["port"]))

    def logs(self, handle: Handle, num_lines: int) -> str:
        state = self.running.get(handle["id"])
        return "\n".join(state.log[-num_lines:]) if state else ""

    def replace(self, old: Handle, bundle: ServiceBundle, runtime: Runtime, timeout: float) -> Handle:
        new = self._run(bundle, int(old["port"]))
        seen = self.observe(new)
        if not seen.ready:
            self.stop(new)
            raise DeploymentError(
                runtime.service,
                "Failed",
                f"the replacement did not start, the old deployment keeps serving: {seen.reason}",
            )
        self.stop(old)
        return new

    def crash(self, handle: Handle) -> None:
        """What a dead process looks like: it is gone."""
        self.running.pop(handle["id"], None)
