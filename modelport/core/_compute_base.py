"""The compute target base class (``modelport.core.compute`` holds v1's kinds of target).

A target's kind (its record's ``kind``) chooses its class: ``ComputeTarget(ws, name)`` returns an
``AksCompute`` or an ``AmlCompute``, each registered here by its own module.
"""

from __future__ import annotations

import builtins
import sys
from typing import Any

from modelport import _settings
from modelport.deploy import cluster
from modelport.errors import ComputeTargetError, InvalidInputError, NotSupported
from modelport.workspace import Workspace

__all__ = ["ComputeTarget"]


def _attached_record(
    workspace: Workspace, name: str, address: str, token: str | None, how: str
) -> cluster.ClusterRecord:
    """The record of a running cluster at ``address`` to attach as ``name``, after checking the
    token it needs (kept 0600 in the workspace; the caller removes it if attaching fails)."""
    if name in cluster.names(workspace):
        raise ComputeTargetError(f"compute target '{name}' already exists in this workspace")
    record = cluster.ClusterRecord(name=name, address=address, owned=False)
    if token is not None:
        record.token_file = str(cluster.write_token(cluster.token_path(workspace, name), token))
    refused = cluster.requires_token(address, record.token_file)
    if refused and token is None:
        raise ComputeTargetError(
            f"the Ray cluster at {address} requires a token: give it with "
            f"{how}.attach_configuration(address=..., token=...) or ${_settings.RAY_AUTH_TOKEN}"
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
    return record


def _read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as exc:
        raise ComputeTargetError(f"cannot read the cluster's Ray token {path}: {exc}") from None


class ComputeTarget:
    """A compute target of a workspace. ``ComputeTarget(ws, name)`` finds an existing one."""

    type = "AKS"
    _kinds: dict[str, builtins.type[ComputeTarget]] = {}
    """Each kind of target (a record's ``kind``) -> its class, registered by the class itself."""
    _provisions: builtins.type | None = None
    """The provisioning configuration this kind is created from (``ComputeTarget.create``)."""
    _attaches: builtins.type | None = None
    """The attach configuration this kind is attached with (``ComputeTarget.attach``)."""

    @staticmethod
    def _create(workspace: Workspace, name: str, provisioning_configuration: Any) -> ComputeTarget:
        raise NotImplementedError  # each kind that can be created says how

    @staticmethod
    def _attach(workspace: Workspace, name: str, attach_configuration: Any) -> ComputeTarget:
        raise NotImplementedError  # each kind that can be attached says how

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        ComputeTarget._kinds[cls.type] = cls

    def __new__(cls, workspace: Workspace | None = None, name: str | None = None) -> Any:
        # v1: ComputeTarget(ws, name) returns the subclass of the target's kind.
        if cls is ComputeTarget and workspace is not None and name is not None:
            record = cluster.load(workspace, name)
            return super().__new__(ComputeTarget._kinds.get(record.kind, ComputeTarget))
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
        """Provision a compute target: start a Ray head node here (for an AKS or an AmlCompute
        configuration)."""
        for kind in ComputeTarget._kinds.values():
            if kind._provisions is not None and isinstance(provisioning_configuration, kind._provisions):
                return kind._create(workspace, name, provisioning_configuration)
        raise NotSupported(
            f"ComputeTarget.create with {type(provisioning_configuration).__name__}: only "
            "AksCompute.provisioning_configuration() and AmlCompute.provisioning_configuration() "
            "(local Ray clusters) can be created"
        )

    @staticmethod
    def attach(workspace: Workspace, name: str, attach_configuration: Any) -> ComputeTarget:
        """Attach an existing Ray cluster (``AksCompute.attach_configuration(address=...)``, or
        ``AmlCompute.attach_configuration(address=...)`` for runs)."""
        for kind in ComputeTarget._kinds.values():
            if kind._attaches is not None and isinstance(attach_configuration, kind._attaches):
                return kind._attach(workspace, name, attach_configuration)
        raise NotSupported(
            f"ComputeTarget.attach with {type(attach_configuration).__name__}: use "
            "AksCompute.attach_configuration(address='ray://host:10001' or 'auto'), or "
            "AmlCompute.attach_configuration(address='host:port')"
        )

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

    def refresh_state(self) -> None:
        """Read the target again, in place (v1's refresh from the cloud's state): its record, which
        another process may have changed, and, for an attached cluster that answers, its live Ray
        nodes as ``agent_count``. ``provisioning_state`` is asked of the cluster on each read."""
        record = cluster.load(self.workspace, self.name)
        gcs = not (record.address.startswith("ray://") or record.address == "auto")
        if not record.owned and gcs and cluster.status(self.workspace, record) == "Succeeded":
            try:
                record.agent_count = len(cluster.alive_nodes(record))
            except ComputeTargetError:
                # It stopped answering since the check: the recorded count stands, and
                # provisioning_state says Failed on its next read.
                pass
        self._record = record

    @classmethod
    def deserialize(cls, workspace: Workspace, object_dict: dict[str, Any]) -> ComputeTarget:
        """The compute target ``serialize()`` described, from ``workspace`` (v1's): its kind,
        workspace and cluster address must still be the ones serialized.

        Example::

            saved = json.dumps(aks.serialize())
            aks = AksCompute.deserialize(ws, json.loads(saved))
        """
        name = object_dict.get("name") if isinstance(object_dict, dict) else None
        if not isinstance(name, str):
            raise InvalidInputError(
                f"{cls.__name__}.deserialize needs the dict serialize() gave (with its 'name'), "
                f"got {type(object_dict).__name__}"
            )
        owner = object_dict.get("workspace")
        if owner is not None and owner != workspace.name:
            raise ComputeTargetError(
                f"compute target '{name}' was serialized from workspace '{owner}', not '{workspace.name}'"
            )
        record = cluster.load(workspace, name)
        kind = object_dict.get("type")
        if kind is not None and kind != record.kind:
            raise ComputeTargetError(
                f"compute target '{name}' of this workspace is an {record.kind} target, not {kind}"
            )
        address = object_dict.get("address")
        if address is not None and address != record.address:
            raise ComputeTargetError(
                f"compute target '{name}' of this workspace is the Ray cluster at {record.address}, "
                f"not {address}"
            )
        kind_class = ComputeTarget._kinds.get(record.kind, ComputeTarget)
        if not issubclass(kind_class, cls):
            raise ComputeTargetError(
                f"compute target '{name}' is an {record.kind} target: use "
                f"{kind_class.__name__}.deserialize (or ComputeTarget.deserialize)"
            )
        return kind_class(workspace, name)

    def serialize(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workspace": self.workspace.name,
            "type": self.type,
            "provisioningState": self.provisioning_state,
            "address": self._record.address,
            "owned": self._record.owned,
            "agentCount": self._record.agent_count,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, address={self._record.address!r})"
