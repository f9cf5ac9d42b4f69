"""v1's ``azureml.data.output_dataset_config``: a step's output folder, and the next step's input.

An :class:`OutputFileDatasetConfig` in a step's ``arguments`` (or ``outputs``) is a folder that step
writes; ``output.as_input()`` in a later step's arguments is that folder, read, and makes the later
step wait for the first. The folder is in a datastore: by default
``workspaceblobstore/dataset/<pipeline run id>/<output name>``, or ``destination=(datastore, path)``
where ``{run-id}`` and ``{output-name}`` are filled in. ``register_on_complete(name)`` registers the
folder as a file dataset once its step completes.

Example (v1's publish-and-run notebook, ``azureml`` renamed)::

    processed_data1 = OutputFileDatasetConfig(name="processed_data1")
    train = PythonScriptStep(script_name="train.py", source_directory="train",
                             arguments=["--output_train", processed_data1])
    extract = PythonScriptStep(script_name="extract.py", source_directory="extract",
                               arguments=["--input_extract", processed_data1.as_input()])
"""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any

from modelport._refused import refused, refused_method
from modelport.core.datastore import DataReference, Datastore
from modelport.errors import InvalidInputError

__all__ = [
    "HDFSOutputDatasetConfig",
    "LinkFileOutputDatasetConfig",
    "LinkTabularOutputDatasetConfig",
    "MountOptions",
    "OutputDatasetConfig",
    "OutputFileDatasetConfig",
    "OutputTabularDatasetConfig",
    "RegistrationConfiguration",
    "TransformationMixin",
    "UploadOptions",
    "check_output_name",
]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")


def check_output_name(name: object, what: str = "output") -> str:
    """v1's rule for output names: letters, digits and underscores, not starting with a digit."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInputError(
            f"invalid {what} name {name!r}: letters, digits and '_' only, not starting with a digit"
        )
    return name


class OutputDatasetConfig:
    """What v1's output configurations share: a name, a destination, a registration."""

    mode = "mount"  # the script writes into the output's folder (nothing is mounted locally)

    def __init__(self, name: str | None = None) -> None:
        self.name = check_output_name(name) if name is not None else f"output_{uuid.uuid4().hex[:8]}"
        self._registration: dict[str, Any] | None = None

    @property
    def arg_val(self) -> str:
        """v1's placeholder for this output in a step's arguments, ``DatasetOutputConfig:<name>``,
        which v1 replaced with the output folder. Here the config object itself is what a step's
        ``arguments`` take: it becomes the folder's local path before the script starts."""
        return f"DatasetOutputConfig:{self.name}"

    def register_on_complete(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> Any:
        """A copy that registers the output as the dataset ``name`` when its step completes."""
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"register_on_complete: name must be a non-empty string, got {name!r}")
        out = copy.copy(self)
        out._registration = {"name": name, "description": description, "tags": dict(tags or {})}
        # Still the same output for the steps that read it.
        out._origin = getattr(self, "_origin", self)  # type: ignore[attr-defined]
        return out

    def as_input(self, name: str | None = None) -> OutputInput:
        """This output read by a later step (which then runs after the step that writes it)."""
        if not isinstance(self, OutputFileDatasetConfig):
            raise InvalidInputError(
                "an OutputDatasetConfig has no data of its own; use OutputFileDatasetConfig"
            )
        return OutputInput(self, name or self.name, "files")


class OutputFileDatasetConfig(OutputDatasetConfig):
    """A folder a step writes (v1's ``azureml.data.OutputFileDatasetConfig``).

    ``destination``: ``(datastore, 'path')``; ``{run-id}`` in it becomes the pipeline run's id
    and ``{output-name}`` the output's name. Default: the default datastore's
    ``dataset/{run-id}/{output-name}``.
    """

    def __init__(
        self,
        name: str | None = None,
        destination: Any = None,
        source: str | None = None,
        partition_format: str | None = None,
    ) -> None:
        super().__init__(name)
        if destination is not None:
            if isinstance(destination, DataReference):
                destination = (destination.datastore, destination.path_on_datastore or "")
            if not (
                isinstance(destination, tuple)
                and len(destination) == 2
                and isinstance(destination[0], Datastore)
                and isinstance(destination[1], str)
            ):
                raise InvalidInputError(
                    f"output '{self.name}': destination must be (datastore, 'path'), got {destination!r}"
                )
        if source is not None:
            raise InvalidInputError(
                f"output '{self.name}': source (a folder on the compute to upload) has no local meaning: "
                "the script writes straight into the output folder it is given"
            )
        self.destination = destination
        self.source = source
        self.partition_format = partition_format

    def as_mount(self, disable_metadata_cache: bool = False) -> OutputFileDatasetConfig:
        """The script writes into the output folder (the default; locally nothing is mounted)."""
        return self

    def as_upload(self, overwrite: bool = False, source_globs: Any = None) -> OutputFileDatasetConfig:
        """As v1's upload mode: locally the script writes straight into the output folder too."""
        return self

    def read_delimited_files(
        self,
        include_path: bool = False,
        separator: str = ",",
        header: Any = True,
        partition_format: str | None = None,
        path_glob: str | None = None,
        **_v1: Any,
    ) -> OutputTabularDatasetConfig:
        """This output read as a tabular dataset of CSV files (for a later step's tabular input)."""
        read = {"format": "delimited", "separator": separator, "header": bool(header), "encoding": "utf-8"}
        return OutputTabularDatasetConfig(self, read, include_path, partition_format, path_glob)

    def read_parquet_files(
        self, include_path: bool = False, partition_format: str | None = None, path_glob: str | None = None
    ) -> OutputTabularDatasetConfig:
        """This output read as a tabular dataset of Parquet files."""
        return OutputTabularDatasetConfig(
            self, {"format": "parquet"}, include_path, partition_format, path_glob
        )

    def __repr__(self) -> str:
        return f"OutputFileDatasetConfig(name={self.name!r})"


