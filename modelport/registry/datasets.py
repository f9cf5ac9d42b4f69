"""The dataset registry: versions 1, 2, ... of a dataset's definition per name.

A definition is what the facade's dataset was built from (its sources: datastore paths, local
paths or URLs, and for a tabular dataset how to read them); like v1, a registered dataset
refers to its data, it does not copy it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from modelport.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from modelport.registry.models import check_str_dict, now
from modelport.workspace import Workspace

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\._ ]{0,254}$")


def _not_found(name: str, version: int | None = None) -> NotFoundError:
    """The error for a dataset name (or one version of it) that is not registered."""
    if version is None:
        return NotFoundError(f"dataset '{name}' not found")
    return NotFoundError(f"dataset '{name}' has no version {version}")


@dataclass
class DatasetRecord:
    name: str
    version: int
    kind: str  # "file" or "tabular"
    definition: dict[str, Any]
    created_time: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"invalid dataset name {name!r}: 1-255 letters, digits, ' ', '-', '.', '_', starting with "
            "a letter or digit"
        )
    return name


def _hash(kind: str, definition: dict[str, Any]) -> str:
    body = json.dumps({"kind": kind, "definition": definition}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def register(
    ws: Workspace,
    name: str,
    kind: str,
    definition: dict[str, Any],
    *,
    description: str | None = None,
    tags: dict[str, Any] | None = None,
    create_new_version: bool = False,
) -> DatasetRecord:
    """Store ``definition`` under ``name``.

    The same definition as the latest version returns that version (as v1 did). Another
    definition becomes the next version when ``create_new_version``; otherwise it is refused.
    """
    check_name(name)
    if kind not in ("file", "tabular"):
        raise InvalidInputError(f"dataset kind must be 'file' or 'tabular', got {kind!r}")
    if description is not None and not isinstance(description, str):
        raise InvalidInputError("description must be a string")
    tag_dict = check_str_dict(tags, "tags")
    digest = _hash(kind, definition)
    with ws.db.transaction() as conn:
        latest = ws.db.execute(
            conn,
            "SELECT version, definition_hash FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1",
            (name,),
        ).fetchone()
        if latest is not None and latest["definition_hash"] == digest:
            version = int(latest["version"])
        else:
            if latest is not None and not create_new_version:
                raise AlreadyExistsError(
                    f"there is already a dataset registered as '{name}' (version {latest['version']}) "
                    "with another definition; pass create_new_version=True to add a version"
                )
            version = (int(latest["version"]) if latest is not None else 0) + 1
            ws.db.execute(
                conn,
                "INSERT INTO datasets (name, version, kind, definition, definition_hash, description, "
                "tags, created_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    version,
                    kind,
                    json.dumps(definition),
                    digest,
                    description,
                    json.dumps(tag_dict),
                    now(),
                ),
            )
    return get(ws, name, version)


def _record(row: Any) -> DatasetRecord:
    return DatasetRecord(
        name=row["name"],
        version=int(row["version"]),
        kind=row["kind"],
        definition=json.loads(row["definition"]),
        created_time=row["created_time"],
        description=row["description"],
        tags=json.loads(row["tags"]),
    )


def get(ws: Workspace, name: str, version: int | str | None = None) -> DatasetRecord:
    """Version ``version`` of ``name``; the latest for None or ``'latest'``."""
    if version is None or version == "latest":
        rows = ws.db.query("SELECT * FROM datasets WHERE name = ? ORDER BY version DESC LIMIT 1", (name,))
        if not rows:
            raise _not_found(name)
        return _record(rows[0])
    try:
        ver = int(version)
    except (TypeError, ValueError):
        raise InvalidInputError(f"dataset version must be a number or 'latest', got {version!r}") from None
    rows = ws.db.query("SELECT * FROM datasets WHERE name = ? AND version = ?", (name, ver))
    if not rows:
        if ws.db.query("SELECT 1 FROM datasets WHERE name = ?", (name,)):
            raise _not_found(name, ver)
        raise _not_found(name)
    return _record(rows[0])


def list_latest(ws: Workspace) -> list[DatasetRecord]:
    rows = ws.db.query(
        "SELECT d.* FROM datasets d JOIN (SELECT name, MAX(version) v FROM datasets GROUP BY name) m "
        "ON d.name = m.name AND d.version = m.v ORDER BY d.name"
    )
    return [_record(r) for r in rows]


def update(
    ws: Workspace,
    name: str,
    version: int,
    *,
    description: str | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    with ws.db.transaction() as conn:
        if description is not None:
            ws.db.execute(
                conn,
                "UPDATE datasets SET description = ? WHERE name = ? AND version = ?",
                (description, name, version),
            )
        if tags is not None:
            ws.db.execute(
                conn,
                "UPDATE datasets SET tags = ? WHERE name = ? AND version = ?",
                (json.dumps(tags), name, version),
            )


# -- what a model version was registered with beyond its files -----------------------------------
def set_model_extras(ws: Workspace, name: str, version: int, extras: dict[str, Any]) -> None:
    """Keep ``extras`` (sample datasets, resource configuration, run id) with model ``name:version``."""
    with ws.db.transaction() as conn:
        ws.db.execute(
            conn,
            "INSERT INTO model_extras (name, version, extras) VALUES (?, ?, ?) "
            "ON CONFLICT (name, version) DO UPDATE SET extras = excluded.extras",
            (name, version, json.dumps(extras)),
        )


def model_extras(ws: Workspace, name: str, version: int) -> dict[str, Any]:
    rows = ws.db.query("SELECT extras FROM model_extras WHERE name = ? AND version = ?", (name, version))
    return json.loads(rows[0]["extras"]) if rows else {}


def models_of_run(ws: Workspace, run_id: str) -> list[tuple[str, int]]:
    """(name, version) of every model version registered from run ``run_id``."""
    rows = ws.db.query("SELECT name, version, extras FROM model_extras ORDER BY name, version DESC")
    return [(r["name"], int(r["version"])) for r in rows if json.loads(r["extras"]).get("run_id") == run_id]
