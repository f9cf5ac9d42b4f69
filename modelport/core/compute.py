"""v1's compute targets: ``ComputeTarget``, ``AksCompute`` and ``AmlCompute``, both Ray clusters.

An AKS cluster is a Ray cluster here. ``ComputeTarget.create`` with
``AksCompute.provisioning_configuration()`` starts a Ray head node on this machine, owned by the
workspace, requiring Ray's token authentication (a fresh token per cluster, kept 0600 in the
workspace); ``ComputeTarget.attach`` with ``AksCompute.attach_configuration(address=...,
token=...)`` (modelport keywords: ``"ray://host:10001"``, ``"host:6379"`` or ``"auto"``, and the
cluster's Ray token, else ``$MODELPORT_RAY_AUTH_TOKEN``) uses a running cluster.
``Model.deploy(..., deployment_target=aks_target)`` then deploys the service as a Ray Serve
application there (``modelport.deploy.targets.ray``).

Example::

    from modelport.core.compute import AksCompute, ComputeTarget

    prov = AksCompute.provisioning_configuration(agent_count=1)
    aks = ComputeTarget.create(ws, "aks-cluster", prov)
    aks.wait_for_completion(show_output=True)
    service = Model.deploy(ws, "svc", [model], inference_config,
                           AksWebservice.deploy_configuration(), deployment_target=aks)

A training cluster is a Ray cluster too. ``ComputeTarget.create`` with
``AmlCompute.provisioning_configuration(vm_size, min_nodes, max_nodes, ...)`` starts one the same
way (through the same code, ``modelport.deploy.cluster``), with Ray's Jobs API on and no Serve;
``AmlCompute.attach_configuration(address=..., token=...)`` (modelport's) names a running one, an
AKS target's cluster included (``compute_target=aks``), so one Ray cluster can serve both names.
Script runs (``ScriptRunConfig(compute_target=cluster)``, ``PythonScriptStep``) run there as Ray
jobs; a ``ParallelRunStep``'s workers as Ray actors, ``node_count`` x ``process_count_per_node``::

    cpu = ComputeTarget.create(ws, "cpu-cluster",
                               AmlCompute.provisioning_configuration(vm_size="STANDARD_D2_V2", max_nodes=4))
    cpu.wait_for_completion(show_output=True)
    run = Experiment(ws, "train").submit(ScriptRunConfig("src", "train.py", compute_target=cpu))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelport import _settings
from modelport._refused import refused_method
from modelport.core._amlcompute import (
    AmlComputeAttachConfiguration,
    AmlComputeNodeStateCounts,
    AmlComputeProvisioningConfiguration,
    AmlComputeStatus,
    ScaleSettings,
)
from modelport.core._amlcompute_target import AmlCompute, run_compute
from modelport.core._compute_base import ComputeTarget, _attached_record
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError
from modelport.workspace import Workspace

__all__ = [
    "AksAttachConfiguration",
    "AksCompute",
    "AksProvisioningConfiguration",
    "AmlCompute",
    "AmlComputeAttachConfiguration",
    "AmlComputeNodeStateCounts",
    "AmlComputeProvisioningConfiguration",
    "AmlComputeStatus",
    "ComputeTarget",
    "ScaleSettings",
    "run_compute",
]

_CLOUD_PROVISIONING = (
    "vm_size",
    "ssl_cname",
    "ssl_cert_pem_file",
    "ssl_key_pem_file",
    "location",
    "vnet_resourcegroup_name",
    "vnet_name",
    "subnet_name",
    "service_cidr",
    "dns_service_ip",
    "docker_bridge_cidr",
    "cluster_purpose",
    "load_balancer_type",
    "load_balancer_subnet",
    "cluster_sku",
)


@dataclass
class AksProvisioningConfiguration:
    """What ``AksCompute.provisioning_configuration`` returns: a local Ray head node's settings."""

    agent_count: int = 1
    num_cpus: int | None = None
    ingress: str = "haproxy"
    """modelport's: the cluster's HTTP ingress, ``"haproxy"`` or ``"proxy"`` (Serve's Python proxy)."""
    tags: dict[str, str] = field(default_factory=dict)
    ignored: dict[str, Any] = field(default_factory=dict)
    """Cloud-only settings as given (recorded; a local cluster has no VM size or network)."""


@dataclass
class AksAttachConfiguration:
    """What ``AksCompute.attach_configuration`` returns: an existing Ray cluster's address."""

    address: str
    cluster_name: str | None = None
    token: str | None = field(default=None, repr=False)
    """The cluster's Ray token (``RAY_AUTH_TOKEN`` on its nodes); None: ``$MODELPORT_RAY_AUTH_TOKEN``."""
    replica_resources: dict[str, float] | None = None
    """Ray resources every replica deployed there asks for (``{"gpu-pool": 1}``): the nodes
    offering them, as an AKS node pool. None: any node."""