class OutputTabularDatasetConfig(OutputDatasetConfig):
    """An :class:`OutputFileDatasetConfig` read as rows (v1's ``read_delimited_files()``)."""

    def __init__(
        self,
        base: OutputFileDatasetConfig,
        read: dict[str, Any],
        include_path: bool = False,
        partition_format: str | None = None,
        path_glob: str | None = None,
    ) -> None:
        self.name = base.name
        self._registration = base._registration
        self.base = base
        self.read = {**read, "include_path": bool(include_path)}
        self.partition_format = partition_format
        self.path_glob = path_glob

    def as_input(self, name: str | None = None) -> OutputInput:
        return OutputInput(
            self.base, name or self.name, "tabular", self.read, self.partition_format, self.path_glob
        )

    def as_mount(self, disable_metadata_cache: bool = False) -> OutputTabularDatasetConfig:
        """The script writes into the output folder (the default; locally nothing is mounted)."""
        return self

    def as_upload(self, overwrite: bool = False, source_globs: Any = None) -> OutputTabularDatasetConfig:
        """As v1's upload mode: locally the script writes straight into the output folder too."""
        return self

    _TRANSFORM = (
        "transformations of an output are not applied here; select or split the rows with pandas in "
        "the step that reads it (output.as_input() gives it the folder)"
    )
    keep_columns = refused_method("OutputTabularDatasetConfig.keep_columns", _TRANSFORM)
    drop_columns = refused_method("OutputTabularDatasetConfig.drop_columns", _TRANSFORM)
    random_split = refused_method("OutputTabularDatasetConfig.random_split", _TRANSFORM)

    def __repr__(self) -> str:
        return f"OutputTabularDatasetConfig(name={self.name!r})"


class OutputInput:
    """An output of one step given to a later one (``output.as_input()``)."""

    def __init__(
        self,
        output: OutputFileDatasetConfig,
        name: str,
        kind: str,
        read: dict[str, Any] | None = None,
        partition_format: str | None = None,
        path_glob: str | None = None,
    ) -> None:
        self.output = output
        self.name = check_output_name(name, "input")
        self.kind = kind
        self.read = read or {}
        self.partition_format = partition_format
        self.path_glob = path_glob
        self.mode = "mount"

    def as_mount(self) -> OutputInput:
        return self

    def as_download(self) -> OutputInput:
        out = copy.copy(self)
        out.mode = "download"
        return out

    def __repr__(self) -> str:
        return f"OutputInput(output={self.output.name!r}, name={self.name!r})"


_M = "modelport.data.output_dataset_config"
_LINK = (
    "linked outputs are written by Azure Synapse or Data Factory; write the data from a step into an "
    "OutputFileDatasetConfig"
)
_OPTIONS = "a local output needs no mount or upload options; use OutputFileDatasetConfig(name, destination)"
HDFSOutputDatasetConfig = refused(
    "HDFSOutputDatasetConfig", "HDFS outputs need an Azure Spark cluster; use an OutputFileDatasetConfig", _M
)
LinkFileOutputDatasetConfig = refused("LinkFileOutputDatasetConfig", _LINK, _M)
LinkTabularOutputDatasetConfig = refused("LinkTabularOutputDatasetConfig", _LINK, _M)
MountOptions = refused("MountOptions", _OPTIONS, _M)
UploadOptions = refused("UploadOptions", _OPTIONS, _M)
RegistrationConfiguration = refused(
    "RegistrationConfiguration",
    "register an output with output.register_on_complete(name, description, tags)",
    _M,
)
TransformationMixin = refused(
    "TransformationMixin", "transform the rows with pandas in the step that reads the output", _M
)
