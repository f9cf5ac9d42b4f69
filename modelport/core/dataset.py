"""``Dataset`` (v1's ``azureml.core.Dataset``): file and tabular datasets, registered with versions.

A dataset is built over datastore paths (``[(datastore, "path/**/*.csv")]`` or
``datastore.path(...)``), local files, folders or glob patterns, or ``http(s)://`` URLs. Like v1,
a registered dataset refers to its data; it does not copy it. Its definition (sources, how to
read them, and ``take``/``skip``/column selections) is stored in the workspace's database as
version 1, 2, ... of its name.

Example (v1's cells with ``azureml`` renamed)::

    datastore = ws.get_default_datastore()
    datastore.upload(src_dir="data", target_path="diabetes", overwrite=True)
    ds = Dataset.Tabular.from_delimited_files(path=[(datastore, "diabetes/*.csv")])
    ds = ds.register(ws, "diabetes", description="diabetes data", create_new_version=True)
    df = Dataset.get_by_name(ws, "diabetes").to_pandas_dataframe()
"""

from __future__ import annotations

import builtins
import glob
import os
import re
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from modelport._refused import refused_method
from modelport.core._dataset_v1 import FileDatasetV1, LegacyDatasetV1, TabularDatasetV1
from modelport.core._partition import PartitionFormat, encode_value
from modelport.core.datastore import DataReference, Datastore
from modelport.errors import InvalidInputError, NotFoundError, NotSupported
from modelport.opendatasets._filedataset import DatasetFile
from modelport.opendatasets._filedataset import FileDataset as _Files
from modelport.registry import datasets as registry
from modelport.registry import datastores as stores
from modelport.workspace import Workspace

__all__ = ["Dataset", "FileDataset", "TabularDataset"]
# dataset_ref / dataset_from_ref: how a model version keeps its sample datasets (core/model.py).

PathArg = str | os.PathLike[str]
Source = dict[str, str]  # {"datastore": name, "path": p} | {"local": p} | {"url": u}


# -- sources: what a dataset was built from, and the files they stand for -----------------------
def _sources(path: Any) -> tuple[builtins.list[Source], Workspace | None]:
    """v1's ``path`` argument (one item or a list) as JSON-able sources, and their workspace."""
    items = [path] if isinstance(path, str | os.PathLike | tuple | DataReference | Datastore) else path
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise InvalidInputError(
            "path must be a local path, a URL, (datastore, 'path') or datastore.path('path'), "
            "or a list of them"
        )
    out: builtins.list[Source] = []
    workspace: Workspace | None = None
    for item in items:
        datastore: Any = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Datastore):
            datastore, rel = item
        elif isinstance(item, Datastore):
            datastore, rel = item, ""
        elif hasattr(item, "datastore") and hasattr(item, "path_on_datastore"):  # DataReference, DataPath
            datastore, rel = item.datastore, item.path_on_datastore or ""
        elif isinstance(item, str | os.PathLike):
            text = os.fspath(item)
            if text.startswith(("http://", "https://")):
                out.append({"url": text})
            else:
                out.append({"local": os.path.abspath(text)})
            continue
        else:
            raise InvalidInputError(f"cannot make a dataset from {item!r}")
        if workspace is not None and datastore.workspace != workspace:
            raise InvalidInputError("every datastore path of a dataset must be in the same workspace")
        workspace = datastore.workspace
        stores.resolve(datastore.workspace, datastore.name, str(rel))  # refuses '..' and absolute paths
        out.append({"datastore": datastore.name, "path": str(rel).strip("/")})
    return out, workspace


def _has_magic(text: str) -> bool:
    return any(c in text for c in "*?[")


def _expand(text: str) -> builtins.list[tuple[Path, Path]]:
    """The files ``text`` (an absolute path or pattern) stands for, each with the folder its
    layout is relative to."""
    if _has_magic(text):
        parts = Path(text).parts
        root = Path(*parts[: next(i for i, part in enumerate(parts) if _has_magic(part))])
        matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
        return [(m, root) for m in matches if m.is_file()]
    p = Path(text)
    if p.is_dir():
        return [(f, p) for f in sorted(p.rglob("*")) if f.is_file()]
    if p.is_file():
        return [(p, p.parent)]
    return []


