"""The model registry: versions per name, tags, properties, files kept in the blob store."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from modelport.errors import (
    AlreadyExistsError,
    InUseError,
    InvalidInputError,
    ModelNotFound,
    StorageError,
)
from modelport.workspace import Workspace

MODEL_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-\._]{0,254}$")


@dataclass
class ModelFile:
    relpath: str
    sha256: str
    size: int


@dataclass
class ModelRecord:
    name: str
    version: int
    kind: str  # "file" or "folder"
    root: str  # the registered file's or folder's own name
    created_time: str
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    framework: str | None = None
    framework_version: str | None = None
    files: list[ModelFile] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def check_model_name(name: object) -> str:
    if not isinstance(name, str) or not MODEL_NAME.match(name):
        raise InvalidInputError(
            f"invalid model name {name!r}: 1-255 characters, letters, digits, '-', '.', '_', "
            "starting with a letter or digit"
        )
    return name


def check_str_dict(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{what} must be a dict of strings, got {type(value).__name__}")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise InvalidInputError(f"{what} keys must be non-empty strings, got {k!r}")
        out[k] = v if isinstance(v, str) else json.dumps(v) if not isinstance(v, int | float) else str(v)
    return out


def _walk_folder(root: Path) -> list[tuple[str, Path]]:
    """Every regular file under ``root`` as (relative posix path, path); refuses escaping symlinks."""
    base = root.resolve()
    found: list[tuple[str, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in list(dirnames) + filenames:
            p = here / name
            if p.is_symlink():
                target = p.resolve()
                if not target.is_relative_to(base):
                    raise InvalidInputError(
                        f"refusing to register '{root}': symlink '{p.relative_to(root)}' points outside "
                        f"the folder (to {target})"
                    )
                if target.is_dir():
                    raise InvalidInputError(
                        f"refusing to register '{root}': symlink to a folder '{p.relative_to(root)}'"
                    )
        for name in sorted(filenames):
            p = here / name
            if not (p.is_file()):
                raise InvalidInputError(f"cannot register '{p}': not a regular file")
            found.append((p.relative_to(root).as_posix(), p))
    return sorted(found)


def register(
    ws: Workspace,
    model_path: str | os.PathLike[str],
    name: str,
    *,
    tags: Mapping[str, Any] | None = None,
    properties: Mapping[str, Any] | None = None,
    description: str | None = None,
    framework: str | None = None,
    framework_version: str | None = None,
) -> ModelRecord:
    """Store a file or folder as the next version of ``name``; atomic: all of it or nothing."""
    check_model_name(name)
    tag_dict = check_str_dict(tags, "tags")
    prop_dict = check_str_dict(properties, "properties")
    if description is not None and not isinstance(description, str):
        raise InvalidInputError("description must be a string")
    src = Path(model_path)
    if not src.exists():
        raise InvalidInputError(f"model_path '{model_path}' does not exist")
    if src.is_file():
        kind, entries = "file", [(src.name, src)]
    elif src.is_dir():
        kind, entries = "folder", _walk_folder(src)
        if not entries:
            # A version with no files would deploy as an empty AZUREML_MODEL_DIR: refuse it here,
            # before any blob or row is written, so the SDK and the CLI both refuse it.
            raise InvalidInputError(f"model_path '{model_path}' is an empty folder: no files to register")
    else:
        raise InvalidInputError(f"model_path '{model_path}' is neither a file nor a folder")
    root = src.resolve().name
    # Blobs first (content-addressed, harmless if orphaned), then one transaction for the record.
    files = [ModelFile(rel, *ws.blobs.put_file(path)) for rel, path in entries]
    created = now()
    with ws.db.transaction() as conn:
        row = ws.db.execute(
            conn, "SELECT COALESCE(MAX(version), 0) FROM models WHERE name = ?", (name,)
        ).fetchone()
        version = int(row[0]) + 1
        ws.db.execute(
            conn,
            "INSERT INTO models (name, version, description, tags, properties, framework, "
            "framework_version, created_time, kind, root) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                version,
                description,
                json.dumps(tag_dict),
                json.dumps(prop_dict),
                framework,
                framework_version,
                created,
                kind,
                root,
            ),
        )
        for f in files:
            ws.db.execute(
                conn,
                "INSERT INTO model_files (name, version, relpath, sha256, size) VALUES (?, ?, ?, ?, ?)",
                (name, version, f.relpath, f.sha256, f.size),
            )
    return ModelRecord(
        name=name,
        version=version,
        kind=kind,
        root=root,
        created_time=created,
        description=description,
        tags=tag_dict,
        properties=prop_dict,
        framework=framework,
        framework_version=framework_version,
        files=files,
    )


def _record(ws: Workspace, row: sqlite3.Row) -> ModelRecord:
    files = [
        ModelFile(r["relpath"], r["sha256"], r["size"])
        for r in ws.db.query(
            "SELECT relpath, sha256, size FROM model_files WHERE name = ? AND version = ? ORDER BY relpath",
            (row["name"], row["version"]),
        )
    ]
    return ModelRecord(
        name=row["name"],
        version=row["version"],
        kind=row["kind"],
        root=row["root"],
        created_time=row["created_time"],
        description=row["description"],
        tags=json.loads(row["tags"]),
        properties=json.loads(row["properties"]),
        framework=row["framework"],
        framework_version=row["framework_version"],
        files=files,
    )


def _normalize_filter(value: Any, what: str) -> list[tuple[str, str | None]]:
    """v1 filters: a list of ``key`` or ``[key, value]`` (a dict is accepted too)."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), None if v is None else str(v)) for k, v in value.items()]
    if isinstance(value, str):
        return [(value, None)]
    out: list[tuple[str, str | None]] = []
    for item in value:
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, Sequence) and len(item) == 2:
            out.append((str(item[0]), str(item[1])))
        else:
            raise InvalidInputError(f"{what} filter items are 'key' or ['key', 'value'], got {item!r}")
    return out


