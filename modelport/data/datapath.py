"""v1's ``azureml.data.datapath``: a path in a datastore that a pipeline parameter can stand for.

Example (v1's data-dependency notebook, ``azureml`` renamed)::

    from modelport.data.datapath import DataPath, DataPathComputeBinding
    datapath = DataPath(datastore=def_blob_store, path_on_datastore="titanic/Titanic.csv")
    datapath_param = PipelineParameter(name="compare_data", default_value=datapath)
    compare_input = (datapath_param, DataPathComputeBinding(mode="mount"))
"""

from __future__ import annotations

from typing import Any

from modelport.core.datastore import DataReference, Datastore
from modelport.errors import InvalidInputError

__all__ = ["DataPath", "DataPathComputeBinding"]


class DataPath:
    """A file or folder in a datastore (locally: a path under the workspace's datastore folder)."""

    def __init__(
        self,
        datastore: Datastore | None = None,
        path_on_datastore: str | None = None,
        name: str | None = None,
    ) -> None:
        if not isinstance(datastore, Datastore):
            raise InvalidInputError(f"DataPath needs a Datastore, got {type(datastore).__name__}")
        self.datastore = datastore
        self.path_on_datastore = (path_on_datastore or "").strip("/")
        self.name = name or "datapath"
        # Checked now: a path that leaves the datastore is refused where it is written.
        DataReference(datastore, self.name, self.path_on_datastore or None)

    @property
    def datastore_name(self) -> str:
        return self.datastore.name

    def create_data_reference(
        self, data_reference_name: str | None = None, datapath_compute_binding: Any = None
    ) -> DataReference:
        mode = getattr(datapath_compute_binding, "mode", "mount")
        return DataReference(
            self.datastore, data_reference_name or self.name, self.path_on_datastore or None, mode=mode
        )

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> DataPath:
        """The path a ``DataReference`` names (v1's ``DataPath.create_from_data_reference``)."""
        if not isinstance(data_reference, DataReference):
            raise InvalidInputError(
                f"data_reference must be a DataReference, got {type(data_reference).__name__}"
            )
        return DataPath(
            data_reference.datastore, data_reference.path_on_datastore, data_reference.data_reference_name
        )

    def _to_ref(self) -> dict[str, str]:
        return {"datastore": self.datastore.name, "path": self.path_on_datastore}

    def __repr__(self) -> str:
        return f"DataPath(datastore={self.datastore.name!r}, path_on_datastore={self.path_on_datastore!r})"


class DataPathComputeBinding:
    """How a step gets a :class:`DataPath` (``mode='mount'`` or ``'download'``): locally the path
    itself, in place."""

    def __init__(
        self, mode: str = "mount", path_on_compute: str | None = None, overwrite: bool = False
    ) -> None:
        if mode not in ("mount", "download"):
            raise InvalidInputError(
                f"DataPathComputeBinding mode must be 'mount' or 'download', got {mode!r}"
            )
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    def create_data_reference(
        self, data_reference_name: str | None = None, datapath: Any = None
    ) -> DataReference:
        """A reference to ``datapath`` got this way (v1's order of arguments)."""
        if not isinstance(datapath, DataPath):
            raise InvalidInputError(f"datapath must be a DataPath, got {type(datapath).__name__}")
        return datapath.create_data_reference(data_reference_name, self)

    @staticmethod
    def create_from_data_reference(data_reference: DataReference) -> DataPathComputeBinding:
        """The binding (mode, path on compute, overwrite) a ``DataReference`` carries."""
        if not isinstance(data_reference, DataReference):
            raise InvalidInputError(
                f"data_reference must be a DataReference, got {type(data_reference).__name__}"
            )
        return DataPathComputeBinding(
            data_reference.mode, data_reference.path_on_compute, data_reference.overwrite
        )