def _url_file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    if not name:
        raise InvalidInputError(f"cannot tell a file name from the URL {url}")
    return name


def _files(sources: builtins.list[Source], workspace: Workspace | None) -> builtins.list[DatasetFile]:
    """The files the sources stand for now; a source matching no file is a NotFoundError."""
    urls: builtins.list[str] = []
    local: builtins.list[tuple[Path, Path]] = []
    for src in sources:
        if "url" in src:
            urls.append(src["url"])
            continue
        if "datastore" in src:
            if workspace is None:
                raise InvalidInputError("a datastore path needs its workspace")
            text = str(stores.resolve(workspace, src["datastore"], src["path"] or None))
            shown = f"datastore '{src['datastore']}' path '{src['path']}'"
        else:
            text = shown = src["local"]
        found = _expand(text)
        if not found:
            raise NotFoundError(f"no file found at {shown}")
        local.extend(found)
    files = [DatasetFile(path=_url_file_name(url), source=url) for url in urls]
    if local:
        base = Path(os.path.commonpath([root for _, root in local]))
        files += [DatasetFile(path=f.relative_to(base).as_posix(), source=str(f)) for f, _ in local]
    return files


# -- the two kinds of dataset --------------------------------------------------------------------
class _Registered:
    """What registered datasets of both kinds share: name, version, register, get_by_name."""

    _kind = ""

    def _init(
        self, sources: builtins.list[Source], workspace: Workspace | None, definition: dict[str, Any]
    ) -> None:
        self._sources = sources
        self._workspace = workspace
        self._definition = definition
        self.name: str | None = None
        self.version: int | None = None
        self.description: str | None = None
        self.tags: dict[str, str] = {}

    @property
    def id(self) -> str | None:
        return f"{self.name}:{self.version}" if self.name else None

    def _full_definition(self) -> dict[str, Any]:
        return {"sources": self._sources, **self._definition}

    def register(
        self,
        workspace: Workspace,
        name: str,
        description: str | None = None,
        tags: dict[str, Any] | None = None,
        create_new_version: bool = False,
    ) -> Any:
        """Register this dataset's definition as ``name`` and return the registered dataset.

        The same definition again returns the version it is; another definition needs
        ``create_new_version=True`` (then it becomes the next version), as in v1.
        """
        if not isinstance(workspace, Workspace):
            raise InvalidInputError(f"workspace must be a Workspace, got {type(workspace).__name__}")
        if self._workspace is not None and self._workspace != workspace:
            raise InvalidInputError(
                f"this dataset reads datastores of workspace '{self._workspace.name}', not '{workspace.name}'"
            )
        record = registry.register(
            workspace,
            name,
            self._kind,
            self._full_definition(),
            description=description,
            tags=tags,
            create_new_version=create_new_version,
        )
        return _from_record(workspace, record)

    @property
    def partition_keys(self) -> builtins.list[str]:
        """The keys of the dataset's ``partition_format`` (``[]`` when it has none)."""
        fmt = self._definition.get("partition_format")
        return list(PartitionFormat.parse(fmt).keys) if fmt else []

    def _partitioned(self) -> builtins.list[tuple[DatasetFile, dict[str, str]]]:
        """The files the dataset stands for now, each with its partition values (``{}`` when the
        dataset has no ``partition_format``); with one, files whose path does not match are left
        out, as v1 did."""
        files = _files(self._sources, self._workspace)
        fmt = self._definition.get("partition_format")
        if not fmt:
            return [(f, {}) for f in files]
        parsed = PartitionFormat.parse(fmt)
        out = []
        for f in files:
            values = parsed.values(urlsplit(f.source).path if f.is_remote else f.source)
            if values is not None:
                out.append((f, values))
        if not out:
            raise NotFoundError(f"no file of the dataset matches its partition_format {fmt!r}")
        return out

    def get_partition_key_values(
        self, partition_keys: builtins.list[str] | None = None
    ) -> builtins.list[dict]:
        """The distinct combinations of values of ``partition_keys`` (default: all keys)."""
        keys = list(partition_keys) if partition_keys is not None else self.partition_keys
        unknown = [k for k in keys if k not in self.partition_keys]
        if unknown:
            raise InvalidInputError(
                f"{', '.join(map(repr, unknown))} is not a partition key of this dataset; its keys: "
                f"{self.partition_keys}"
            )
        seen: dict[tuple[str, ...], dict[str, str]] = {}
        for _f, values in self._partitioned():
            combo = tuple(values[k] for k in keys)
            seen.setdefault(combo, {k: values[k] for k in keys})
        return list(seen.values())

    def as_named_input(self, name: str) -> DatasetConsumptionConfig:
        """v1's input for a script run or a pipeline step: ``ds.as_named_input('train').as_mount()``."""
        return DatasetConsumptionConfig(name, self)

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name or "input", self, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name or "input", self, "download", path_on_compute)

    def _repr_fields(self) -> str:
        who = f"name={self.name!r}, version={self.version!r}, " if self.name else ""
        return f"{who}sources={self._sources!r}"


