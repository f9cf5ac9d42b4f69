"""The environment registry: a spec (a JSON-able dict) stored as versions "1", "2", ... per name."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from modelport.errors import EnvironmentNotFound, InvalidInputError
from modelport.registry.models import now
from modelport.workspace import Workspace

ENV_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$")


def check_env_name(name: object) -> str:
    if not isinstance(name, str) or not ENV_NAME.match(name):
        raise InvalidInputError(
            f"invalid environment name {name!r}: 1-255 letters, digits, '-', '.', '_', starting "
            "with a letter or digit"
        )
    if name.lower().startswith("azureml"):
        raise InvalidInputError(
            f"environment name {name!r}: names starting with 'AzureML' are reserved for curated "
            "environments (to change one, clone it: Environment.get(ws, name).clone('my-env'))"
        )
    return name


def spec_hash(spec: dict[str, Any]) -> str:
    body = {k: v for k, v in spec.items() if k not in ("version", "name")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def register(ws: Workspace, spec: dict[str, Any]) -> tuple[str, bool]:
    """Store ``spec`` as the next version of its name; return (version, created).

    A spec identical to the latest version returns that version and creates nothing.
    """
    name = check_env_name(spec.get("name"))
    digest = spec_hash(spec)
    with ws.db.transaction() as conn:
        row = ws.db.execute(
            conn,
            "SELECT version, spec_hash FROM environments WHERE name = ? ORDER BY version DESC LIMIT 1",
            (name,),
        ).fetchone()
        if row is not None and row["spec_hash"] == digest:
            return str(row["version"]), False
        version = (row["version"] if row is not None else 0) + 1
        stored = dict(spec, version=str(version))
        ws.db.execute(
            conn,
            "INSERT INTO environments (name, version, spec, spec_hash, created_time) VALUES (?, ?, ?, ?, ?)",
            (name, version, json.dumps(stored), digest, now()),
        )
    return str(version), True


def get(ws: Workspace, name: str, version: str | int | None = None) -> dict[str, Any]:
    if version is None:
        rows = ws.db.query(
            "SELECT spec FROM environments WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
        )
    else:
        try:
            ver = int(version)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"environment version must be a number like '1', got {version!r}"
            ) from None
        rows = ws.db.query("SELECT spec FROM environments WHERE name = ? AND version = ?", (name, ver))
    if not rows:
        if version is not None and ws.db.query("SELECT 1 FROM environments WHERE name = ?", (name,)):
            raise EnvironmentNotFound(name, str(version))
        raise EnvironmentNotFound(name)
    spec: dict[str, Any] = json.loads(rows[0]["spec"])
    return spec


def list_latest(ws: Workspace) -> list[dict[str, Any]]:
    rows = ws.db.query(
        "SELECT e.spec FROM environments e "
        "JOIN (SELECT name, MAX(version) v FROM environments GROUP BY name) m "
        "ON e.name = m.name AND e.version = m.v ORDER BY e.name"
    )
    return [json.loads(r["spec"]) for r in rows]


def versions(ws: Workspace, name: str) -> list[dict[str, Any]]:
    rows = ws.db.query("SELECT spec FROM environments WHERE name = ? ORDER BY version", (name,))
    return [json.loads(r["spec"]) for r in rows]
