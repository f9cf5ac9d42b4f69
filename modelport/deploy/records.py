"""Service records: what the workspace knows of each service, typed, in the ``services`` table.

A record is one JSON row, so any process sees it. It says what was asked (the
:class:`~modelport.deploy.spec.DeploymentSpec`), where it runs (the target's name and its opaque
handle, the endpoint it answers at), and what was last observed (state and error).
:func:`modelport.deploy.reconcile.next_state` decides how the observed state moves; this module
only stores records. A row an earlier modelport wrote (the spec's parts side by side:
``models``, ``inference_config``, ``environment``, ``settings``) is read into this shape.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from modelport.deploy.spec import DeploymentSpec
from modelport.errors import InvalidInputError, ServiceExists, ServiceNotFound
from modelport.registry.models import now
from modelport.workspace import Workspace

__all__ = [
    "ServiceRecord",
    "ServiceState",
    "check_service_name",
    "claim",
    "keys_path",
    "load",
    "load_all",
    "names",
    "remove",
    "save",
]

SERVICE_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


class ServiceState(enum.StrEnum):
    """v1's service states."""

    TRANSITIONING = "Transitioning"
    HEALTHY = "Healthy"
    UNHEALTHY = "Unhealthy"
    FAILED = "Failed"
    DELETING = "Deleting"


def _no_spec() -> DeploymentSpec:
    return DeploymentSpec(models=(), entry_script="")


@dataclass
class ServiceRecord:
    """One service. ``handle`` is the target's own description of what runs (opaque here)."""

    name: str
    state: ServiceState = ServiceState.TRANSITIONING
    error: str | None = None
    created_time: str = ""
    updated_time: str = ""
    spec: DeploymentSpec = field(default_factory=_no_spec)
    """What was asked: the models, the script, its environment, the settings. An endpoint's
    record holds its first version's (each version's own record holds its own)."""
    target: str = "local"
    """The name of the target that runs it (``modelport.deploy.targets``)."""
    handle: dict[str, Any] | None = None
    deployer: dict[str, Any] | None = None
    """The process deploying it (pid and start time), while Transitioning before a handle exists."""
    deployment_id: str | None = None
    bundle_dir: str | None = None
    log_file: str | None = None
    scoring_uri: str | None = None
    swagger_uri: str | None = None
    port: int | None = None
    """Its own port on this machine (kept across updates); None where it shares one."""
    phases: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    """State changes, oldest first: ``{"time", "state", "error"}`` (the last 50)."""

    @property
    def models(self) -> tuple[str, ...]:
        return self.spec.models

    @property
    def compute_type(self) -> str:
        """v1's compute type as the user asked for it: ``Local``, ``ACI`` or ``AKS``."""
        return self.spec.settings.compute_type

    def set_state(self, state: ServiceState, error: str | None) -> bool:
        """Move to ``state``; whether anything changed."""
        if state == self.state and error == self.error:
            return False
        self.state, self.error = state, error
        self.history = [*self.history, {"time": now(), "state": state.value, "error": error}][-50:]
        return True

    def to_json(self) -> str:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["state"] = self.state.value
        data["spec"] = self.spec.to_dict()
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> ServiceRecord:
        data = json.loads(text)
        if "spec" in data:
            spec = DeploymentSpec.from_dict(data["spec"])
        else:  # written by an earlier modelport
            spec = DeploymentSpec.from_v1_record(data)
        known = {f.name for f in fields(cls)}
        record = cls(**{k: v for k, v in data.items() if k in known and k != "spec"}, spec=spec)
        record.state = ServiceState(record.state)
        return record


def check_service_name(name: object) -> str:
    if not isinstance(name, str) or not 3 <= len(name) <= 32 or not SERVICE_NAME.match(name):
        raise InvalidInputError(
            f"invalid service name {name!r}: 3-32 characters, lowercase letters, digits and '-', "
            "starting with a letter and not ending with '-'"
        )
    return name


def keys_path(ws: Workspace, name: str) -> Path:
    """The service's key file (0600): primary and secondary keys and the token secret."""
    return ws.keys_dir / f"{name}.json"


def load(ws: Workspace, name: str) -> ServiceRecord:
    rows = ws.db.query("SELECT record FROM services WHERE name = ?", (name,))
    if not rows:
        raise ServiceNotFound(name)
    return ServiceRecord.from_json(rows[0]["record"])


def load_all(ws: Workspace) -> list[ServiceRecord]:
    rows = ws.db.query("SELECT record FROM services ORDER BY name")
    return [ServiceRecord.from_json(r["record"]) for r in rows]


def names(ws: Workspace) -> list[str]:
    return [r["name"] for r in ws.db.query("SELECT name FROM services ORDER BY name")]


def save(ws: Workspace, record: ServiceRecord) -> None:
    record.updated_time = now()
    with ws.db.transaction() as conn:
        ws.db.execute(
            conn,
            "UPDATE services SET record = ?, updated_time = ? WHERE name = ?",
            (record.to_json(), record.updated_time, record.name),
        )


@contextmanager
def changing(ws: Workspace, name: str) -> Iterator[ServiceRecord]:
    """Load a record, let the caller change it, save it."""
    record = load(ws, name)
    yield record
    save(ws, record)


def claim(ws: Workspace, record: ServiceRecord, overwrite: bool) -> ServiceRecord | None:
    """Insert ``record`` (Transitioning), or return the existing one when overwriting.

    In one transaction, so of two processes deploying a new name at once exactly one wins.
    """
    stamp = now()
    record.created_time = record.updated_time = stamp
    record.history = [{"time": stamp, "state": record.state.value, "error": None}]
    with ws.db.transaction() as conn:
        row = ws.db.execute(conn, "SELECT record FROM services WHERE name = ?", (record.name,)).fetchone()
        if row is not None:
            if not overwrite:
                raise ServiceExists(
                    f"service '{record.name}' already exists (overwrite=True or --overwrite replaces it)"
                )
            return ServiceRecord.from_json(row["record"])
        ws.db.execute(
            conn,
            "INSERT INTO services (name, record, created_time, updated_time) VALUES (?, ?, ?, ?)",
            (record.name, record.to_json(), stamp, stamp),
        )
    return None


def remove(ws: Workspace, name: str) -> None:
    with ws.db.transaction() as conn:
        ws.db.execute(conn, "DELETE FROM services WHERE name = ?", (name,))
