"""v1's compute targets: ``ComputeTarget``, ``AksCompute`` (a Ray cluster), ``AmlCompute``.

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
"""

from __future__ import annotations

import builtins
import sys
from dataclasses import dataclass, field
from typing import Any

from modelport import _settings
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError, NotSupported
from modelport.workspace import Workspace

__all__ = [
    "AksAttachConfiguration",
    "AksCompute",
    "AksProvisioningConfiguration",
    "AmlCompute",
    "ComputeTarget",
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


class ComputeTarget:
    """A compute target of a workspace. ``ComputeTarget(ws, name)`` finds an existing one."""

    type = "AKS"

    def __new__(cls, workspace: Workspace | None = None, name: str | None = None) -> Any:
        # v1: ComputeTarget(ws, name) returns the subclass of the target's kind.
        if cls is ComputeTarget and workspace is not None and name is not None:
            record = cluster.load(workspace, name)
            sub = AksCompute if record.kind == "AKS" else ComputeTarget
            return super().__new__(sub)
        return super().__new__(cls)

    def __init__(self, workspace: Workspace, name: str) -> None:
        self.workspace = workspace
        self.name = name
        self._record = cluster.load(workspace, name)

    @property
    def provisioning_state(self) -> str:
        return cluster.status(self.workspace, self._record)

    @property
    def cluster_address(self) -> str:
        """Where the Ray cluster answers (modelport's own attribute)."""
        return self._record.address

    @property
    def agent_count(self) -> int:
        return self._record.agent_count

    @staticmethod
    def create(workspace: Workspace, name: str, provisioning_configuration: Any) -> ComputeTarget:
        """Provision a compute target: for an AKS configuration, start a Ray head node here."""
        if not isinstance(provisioning_configuration, AksProvisioningConfiguration):
            raise NotSupported(
                f"ComputeTarget.create with {type(provisioning_configuration).__name__}: only "
                "AksCompute.provisioning_configuration() (a local Ray cluster) can be created"
            )
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
        try:
            cluster.save(workspace, record)
        except Exception:
            cluster.stop_head(record)
            token_file.unlink(missing_ok=True)
            raise
        return AksCompute(workspace, name)

    @staticmethod
    def attach(workspace: Workspace, name: str, attach_configuration: Any) -> ComputeTarget:
        """Attach an existing Ray cluster (``AksCompute.attach_configuration(address=...)``)."""
        if not isinstance(attach_configuration, AksAttachConfiguration):
            raise NotSupported(
                f"ComputeTarget.attach with {type(attach_configuration).__name__}: use "
                "AksCompute.attach_configuration(address='ray://host:10001' or 'auto')"
            )
        if name in cluster.names(workspace):
            raise ComputeTargetError(f"compute target '{name}' already exists in this workspace")
        address = attach_configuration.address
        token = attach_configuration.token or _settings.ray_auth_token()
        token_file = cluster.token_path(workspace, name)
        record = cluster.ClusterRecord(name=name, address=address, owned=False)
        if token is not None:
            record.token_file = str(cluster.write_token(token_file, token))
        try:
            refused = cluster.requires_token(address, record.token_file)
            if refused and token is None:
                raise ComputeTargetError(
                    f"the Ray cluster at {address} requires a token: give it with "
                    f"AksCompute.attach_configuration(address=..., token=...) or ${_settings.RAY_AUTH_TOKEN}"
                )
            if refused:
                raise ComputeTargetError(f"the Ray cluster at {address} refused the token given")
            if refused is False and token is None:
                print(
                    f"warning: the Ray cluster at {address} has no authentication: anyone who can reach "
                    "it can run code on it as its user (see docs/scale-out.md)",
                    file=sys.stderr,
                    flush=True,
                )
            cluster.attach_serve(record)
            cluster.save(workspace, record)
        except BaseException:
            token_file.unlink(missing_ok=True)
            raise
        return AksCompute(workspace, name)

    @staticmethod
    def list(workspace: Workspace) -> builtins.list[ComputeTarget]:
        return [ComputeTarget(workspace, n) for n in cluster.names(workspace)]

    def wait_for_completion(
        self, show_output: bool = False, is_delete_operation: bool = False, timeout_sec: float = 120
    ) -> None:
        """The cluster is started by ``create``; this checks it answers (and says so)."""
        state = self.get_status()
        if show_output:
            print(f"{self.name}: {state} (Ray cluster at {self._record.address})", flush=True)
        if state != "Succeeded" and not is_delete_operation:
            raise ComputeTargetError(
                f"compute target '{self.name}' is {state}: its Ray cluster does not answer"
            )

    def get_status(self) -> str:
        """``Succeeded`` while the Ray cluster answers, else ``Failed``."""
        return self.provisioning_state

    def delete(self) -> None:
        """Stop the Ray cluster if this workspace started it (detach otherwise) and forget it."""
        cluster.delete(self.workspace, self.name)

    def detach(self) -> None:
        """Forget an attached cluster (it keeps running)."""
        if self._record.owned:
            raise InvalidInputError(f"compute target '{self.name}' was created here: delete() it instead")
        cluster.delete(self.workspace, self.name)

    def serialize(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "provisioningState": self.get_status(),
            "address": self._record.address,
            "owned": self._record.owned,
            "agentCount": self._record.agent_count,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, address={self._record.address!r})"


class AksCompute(ComputeTarget):
    """v1's AKS cluster: a Ray cluster (started here, or attached)."""

    type = "AKS"

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
    ) -> AksAttachConfiguration:
        """Attach a running Ray cluster at ``address`` (modelport's keyword; v1's Azure resource
        names have no meaning here): ``"ray://host:10001"``, ``"host:6379"`` or ``"auto"``.
        ``token`` (modelport's): the cluster's Ray token, when it requires one (else
        ``$MODELPORT_RAY_AUTH_TOKEN``); attaching a cluster without authentication prints a
        warning, since anyone who reaches it can run code there."""
        if not address or not isinstance(address, str):
            raise InvalidInputError(
                "AksCompute.attach_configuration needs address='ray://host:10001' (or 'host:port', "
                "or 'auto'): the Ray cluster to attach"
            )
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise InvalidInputError("token must be the cluster's Ray token (a non-empty string)")
        return AksAttachConfiguration(address=address, cluster_name=cluster_name, token=token)


class AmlCompute(ComputeTarget):
    """v1's training cluster: training runs are not part of modelport's deployments."""

    type = "AmlCompute"

    @staticmethod
    def provisioning_configuration(*_args: Any, **_kwargs: Any) -> Any:
        raise NotSupported(
            "AmlCompute (remote training clusters) is not supported: there is no cloud; run the training "
            "script here with Experiment.submit(ScriptRunConfig(..., compute_target='local')), "
            "then deploy the model (AksCompute for a Ray cluster)"
        )


# v1's other compute targets: refusals naming the local way (kept apart from this module's own).
from modelport.core._compute_refused import *  # noqa: E402, F403
from modelport.core._compute_refused import __all__ as _refused_names  # noqa: E402

__all__ += _refused_names