class AksCompute(ComputeTarget):
    """v1's AKS cluster: a Ray cluster (started here, or attached)."""

    type = "AKS"
    _provisions = AksProvisioningConfiguration
    _attaches = AksAttachConfiguration

    @staticmethod
    def _create(workspace: Workspace, name: str, provisioning_configuration: Any) -> AksCompute:
        if name in cluster.names(workspace):
            raise ComputeTargetError(f"compute target '{name}' already exists in this workspace")
        prov = provisioning_configuration
        token_file = cluster.token_path(workspace, name)
        try:
            record = cluster.start_head(
                token_file, workspace.path / "compute", num_cpus=prov.num_cpus, ingress=prov.ingress
            )
        except BaseException:
            token_file.unlink(missing_ok=True)
            raise
        record.name = name
        record.agent_count = prov.agent_count
        record.settings = {**record.settings, "tags": prov.tags, "ignored": prov.ignored}
        cluster.save_started(workspace, record, token_file)
        return AksCompute(workspace, name)

    @staticmethod
    def _attach(workspace: Workspace, name: str, attach_configuration: Any) -> AksCompute:
        address = attach_configuration.address
        token = attach_configuration.token or _settings.ray_auth_token()
        token_file = cluster.token_path(workspace, name)
        try:
            record = _attached_record(workspace, name, address, token, "AksCompute")
            if attach_configuration.replica_resources:
                record.settings["replica_resources"] = dict(attach_configuration.replica_resources)
            cluster.attach_serve(record)
            cluster.save(workspace, record)
        except BaseException:
            token_file.unlink(missing_ok=True)
            raise
        return AksCompute(workspace, name)

    def get_credentials(self) -> dict[str, Any]:
        """How to reach the cluster, as a dict (v1 gave the AKS cluster's kube configs):
        ``address`` (Ray's), ``httpPort`` (its services' port, when started here),
        ``authentication`` (``"token"`` or ``"none"``) and, for a token, where it is:
        ``tokenFile`` (0600, in the workspace) and the variable Ray reads that path from
        (``tokenPathVariable``). The token itself is never returned or printed.

        Example::

            creds = aks.get_credentials()
            os.environ[creds["tokenPathVariable"]] = creds["tokenFile"]
            ray.init(address=creds["address"])
        """
        r = self._record
        return {
            "address": r.address,
            "httpPort": r.http_port,
            "authentication": "token" if r.token_file else "none",
            "tokenFile": r.token_file,
            "tokenPathVariable": "RAY_AUTH_TOKEN_PATH" if r.token_file else None,
        }

    update = refused_method(
        "AksCompute.update",
        "v1 updates an AKS cluster's TLS and load balancer, which a Ray cluster here does not have "
        "(its HTTP proxy serves plain HTTP); serve TLS from a service on this machine "
        "(AciWebservice.deploy_configuration(ssl_enabled=True, ssl_cert_pem_file=..., "
        "ssl_key_pem_file=...))",
    )

    @staticmethod
    def provisioning_configuration(
        agent_count: int | None = None,
        tags: dict[str, Any] | None = None,
        num_cpus: int | None = None,
        ingress: str = "haproxy",
        **cloud_only: Any,
    ) -> AksProvisioningConfiguration:
        """A local Ray head node. ``agent_count`` is recorded (one machine runs one node; attach a
        multi-node cluster for more); ``num_cpus`` (modelport's) limits the CPUs Ray schedules on;
        ``ingress`` (modelport's): ``"haproxy"`` (default: HAProxy routes requests straight to the
        replicas) or ``"proxy"`` (Ray Serve's Python HTTP proxy, much slower under load).
        v1's cloud settings (``vm_size``, network, TLS) are recorded and have no local effect."""
        cluster.check_ingress(ingress)
        unknown = sorted(set(cloud_only) - set(_CLOUD_PROVISIONING))
        if unknown:
            raise InvalidInputError(
                f"AksCompute.provisioning_configuration: unknown parameter(s) {', '.join(unknown)}"
            )
        if agent_count is not None and (
            isinstance(agent_count, bool) or not isinstance(agent_count, int) or agent_count < 1
        ):
            raise InvalidInputError(f"agent_count must be a positive integer, got {agent_count!r}")
        return AksProvisioningConfiguration(
            agent_count=agent_count or 1,
            num_cpus=num_cpus,
            ingress=ingress,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
            ignored={k: v for k, v in cloud_only.items() if v is not None},
        )

    @staticmethod
    def attach_configuration(
        resource_group: str | None = None,
        cluster_name: str | None = None,
        resource_id: str | None = None,
        cluster_purpose: str | None = None,
        address: str | None = None,
        token: str | None = None,
        replica_resources: dict[str, float] | None = None,
    ) -> AksAttachConfiguration:
        """Attach a running Ray cluster at ``address`` (modelport's keyword; v1's Azure resource
        names have no meaning here): ``"ray://host:10001"``, ``"host:6379"`` or ``"auto"``.
        ``token`` (modelport's): the cluster's Ray token, when it requires one (else
        ``$MODELPORT_RAY_AUTH_TOKEN``); attaching a cluster without authentication prints a
        warning, since anyone who reaches it can run code there. ``replica_resources``
        (modelport's): Ray resources every replica deployed to this target asks for, so it runs
        only on nodes offering them (``{"isolated": 1}``: a node started with
        ``ray start --resources='{"isolated": 1}'``), as a node pool would in AKS."""
        if not address or not isinstance(address, str):
            raise InvalidInputError(
                "AksCompute.attach_configuration needs address='ray://host:10001' (or 'host:port', "
                "or 'auto'): the Ray cluster to attach"
            )
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise InvalidInputError("token must be the cluster's Ray token (a non-empty string)")
        if replica_resources is not None and (
            not isinstance(replica_resources, dict)
            or not replica_resources
            or not all(
                isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
                for k, v in replica_resources.items()
            )
        ):
            raise InvalidInputError(
                "replica_resources must map Ray resource names to positive amounts, "
                f"got {replica_resources!r}"
            )
        return AksAttachConfiguration(
            address=address,
            cluster_name=cluster_name,
            token=token,
            replica_resources=dict(replica_resources) if replica_resources else None,
        )


# v1's other compute targets: refusals naming the local way (kept apart from this module's own).
from modelport.core._compute_refused import *  # noqa: E402, F403
from modelport.core._compute_refused import __all__ as _refused_names  # noqa: E402

__all__ += _refused_names