class FileDataset(_Files, _Registered, FileDatasetV1):
    """Files from datastores, local paths or URLs (v1's ``azureml.data.FileDataset``).

    Example::

        >>> ds = Dataset.File.from_files(path=[(datastore, "mnist/*.gz")])
        >>> ds.download(target_path="data", overwrite=True)
        >>> ds.to_path()
        ['t10k-images-idx3-ubyte.gz', ...]
    """

    _kind = "file"
    register = _Registered.register  # not the open dataset's (which registers through this one)

    def __init__(
        self,
        sources: builtins.list[Source],
        workspace: Workspace | None = None,
        partition_format: str | None = None,
        validate: bool = True,
    ) -> None:
        self._init(sources, workspace, {"partition_format": partition_format} if partition_format else {})
        if partition_format:
            PartitionFormat.parse(partition_format)
        self._deferred = False
        try:
            files = [f for f, _ in self._partitioned()]
        except NotFoundError:
            if validate:
                raise
            # v1's validate=False: the data may be there by the time it is read; look again then.
            self._deferred, files = True, []
        _Files.__init__(self, files)

    def _look_again(self) -> None:
        if self._deferred:
            self._files = tuple(f for f, _ in self._partitioned())
            self._deferred = False

    @property
    def files(self) -> tuple[DatasetFile, ...]:
        self._look_again()
        return self._files

    def to_path(self) -> builtins.list[str]:
        self._look_again()
        return _Files.to_path(self)

    def download(self, target_path: PathArg | None = None, overwrite: bool = False) -> builtins.list[str]:
        self._look_again()
        return _Files.download(self, target_path, overwrite)

    def mount(self, mount_point: str | os.PathLike[str] | None = None) -> _Mount:
        """A context whose ``mount_point`` holds the files (a local copy: nothing is mounted)."""
        return _Mount(self, mount_point)

    def __repr__(self) -> str:
        return f"FileDataset({self._repr_fields()})"


class _Mount:
    def __init__(self, dataset: FileDataset, mount_point: str | os.PathLike[str] | None) -> None:
        self._dataset = dataset
        self.mount_point = str(mount_point or tempfile.mkdtemp(prefix="modelport-mount-"))

    def start(self) -> None:
        self._dataset.download(self.mount_point, overwrite=True)

    def stop(self) -> None:
        pass

    def __enter__(self) -> _Mount:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


_FORMATS = ("delimited", "json_lines", "parquet")


