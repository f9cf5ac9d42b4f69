"""The rest of v1's dataset surface, kept out of ``dataset.py``: a registered dataset's tags and
description changed in place (``add_tags``, ``remove_tags``, ``update``), the lookups on the dataset
classes (``FileDataset.get_by_name``...), and one refusal per family of what needs Azure (profiles,
Spark and Dask frames, HDFS, caches, time-series filters, v1's pre-1.0 ``Dataset`` API) naming the
local way."""

from __future__ import annotations

import builtins
from typing import Any

from modelport._refused import refused_method
from modelport.errors import InvalidInputError

__all__ = ["DatasetV1", "FileDatasetV1", "LegacyDatasetV1", "RegisteredV1", "TabularDatasetV1"]

_PANDAS = "select, sample or split the rows with pandas on ds.to_pandas_dataframe()"
_PROFILE = (
    "dataset profiles are computed by Azure; describe the data with ds.to_pandas_dataframe().describe()"
)
_TIME = (
    "time-series filters of v1 datasets are not kept here; filter the timestamp column with pandas on "
    "ds.to_pandas_dataframe()"
)
_FRAMES = (
    "Spark and Dask frames are not made here; build one from ds.to_pandas_dataframe() (spark.createDataFrame)"
)
_HDFS = "HDFS paths and data caches need Azure compute; give the dataset with as_mount() or as_download()"
_ARCHIVE = "registered versions stay in the workspace; register a new version instead"


class RegisteredV1:
    """What both kinds of registered dataset add to v1's surface."""

    name: str | None
    version: int | None
    description: str | None
    tags: dict[str, str]
    _workspace: Any

    def _registered(self, what: str) -> tuple[Any, str, int]:
        if self.name is None or self.version is None or self._workspace is None:
            raise InvalidInputError(f"{what}: the dataset is not registered (ds.register(ws, name) first)")
        return self._workspace, self.name, self.version

    def update(self, description: str | None = None, tags: dict[str, Any] | None = None) -> Any:
        """Change a registered dataset's description and/or tags (replacing them); return it."""
        from modelport.registry import datasets as registry

        ws, name, version = self._registered("update")
        new_tags = None if tags is None else {str(k): str(v) for k, v in tags.items()}
        registry.update(ws, name, version, description=description, tags=new_tags)
        if description is not None:
            self.description = description
        if new_tags is not None:
            self.tags = new_tags
        return self

    def add_tags(self, tags: dict[str, Any]) -> Any:
        return self.update(tags={**self.tags, **{str(k): str(v) for k, v in tags.items()}})

    def remove_tags(self, tags: builtins.list[str] | str) -> Any:
        names = [tags] if isinstance(tags, str) else list(tags)
        return self.update(tags={k: v for k, v in self.tags.items() if k not in names})

    data_changed_time = None  # v1's change time of the source data, from Azure: not kept here
    unregister_all_versions = refused_method("unregister_all_versions", _ARCHIVE)
    filter = refused_method("filter", _PANDAS)
    random_split = refused_method("random_split", _PANDAS)
    take_sample = refused_method("take_sample", _PANDAS)
    as_hdfs = refused_method("as_hdfs", _HDFS)


class FileDatasetV1(RegisteredV1):
    """v1's ``FileDataset`` members beyond ``dataset.py``'s."""

    as_cache = refused_method("FileDataset.as_cache", _HDFS)
    hydrate = refused_method("FileDataset.hydrate", _HDFS)
    file_metadata = refused_method(
        "FileDataset.file_metadata", "list the files with ds.to_path() and read their metadata with os.stat"
    )
    take = refused_method("FileDataset.take", "pick files from ds.to_path() and make a dataset of them")
    skip = refused_method("FileDataset.skip", "pick files from ds.to_path() and make a dataset of them")


class TabularDatasetV1(RegisteredV1):
    """v1's ``TabularDataset`` members beyond ``dataset.py``'s."""

    timestamp_columns = (None, None)  # v1's (fine grain, coarse grain): none are set here
    with_timestamp_columns = refused_method("TabularDataset.with_timestamp_columns", _TIME)
    time_after = refused_method("TabularDataset.time_after", _TIME)
    time_before = refused_method("TabularDataset.time_before", _TIME)
    time_between = refused_method("TabularDataset.time_between", _TIME)
    time_recent = refused_method("TabularDataset.time_recent", _TIME)
    get_profile = refused_method("TabularDataset.get_profile", _PROFILE)
    get_profile_runs = refused_method("TabularDataset.get_profile_runs", _PROFILE)
    submit_profile_run = refused_method("TabularDataset.submit_profile_run", _PROFILE)
    to_spark_dataframe = refused_method("TabularDataset.to_spark_dataframe", _FRAMES)
    to_dask_dataframe = refused_method("TabularDataset.to_dask_dataframe", _FRAMES)
    to_parquet_files = refused_method(
        "TabularDataset.to_parquet_files",
        "write ds.to_pandas_dataframe().to_parquet(path), or use to_csv_files()",
    )
    _ROWS = (
        "a tabular dataset is read as rows here; read it with ds.to_pandas_dataframe(), or use a FileDataset"
    )
    download = refused_method("TabularDataset.download", _ROWS)
    mount = refused_method("TabularDataset.mount", _ROWS)


_LEGACY = (
    "v1's pre-1.0 Dataset API was deprecated in v1 itself; make datasets with Dataset.Tabular.* or "
    "Dataset.File.*, register them with ds.register(ws, name) and get them with Dataset.get_by_name"
)


class LegacyDatasetV1:
    """v1's old ``Dataset`` class members (``Dataset.from_delimited_files``, ``Dataset.archive``, ...):
    refused; ``dataset.py`` gives ``Dataset`` v1's old ``get`` and ``list``."""


for _name in [
    "archive",
    "auto_read_files",
    "compare_profiles",
    "create_snapshot",
    "definition",
    "definition_version",
    "delete_snapshot",
    "deprecate",
    "description",
    "diff",
    "from_binary_files",
    "from_delimited_files",
    "from_excel_files",
    "from_json_files",
    "from_pandas_dataframe",
    "from_parquet_files",
    "from_sql_query",
    "generate_profile",
    "get_all_snapshots",
    "get_definition",
    "get_definitions",
    "get_profile",
    "get_snapshot",
    "head",
    "id",
    "is_visible",
    "name",
    "reactivate",
    "register",
    "sample",
    "state",
    "tags",
    "to_pandas_dataframe",
    "to_spark_dataframe",
    "update",
    "update_definition",
    "workspace",
]:
    setattr(LegacyDatasetV1, _name, staticmethod(refused_method(f"Dataset.{_name}", _LEGACY)))

DatasetV1 = LegacyDatasetV1
