"""``Workspace`` as v1 code sees it (v1's ``azureml.core.workspace``).

The store's :class:`modelport.workspace.Workspace` knows folders, the database and blobs; this
subclass adds v1's attributes that need the rest of the facade: ``ws.models``,
``ws.webservices``, ``ws.environments``, ``ws.datastores``, ``ws.datasets``, ``ws.experiments``,
``ws.compute_targets``, the default datastore and an MLflow tracking URI. ``Workspace.create``,
``get``, ``from_config`` and ``list`` return this class.

Example::

    from modelport.core import Workspace

    ws = Workspace.from_config()
    print(ws.name, ws.resource_group, ws.location, ws.subscription_id, sep="\\n")
    list(ws.models), list(ws.webservices)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from modelport.core._workspace_v1 import WorkspaceV1
from modelport.workspace import Workspace as _StoreWorkspace

__all__ = ["Workspace"]

# A local workspace belongs to no Azure subscription; these stand in, the same every time, for
# code that prints or formats them. A v1 config file's own values win.
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LOCAL_RESOURCE_GROUP = "local"
LOCAL_LOCATION = "local"
_V1_FILE = "azureml.json"  # v1 identity (subscription, resource group, location) kept in the workspace


class Workspace(WorkspaceV1, _StoreWorkspace):
    """A local workspace with v1's attributes.

    Example::

        >>> ws = Workspace.create("demo", exist_ok=True, subscription_id="...", resource_group="rg")
        >>> ws.get_default_datastore().name
        'workspaceblobstore'
        >>> mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """``Workspace(name, path=None)`` opens a local workspace; v1's
        ``Workspace(subscription_id, resource_group, workspace_name)`` opens ``workspace_name``
        and keeps the subscription and resource group as its identity."""
        v1_names = ("subscription_id", "resource_group", "workspace_name")
        if "workspace_name" in kwargs or len(args) >= 3:
            given = dict(zip(v1_names, args, strict=False))
            given.update({k: v for k, v in kwargs.items() if k in v1_names})
            super().__init__(given["workspace_name"])
            identity = {k: given[k] for k in v1_names[:2] if given.get(k)}
            if identity:
                self._save_identity(identity)
            return
        super().__init__(*args, **kwargs)

    @classmethod
    def get(cls, name: str, **v1: Any) -> Workspace:
        """Open the workspace ``name``; v1's ``subscription_id`` and ``resource_group``, when given,
        become its identity."""
        ws = cls(name)
        given = {k: v1[k] for k in ("subscription_id", "resource_group") if v1.get(k)}
        if given:
            ws._save_identity(given)
        return ws

    @classmethod
    def create(
        cls,
        name: str,
        path: str | os.PathLike[str] | None = None,
        exist_ok: bool = False,
        **v1: Any,
    ) -> Workspace:
        """Create a workspace; v1's ``subscription_id``, ``resource_group`` and ``location`` are kept
        (and shown by ``get_details()``), the other cloud arguments ignored."""
        made = super().create(name, path, exist_ok, **v1)
        ws = made if isinstance(made, Workspace) else Workspace(made.name, made.path)
        given = {k: v1[k] for k in ("subscription_id", "resource_group", "location") if v1.get(k)}
        if given:
            ws._save_identity(given)
        return ws

    @classmethod
    def _from_config_file(cls, file: Path, strict: bool = True) -> Any:
        ws = super()._from_config_file(file, strict)
        if isinstance(ws, Workspace):
            try:
                data = json.loads(file.read_text())
            except (OSError, ValueError):
                data = {}
            given = {k: data[k] for k in ("subscription_id", "resource_group", "location") if data.get(k)}
            if given:
                ws._save_identity(given)
        return ws

    # -- v1 identity ---------------------------------------------------------------------------
    def _identity(self) -> dict[str, str]:
        try:
            data = json.loads((self.path / _V1_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save_identity(self, values: dict[str, Any]) -> None:
        merged = {**self._identity(), **{k: str(v) for k, v in values.items()}}
        if merged == self._identity():
            return
        tmp = self.path / f".{_V1_FILE}.tmp{os.getpid()}"
        tmp.write_text(json.dumps(merged, indent=2))
        os.replace(tmp, self.path / _V1_FILE)

    @property
    def subscription_id(self) -> str:
        """From the v1 config file (or ``Workspace.create``) when there was one, else a fixed zero UUID."""
        return self._identity().get("subscription_id", LOCAL_SUBSCRIPTION)

    @property
    def resource_group(self) -> str:
        return self._identity().get("resource_group", LOCAL_RESOURCE_GROUP)

    @property
    def location(self) -> str:
        return self._identity().get("location", LOCAL_LOCATION)

    @property
    def sku(self) -> str:
        return "local"

    @property
    def tags(self) -> dict[str, str]:
        return {}

    def get_details(self) -> dict[str, Any]:
        """v1's details dict: id, name, location, resource group, subscription, and where it lives."""
        return {
            "id": (
                f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices/workspaces/{self.name}"
            ),
            "name": self.name,
            "location": self.location,
            "resourceGroup": self.resource_group,
            "subscriptionId": self.subscription_id,
            "workspaceid": self.name,
            "sku": self.sku,
            "path": str(self.path),
            "defaultDatastore": "workspaceblobstore",
            "mlflowTrackingUri": self.get_mlflow_tracking_uri(),
        }

    # -- v1's collections (dicts by name) -------------------------------------------------------
    @property
    def models(self) -> dict[str, Any]:
        """The latest version of every registered model, by name."""
        from modelport.core.model import Model

        return {m.name: m for m in Model.list(self, latest=True)}

    @property
    def webservices(self) -> dict[str, Any]:
        from modelport.core.webservice import Webservice

        return {s.name: s for s in Webservice.list(self)}

    @property
    def environments(self) -> dict[str, Any]:
        from modelport.core.environment import Environment

        return dict(Environment.list(self))

    @property
    def datastores(self) -> dict[str, Any]:
        from modelport.core.datastore import Datastore

        return Datastore.list(self)

    @property
    def datasets(self) -> dict[str, Any]:
        from modelport.core.dataset import Dataset

        return Dataset.get_all(self)

    @property
    def experiments(self) -> dict[str, Any]:
        from modelport.core.experiment import Experiment

        return {e.name: e for e in Experiment.list(self)}

    @property
    def compute_targets(self) -> dict[str, Any]:
        """Compute targets made with ``ComputeTarget.create``/``attach`` (local Ray clusters)."""
        from modelport.core.compute import ComputeTarget

        return {c.name: c for c in ComputeTarget.list(self)}

    def _register_file_dataset(
        self,
        files: Any,
        name: str,
        description: str | None,
        tags: dict[str, str] | None,
        create_new_version: bool,
    ) -> Any:
        """An open dataset's files (``MNIST.get_file_dataset().register(ws, ...)``) registered here."""
        from modelport.core.dataset import register_open_dataset

        return register_open_dataset(files, self, name, description, tags, create_new_version)

    def get_default_datastore(self) -> Any:
        """The default datastore, ``workspaceblobstore``: a folder in the workspace."""
        from modelport.core.datastore import Datastore

        return Datastore.get_default(self)

    def set_default_datastore(self, name: str) -> None:
        from modelport.errors import NotSupported
        from modelport.registry.datastores import DEFAULT

        if name == DEFAULT:
            return  # it is the default already
        raise NotSupported(
            f"set_default_datastore({name!r}): the default datastore of a local workspace is always "
            "'workspaceblobstore'; use Datastore.get(ws, name) for another"
        )

    def get_mlflow_tracking_uri(self) -> str:
        """An MLflow tracking URI that keeps runs, metrics, artifacts and MLflow's model registry in
        the workspace.

        ``modelport:`` is an MLflow store plugin installed with modelport; it needs only
        ``mlflow-skinny`` (what v1's ``azureml-mlflow`` brought; ``pip install modelport[mlflow]``).

        Example::

            mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())
            mlflow.set_experiment("diabetes")
            with mlflow.start_run():
                mlflow.log_metric("alpha", 0.03)
        """
        return "modelport://" + self.path.as_posix()

    def __repr__(self) -> str:
        return (
            f"Workspace.create(name={self.name!r}, subscription_id={self.subscription_id!r}, "
            f"resource_group={self.resource_group!r})"
        )
