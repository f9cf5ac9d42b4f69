"""An MLflow tracking-store plugin: ``modelport:///<workspace folder>`` keeps MLflow's runs in
the workspace (``mlflow.db``, a SQLite file) and their artifacts beside them (``mlflow-artifacts/``).

MLflow finds it through the ``mlflow.tracking_store`` and ``mlflow.model_registry_store`` entry
points in modelport's package metadata; ``Workspace.get_mlflow_tracking_uri()`` gives the URI.
MLflow itself is not a modelport dependency: this module is imported by MLflow, never by modelport.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from modelport.errors import InvalidInputError

DB_FILE = "mlflow.db"
ARTIFACTS = "mlflow-artifacts"


def _folder(store_uri: str) -> Path:
    parts = urlsplit(store_uri)
    folder = Path(unquote(parts.path))
    if parts.scheme != "modelport" or not folder.is_absolute() or not (folder / "workspace.json").is_file():
        raise InvalidInputError(
            f"{store_uri!r} is not a modelport workspace tracking URI; use ws.get_mlflow_tracking_uri()"
        )
    return folder


def _sqlite_uri(folder: Path) -> str:
    return "sqlite:///" + (folder / DB_FILE).as_posix()


def tracking_store(store_uri: str, artifact_uri: str | None = None, **_: Any) -> Any:
    """MLflow's SQLAlchemy tracking store over the workspace's ``mlflow.db``."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = _folder(store_uri)
    return SqlAlchemyStore(_sqlite_uri(folder), artifact_uri or (folder / ARTIFACTS).as_uri())


def model_registry_store(store_uri: str, **_: Any) -> Any:
    """MLflow's SQLAlchemy model registry over the same file (``mlflow.register_model``)."""
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

    return SqlAlchemyStore(_sqlite_uri(_folder(store_uri)))