class TabularDataset(_Registered, TabularDatasetV1):
    """Rows read from delimited (CSV), JSON-lines or Parquet files (v1's ``azureml.data.TabularDataset``).

    ``take``, ``skip``, ``keep_columns`` and ``drop_columns`` return a new dataset (kept in its
    definition when registered); ``to_pandas_dataframe`` reads the rows (needs ``pandas``).

    Example::

        >>> ds = Dataset.Tabular.from_delimited_files(path=[(datastore, "iris/*.csv")])
        >>> ds.take(3).to_pandas_dataframe()
    """

    _kind = "tabular"

    def __init__(
        self,
        sources: builtins.list[Source],
        workspace: Workspace | None,
        read: dict[str, Any],
        ops: builtins.list[dict[str, Any]] | None = None,
        validate: bool = True,
        partition_format: str | None = None,
    ) -> None:
        if read.get("format") not in _FORMATS:
            raise InvalidInputError(f"unknown tabular format {read.get('format')!r}")
        definition: dict[str, Any] = {"read": read, "ops": list(ops or [])}
        if partition_format:
            PartitionFormat.parse(partition_format)
            definition["partition_format"] = partition_format
        self._init(sources, workspace, definition)
        if validate:
            self._partitioned()

    def _with(self, op: dict[str, Any]) -> TabularDataset:
        return TabularDataset(
            self._sources,
            self._workspace,
            self._definition["read"],
            [*self._definition["ops"], op],
            validate=False,
            partition_format=self._definition.get("partition_format"),
        )

    def take(self, count: int) -> TabularDataset:
        """The first ``count`` rows."""
        return self._with({"op": "take", "count": _count(count, "take")})

    def skip(self, count: int) -> TabularDataset:
        """Every row after the first ``count``."""
        return self._with({"op": "skip", "count": _count(count, "skip")})

    def keep_columns(self, columns: str | builtins.list[str], validate: bool = False) -> TabularDataset:
        return self._with({"op": "keep", "columns": _columns(columns)})

    def drop_columns(self, columns: str | builtins.list[str]) -> TabularDataset:
        return self._with({"op": "drop", "columns": _columns(columns)})

    def to_pandas_dataframe(self, on_error: str = "null", out_of_range_datetime: str = "null") -> Any:
        """Every row as one ``pandas.DataFrame`` (files in path order, then the transformations)."""
        pd = _pandas()
        read = self._definition["read"]
        frames = []
        for f, values in self._partitioned():
            frame = _read(pd, f.source, read)
            if read.get("include_path"):
                frame.insert(0, "Path", f.path)
            for key, value in values.items():  # partition columns last, as v1 added them
                frame[key] = value
            frames.append(frame)
        df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        for op in self._definition["ops"]:
            if op["op"] == "take":
                df = df.head(op["count"])
            elif op["op"] == "skip":
                df = df.iloc[op["count"] :]
            else:
                missing = [c for c in op["columns"] if c not in df.columns]
                if missing:
                    raise InvalidInputError(f"no column {', '.join(map(repr, missing))} in the dataset")
                df = df[op["columns"]] if op["op"] == "keep" else df.drop(columns=op["columns"])
        return df.reset_index(drop=True)

    def to_csv_files(self, separator: str = ",") -> FileDataset:
        """The rows written as one CSV file (in a temporary folder), as a file dataset."""
        folder = Path(tempfile.mkdtemp(prefix="modelport-tabular-"))
        self.to_pandas_dataframe().to_csv(folder / "part-00000.csv", sep=separator, index=False)
        return FileDataset([{"local": str(folder)}])

    def partition_by(
        self,
        partition_keys: builtins.list[str],
        target: Any,
        name: str | None = None,
        show_progress: bool = True,
        partition_as_file_dataset: bool = False,
    ) -> Any:
        """Copy the rows into one folder per combination of ``partition_keys`` values under
        ``target`` (``(datastore, 'path')``) and return the dataset over them, partitioned by those
        keys (registered as ``name`` when given), as v1 did.

        The key columns leave the files and come back, last, from the folder names when the
        dataset is read. Files are Parquet when ``pyarrow`` is installed, else CSV.

        Example::

            >>> parts = ds.partition_by(["Store", "Brand"], target=(datastore, "oj_parts"), name="oj")
            >>> parts.partition_keys
            ['Store', 'Brand']
        """
        keys = [partition_keys] if isinstance(partition_keys, str) else list(partition_keys or [])
        if not keys or not all(isinstance(k, str) and k for k in keys):
            raise InvalidInputError(f"partition_keys must be a list of column names, got {partition_keys!r}")
        datastore, rel = _target(target)
        df = self.to_pandas_dataframe()
        missing = [k for k in keys if k not in df.columns]
        if missing:
            raise InvalidInputError(
                f"partition_by: no column {', '.join(map(repr, missing))} in the dataset; its columns: "
                f"{list(df.columns)}"
            )
        parquet = _has_pyarrow()
        ext = "parquet" if parquet else "csv"
        base = stores.resolve(datastore.workspace, datastore.name, f"{rel}/{uuid.uuid4().hex}".lstrip("/"))
        count = 0
        for values, group in df.groupby(keys, sort=True, dropna=False):
            combo = values if isinstance(values, tuple) else (values,)
            folder = base.joinpath(*(encode_value(v) for v in combo))
            folder.mkdir(parents=True, exist_ok=True)
            part = group.drop(columns=keys)
            if parquet:
                part.to_parquet(folder / f"part-00000.{ext}", index=False)
            else:
                part.to_csv(folder / f"part-00000.{ext}", index=False)
            count += 1
        if show_progress:
            print(f"Partitioned {len(df)} rows into {count} partitions under {base}", flush=True)
        fmt = "/".join(f"{{{k}}}" for k in keys) + f"/part-00000.{ext}"
        rel_base = base.relative_to(datastore.root).as_posix()
        read = (
            {"format": "parquet", "include_path": False}
            if parquet
            else {**_DEFAULT_CSV_READ, "include_path": False}
        )
        ds: Any
        if partition_as_file_dataset:
            ds = FileDataset([{"datastore": datastore.name, "path": rel_base}], datastore.workspace, fmt)
        else:
            ds = TabularDataset(
                [{"datastore": datastore.name, "path": rel_base}],
                datastore.workspace,
                read,
                partition_format=fmt,
            )
        if name is not None:
            ds = ds.register(datastore.workspace, name, create_new_version=True)
        return ds

    def __repr__(self) -> str:
        return f"TabularDataset({self._repr_fields()})"


