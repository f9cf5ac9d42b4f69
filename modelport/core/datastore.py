"""``Datastore`` (v1's ``azureml.core.datastore``): a folder in the workspace that data is copied into.

A local workspace has v1's two datastores, ``workspaceblobstore`` (the default) and
``workspacefilestore``, each a folder under ``<workspace>/datastores/``. ``upload`` copies files
in, ``download`` copies them out, and ``path(...)`` names a place in it for the ``Dataset``
factories, as v1's ``DataReference`` did.

Example (v1's cells with ``azureml`` renamed)::

    datastore = ws.get_default_datastore()
    datastore.upload(src_dir="data", target_path="diabetes", overwrite=True)
    ds = Dataset.Tabular.from_delimited_files(path=[(datastore, "diabetes/*.csv")])
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path

from modelport._refused import refused_method
from modelport.errors import InvalidInputError, NotFoundError
from modelport.registry import datastores as store
from modelport.workspace import Workspace

__all__ = ["DataReference", "Datastore"]


_CLOUD = (
    "a local workspace cannot attach cloud storage; copy the data into the default datastore with "
    "ws.get_default_datastore().upload(src_dir, target_path) instead"
)
_DB = (
    "a local workspace cannot attach a database; read it with pandas.read_sql and register the "
    "result with Dataset.Tabular.register_pandas_dataframe"
)


def _print(line: str) -> None:
    print(line, flush=True)


class Datastore:
    """A datastore of a workspace: ``Datastore(ws)`` is the default, ``Datastore(ws, name)`` another.

    Example::

        >>> ds = Datastore.get(ws, "workspaceblobstore")
        >>> ds.upload_files(["iris.csv"], target_path="iris", overwrite=True)
        >>> Datastore.get_default(ws).path("iris/iris.csv")
        DataReference(datastore='workspaceblobstore', path_on_datastore='iris/iris.csv')
    """

    # v1's attributes of a blob or file datastore, with what they are here: the storage is a folder
    # on this machine, reached as files, with no account, key or token.
    account_name = "local"
    protocol = "file"
    account_key: str | None = None
    sas_token: str | None = None
    credential_type = "None"
    is_sas = False
    blob_service = None  # no Azure storage client: the data is a folder (see ``root``)
    file_service = None
    service_data_access_auth_identity = None
    workspace_msi_has_access = False

    def __init__(self, workspace: Workspace, name: str | None = None) -> None:
        if not isinstance(workspace, Workspace):
            raise InvalidInputError(f"workspace must be a Workspace, got {type(workspace).__name__}")
        self.workspace = workspace
        self.name = name or store.DEFAULT
        self.root = store.root(workspace, self.name)

    # -- v1 lookups ----------------------------------------------------------------------------
    @staticmethod
    def get(workspace: Workspace, datastore_name: str) -> Datastore:
        """The datastore named ``datastore_name``; a :class:`NotFoundError` naming those that exist."""
        return Datastore(workspace, datastore_name)

    @staticmethod
    def get_default(workspace: Workspace) -> Datastore:
        """The workspace's default datastore, ``workspaceblobstore``."""
        return Datastore(workspace)

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Datastore]:
        return {name: Datastore(workspace, name) for name in store.names(workspace)}

    @property
    def container_name(self) -> str:
        return self.name

    @property
    def datastore_type(self) -> str:
        """v1's type: ``AzureFile`` for ``workspacefilestore``, ``AzureBlob`` for the others."""
        return "AzureFile" if self.name == store.BUILT_IN[1] else "AzureBlob"

    @property
    def endpoint(self) -> str:
        """Where the data is: the datastore's folder, as a ``file://`` URI."""
        return self.root.as_uri()

    @property
    def subscription_id(self) -> str:
        return str(getattr(self.workspace, "subscription_id", ""))

    @property
    def resource_group(self) -> str:
        return str(getattr(self.workspace, "resource_group", ""))

    register_azure_blob_container = staticmethod(
        refused_method("Datastore.register_azure_blob_container", _CLOUD)
    )
    register_azure_file_share = staticmethod(refused_method("Datastore.register_azure_file_share", _CLOUD))
    register_azure_data_lake = staticmethod(refused_method("Datastore.register_azure_data_lake", _CLOUD))
    register_azure_data_lake_gen2 = staticmethod(
        refused_method("Datastore.register_azure_data_lake_gen2", _CLOUD)
    )
    register_azure_sql_database = staticmethod(refused_method("Datastore.register_azure_sql_database", _DB))
    register_azure_postgre_sql = staticmethod(refused_method("Datastore.register_azure_postgre_sql", _DB))
    register_azure_my_sql = staticmethod(refused_method("Datastore.register_azure_my_sql", _DB))
    register_dbfs = staticmethod(refused_method("Datastore.register_dbfs", _CLOUD))
    register_hdfs = staticmethod(refused_method("Datastore.register_hdfs", _CLOUD))

    def set_as_default(self) -> None:
        """Make this datastore the workspace's default (v1's ``set_as_default``): a local
        workspace's default is always ``workspaceblobstore``, so another one is refused."""
        self.workspace.set_default_datastore(self.name)  # type: ignore[attr-defined]

    unregister = refused_method(
        "Datastore.unregister",
        "a local workspace's datastores are its own folders, not registrations; leave it, or delete "
        "its files with the workspace",
    )

    # -- data in and out -----------------------------------------------------------------------
    def upload(
        self,
        src_dir: str | os.PathLike[str],
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Copy every file under ``src_dir`` to ``target_path`` in the datastore, keeping the layout.

        A file already in the datastore is kept unless ``overwrite`` (as v1 did).
        """
        if not isinstance(src_dir, str | os.PathLike):
            raise InvalidInputError(f"src_dir must be a folder path, got {type(src_dir).__name__}")
        src = Path(src_dir)
        if not src.is_dir():
            raise NotFoundError(f"cannot upload {src_dir}: not a folder")
        pairs = [
            (f, _join(target_path, f.relative_to(src).as_posix()))
            for f in sorted(src.rglob("*"))
            if f.is_file()
        ]
        store.upload_files(self.workspace, self.name, pairs, overwrite, _print if show_progress else None)
        return self.path(target_path)

    def upload_files(
        self,
        files: builtins.list[str | os.PathLike[str]],
        relative_root: str | os.PathLike[str] | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> DataReference:
        """Copy ``files`` to ``target_path``; each keeps its path relative to ``relative_root``
        (its name alone when there is none)."""
        if isinstance(files, str | os.PathLike):
            raise InvalidInputError("upload_files takes a list of file paths; use upload() for a folder")
        pairs = []
        for f in files:
            p = Path(f)
            if relative_root is not None:
                try:
                    rel = p.resolve().relative_to(Path(relative_root).resolve()).as_posix()
                except ValueError:
                    raise InvalidInputError(f"file {f} is not under relative_root {relative_root}") from None
            else:
                rel = p.name
            pairs.append((p, _join(target_path, rel)))
        store.upload_files(self.workspace, self.name, pairs, overwrite, _print if show_progress else None)
        return self.path(target_path)

    def download(
        self,
        target_path: str | os.PathLike[str],
        prefix: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> int:
        """Copy the files whose datastore path starts with ``prefix`` under ``target_path``; return
        how many were written (existing files are kept unless ``overwrite``)."""
        if not isinstance(target_path, str | os.PathLike):
            raise InvalidInputError(f"target_path must be a folder path, got {type(target_path).__name__}")
        return store.download(
            self.workspace, self.name, Path(target_path), prefix, overwrite, _print if show_progress else None
        )

    # -- references ----------------------------------------------------------------------------
    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        """A reference to ``path`` in this datastore (a file, a folder or a glob pattern)."""
        return DataReference(self, data_reference_name, path)

    def as_mount(self) -> DataReference:
        return DataReference(self, mode="mount")

    def as_download(self, path_on_compute: str | None = None) -> DataReference:
        return DataReference(self, mode="download", path_on_compute=path_on_compute)

    def as_upload(self, path_on_compute: str | None = None) -> DataReference:
        """A reference a step writes into (v1's upload mode): locally, the datastore's folder."""
        return DataReference(self, mode="upload", path_on_compute=path_on_compute)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Datastore) and (other.workspace, other.name) == (self.workspace, self.name)

    def __hash__(self) -> int:
        return hash((self.workspace, self.name))

    def __repr__(self) -> str:
        return f"Datastore(name={self.name!r}, workspace={self.workspace.name!r})"


def _join(target_path: str | None, rel: str) -> str:
    return f"{target_path.strip('/')}/{rel}" if target_path and target_path.strip("/") else rel


class DataReference:
    """A place in a datastore (v1's ``azureml.data.data_reference.DataReference``).

    Locally a reference is a folder or file on this machine: ``str(ref)`` and ``local_path`` give
    it, so a script argument that was a reference becomes a path.
    """

    def __init__(
        self,
        datastore: Datastore,
        data_reference_name: str | None = None,
        path_on_datastore: str | None = None,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool = False,
    ) -> None:
        if not isinstance(datastore, Datastore):
            raise InvalidInputError(f"datastore must be a Datastore, got {type(datastore).__name__}")
        self.datastore = datastore
        self.data_reference_name = data_reference_name or datastore.name
        self.path_on_datastore = path_on_datastore.strip("/") if path_on_datastore else None
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite
        # Checked here, so a path that leaves the datastore is refused when it is named.
        store.resolve(datastore.workspace, datastore.name, self.path_on_datastore)

    @property
    def local_path(self) -> Path:
        """Where the referenced data is on this machine."""
        return store.resolve(self.datastore.workspace, self.datastore.name, self.path_on_datastore)

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        return DataReference(self.datastore, data_reference_name, _join(self.path_on_datastore, path or ""))

    def as_mount(self) -> DataReference:
        return DataReference(self.datastore, self.data_reference_name, self.path_on_datastore, "mount")

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return DataReference(
            self.datastore,
            self.data_reference_name,
            self.path_on_datastore,
            "download",
            path_on_compute,
            overwrite,
        )

    def __str__(self) -> str:
        return str(self.local_path)

    def __repr__(self) -> str:
        return (
            f"DataReference(datastore={self.datastore.name!r}, path_on_datastore={self.path_on_datastore!r})"
        )
