"""Adding a deployment target is one module and one registry entry: this module is the module.

``Ledger`` below is a whole target (the lifecycle of ``modelport.deploy.targets.base.Target``): it
keeps each started bundle in a dict and reads the server settings the bundle hands it. Registering
it and naming it in a deployment's settings is all it takes for ``Model.deploy`` to run there; no
other module of modelport or of the tests is touched.
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import pytest

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, Webservice
from modelport.deploy import records, targets
from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.reconcile import Observation
from modelport.deploy.targets import Endpoint, Handle, ProcessInspection, Routing, Runtime
from modelport.workspace import Workspace


class Ledger:
    """Runs nothing: it writes each bundle it is given into its ledger."""

    name = "ledger"
    start_phase = "entered in the ledger"

    def __init__(self) -> None:
        self.entries: dict[str, ServiceBundle] = {}

    def start(self, bundle: ServiceBundle, runtime: Runtime) -> Handle:
        handle = uuid.uuid4().hex
        self.entries[handle] = bundle
        return {"entry": handle, "port": runtime.port or 8123}

    def observe(self, handle: Handle) -> Observation:
        running = handle["entry"] in self.entries
        return Observation(running=running, ready=running, failed=not running, reason=None)

    def stop(self, handle: Handle) -> None:
        self.entries.pop(handle["entry"], None)

    def endpoint(self, handle: Handle) -> Endpoint:
        base = f"http://127.0.0.1:{handle['port']}"
        return Endpoint(f"{base}/score", f"{base}/swagger.json", port=handle["port"])

    def logs(self, handle: Handle, num_lines: int) -> str:
        bundle = self.entries[handle["entry"]]
        return f"ledger: {bundle.server_settings().entry_script.name}"

    def replace(self, old: Handle, bundle: ServiceBundle, runtime: Runtime, timeout: float) -> Handle:
        new = self.start(bundle, dataclasses.replace(runtime, port=old["port"]))
        self.stop(old)
        return new


def test_a_target_registered_here_runs_a_deployment(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger()
    monkeypatch.setattr(targets, "FACTORIES", dict(targets.FACTORIES))  # the registry, as it was after
    monkeypatch.setattr(targets, "_made", {})
    targets.register("ledger", lambda: ledger)
    assert not isinstance(ledger, ProcessInspection | Routing)  # the lifecycle alone is a target

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "score.py").write_text("def init():\n    pass\n\n\ndef run(data):\n    return data\n")
    (tmp_path / "weights.bin").write_bytes(b"\x00")
    model = Model.register(ws, tmp_path / "weights.bin", "weights")
    config = InferenceConfig(entry_script="score.py", source_directory=tmp_path / "src")
    settings = dataclasses.replace(AciWebservice.deploy_configuration(cpu_cores=1), target="ledger")

    service = Model.deploy(ws, "on-the-ledger", [model], config, settings)
    service.wait_for_deployment(timeout_sec=5)
    assert service.state == "Healthy"
    assert records.load(ws, "on-the-ledger").target == "ledger"
    (bundle,) = ledger.entries.values()
    assert bundle.server_settings().entry_script.name == "score.py"
    assert service.get_logs().endswith("ledger: score.py")

    Webservice(ws, "on-the-ledger").delete()
    assert ledger.entries == {}