_DEFAULT_CSV_READ: dict[str, Any] = {
    "format": "delimited",
    "separator": ",",
    "header": True,
    "empty_as_string": False,
    "encoding": "utf-8",
}


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInputError(f"{what}: count must be a whole number >= 0, got {value!r}")
    return value


def _columns(columns: Any) -> builtins.list[str]:
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols or not all(isinstance(c, str) for c in cols):
        raise InvalidInputError(f"columns must be a column name or a list of names, got {columns!r}")
    return cols


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise InvalidInputError(
            "to_pandas_dataframe needs pandas, which is not installed: pip install pandas"
        ) from None
    return pandas


def _read(pd: Any, source: str, read: dict[str, Any]) -> Any:
    try:
        if read["format"] == "delimited":
            return pd.read_csv(
                source,
                sep=read.get("separator", ","),
                header=0 if read.get("header", True) else None,
                encoding=read.get("encoding", "utf8"),
                skip_blank_lines=True,
                keep_default_na=not read.get("empty_as_string", False),
            )
        if read["format"] == "json_lines":
            return pd.read_json(source, lines=True, encoding=read.get("encoding", "utf8"))
        return pd.read_parquet(source)
    except ImportError as exc:  # read_parquet without pyarrow or fastparquet
        raise InvalidInputError(f"cannot read {source}: {exc}") from None
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise InvalidInputError(f"cannot read {source} as {read['format']} data: {exc}") from None


def _header(header: Any) -> bool:
    """v1's ``header``: a bool or a ``PromoteHeadersBehavior`` name; only 'no headers' is False."""
    if isinstance(header, bool):
        return header
    text = str(getattr(header, "name", header)).upper()
    return text not in ("NO_HEADERS", "0", "FALSE")


# -- the factories -------------------------------------------------------------------------------
class _FileDatasetFactory:
    """``Dataset.File``: build a :class:`FileDataset`."""

    @staticmethod
    def from_files(path: Any, validate: bool = True, partition_format: str | None = None) -> FileDataset:
        """A file dataset over datastore paths, local files, folders, glob patterns or URLs.

        A folder stands for every file under it; a pattern may use ``**``. The files keep their
        layout relative to the common folder of what was given; a URL's file lands at its name.
        A path that matches no file is a :class:`~modelport.errors.NotFoundError`.

        Example::

            >>> Dataset.File.from_files(path=[(datastore, "mnist/*.gz")]).download("data")
            >>> Dataset.File.from_files("raw/**/*.gz").to_path()
        """
        sources, workspace = _sources(path)
        return FileDataset(sources, workspace, partition_format, validate=validate)

    @staticmethod
    def upload_directory(
        src_dir: PathArg,
        target: Any,
        pattern: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> FileDataset:
        """Upload ``src_dir`` (the files matching ``pattern``) to ``target`` — ``(datastore, path)``
        or ``datastore.path(path)`` — and return a file dataset over them."""
        datastore, rel = _target(target)
        src = Path(src_dir)
        if not src.is_dir():
            raise NotFoundError(f"cannot upload {src_dir}: not a folder")
        files = sorted(src.glob(pattern) if pattern else src.rglob("*"))
        pairs = [(f, f"{rel}/{f.relative_to(src).as_posix()}".lstrip("/")) for f in files if f.is_file()]
        stores.upload_files(
            datastore.workspace, datastore.name, pairs, overwrite, print if show_progress else None
        )
        return FileDataset([{"datastore": datastore.name, "path": rel}], datastore.workspace)


def _target(target: Any) -> tuple[Datastore, str]:
    if isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], Datastore):
        return target[0], str(target[1]).strip("/")
    if isinstance(target, DataReference):
        return target.datastore, target.path_on_datastore or ""
    if isinstance(target, Datastore):
        return target, ""
    raise InvalidInputError("target must be (datastore, 'path') or datastore.path('path')")


