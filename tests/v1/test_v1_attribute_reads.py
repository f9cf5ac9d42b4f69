"""Attribute reads of v1 objects give sensible local values (issue 22, part 2): what v1 code
prints or formats about a datastore, a workspace, a model and a service."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelport.exceptions import NotSupported


def test_a_datastores_v1_attributes(home: Path, tmp_path: Path) -> None:
    from modelport.core import Datastore, Workspace
    from modelport.data.azure_storage_datastore import AzureBlobDatastore, AzureFileDatastore

    ws = Workspace.create(name="reads", exist_ok=True)
    blob = ws.get_default_datastore()
    assert isinstance(blob, AzureBlobDatastore)
    assert (blob.datastore_type, blob.container_name, blob.account_name) == (
        "AzureBlob",
        "workspaceblobstore",
        "local",
    )
    assert blob.protocol == "file" and blob.endpoint.startswith("file://")
    # the endpoint is where the data really is: a file uploaded shows up under it
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_text("x\n1\n")
    blob.upload(str(tmp_path / "data"), target_path="d", show_progress=False)
    assert (Path(blob.endpoint.removeprefix("file://")) / "d" / "a.csv").read_text() == "x\n1\n"
    assert blob.account_key is None and blob.sas_token is None and blob.is_sas is False
    assert blob.subscription_id == ws.subscription_id and blob.resource_group == ws.resource_group

    files = Datastore.get(ws, "workspacefilestore")
    assert isinstance(files, AzureFileDatastore) and files.datastore_type == "AzureFile"
    blob.set_as_default()  # it is the default already
    with pytest.raises(NotSupported, match="workspaceblobstore"):
        files.set_as_default()
    with pytest.raises(NotSupported, match=r"pandas\.read_sql"):
        Datastore.register_azure_sql_database(ws, "sql", "server", "db")


def test_a_runs_and_an_experiments_v1_members(home: Path, tmp_path: Path) -> None:
    from modelport.core import Experiment, Run, ScriptRun, ScriptRunConfig, Workspace, get_run

    ws = Workspace.create(name="runs", exist_ok=True)
    exp = Experiment(ws, "exp")
    (tmp_path / "train.py").write_text("print('training')\n")
    run = exp.submit(ScriptRunConfig(source_directory=str(tmp_path), script="train.py"))
    run.wait_for_completion()
    assert isinstance(run, ScriptRun)
    assert Run.get(ws, run.id) == run and get_run(exp, run.id) == run
    assert run.get_detailed_status() == {"status": "Completed", "details": None}
    logs = run.get_all_logs(tmp_path / "logs")
    assert logs and any("training" in Path(p).read_text() for p in logs)
    assert any("training" in text for text in run.get_details_with_logs()["logFiles"].values())
    run.flush()
    assert run.identity is None and str(ws.path) in run.portal_url
    assert exp.workspace_object is ws and exp.archived_time is None and str(ws.path) in exp.portal_url
    with pytest.raises(NotSupported, match="environment variable"):
        run.get_secret("db-password")
    with pytest.raises(NotSupported, match="pipelines"):
        run.child_run()
