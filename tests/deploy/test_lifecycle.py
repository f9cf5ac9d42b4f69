"""The service lifecycle through the v1 facade, on the in-process fake target (no processes).

The same engine code runs the local target's process tests (test_deploy.py); here each
transition is checked in milliseconds: deploy, overwrite, update, failure, reconcile, delete.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelport.core.model import InferenceConfig, Model
from modelport.core.webservice import AciWebservice, LocalWebservice, Webservice
from modelport.deploy import engine, records
from modelport.deploy.records import ServiceState
from modelport.errors import (
    AlreadyExistsError,
    DeploymentError,
    InvalidInputError,
    ServiceNotFound,
    ServiceUnavailable,
)
from modelport.workspace import Workspace

from .fake_target import FakeTarget

GOOD = "def init():\n    global ready\n    ready = True\n\n\ndef run(raw_data):\n    return raw_data\n"
BAD = GOOD.replace("global ready\n    ready = True", "raise RuntimeError('cannot load weights')")


def _source(tmp_path: Path, text: str, name: str = "src") -> Path:
    src = tmp_path / name
    src.mkdir(exist_ok=True)
    (src / "score.py").write_text(text)
    return src


def _model(ws: Workspace, tmp_path: Path) -> Model:
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01")
    return Model.register(ws, tmp_path / "weights.bin", "weights")


def _deploy(ws: Workspace, tmp_path: Path, name: str, text: str = GOOD, **kwargs):  # type: ignore[no-untyped-def]
    config = InferenceConfig(entry_script="score.py", source_directory=_source(tmp_path, text, name))
    settings = kwargs.pop("deployment_config", AciWebservice.deploy_configuration(cpu_cores=1))
    return Model.deploy(ws, name, [_model(ws, tmp_path)], config, settings, **kwargs)


def test_deploy_prepares_a_bundle_and_the_target_runs_it(
    ws: Workspace, fake: FakeTarget, tmp_path: Path
) -> None:
    service = _deploy(ws, tmp_path, "fake-svc")
    assert service.state == "Healthy"  # the fake's init() ran in-process
    service.wait_for_deployment(timeout_sec=5)
    record = records.load(ws, "fake-svc")
    assert record.target == "fake" and record.compute_type == "ACI" and record.state is ServiceState.HEALTHY
    bundle = Path(record.bundle_dir or "")
    assert json.loads((bundle / "bundle.json").read_text())["spec"]["models"] == ["weights:1"]
    server = json.loads((bundle / "server.json").read_text())
    assert server["entry_script"] == "score.py" and server["source_directory"] == "app/fake-svc"
    assert server["model_dir"] == "app/azureml-models/weights/1"
    assert (bundle / "app" / "azureml-models" / "weights" / "1" / "weights.bin").read_bytes() == b"\x00\x01"
    assert service.scoring_uri == f"http://127.0.0.1:{record.port}/score"
    assert [h["state"] for h in record.history] == ["Transitioning", "Healthy"]
    assert len(fake.running) == 1


def test_overwrite_replaces_and_stops_the_old_one(ws: Workspace, fake: FakeTarget, tmp_path: Path) -> None:
    first = _deploy(ws, tmp_path, "over-svc")
    old = records.load(ws, "over-svc")
    with pytest.raises(AlreadyExistsError):
        _deploy(ws, tmp_path, "over-svc")
    second = _deploy(ws, tmp_path, "over-svc", overwrite=True)
    new = records.load(ws, "over-svc")
    assert second.state == "Healthy" and new.deployment_id != old.deployment_id
    assert new.port == old.port and first.scoring_uri == second.scoring_uri
    assert list(fake.running) == [new.handle["id"]]  # type: ignore[index]
    assert not Path(old.bundle_dir or "").exists()  # the old bundle is gone


def test_a_failing_replacement_leaves_the_old_one_serving(
    ws: Workspace, fake: FakeTarget, tmp_path: Path
) -> None:
    _deploy(ws, tmp_path, "keep-svc")
    old = records.load(ws, "keep-svc")
    with pytest.raises(DeploymentError, match="old deployment keeps serving"):
        _deploy(ws, tmp_path, "keep-svc", text=BAD, overwrite=True)
    now = records.load(ws, "keep-svc")
    assert now.deployment_id == old.deployment_id and Webservice(ws, "keep-svc").state == "Healthy"
    assert list(fake.running) == [old.handle["id"]]  # type: ignore[index]


def test_init_failure_fails_with_its_traceback(ws: Workspace, fake: FakeTarget, tmp_path: Path) -> None:
    service = _deploy(ws, tmp_path, "bad-svc", text=BAD)
    with pytest.raises(DeploymentError, match="cannot load weights") as info:
        service.wait_for_deployment(timeout_sec=5)
    assert info.value.state == "Failed" and "Traceback" in info.value.cause
    assert service.state == "Failed"


def test_metadata_updates_are_instant_and_others_redeploy(
    ws: Workspace, fake: FakeTarget, tmp_path: Path
) -> None:
    service = _deploy(ws, tmp_path, "upd-svc")
    first = records.load(ws, "upd-svc").deployment_id
    service.update(tags={"stage": "test"}, description="d", properties={"p": "1"})
    assert records.load(ws, "upd-svc").deployment_id == first and service.tags == {"stage": "test"}
    with pytest.raises(InvalidInputError, match="add-only"):
        service.update(properties={"p": "2"})
    service.update(auth_enabled=True)
    record = records.load(ws, "upd-svc")
    assert record.deployment_id != first and record.spec.settings.auth_enabled is True
    assert service.auth_enabled and len(service.get_keys()[0]) > 20
    assert Webservice(ws, "upd-svc").tags == {"stage": "test"}  # kept through the redeployment
    service.reload()
    assert records.load(ws, "upd-svc").deployment_id not in (first, record.deployment_id)


def test_reconcile_finds_a_dead_service_failed(ws: Workspace, fake: FakeTarget, tmp_path: Path) -> None:
    service = _deploy(ws, tmp_path, "dead-svc")
    record = records.load(ws, "dead-svc")
    fake.crash(record.handle or {})
    assert Webservice(ws, "dead-svc").state == "Failed"
    assert "stopped" in (Webservice(ws, "dead-svc").error or "")
    assert service.state == "Failed"


def test_delete_removes_everything_and_names_a_missing_service(
    ws: Workspace, fake: FakeTarget, tmp_path: Path
) -> None:
    service = _deploy(ws, tmp_path, "gone-svc")
    folder = ws.services_dir / "gone-svc"
    assert folder.is_dir()
    service.delete()
    assert not folder.exists() and not fake.running and "gone-svc" not in engine.names(ws)
    service.delete()  # the SDK's delete is safe to call twice
    with pytest.raises(ServiceNotFound, match="gone-svc"):
        engine.delete(ws, "gone-svc")
    with pytest.raises(ServiceNotFound):
        Webservice(ws, "gone-svc")


def test_run_on_a_failed_service_names_its_state(ws: Workspace, fake: FakeTarget, tmp_path: Path) -> None:
    """Issue 11, bug 2: a raw ConnectionError escaped from run() on a Failed service."""
    service = _deploy(ws, tmp_path, "norun-svc", text=BAD)
    with pytest.raises(ServiceUnavailable, match=r"service 'norun-svc' is Failed: .*cannot load weights"):
        service.run({"data": [[1]]})


def test_reload_after_a_failure_before_start_deploys_again(
    ws: Workspace, fake: FakeTarget, tmp_path: Path
) -> None:
    """Issue 11, bug 12: reload() raised KeyError('scriptPath') on a service that failed before start,
    and a Failed one claimed "the old deployment keeps serving" when nothing served."""
    fake.busy_ports.add(6789)
    service = _deploy(
        ws, tmp_path, "early-svc", deployment_config=AciWebservice.deploy_configuration(port=6789)
    )
    assert service.state == "Failed" and "port 6789 is already in use" in (service.error or "")
    fake.busy_ports.clear()
    service.reload()
    service.wait_for_deployment(timeout_sec=5)
    assert service.state == "Healthy" and service.port == 6789
    broken = _deploy(ws, tmp_path, "broken-svc", text=BAD)
    assert broken.state == "Failed"
    (Path(tmp_path / "broken-svc" / "score.py")).write_text(GOOD)
    broken.reload()  # nothing served: deployed anew, not "replaced"
    broken.wait_for_deployment(timeout_sec=5)
    assert broken.state == "Healthy"


def test_a_failed_deploy_records_the_compute_type_asked_for(
    ws: Workspace, fake: FakeTarget, tmp_path: Path
) -> None:
    """Issue 11, bug 13: failed deploys recorded compute type Local where successful ones said ACI."""
    fake.busy_ports.add(6790)
    failed = _deploy(ws, tmp_path, "ct-svc", deployment_config=AciWebservice.deploy_configuration(port=6790))
    assert failed.state == "Failed" and failed.compute_type == "ACI"
    assert Webservice.list(ws, compute_type="ACI")[0].name == "ct-svc"
    local = _deploy(ws, tmp_path, "ct-local", deployment_config=LocalWebservice.deploy_configuration())
    assert local.compute_type == "Local"


def test_list_filters(ws: Workspace, fake: FakeTarget, tmp_path: Path) -> None:
    _deploy(ws, tmp_path, "list-a", deployment_config=AciWebservice.deploy_configuration(tags={"team": "a"}))
    _deploy(ws, tmp_path, "list-b", deployment_config=LocalWebservice.deploy_configuration())
    assert [s.name for s in Webservice.list(ws)] == ["list-a", "list-b"]
    assert [s.name for s in Webservice.list(ws, tags=[["team", "a"]])] == ["list-a"]
    assert [s.name for s in Webservice.list(ws, compute_type="Local")] == ["list-b"]
    assert [s.name for s in Webservice.list(ws, model_name="weights")] == ["list-a", "list-b"]
    assert Webservice.list(ws, model_name="other") == []


def test_the_body_limit_is_a_deployment_setting(ws: Workspace, fake: FakeTarget, tmp_path: Path) -> None:
    """Issue 11, bug 15: AciWebservice.deploy_configuration had no way to raise the 100 MB limit."""
    _deploy(ws, tmp_path, "big-svc", deployment_config=AciWebservice.deploy_configuration(max_body_mb=250))
    server = json.loads((Path(records.load(ws, "big-svc").bundle_dir or "") / "server.json").read_text())
    assert server["max_body_mb"] == 250
    with pytest.raises(InvalidInputError, match="max_body_mb must be a positive number"):
        LocalWebservice.deploy_configuration(max_body_mb=0)


def test_a_script_without_run_is_refused_up_front(tmp_path: Path) -> None:
    """Issue 11, bug 5: it passed the check and failed at deploy with ~20 lines of server log."""
    src = _source(tmp_path, "def init():\n    pass\n\n\ndef predict(x):\n    return x\n")
    with pytest.raises(InvalidInputError, match=r"score.py defines no run\(\)"):
        InferenceConfig(entry_script="score.py", source_directory=src)
    imported = _source(tmp_path, "from helpers import run\n", "imported")
    InferenceConfig(entry_script="score.py", source_directory=imported)  # bound by an import: fine