class _TabularDatasetFactory:
    """``Dataset.Tabular``: build a :class:`TabularDataset`."""

    @staticmethod
    def from_delimited_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        infer_column_types: bool = True,
        set_column_types: Any = None,
        separator: str = ",",
        header: Any = True,
        partition_format: str | None = None,
        support_multi_line: bool = False,
        empty_as_string: bool = False,
        encoding: str = "utf8",
    ) -> TabularDataset:
        """Rows from CSV (or other delimited) files: datastore paths, local paths or URLs.

        Example::

            >>> ds = Dataset.Tabular.from_delimited_files(path=[(datastore, "weather/2018/11.csv")])
            >>> ds.to_pandas_dataframe().head()
        """
        if set_column_types is not None:
            raise NotSupported("set_column_types is not supported; convert columns on the DataFrame instead")
        if not isinstance(separator, str) or not separator:
            raise InvalidInputError(f"separator must be a non-empty string, got {separator!r}")
        sources, workspace = _sources(path)
        read = {
            "format": "delimited",
            "separator": separator,
            "header": _header(header),
            "include_path": bool(include_path),
            "empty_as_string": bool(empty_as_string),
            "encoding": str(encoding).replace("utf8", "utf-8") if encoding else "utf-8",
        }
        return TabularDataset(sources, workspace, read, validate=validate, partition_format=partition_format)

    @staticmethod
    def from_json_lines_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        encoding: str = "utf8",
        partition_format: str | None = None,
        **_v1: Any,
    ) -> TabularDataset:
        sources, workspace = _sources(path)
        read = {"format": "json_lines", "include_path": bool(include_path), "encoding": str(encoding)}
        return TabularDataset(sources, workspace, read, validate=validate, partition_format=partition_format)

    @staticmethod
    def from_parquet_files(
        path: Any,
        validate: bool = True,
        include_path: bool = False,
        partition_format: str | None = None,
        **_v1: Any,
    ) -> TabularDataset:
        """Rows from Parquet files (reading them needs ``pyarrow``)."""
        sources, workspace = _sources(path)
        return TabularDataset(
            sources,
            workspace,
            {"format": "parquet", "include_path": bool(include_path)},
            validate=validate,
            partition_format=partition_format,
        )

    @staticmethod
    def register_pandas_dataframe(
        dataframe: Any,
        target: Any,
        name: str,
        description: str | None = None,
        tags: dict[str, Any] | None = None,
        show_progress: bool = True,
    ) -> TabularDataset:
        """Write ``dataframe`` as CSV under ``target`` — ``(datastore, path)`` — and register it."""
        datastore, rel = _target(target)
        folder = stores.resolve(datastore.workspace, datastore.name, f"{rel}/{uuid.uuid4().hex}".lstrip("/"))
        folder.mkdir(parents=True)
        dataframe.to_csv(folder / "part-00000.csv", index=False)
        rel_folder = folder.relative_to(datastore.root).as_posix()
        ds = Dataset.Tabular.from_delimited_files([(datastore, rel_folder)])
        registered: TabularDataset = ds.register(
            datastore.workspace, name, description=description, tags=tags, create_new_version=True
        )
        return registered


_CONSUMPTION_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$")
_MODES = ("direct", "mount", "download")


