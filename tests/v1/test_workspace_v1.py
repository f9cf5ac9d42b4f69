"""v1's workspace cells (the "configuration" notebook and the deployment notebooks' first cells),
with ``azureml`` renamed to ``modelport`` (issue 12, point 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import modelport.workspace
from modelport.core import Environment, Model, Workspace
from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.model import InferenceConfig
from modelport.core.webservice import LocalWebservice
from modelport.errors import WorkspaceNotFound


def test_from_config_keeps_the_v1_identity(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(
        json.dumps(
            {
                "subscription_id": "0f5c3bd0-1234-4e4e-9c9c-2f3a4b5c6d7e",
                "resource_group": "docs-aml",
                "workspace_name": "docs-ws",
            }
        )
    )
    monkeypatch.chdir(tmp_path)

    ws = Workspace.from_config()
    print(
        "Workspace name: " + ws.name,
        "Azure region: " + ws.location,
        "Subscription id: " + ws.subscription_id,
        "Resource group: " + ws.resource_group,
        sep="\n",
    )

    assert (ws.name, ws.subscription_id, ws.resource_group) == (
        "docs-ws",
        "0f5c3bd0-1234-4e4e-9c9c-2f3a4b5c6d7e",
        "docs-aml",
    )
    details = ws.get_details()
    assert details["id"] == (
        "/subscriptions/0f5c3bd0-1234-4e4e-9c9c-2f3a4b5c6d7e/resourceGroups/docs-aml"
        "/providers/Microsoft.MachineLearningServices/workspaces/docs-ws"
    )
    assert details["resourceGroup"] == "docs-aml" and details["location"] == "local"
    # The identity stays with the workspace: opened by name from elsewhere, it is the same.
    again = Workspace.get("docs-ws")
    assert (again.subscription_id, again.resource_group) == (ws.subscription_id, ws.resource_group)
    # The v1 class is the store's Workspace too, so every engine call accepts it.
    assert isinstance(ws, modelport.workspace.Workspace)
    assert all(type(w) is Workspace for w in Workspace.list().values())


def test_without_a_v1_config_the_identity_is_local_and_stable(home: Path) -> None:
    ws = Workspace.create("plain")
    first = (ws.subscription_id, ws.resource_group, ws.location)
    assert first == ("00000000-0000-0000-0000-000000000000", "local", "local")
    assert (Workspace.get("plain").subscription_id, Workspace.get("plain").resource_group) == first[:2]
    made = Workspace.create("made", subscription_id="sub-1", resource_group="rg-1", location="westeurope")
    assert (made.subscription_id, made.resource_group, made.location) == ("sub-1", "rg-1", "westeurope")


SCORE = """
import json
def init():
    pass
def run(raw):
    return json.loads(raw)["data"]
"""


def test_workspace_collections(
    home: Path, tmp_path: Path, fake: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ws = Workspace.create(name="collections")
    Path("model.txt").write_text("v1")
    Model.register(ws, model_path="model.txt", model_name="summer")
    Path("model.txt").write_text("v2")
    Model.register(ws, model_path="model.txt", model_name="summer")
    Model.register(ws, model_path="model.txt", model_name="other")
    env = Environment("sklearn-env")
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn"])
    env.register(ws)
    Path("score.py").write_text(SCORE)
    service = Model.deploy(
        ws,
        "collections-svc",
        [Model(ws, "summer")],
        InferenceConfig(entry_script="score.py"),
        LocalWebservice.deploy_configuration(),
    )
    service.wait_for_deployment()

    for name, model in ws.models.items():
        print("Model:", name, model.version)
    assert {n: m.version for n, m in ws.models.items()} == {"other": 1, "summer": 2}
    assert "sklearn-env" in ws.environments
    assert ws.environments["sklearn-env"].python.conda_dependencies.pip_packages == ["scikit-learn"]
    assert list(ws.webservices) == ["collections-svc"]
    assert ws.webservices["collections-svc"].state == "Healthy"
    assert set(ws.datastores) == {"workspaceblobstore", "workspacefilestore"}
    assert ws.get_default_datastore().name == "workspaceblobstore"
    assert ws.compute_targets == {}  # no ComputeTarget.create/attach yet
    assert ws.experiments == {} and ws.datasets == {}
    service.delete()
    assert ws.webservices == {}


def test_v1_constructor_and_get_with_azure_arguments(home: Path) -> None:
    Workspace.create("by-ids")
    # As v1 samples open a workspace by its Azure coordinates.
    ws = Workspace(subscription_id="sub-123", resource_group="rg-ml", workspace_name="by-ids")
    assert (ws.name, ws.subscription_id, ws.resource_group) == ("by-ids", "sub-123", "rg-ml")
    positional = Workspace("sub-456", "rg-other", "by-ids")
    assert (positional.subscription_id, positional.resource_group) == ("sub-456", "rg-other")
    got = Workspace.get(name="by-ids", subscription_id="sub-789", resource_group="rg-3")
    assert (got.subscription_id, got.resource_group) == ("sub-789", "rg-3")
    assert Workspace("by-ids").resource_group == "rg-3"  # the store's own form still works
    with pytest.raises(WorkspaceNotFound, match="workspace 'missing' not found"):
        Workspace(subscription_id="s", resource_group="r", workspace_name="missing")
