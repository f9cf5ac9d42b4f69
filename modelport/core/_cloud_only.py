"""v1 names of ``azureml.core`` that stand for Azure resources a local workspace does not have:
key vaults, linked Synapse workspaces, private endpoints and the legacy compute-target functions.
They import; using one raises :class:`~modelport.errors.NotSupported` naming the local way."""

from __future__ import annotations

from modelport._refused import refused, refused_method
from modelport.exceptions import WorkspacePrivateEndpointException

__all__ = [
    "Keyvault",
    "LinkedService",
    "PrivateEndPoint",
    "PrivateEndPointConfig",
    "SynapseWorkspaceLinkedServiceConfiguration",
    "attach_legacy_compute_target",
    "is_compute_target_prepared",
    "prepare_compute_target",
    "remove_legacy_compute_target",
]

_M = "modelport.core"
KEYVAULT = (
    "a local workspace has no Azure Key Vault; give a secret to a script or service as an environment "
    "variable (Environment.environment_variables, or the shell) and read it with os.environ"
)
_SYNAPSE = "linked Synapse workspaces are Azure resources; read the data with pandas or pyspark here"
_PRIVATE = "private endpoints are Azure networking; a local workspace listens on 127.0.0.1 only"
_LEGACY = (
    "legacy compute targets were retired in v1 itself; run on this machine with compute_target='local' "
    "or on a Ray cluster named by AksCompute/AmlCompute"
)

Keyvault = refused("Keyvault", KEYVAULT, _M)
LinkedService = refused("LinkedService", _SYNAPSE, _M)
SynapseWorkspaceLinkedServiceConfiguration = refused(
    "SynapseWorkspaceLinkedServiceConfiguration", _SYNAPSE, _M
)
PrivateEndPoint = refused("PrivateEndPoint", _PRIVATE, _M, WorkspacePrivateEndpointException)
PrivateEndPointConfig = refused("PrivateEndPointConfig", _PRIVATE, _M, WorkspacePrivateEndpointException)
attach_legacy_compute_target = refused_method("attach_legacy_compute_target", _LEGACY)
remove_legacy_compute_target = refused_method("remove_legacy_compute_target", _LEGACY)
is_compute_target_prepared = refused_method("is_compute_target_prepared", _LEGACY)
prepare_compute_target = refused_method("prepare_compute_target", _LEGACY)