class DatasetConsumptionConfig:
    """How a run gets a dataset (v1's ``azureml.data.dataset_consumption_config``):
    ``ds.as_named_input('train').as_mount()``, or ``DatasetConsumptionConfig(name, dataset)``
    where ``dataset`` may be a ``PipelineParameter`` whose default is a dataset.

    Locally a file dataset becomes a folder holding its files (a dataset of one file: that file);
    nothing is mounted. A tabular dataset is given directly: the script reads it with
    ``Run.get_context().input_datasets[name]``.
    """

    as_hdfs = refused_method(
        "DatasetConsumptionConfig.as_hdfs",
        "HDFS paths need an Azure Spark cluster; give the dataset with as_mount() or as_download()",
    )

    def __init__(
        self, name: str, dataset: Any, mode: str = "direct", path_on_compute: str | None = None
    ) -> None:
        if not isinstance(name, str) or not _CONSUMPTION_NAME.match(name):
            raise InvalidInputError(
                f"invalid dataset input name {name!r}: letters, digits, '_' and '-', starting with a letter "
                "or digit"
            )
        if mode not in _MODES:
            raise InvalidInputError(
                f"dataset input '{name}': mode must be one of {', '.join(_MODES)}, got {mode!r}"
            )
        real = getattr(dataset, "default_value", dataset)  # a PipelineParameter stands for its default
        if not isinstance(real, _Registered):
            raise InvalidInputError(
                f"dataset input '{name}' must be a dataset (Dataset.File/Tabular...) or a PipelineParameter "
                f"whose default is one, got {type(real).__name__}"
            )
        if mode in ("mount", "download") and isinstance(real, TabularDataset):
            raise InvalidInputError(
                f"dataset input '{name}': a tabular dataset cannot be mounted or downloaded; give it as "
                "it is (as_named_input(name)) and read it with to_pandas_dataframe()"
            )
        self.name = name
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute

    @property
    def arg_val(self) -> str:
        """v1's placeholder for this input in a script's arguments, ``DatasetConsumptionConfig:<name>``,
        which v1 replaced with the path on the compute. Here the config object itself is what a
        run's or step's ``arguments`` take: it becomes the local path before the script starts."""
        return f"DatasetConsumptionConfig:{self.name}"

    def as_mount(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(self.name, self.dataset, "download", path_on_compute)

    def local_path(self, folder: Path) -> str:
        """Materialize the dataset's files under ``folder`` and return the path to give the script:
        the folder, or the file itself for a dataset made from one file (as v1 mounted it)."""
        if not isinstance(self.dataset, FileDataset):
            raise NotSupported(
                f"input '{self.name}': only file datasets become a folder; a tabular dataset is read "
                "in the script with Run.get_context().input_datasets or Dataset.get_by_name"
            )
        target = folder / self.name
        paths = self.dataset.download(target, overwrite=True)
        if is_single_file(self.dataset) and len(paths) == 1:
            return str(paths[0])
        return str(target)

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r})"


def is_single_file(ds: Any) -> bool:
    """Whether ``ds`` was made from one file (not a folder or a pattern): v1 gave a run that file's
    path rather than a folder."""
    sources = getattr(ds, "_sources", [])
    if len(sources) != 1:
        return False
    src = sources[0]
    if "url" in src:
        return True
    text = src.get("local") or src.get("path") or ""
    if _has_magic(text):
        return False
    if "datastore" in src:
        if ds._workspace is None:
            return False
        return stores.resolve(ds._workspace, src["datastore"], src["path"] or None).is_file()
    return Path(text).is_file()


def _from_record(workspace: Workspace, record: registry.DatasetRecord) -> Any:
    d = record.definition
    ds: FileDataset | TabularDataset
    if record.kind == "file":
        ds = FileDataset(d["sources"], workspace, d.get("partition_format"))
    else:
        ds = TabularDataset(
            d["sources"],
            workspace,
            d["read"],
            d.get("ops"),
            validate=False,
            partition_format=d.get("partition_format"),
        )
    ds.name, ds.version, ds.description, ds.tags = (
        record.name,
        record.version,
        record.description,
        dict(record.tags),
    )
    return ds


