"""v1's compute targets that are Azure services with no local counterpart (Data Lake Analytics,
Batch, Databricks, Data Factory, HDInsight, Kusto, Synapse, DSVMs, remote VMs, compute instances,
Arc Kubernetes). They import; using one raises :class:`~modelport.errors.NotSupported` naming the
local way: this machine (``compute_target='local'``), or a Ray cluster named by ``AksCompute``."""

from __future__ import annotations

from modelport._refused import refused

__all__ = [
    "AdlaCompute",
    "BatchCompute",
    "ComputeInstance",
    "DataFactoryCompute",
    "DatabricksCompute",
    "DsvmCompute",
    "HDInsightCompute",
    "KubernetesCompute",
    "KustoCompute",
    "RemoteCompute",
    "SynapseCompute",
]

_M = "modelport.core.compute"
_HERE = (
    "use compute_target='local' (this machine) for runs and steps, or a Ray cluster named by "
    "AksCompute for services and scale-out"
)


def _cloud(name: str, what: str) -> type:
    return refused(name, f"{what} is an Azure service a local workspace cannot reach; {_HERE}", _M)


AdlaCompute = _cloud("AdlaCompute", "Azure Data Lake Analytics")
BatchCompute = _cloud("BatchCompute", "Azure Batch")
DataFactoryCompute = _cloud("DataFactoryCompute", "Azure Data Factory")
DatabricksCompute = _cloud("DatabricksCompute", "Azure Databricks")
HDInsightCompute = _cloud("HDInsightCompute", "Azure HDInsight")
KustoCompute = _cloud("KustoCompute", "Azure Data Explorer (Kusto)")
SynapseCompute = _cloud("SynapseCompute", "an Azure Synapse Spark pool")
DsvmCompute = _cloud("DsvmCompute", "an Azure data science VM")
RemoteCompute = refused(
    "RemoteCompute",
    "runs over SSH on another VM are not made here; run on this machine with compute_target='local', "
    "or start a Ray cluster there and attach it with AksCompute.attach_configuration(address=...)",
    _M,
)
ComputeInstance = refused(
    "ComputeInstance",
    "this machine is the compute instance; use compute_target='local'",
    _M,
)
KubernetesCompute = refused(
    "KubernetesCompute",
    "Arc-attached Kubernetes is not reached from here; export the service for Kubernetes with "
    "'modelport export' (manifests, KServe, KubeRay), or name a Ray cluster with AksCompute",
    _M,
)
