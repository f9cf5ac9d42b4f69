"""v1's ``AmlCompute``: a training cluster that is a Ray cluster here (see ``modelport.core.compute``)."""

from __future__ import annotations

import builtins
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from modelport import _settings
from modelport.core._amlcompute import (
    AmlComputeAttachConfiguration,
    AmlComputeProvisioningConfiguration,
    AmlComputeStatus,
    ScaleSettings,
    provisioning,
)
from modelport.core._amlcompute import status as _status
from modelport.core._compute_base import ComputeTarget, _attached_record, _read_token
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError, NotSupported
from modelport.jobs.ray import RayCompute
from modelport.workspace import Workspace

__all__ = ["AmlCompute", "run_compute"]


class AmlCompute(ComputeTarget):
    """v1's training cluster: a Ray cluster (started here, or attached) that runs script runs as
    Ray jobs and a ParallelRunStep's workers as Ray actors.

    ``scale_settings.maximum_node_count`` (``max_nodes``) is what a ``ParallelRunConfig``'s
    ``node_count`` is checked against, as in v1. A cluster started here is one Ray node on this
    machine (``node_count`` workers beyond it share that node, said in the run's log); attach a
    multi-node Ray cluster for more machines.
    """

    type = "AmlCompute"
    _provisions = AmlComputeProvisioningConfiguration
    _attaches = AmlComputeAttachConfiguration

    # -- configurations ---------------------------------------------------------------------------
    @staticmethod
    def provisioning_configuration(
        vm_size: str = "",
        vm_priority: str = "dedicated",
        min_nodes: int = 0,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = 1800,
        admin_username: str | None = None,
        admin_user_password: str | None = None,
        admin_user_ssh_key: str | None = None,
        vnet_resourcegroup_name: str | None = None,
        vnet_name: str | None = None,
        subnet_name: str | None = None,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        remote_login_port_public_access: str = "NotSpecified",
        identity_type: str | None = None,
        identity_id: list[str] | None = None,
        location: str | None = None,
        enable_node_public_ip: bool = True,
        num_cpus: int | None = None,
    ) -> AmlComputeProvisioningConfiguration:
        """A Ray head node on this machine, with v1's scale settings (``max_nodes`` is required,
        as in v1). ``num_cpus`` (modelport's) limits the CPUs Ray schedules on.
        ``idle_seconds_before_scaledown``: how long a batch run's workers are kept for the next
        run (v1 kept the nodes). ``vm_size``, ``vm_priority``, the admin account, the VNet, the
        identity and the location are recorded and have no effect (``wait_for_completion(
        show_output=True)`` lists them); a password is never kept."""
        cloud = {
            "admin_username": admin_username,
            "admin_user_password": admin_user_password,
            "admin_user_ssh_key": admin_user_ssh_key,
            "vnet_resourcegroup_name": vnet_resourcegroup_name,
            "vnet_name": vnet_name,
            "subnet_name": subnet_name,
            "remote_login_port_public_access": None
            if remote_login_port_public_access == "NotSpecified"
            else remote_login_port_public_access,
            "identity_type": identity_type,
            "identity_id": identity_id,
            "location": location,
            "enable_node_public_ip": None if enable_node_public_ip is True else enable_node_public_ip,
        }
        return provisioning(
            vm_size, vm_priority, min_nodes, max_nodes, idle_seconds_before_scaledown, tags, description,
            num_cpus, cloud,
        )  # fmt: skip

    @staticmethod
    def attach_configuration(
        address: str | None = None,
        token: str | None = None,
        max_nodes: int | None = None,
        compute_target: ComputeTarget | None = None,
        job_resources: dict[str, float] | None = None,
    ) -> AmlComputeAttachConfiguration:
        """A running Ray cluster for runs (modelport's; v1 had no AmlCompute attach):
        ``address`` (``"host:6379"``), its Ray ``token`` (else ``$MODELPORT_RAY_AUTH_TOKEN``), and
        ``max_nodes`` for ``node_count`` (default: the nodes it has when a run starts). Or
        ``compute_target``: another target's cluster (an ``AksCompute``'s), address and token
        taken from it, so one Ray cluster serves web services and runs under two names.
        ``job_resources`` (modelport's): Ray resources every script run's job asks for
        (``{"isolated": 1}``), so it runs only on nodes offering them, as AKS's
        ``replica_resources`` do for replicas."""
        if compute_target is not None:
            if not isinstance(compute_target, ComputeTarget):
                raise InvalidInputError(
                    f"compute_target must be a ComputeTarget, got {type(compute_target).__name__}"
                )
            record = compute_target._record
            address = record.address
            if token is None and record.token_file:
                token = _read_token(record.token_file)
        if not address or not isinstance(address, str):
            raise InvalidInputError(
                "AmlCompute.attach_configuration needs address='host:port' (the Ray cluster's GCS) or "
                "compute_target=<a ComputeTarget whose cluster to use>"
            )
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise InvalidInputError("token must be the cluster's Ray token (a non-empty string)")
        if max_nodes is not None and (
            isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1
        ):
            raise InvalidInputError(f"max_nodes must be a whole number >= 1, got {max_nodes!r}")
        if job_resources is not None and (
            not isinstance(job_resources, dict)
            or not job_resources
            or not all(
                isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool) and v > 0
                for k, v in job_resources.items()
            )
        ):
            raise InvalidInputError(
                f"job_resources must map Ray resource names to positive amounts, got {job_resources!r}"
            )
        return AmlComputeAttachConfiguration(
            address=address,
            token=token,
            max_nodes=max_nodes,
            job_resources=dict(job_resources) if job_resources else None,
        )

    # -- provisioning and attaching ---------------------------------------------------------------
    @staticmethod
    def _create(workspace: Workspace, name: str, prov: AmlComputeProvisioningConfiguration) -> AmlCompute:
        if name in cluster.names(workspace):
            raise ComputeTargetError(f"compute target '{name}' already exists in this workspace")
        token_file = cluster.token_path(workspace, name)
        try:
            # The same start as an AKS cluster's, with Ray's Jobs API on and no Serve (nothing is
            # served from a training cluster; a service deployed there later starts Serve).
            record = cluster.start_head(
                token_file, workspace.path / "compute", num_cpus=prov.num_cpus, ingress=None, jobs=True
            )
        except BaseException:
            token_file.unlink(missing_ok=True)
            raise
        scale = prov.scale_settings
        record.name = name
        record.kind = "AmlCompute"
        record.settings = {
            **record.settings,
            "min_nodes": scale.minimum_node_count,
            "max_nodes": scale.maximum_node_count,
            "idle_seconds_before_scaledown": scale.idle_seconds_before_scaledown,
            "vm_size": prov.vm_size,
            "vm_priority": prov.vm_priority,
            "tags": prov.tags,
            "description": prov.description,
            "ignored": prov.ignored,
            # What Ray's own workers run (`ray start` of this environment): a batch worker in
            # this interpreter needs no runtime_env, which spares Ray a set-up (~2 s a worker).
            "python": sys.executable if Path(sys.executable).with_name("ray").is_file() else None,
        }
        cluster.save_started(workspace, record, token_file)
        return AmlCompute(workspace, name)

    @staticmethod
    def _attach(workspace: Workspace, name: str, config: AmlComputeAttachConfiguration) -> AmlCompute:
        token = config.token or _settings.ray_auth_token()
        token_file = cluster.token_path(workspace, name)
        try:
            record = _attached_record(workspace, name, config.address, token, "AmlCompute")
            record.kind = "AmlCompute"
            nodes = cluster.alive_nodes(record)
            dashboard = cluster.dashboard_url(record)
            record.agent_count = len(nodes)
            record.settings = {
                "dashboard": dashboard,
                "max_nodes": config.max_nodes,
                "min_nodes": 0,
                "job_resources": config.job_resources,
            }
            cluster.save(workspace, record)
        except BaseException:
            token_file.unlink(missing_ok=True)
            raise
        return AmlCompute(workspace, name)

    # -- v1's attributes --------------------------------------------------------------------------
    @property
    def scale_settings(self) -> ScaleSettings:
        """v1's scale settings; an attached cluster's ``maximum_node_count`` is its live nodes
        unless ``attach_configuration(max_nodes=...)`` said otherwise."""
        s = self._record.settings
        most = s.get("max_nodes")
        if most is None:
            most = len(self._nodes()[0])
        return ScaleSettings(int(s.get("min_nodes") or 0), int(most), s.get("idle_seconds_before_scaledown"))

    @property
    def vm_size(self) -> str:
        return str(self._record.settings.get("vm_size") or "")

    @property
    def vm_priority(self) -> str:
        return str(self._record.settings.get("vm_priority") or "dedicated")

    @property
    def status(self) -> AmlComputeStatus:
        return self.get_status()

    def _nodes(self) -> tuple[builtins.list[dict[str, Any]], str | None]:
        """The cluster's live nodes, and why there are none when it does not answer."""
        if self.provisioning_state != "Succeeded":
            return [], f"the Ray cluster at {self._record.address} does not answer"
        try:
            return cluster.alive_nodes(self._record), None
        except ComputeTargetError as exc:
            return [], str(exc)

    def get_status(self) -> AmlComputeStatus:  # type: ignore[override]
        """v1's detailed status: ``provisioning_state`` (``Succeeded`` while the Ray cluster
        answers), ``current_node_count`` (its live Ray nodes), ``scale_settings``, ..."""
        nodes, problem = self._nodes()
        s = self._record.settings
        most = s.get("max_nodes")
        scale = ScaleSettings(
            int(s.get("min_nodes") or 0), int(most if most is not None else len(nodes)),
            s.get("idle_seconds_before_scaledown"),
        )  # fmt: skip
        state = "Failed" if problem else "Succeeded"
        return _status(self._record, state, len(nodes), [problem] if problem else None, scale)

    def refresh_state(self) -> None:
        """Read the compute target's record again (v1's in-place refresh)."""
        self._record = cluster.load(self.workspace, self.name)

    def list_nodes(self) -> builtins.list[dict[str, Any]]:
        """The cluster's live Ray nodes: ``nodeId``, ``privateIpAddress``, ``nodeState``, ``cpus``."""
        nodes, problem = self._nodes()
        if problem:
            raise ComputeTargetError(f"compute target '{self.name}': {problem}")
        return [
            {
                "nodeId": n["node_id"],
                "privateIpAddress": n["address"],
                "nodeState": "running",
                "cpus": n["cpus"],
            }
            for n in nodes
        ]

    def update(
        self,
        min_nodes: int | None = None,
        max_nodes: int | None = None,
        idle_seconds_before_scaledown: int | None = None,
    ) -> None:
        """Change the scale settings (``max_nodes`` is what ``node_count`` is checked against)."""
        s = self._record.settings
        given = {
            "min_nodes": min_nodes,
            "max_nodes": max_nodes,
            "idle_seconds_before_scaledown": idle_seconds_before_scaledown,
        }
        now = {k: s.get(k) if v is None else v for k, v in given.items()}
        scale = provisioning(
            self.vm_size,
            self.vm_priority,
            now["min_nodes"],
            now["max_nodes"] if now["max_nodes"] is not None else len(self._nodes()[0]),
            now["idle_seconds_before_scaledown"],
            None,
            None,
            None,
            {},
        ).scale_settings
        s.update(
            min_nodes=scale.minimum_node_count,
            max_nodes=scale.maximum_node_count,
            idle_seconds_before_scaledown=scale.idle_seconds_before_scaledown,
        )
        cluster.save(self.workspace, self._record)

    def wait_for_completion(  # type: ignore[override]
        self,
        show_output: bool = False,
        min_node_count: int | None = None,
        timeout_in_minutes: float = 25,
        is_delete_operation: bool = False,
    ) -> None:
        """Wait until the cluster answers with at least ``min_node_count`` live nodes (default:
        ``min_nodes``), ``timeout_in_minutes`` at most. A cluster started here has one node: a
        larger ``min_node_count`` is refused at once rather than waited for."""
        if is_delete_operation:
            return
        want = min_node_count if min_node_count is not None else self.scale_settings.minimum_node_count
        ignored = self._record.settings.get("ignored") or {}
        if show_output:
            settings = self._record.settings
            kept = {"vm_size": settings.get("vm_size"), "vm_priority": settings.get("vm_priority"), **ignored}
            shown = ", ".join(f"{k}={v!r}" for k, v in kept.items() if v not in (None, "", {}))
            if shown:
                print(f"{self.name}: recorded, no effect on a Ray cluster here: {shown}", flush=True)
        deadline = time.monotonic() + timeout_in_minutes * 60
        while True:
            st = self.get_status()
            if st.provisioning_state != "Succeeded":
                if show_output:
                    print(f"{st.provisioning_state}\nAmlCompute wait for completion finished\n", flush=True)
                raise ComputeTargetError(
                    f"compute target '{self.name}' is {st.provisioning_state}: "
                    f"{(st.errors or [{'message': 'its Ray cluster does not answer'}])[0]['message']}"
                )
            if st.current_node_count >= want:
                break
            if self._record.owned:
                raise ComputeTargetError(
                    f"compute target '{self.name}' runs {st.current_node_count} Ray node(s) on this machine; "
                    f"min_node_count={want} cannot be reached (attach a multi-node Ray cluster for more)"
                )
            if time.monotonic() > deadline:
                if show_output:
                    print("Wait timeout has been reached", flush=True)
                raise ComputeTargetError(
                    f"compute target '{self.name}': {st.current_node_count} of min_node_count={want} nodes "
                    f"after {timeout_in_minutes} minutes"
                )
            if show_output:
                print(
                    f"Waiting for cluster to scale. {st.current_node_count} out of {want} nodes ready.",
                    flush=True,
                )
            time.sleep(5)
        if show_output:
            print(
                f"Succeeded\nAmlCompute wait for completion finished\n\n"
                f"Minimum number of nodes requested have been provisioned ({st.current_node_count} Ray "
                f"node(s) at {self._record.address})",
                flush=True,
            )

    @staticmethod
    def supported_vmsizes(workspace: Workspace, location: str | None = None) -> builtins.list[dict[str, Any]]:
        """What a node here is: this machine (any ``vm_size`` is accepted and recorded)."""
        import psutil

        free = shutil.disk_usage(workspace.path).free
        return [
            {
                "name": "local",
                "vCPUs": os.cpu_count() or 1,
                "gpus": 0,
                "memoryGB": round(psutil.virtual_memory().total / 2**30, 1),
                "maxResourceVolumeMB": int(free / 2**20),
            }
        ]

    def serialize(self) -> dict[str, Any]:
        return {
            **super().serialize(),
            "properties": {
                "computeType": self.type,
                "provisioningState": self.provisioning_state,
                "properties": {
                    "vmSize": self.vm_size,
                    "vmPriority": self.vm_priority,
                    "scaleSettings": {
                        "minNodeCount": self._record.settings.get("min_nodes") or 0,
                        "maxNodeCount": self._record.settings.get("max_nodes"),
                    },
                },
            },
        }

    def _run_compute(self) -> RayCompute:
        """What a run needs of this cluster (its nodes counted now when it has no max_nodes)."""
        r = self._record
        most = r.settings.get("max_nodes")
        if most is None:
            nodes, problem = self._nodes()
            if problem:
                raise ComputeTargetError(f"compute target '{self.name}' does not answer: {problem}")
            most = len(nodes)
        return RayCompute(
            name=self.name,
            kind=self.type,
            address=r.address,
            token_file=r.token_file,
            dashboard=r.settings.get("dashboard"),
            max_nodes=int(most),
            owned=r.owned,
            python=r.settings.get("python"),
            # v1 kept a cluster's nodes this long after a run for the next one; here a batch run's
            # workers (modelport.jobs.batch.executors.warm). Only on a cluster modelport started:
            # an attached cluster is someone else's, and keeps nothing of ours.
            keep_warm_s=float(r.settings.get("idle_seconds_before_scaledown") or 0) if r.owned else 0.0,
            job_resources=r.settings.get("job_resources"),
            temp_dir=r.temp_dir if r.owned else None,
        )


def run_compute(workspace: Workspace, compute_target: Any, what: str = "compute_target") -> RayCompute | None:
    """The Ray cluster a run goes to: None for this machine (``None`` or ``'local'``); for an
    ``AmlCompute`` target (the object or its name), its :class:`RayCompute`. Refused in one line:
    a name the workspace does not know, an AKS target (web services; attach its cluster as an
    AmlCompute under a second name), anything else."""
    if compute_target is None or compute_target == "local":
        return None
    if isinstance(compute_target, str):
        target: Any = ComputeTarget(workspace, compute_target)
    elif isinstance(compute_target, ComputeTarget):
        target = compute_target
    else:
        raise NotSupported(
            f"{what}: {type(compute_target).__name__} is not a compute target here; give 'local', an "
            "AmlCompute target or its name"
        )
    if getattr(target, "name", None) == "local":
        return None
    if not isinstance(target, AmlCompute):
        raise ComputeTargetError(
            f"{what}: compute target '{target.name}' is an {type(target).__name__} (for web services); "
            "runs go to an AmlCompute target: attach the same Ray cluster under a second name with "
            "ComputeTarget.attach(ws, 'cpu-cluster', AmlCompute.attach_configuration(compute_target=...))"
        )
    return target._run_compute()