class Dataset(LegacyDatasetV1):
    """v1's ``azureml.core.Dataset``: the factories and the registry of datasets.

    Example::

        >>> ds = Dataset.File.from_files(path=[(datastore, "mnist/*.gz")])
        >>> ds = ds.register(workspace=ws, name="mnist", create_new_version=True)
        >>> Dataset.get_by_name(ws, "mnist", version="latest").to_path()
    """

    File = _FileDatasetFactory
    Tabular = _TabularDatasetFactory

    @staticmethod
    def get_by_name(workspace: Workspace, name: str, version: str | int = "latest", **_v1: Any) -> Any:
        """The registered dataset ``name`` at ``version`` (``'latest'`` or a number)."""
        if not isinstance(workspace, Workspace):
            raise InvalidInputError(f"workspace must be a Workspace, got {type(workspace).__name__}")
        return _from_record(workspace, registry.get(workspace, name, version))

    @staticmethod
    def get_by_id(workspace: Workspace, id: str, **_v1: Any) -> Any:
        """A dataset by its id, ``name:version``."""
        name, _, version = str(id).rpartition(":")
        if not name:
            raise InvalidInputError(f"invalid dataset id {id!r}: expected 'name:version'")
        return Dataset.get_by_name(workspace, name, version)

    @staticmethod
    def get_all(workspace: Workspace) -> dict[str, Any]:
        """The latest version of every registered dataset, by name."""
        return {r.name: _from_record(workspace, r) for r in registry.list_latest(workspace)}

    @staticmethod
    def get(workspace: Workspace, name: str | None = None, id: str | None = None) -> Any:
        """v1's old lookup: by name (latest version) or by id."""
        if (name is None) == (id is None):
            raise InvalidInputError("Dataset.get takes a name or an id")
        return (
            Dataset.get_by_id(workspace, id) if id is not None else Dataset.get_by_name(workspace, name or "")
        )

    @staticmethod
    def list(workspace: Workspace) -> builtins.list[Any]:
        """v1's old listing: the latest version of each registered dataset."""
        return builtins.list(Dataset.get_all(workspace).values())


# v1 reached the factories and lookups from the dataset classes too (``TabularDataset.get_by_name``)
_Registered.File = _FileDatasetFactory  # type: ignore[attr-defined]
_Registered.Tabular = _TabularDatasetFactory  # type: ignore[attr-defined]
_Registered.get_by_name = staticmethod(Dataset.get_by_name)  # type: ignore[attr-defined]
_Registered.get_by_id = staticmethod(Dataset.get_by_id)  # type: ignore[attr-defined]
_Registered.get_all = staticmethod(Dataset.get_all)  # type: ignore[attr-defined]


def dataset_ref(ds: Any, what: str) -> dict[str, Any]:
    """A dataset as a model version keeps it: its kind and definition (and name, version if registered)."""
    if not isinstance(ds, _Registered):
        raise InvalidInputError(
            f"{what} must be a dataset (Dataset.Tabular/File...), got {type(ds).__name__}"
        )
    return {"kind": ds._kind, "definition": ds._full_definition(), "name": ds.name, "version": ds.version}


def dataset_from_ref(workspace: Workspace, ref: dict[str, Any]) -> Any:
    """The dataset :func:`dataset_ref` kept."""
    record = registry.DatasetRecord(
        name=ref.get("name") or "",
        version=int(ref.get("version") or 0),
        kind=ref["kind"],
        definition=ref["definition"],
        created_time="",
    )
    ds = _from_record(workspace, record)
    if not ref.get("name"):
        ds.name = ds.version = None
    return ds


def register_open_dataset(
    dataset: Any,
    workspace: Workspace,
    name: str,
    description: str | None,
    tags: dict[str, str] | None,
    create_new_version: bool,
) -> FileDataset:
    """An open dataset (``MNIST.get_file_dataset()``) registered: its files copied, verified, into
    the default datastore under ``opendatasets/<name>/``, then registered from there."""
    datastore = Datastore.get_default(workspace)
    with tempfile.TemporaryDirectory(prefix="modelport-opendataset-") as folder:
        dataset.download(folder, overwrite=True)
        datastore.upload(
            src_dir=folder, target_path=f"opendatasets/{name}", overwrite=True, show_progress=False
        )
    registered = Dataset.File.from_files(path=[(datastore, f"opendatasets/{name}/**")])
    return registered.register(
        workspace, name, description=description, tags=tags, create_new_version=create_new_version
    )
