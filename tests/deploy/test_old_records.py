"""A workspace an earlier modelport made: its service records and bundles in their old shape
(the spec's parts side by side: ``models``, ``inference_config`` with the environment inside,
``environment``, ``settings``; a bundle whose ``server.json`` names the script from the bundle's
folder and holds the local target's sizing). Such services still list, observe, update, restart
and delete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelport.core.environment import Environment
from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, Webservice
from modelport.deploy import records
from modelport.workspace import Workspace

from .fake_target import FakeTarget

SCRIPT = """import os


def init():
    assert os.environ["OLD_VAR"] == "kept"


def run(raw_data):
    return raw_data
"""


def _old_record(new: dict[str, Any]) -> dict[str, Any]:
    """The row the previous version wrote for the same deployment (its to_json(), field by field)."""
    spec = new["spec"]
    source = spec["source_directory"]
    environment = {
        "name": "old-env",
        "version": "3",
        "python_version": None,
        "pip_packages": [],
        "conda_packages": [],
        "pip_options": [],
        "channels": [],
        "user_managed_dependencies": True,
        "interpreter_path": spec["environment"]["interpreter_path"],
        "environment_variables": {"OLD_VAR": "kept"},
        "docker_base_image": None,
    }
    settings = {k: v for k, v in spec["settings"].items() if k != "target"}
    settings.update(tags={"team": "old"}, properties={"since": "v0"}, description="made before the spec")
    return {
        "name": new["name"],
        "state": new["state"],
        "error": None,
        "created_time": new["created_time"],
        "updated_time": new["updated_time"],
        "target": new["target"],
        "compute_type": "ACI",
        "handle": new["handle"],
        "deployer": None,
        "deployment_id": new["deployment_id"],
        "bundle_dir": new["bundle_dir"],
        "log_file": new["log_file"],
        "scoring_uri": new["scoring_uri"],
        "swagger_uri": new["swagger_uri"],
        "models": spec["models"],
        "inference_config": {
            "entryScript": "score.py",
            "sourceDirectory": source,
            "scriptPath": str(Path(source) / "score.py"),
            "environment": environment,
            "description": "the old one",
        },
        "environment": environment,
        "settings": settings,
        "phases": new["phases"],
        "history": new["history"],
    }


def _old_bundle(bundle: Path) -> None:
    """Rewrite a bundle as the previous version prepared it."""
    data = json.loads((bundle / "bundle.json").read_text())
    spec = data["spec"]
    server = json.loads((bundle / "server.json").read_text())
    server["entry_script"] = str(Path(server["source_directory"]) / server["entry_script"])
    server.update(workers=1, cpu_affinity=None, preload_modules=None, max_worker_memory_mb=512)
    (bundle / "server.json").write_text(json.dumps(server))
    old = {
        "service": data["service"],
        "deployment_id": data["deployment_id"],
        "interpreter": data["interpreter"],
        "models": spec["models"],
        "environment": spec["environment"],
        "environment_variables": {"OLD_VAR": "kept"},
        "settings": spec["settings"],
        "requirements": [],
    }
    (bundle / "bundle.json").write_text(json.dumps(old))


def test_a_service_recorded_by_the_previous_version_lists_observes_updates_restarts_and_deletes(
    ws: Workspace, fake: FakeTarget, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("OLD_VAR", "kept")  # the fake target runs init() in this process
    src = tmp_path / "src"
    src.mkdir()
    (src / "score.py").write_text(SCRIPT)
    (tmp_path / "weights.bin").write_bytes(b"\x00")
    model = Model.register(ws, tmp_path / "weights.bin", "weights")
    env = Environment("old-env")
    env.python.user_managed_dependencies = True
    env.python.interpreter_path = __import__("sys").executable
    config = InferenceConfig("score.py", source_directory=src, environment=env)
    Model.deploy(ws, "old-svc", [model], config, AciWebservice.deploy_configuration(cpu_cores=1))
    row = json.loads(ws.db.query("SELECT record FROM services WHERE name = ?", ("old-svc",))[0]["record"])
    _old_bundle(Path(row["bundle_dir"]))
    with ws.db.transaction() as conn:
        ws.db.execute(
            conn, "UPDATE services SET record = ? WHERE name = ?", (json.dumps(_old_record(row)), "old-svc")
        )

    # Lists and observes, with what it was asked.
    (listed,) = Webservice.list(ws, tags=[["team", "old"]], model_name="weights")
    assert listed.name == "old-svc" and listed.state == "Healthy" and listed.compute_type == "ACI"
    service = Webservice(ws, "old-svc")
    assert service.port == row["port"] and service.description == "made before the spec"
    assert [m.id for m in service.models] == ["weights:1"] and service.properties == {"since": "v0"}
    spec = records.load(ws, "old-svc").spec
    assert spec.entry_script == "score.py" and spec.source_directory == str(src.resolve())
    assert spec.environment is not None and spec.environment.name == "old-env"
    assert spec.environment_variables == {"OLD_VAR": "kept"} and spec.description == "the old one"

    # Restarts from its old bundle, on its port.
    service.restart()
    assert service.state == "Healthy" and service.port == row["port"]

    # Updates: metadata at once, the rest by a redeployment from the migrated spec.
    service.update(tags={"team": "new"})
    assert Webservice(ws, "old-svc").tags == {"team": "new"}
    service.update(auth_enabled=True)
    assert service.state == "Healthy" and service.auth_enabled and service.port == row["port"]
    assert "spec" in json.loads(ws.db.query("SELECT record FROM services")[0]["record"])

    # Deletes.
    service.delete()
    assert Webservice.list(ws) == [] and not fake.running