def _matches(values: dict[str, str], wanted: Iterable[tuple[str, str | None]]) -> bool:
    return all(k in values and (v is None or values[k] == v) for k, v in wanted)


def find(
    ws: Workspace,
    name: str | None = None,
    version: int | None = None,
    tags: Any = None,
    properties: Any = None,
    framework: str | None = None,
    latest: bool = False,
) -> list[ModelRecord]:
    """Models matching every given filter, newest first (name order, then version descending)."""
    sql = "SELECT * FROM models"
    where: list[str] = []
    params: list[object] = []
    if name is not None:
        where.append("name = ?")
        params.append(name)
    if version is not None:
        where.append("version = ?")
        params.append(int(version))
    if framework is not None:
        where.append("framework = ?")
        params.append(framework)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY name, version DESC"
    tag_filter = _normalize_filter(tags, "tags")
    prop_filter = _normalize_filter(properties, "properties")
    out: list[ModelRecord] = []
    seen: set[str] = set()
    for row in ws.db.query(sql, tuple(params)):
        if not _matches(json.loads(row["tags"]), tag_filter):
            continue
        if not _matches(json.loads(row["properties"]), prop_filter):
            continue
        if latest and row["name"] in seen:
            continue
        seen.add(row["name"])
        out.append(_record(ws, row))
    return out


def get(
    ws: Workspace,
    name: str | None = None,
    version: int | None = None,
    tags: Any = None,
    properties: Any = None,
) -> ModelRecord:
    """The one model asked for (latest matching version when none is given)."""
    if name is None:
        raise InvalidInputError("a model name (or id 'name:version') is required")
    found = find(ws, name=name, version=version, tags=tags, properties=properties)
    if not found:
        detail = ""
        if tags or properties:
            detail = f"with tags {tags!r} and properties {properties!r}"
        if version is not None and not find(ws, name=name):
            raise ModelNotFound(name, None)
        raise ModelNotFound(name, version, detail)
    return found[0]


