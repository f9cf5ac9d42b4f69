"""v1's ``AmlCompute`` settings and status objects: what ``provisioning_configuration``,
``attach_configuration`` and ``get_status()`` return (:mod:`modelport.core.compute` uses them).

v1's names and fields, with local meanings: a node is a Ray node; ``max_nodes`` is the most
nodes a ``ParallelRunConfig`` may ask for (v1's check); VM sizes, priorities, VNets, SSH and
identities are recorded and have no effect.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from modelport.errors import ComputeTargetError, InvalidInputError

__all__ = [
    "AmlComputeAttachConfiguration",
    "AmlComputeNodeStateCounts",
    "AmlComputeProvisioningConfiguration",
    "AmlComputeStatus",
    "ScaleSettings",
]

_PRIORITIES = ("dedicated", "lowpriority")
_SECRET = ("admin_user_password",)


@dataclass
class ScaleSettings:
    """v1's scale settings: ``minimum_node_count``, ``maximum_node_count``,
    ``idle_seconds_before_scaledown`` (a Ray node here is not scaled down; a batch run's workers
    are kept this long for the next run: ``modelport.jobs.batch.executors.warm``)."""

    minimum_node_count: int
    maximum_node_count: int
    idle_seconds_before_scaledown: int | None = 1800

    def serialize(self) -> dict[str, Any]:
        idle = self.idle_seconds_before_scaledown
        return {
            "minNodeCount": self.minimum_node_count,
            "maxNodeCount": self.maximum_node_count,
            "nodeIdleTimeBeforeScaleDown": f"PT{int(idle)}S" if idle else "",
        }


@dataclass
class AmlComputeNodeStateCounts:
    """v1's node counts. A live Ray node counts as running (Ray does not say which are idle);
    the other states do not occur on a Ray cluster."""

    idle_node_count: int = 0
    leaving_node_count: int = 0
    preempted_node_count: int = 0
    preparing_node_count: int = 0
    running_node_count: int = 0
    unusable_node_count: int = 0

    def serialize(self) -> dict[str, int]:
        return {
            "idleNodeCount": self.idle_node_count,
            "leavingNodeCount": self.leaving_node_count,
            "preemptedNodeCount": self.preempted_node_count,
            "preparingNodeCount": self.preparing_node_count,
            "runningNodeCount": self.running_node_count,
            "unusableNodeCount": self.unusable_node_count,
        }


@dataclass
class AmlComputeStatus:
    """What ``AmlCompute.get_status()`` returns (v1's fields): ``provisioning_state`` is
    ``Succeeded`` while the Ray cluster answers, else ``Failed`` (``errors`` says why);
    ``current_node_count`` is its live Ray nodes."""

    allocation_state: str
    allocation_state_transition_time: datetime.datetime | None
    creation_time: datetime.datetime | None
    current_node_count: int
    errors: list[dict[str, str]] | None
    modified_time: datetime.datetime | None
    node_state_counts: AmlComputeNodeStateCounts
    provisioning_state: str
    provisioning_state_transition_time: datetime.datetime | None
    scale_settings: ScaleSettings
    target_node_count: int
    vm_priority: str
    vm_size: str

    def serialize(self) -> dict[str, Any]:
        def iso(t: datetime.datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "currentNodeCount": self.current_node_count,
            "targetNodeCount": self.target_node_count,
            "nodeStateCounts": self.node_state_counts.serialize(),
            "allocationState": self.allocation_state,
            "allocationStateTransitionTime": iso(self.allocation_state_transition_time),
            "errors": self.errors,
            "creationTime": iso(self.creation_time),
            "modifiedTime": iso(self.modified_time),
            "provisioningState": self.provisioning_state,
            "provisioningStateTransitionTime": iso(self.provisioning_state_transition_time),
            "scaleSettings": self.scale_settings.serialize(),
            "vmPriority": self.vm_priority,
            "vmSize": self.vm_size,
        }


@dataclass
class AmlComputeProvisioningConfiguration:
    """What ``AmlCompute.provisioning_configuration`` returns: a local Ray head node's settings
    and v1's scale settings; the cloud-only settings as given, in ``ignored``."""

    vm_size: str = ""
    vm_priority: str = "dedicated"
    scale_settings: ScaleSettings = field(default_factory=lambda: ScaleSettings(0, 4))
    num_cpus: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    ignored: dict[str, Any] = field(default_factory=dict)
    """Cloud-only settings as given (a password is noted, never kept)."""


@dataclass
class AmlComputeAttachConfiguration:
    """What ``AmlCompute.attach_configuration`` returns: a running Ray cluster to use for runs."""

    address: str
    token: str | None = field(default=None, repr=False)
    max_nodes: int | None = None
    job_resources: dict[str, float] | None = None
    """Ray resources a script run's job asks for (the nodes offering them run it). None: any node."""


def _count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(f"{name} must be a whole number >= {low}, got {value!r}")
    return value


def provisioning(
    vm_size: str,
    vm_priority: str,
    min_nodes: Any,
    max_nodes: Any,
    idle_seconds_before_scaledown: Any,
    tags: Any,
    description: Any,
    num_cpus: Any,
    cloud: dict[str, Any],
) -> AmlComputeProvisioningConfiguration:
    """v1's checks of a provisioning configuration, then the configuration."""
    if cloud.get("admin_user_password") and not cloud.get("admin_username"):
        raise ComputeTargetError(
            "Invalid user credentials, admin username must be provided along with either a password or "
            "SSH key information."
        )
    vnet = [cloud.get(k) for k in ("vnet_name", "vnet_resourcegroup_name", "subnet_name")]
    if any(vnet) and not all(vnet):
        raise ComputeTargetError(
            "Invalid configuration, not all virtual net information provided: give vnet_name, "
            "vnet_resourcegroup_name and subnet_name (recorded; a Ray cluster here has no VNet)"
        )
    if max_nodes is None:
        raise ComputeTargetError("Invalid provisioning configuration, max nodes count is mandatory")
    min_nodes = _count("min_nodes", min_nodes or 0, 0)
    max_nodes = _count("max_nodes", max_nodes, 0)
    if max_nodes < min_nodes:
        raise ComputeTargetError(
            "Invalid provisioning configuration, max nodes count must be greater than or equal to min "
            f"nodes count (min_nodes={min_nodes}, max_nodes={max_nodes})"
        )
    if vm_priority not in _PRIORITIES:
        raise InvalidInputError(f"vm_priority must be 'dedicated' or 'lowpriority', got {vm_priority!r}")
    if idle_seconds_before_scaledown is not None:
        _count("idle_seconds_before_scaledown", idle_seconds_before_scaledown, 0)
    if num_cpus is not None:
        _count("num_cpus", num_cpus, 1)
    if not isinstance(vm_size, str):
        raise InvalidInputError(f"vm_size must be a string such as 'STANDARD_D2_V2', got {vm_size!r}")
    ignored = {
        k: ("(given, not kept)" if k in _SECRET else v) for k, v in cloud.items() if v not in (None, "")
    }
    return AmlComputeProvisioningConfiguration(
        vm_size=vm_size,
        vm_priority=vm_priority,
        scale_settings=ScaleSettings(min_nodes, max_nodes, idle_seconds_before_scaledown),
        num_cpus=num_cpus,
        tags={str(k): str(v) for k, v in (tags or {}).items()},
        description=description,
        ignored=ignored,
    )


def status(
    record: Any, state: str, nodes: int, errors: list[str] | None, scale: ScaleSettings
) -> AmlComputeStatus:
    """An AmlComputeStatus from a cluster record and what was observed."""
    created = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
    settings = record.settings
    return AmlComputeStatus(
        allocation_state="Steady",
        allocation_state_transition_time=created,
        creation_time=created,
        current_node_count=nodes,
        errors=[{"code": "ClusterNotAnswering", "message": e} for e in errors] if errors else None,
        modified_time=created,
        node_state_counts=AmlComputeNodeStateCounts(running_node_count=nodes),
        provisioning_state=state,
        provisioning_state_transition_time=created,
        scale_settings=scale,
        target_node_count=nodes,
        vm_priority=str(settings.get("vm_priority") or "dedicated"),
        vm_size=str(settings.get("vm_size") or ""),
    )
