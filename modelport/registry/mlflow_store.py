"""MLflow's store plugins for ``modelport:///<workspace folder>``: MLflow's runs, metrics,
experiments and model registry kept inside the workspace, with ``mlflow-skinny`` alone.

v1's ``azureml-mlflow`` brought ``mlflow-skinny``, which has no SQLAlchemy: MLflow's SQL store
cannot run there. modelport's store needs nothing beyond mlflow-skinny: it keeps MLflow's
entities as files under the workspace (``mlflow/``, artifacts in ``mlflow-artifacts/``), with
MLflow's own file-backed stores underneath, which implement every entity MLflow 3 logs
(experiments, runs, params, metrics and their history, tags, datasets, logged models, traces,
registered models, versions, aliases). MLflow 3 keeps those stores for this use but refuses to
build them unless ``MLFLOW_ALLOW_FILE_STORE`` is set; modelport builds them on purpose, so it
sets that for the constructor only.

A workspace whose MLflow data is already in ``mlflow.db`` (made by an earlier modelport with
SQLAlchemy) keeps using it while SQLAlchemy is installed, so nothing logged before is hidden.

MLflow finds these plugins through the ``mlflow.tracking_store`` and ``mlflow.model_registry_store``
entry points in modelport's package metadata; ``Workspace.get_mlflow_tracking_uri()`` gives the
URI. MLflow itself is not a modelport dependency: this module is imported by MLflow, never by
modelport.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from modelport.errors import InvalidInputError

__all__ = ["ARTIFACTS", "DB_FILE", "TRACKING", "model_registry_store", "tracking_store"]

DB_FILE = "mlflow.db"
TRACKING = "mlflow"
ARTIFACTS = "mlflow-artifacts"
_ALLOW = "MLFLOW_ALLOW_FILE_STORE"
_LOCK = threading.Lock()
T = TypeVar("T")


def _folder(store_uri: str) -> Path:
    parts = urlsplit(store_uri)
    folder = Path(unquote(parts.path))
    if parts.scheme != "modelport" or not folder.is_absolute() or not (folder / "workspace.json").is_file():
        raise InvalidInputError(
            f"{store_uri!r} is not a modelport workspace tracking URI; use ws.get_mlflow_tracking_uri()"
        )
    return folder


def _sql(folder: Path) -> str | None:
    """The SQLite URI of a workspace that already keeps its MLflow data in ``mlflow.db``."""
    if (folder / DB_FILE).is_file() and importlib.util.find_spec("sqlalchemy") is not None:
        return "sqlite:///" + (folder / DB_FILE).as_posix()
    return None


def _built(make: Callable[[], T]) -> T:
    # MLflow 3 asks for this opt-in before it builds a file-backed store; only the constructor
    # reads it, so it is set around the call alone (a lock: os.environ is the process's).
    with _LOCK:
        before = os.environ.get(_ALLOW)
        os.environ[_ALLOW] = "true"
        try:
            return make()
        finally:
            if before is None:
                os.environ.pop(_ALLOW, None)
            else:
                os.environ[_ALLOW] = before


def tracking_store(store_uri: str, artifact_uri: str | None = None, **_: Any) -> Any:
    """The tracking store of the workspace ``store_uri`` names (``modelport:///path``)."""
    folder = _folder(store_uri)
    artifacts = artifact_uri or (folder / ARTIFACTS).as_uri()
    sql = _sql(folder)
    if sql is not None:
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        return SqlAlchemyStore(sql, artifacts)
    from mlflow.store.tracking.file_store import FileStore

    return _built(lambda: FileStore(str(folder / TRACKING), artifacts))


def model_registry_store(store_uri: str, **_: Any) -> Any:
    """The model registry (``mlflow.register_model``) of the same workspace."""
    folder = _folder(store_uri)
    sql = _sql(folder)
    if sql is not None:
        from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore

        return SqlAlchemyStore(sql)
    from mlflow.store.model_registry.file_store import FileStore

    return _built(lambda: FileStore(str(folder / TRACKING)))