def parse_id(model_id: str) -> tuple[str, int | None]:
    name, _, ver = model_id.partition(":")
    if not ver:
        return name, None
    try:
        return name, int(ver)
    except ValueError:
        raise InvalidInputError(f"invalid model id {model_id!r}: expected 'name:version'") from None


def download(ws: Workspace, record: ModelRecord, target_dir: str | os.PathLike[str], exist_ok: bool) -> Path:
    """Copy a model out of the store, verifying each file's sha256. Returns the file or folder path."""
    target_root = Path(target_dir)
    dest = target_root / record.root
    if dest.exists() and not exist_ok:
        raise AlreadyExistsError(f"'{dest}' already exists (pass exist_ok=True to overwrite)")
    if record.kind == "file":
        f = record.files[0]
        ws.blobs.copy_out(f.sha256, dest, f"model '{record.id}' file '{f.relpath}'")
        return dest
    # A folder: build it beside the target and swap it in, so a failure leaves no half folder.
    staging = target_root / f".{record.root}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        for f in record.files:
            out = (staging / f.relpath).resolve()
            if not out.is_relative_to(staging.resolve()):
                raise InvalidInputError(f"model '{record.id}' has an unsafe path '{f.relpath}'")
            ws.blobs.copy_out(f.sha256, out, f"model '{record.id}' file '{f.relpath}'")
        if dest.exists():
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        os.replace(staging, dest)
    except OSError as exc:
        raise StorageError(f"cannot download model '{record.id}' to {target_root}: {exc}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def verify(ws: Workspace, record: ModelRecord) -> None:
    """Raise IntegrityError unless every stored file of the model still matches its sha256."""
    for f in record.files:
        ws.blobs.verify(f.sha256, f"model '{record.id}' file '{f.relpath}'")


def update(
    ws: Workspace,
    record: ModelRecord,
    *,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    description: str | None = None,
) -> None:
    with ws.db.transaction() as conn:
        exists = ws.db.execute(
            conn, "SELECT 1 FROM models WHERE name = ? AND version = ?", (record.name, record.version)
        ).fetchone()
        if not exists:
            raise ModelNotFound(record.name, record.version)
        if tags is not None:
            ws.db.execute(
                conn,
                "UPDATE models SET tags = ? WHERE name = ? AND version = ?",
                (json.dumps(tags), record.name, record.version),
            )
        if properties is not None:
            ws.db.execute(
                conn,
                "UPDATE models SET properties = ? WHERE name = ? AND version = ?",
                (json.dumps(properties), record.name, record.version),
            )
        if description is not None:
            ws.db.execute(
                conn,
                "UPDATE models SET description = ? WHERE name = ? AND version = ?",
                (description, record.name, record.version),
            )


def _deployed_models(service_record: str) -> list[str]:
    """The model ids a service's record (``modelport.deploy.records``) was deployed with: its
    spec's, or, in a record an earlier modelport wrote, its own."""
    data = json.loads(service_record)
    models: list[str] = (data.get("spec") or data).get("models") or []
    return models


def delete(ws: Workspace, record: ModelRecord) -> None:
    """Delete one version; refused while a service of the workspace was deployed with it (an
    ``update()`` of that service copies its models from the registry again)."""
    model_id = f"{record.name}:{record.version}"
    with ws.db.transaction() as conn:
        users = [
            row[0]
            for row in ws.db.execute(conn, "SELECT name, record FROM services ORDER BY name").fetchall()
            if model_id in _deployed_models(row[1])
        ]
        if users:
            names = ", ".join(f"'{name}'" for name in users)
            raise InUseError(
                f"model '{model_id}' is used by service {names}: delete the service first "
                "(or update it to another model version)"
            )
        cur = ws.db.execute(
            conn, "DELETE FROM models WHERE name = ? AND version = ?", (record.name, record.version)
        )
        if cur.rowcount == 0:
            raise ModelNotFound(record.name, record.version)
