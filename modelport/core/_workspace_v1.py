"""The rest of v1's ``Workspace`` surface, kept out of ``workspace.py``: ``get_run``, the
attributes v1 code reads about a workspace's Azure resources (none here: no images, private
endpoints or linked services), and refusals for what needs Azure (keys, connections, Key Vault,
private endpoints, ARM updates), each naming the local way."""

from __future__ import annotations

from typing import Any

from modelport._refused import refused_method
from modelport.core._amlcompute import provisioning
from modelport.core._cloud_only import KEYVAULT
from modelport.exceptions import WorkspacePrivateEndpointException

__all__ = ["WorkspaceV1"]

_ARM = (
    "a local workspace is a folder, not an Azure resource; its settings are its config "
    "(Workspace.create(name, exist_ok=True), write_config())"
)
_CONNECTIONS = (
    "workspace connections are Azure's; keep the value in an environment variable and read it with os.environ"
)
_PRIVATE = "private endpoints are Azure networking; a local workspace's services listen on 127.0.0.1"
_KEYS = "a local workspace has no storage or registry keys; its data is in its folder"


class WorkspaceV1:
    """v1's ``Workspace`` members beyond what ``workspace.py`` implements (a base of it)."""

    DEFAULT_CPU_CLUSTER_NAME = "cpu-cluster"
    DEFAULT_GPU_CLUSTER_NAME = "gpu-cluster"
    # v1's values: ComputeTarget.create(ws, Workspace.DEFAULT_CPU_CLUSTER_NAME,
    # Workspace.DEFAULT_CPU_CLUSTER_CONFIGURATION) starts a Ray cluster here, max_nodes=2 its
    # node_count limit; the VM size is recorded. No GPU is asked of Ray for the GPU one.
    DEFAULT_CPU_CLUSTER_CONFIGURATION = provisioning(
        "STANDARD_DS2_V2", "dedicated", 0, 2, 1800, None, None, None, {}
    )
    DEFAULT_GPU_CLUSTER_CONFIGURATION = provisioning(
        "STANDARD_NC6", "dedicated", 0, 2, 1800, None, None, None, {}
    )

    def get_run(self, run_id: str) -> Any:
        """The run ``run_id``, whichever experiment it belongs to (v1's ``ws.get_run``)."""
        from modelport.core.experiment import open_run

        return open_run(self, run_id)  # type: ignore[arg-type]  # self is a Workspace

    @property
    def images(self) -> dict[str, Any]:
        """v1's container images of the workspace: none, services run without images here."""
        return {}

    @property
    def private_endpoints(self) -> dict[str, Any]:
        """None: a local workspace has no private endpoints."""
        return {}

    @property
    def linked_services(self) -> dict[str, Any]:
        """None: a local workspace links no Synapse workspaces."""
        return {}

    @property
    def discovery_url(self) -> str:
        """Where the workspace is: its folder, as a ``file://`` URI."""
        path = self.path  # type: ignore[attr-defined]
        return str(path.as_uri())

    get_default_keyvault = refused_method("Workspace.get_default_keyvault", KEYVAULT)
    get_default_compute_target = refused_method(
        "Workspace.get_default_compute_target",
        "v1's default compute was retired in v1 itself; use compute_target='local' or a named "
        "ComputeTarget(ws, name)",
    )
    list_keys = refused_method("Workspace.list_keys", _KEYS)
    sync_keys = refused_method("Workspace.sync_keys", _KEYS)
    set_connection = refused_method("Workspace.set_connection", _CONNECTIONS)
    get_connection = refused_method("Workspace.get_connection", _CONNECTIONS)
    list_connections = refused_method("Workspace.list_connections", _CONNECTIONS)
    delete_connection = refused_method("Workspace.delete_connection", _CONNECTIONS)
    add_private_endpoint = refused_method(
        "Workspace.add_private_endpoint", _PRIVATE, WorkspacePrivateEndpointException
    )
    delete_private_endpoint_connection = refused_method(
        "Workspace.delete_private_endpoint_connection", _PRIVATE, WorkspacePrivateEndpointException
    )
    update = refused_method("Workspace.update", _ARM)
    update_dependencies = refused_method("Workspace.update_dependencies", _ARM)
    diagnose_workspace = refused_method(
        "Workspace.diagnose_workspace",
        "there are no Azure resources to diagnose; 'modelport workspace show' prints the workspace's folder",
    )
    delete = refused_method(
        "Workspace.delete",
        "a local workspace is a folder; delete its services (service.delete()) and then the folder "
        "(ws.path) yourself",
    )
    setup = staticmethod(refused_method("Workspace.setup", _ARM))
    service_context = None  # v1's internal Azure client context: none locally
