"""Workspaces: one folder holding a metadata database, a blob store, services and keys.

A workspace is found by name through a small pointer file in ``$MODELPORT_HOME/workspaces/``, or
from a config file found by walking up from a folder (:meth:`Workspace.from_config`).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from modelport import _settings
from modelport.errors import (
    AlreadyExistsError,
    InvalidInputError,
    StorageError,
    WorkspaceConfigNotFound,
    WorkspaceNotFound,
)
from modelport.workspace.blobs import BlobStore
from modelport.workspace.db import Database

__all__ = ["Workspace", "WorkspaceConfigNotFound"]

_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]{1,32}$")
# Where from_config looks, in each folder, in this order.
CONFIG_LOCATIONS = (".modelport/config.json", ".azureml/config.json", "aml_config/config.json", "config.json")


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"invalid workspace name {name!r}: use 2-33 letters, digits, '-' or '_', starting with a "
            "letter or digit"
        )
    return name


def _pointer_dir() -> Path:
    return _settings.home() / "workspaces"


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


class Workspace:
    """A local workspace: where models, environments and services live.

    Example::

        ws = Workspace.create("demo", exist_ok=True)
        ws = Workspace.from_config()   # finds .modelport/ or v1's .azureml/config.json upwards
    """

    def __init__(self, name: str, path: str | os.PathLike[str] | None = None) -> None:
        self.name = _check_name(name)
        if path is None:
            pointer = _pointer_dir() / f"{name}.json"
            if not pointer.is_file():
                raise WorkspaceNotFound(name, str(_pointer_dir()))
            path = json.loads(pointer.read_text())["path"]
        self.path = Path(path).resolve()
        if not (self.path / "workspace.json").is_file():
            raise WorkspaceNotFound(name, str(self.path))
        self._db: Database | None = None
        self.blobs = BlobStore(self.path / "blobs")

    # -- v1 constructors -------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        name: str,
        path: str | os.PathLike[str] | None = None,
        exist_ok: bool = False,
        **_v1: Any,
    ) -> Workspace:
        """Create a workspace folder (default ``$MODELPORT_HOME/workspaces/<name>``).

        v1's cloud arguments (subscription_id, resource_group, location, ...) are accepted and
        ignored: a local workspace needs none of them.
        """
        _check_name(name)
        pointers = _pointer_dir()
        pointers.mkdir(parents=True, exist_ok=True)
        pointer = pointers / f"{name}.json"
        folder = Path(path).resolve() if path is not None else pointers / name
        if pointer.exists():
            if not exist_ok:
                raise AlreadyExistsError(f"workspace '{name}' already exists at {cls(name).path}")
            return cls(name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, 0o700)
            for sub in ("blobs", "services", "keys"):
                (folder / sub).mkdir(exist_ok=True, mode=0o700)
            marker = folder / "workspace.json"
            if not marker.exists():
                _write_private(marker, json.dumps({"name": name}, indent=2))
            ws_db = Database(folder / "metadata.db")
            ws_db.close()
            # O_EXCL: of two processes creating the same name, exactly one writes the pointer.
            fd = os.open(pointer, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            if not exist_ok:
                raise AlreadyExistsError(f"workspace '{name}' already exists") from None
            return cls(name)
        except OSError as exc:
            raise StorageError(f"cannot create workspace '{name}' at {folder}: {exc}") from exc
        with os.fdopen(fd, "w") as f:
            json.dump({"name": name, "path": str(folder)}, f)
        return cls(name)

    @classmethod
    def get(cls, name: str, **_v1: Any) -> Workspace:
        """Open an existing workspace by name."""
        return cls(name)

    @classmethod
    def list(cls, **_v1: Any) -> dict[str, Workspace]:
        """Every workspace known under ``$MODELPORT_HOME``, by name (v1 returns a dict too)."""
        out: dict[str, Workspace] = {}
        pointers = _pointer_dir()
        if pointers.is_dir():
            for pointer in sorted(pointers.glob("*.json")):
                try:
                    out[pointer.stem] = cls(pointer.stem)
                except (WorkspaceNotFound, InvalidInputError):
                    continue
        return out

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, **_v1: Any) -> Workspace:
        """Find a config file from ``path`` (default: cwd) upwards and open its workspace.

        In each folder it looks for ``.modelport/config.json``, then v1's ``.azureml/config.json``,
        ``aml_config/config.json`` and ``config.json``. A v1 file (subscription_id,
        resource_group, workspace_name) maps to the local workspace ``workspace_name``, created on
        first use. Raises :class:`WorkspaceConfigNotFound` when no folder has a config.
        """
        start = Path(path).resolve() if path is not None else Path.cwd()
        if start.is_file():
            return cls._from_config_file(start)
        for folder in (start, *start.parents):
            for rel in CONFIG_LOCATIONS:
                candidate = folder / rel
                if candidate.is_file():
                    ws = cls._from_config_file(candidate, strict=rel != "config.json")
                    if ws is not None:
                        return ws
        raise WorkspaceConfigNotFound(str(start))

    @classmethod
    def _from_config_file(cls, file: Path, strict: bool = True) -> Any:
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            if not strict:
                return None
            raise InvalidInputError(f"workspace config {file} is not valid JSON: {exc}") from exc
        name = data.get("workspace_name") if isinstance(data, dict) else None
        if not name:
            if not strict:
                return None
            raise InvalidInputError(f"workspace config {file} has no 'workspace_name'")
        where = data.get("workspace_path")
        if where:
            folder = (file.parent / where).resolve()
            if (folder / "workspace.json").is_file():
                return cls(name, folder)
        return cls.create(name, exist_ok=True)

    def write_config(self, path: str | os.PathLike[str] | None = None, file_name: str | None = None) -> Path:
        """Write ``<path>/.modelport/config.json`` so ``from_config`` finds this workspace."""
        folder = Path(path) if path is not None else Path.cwd()
        target = folder / ".modelport" / (file_name or "config.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_private(
            target,
            json.dumps({"workspace_name": self.name, "workspace_path": str(self.path)}, indent=2),
        )
        return target

    # -- engine access -----------------------------------------------------------------------
    @property
    def db(self) -> Database:
        if self._db is None:
            db_file = self.path / "metadata.db"
            if not db_file.is_file():
                raise StorageError(f"workspace '{self.name}': metadata database {db_file} is missing")
            self._db = Database(db_file)
        return self._db

    @property
    def services_dir(self) -> Path:
        return self.path / "services"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    def get_details(self) -> dict[str, Any]:
        return {"name": self.name, "path": str(self.path), "location": "local"}

    def __repr__(self) -> str:
        return f"Workspace.create(name={self.name!r}, path={str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)
