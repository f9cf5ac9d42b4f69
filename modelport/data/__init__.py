"""v1's ``azureml.data``: the dataset classes and a step's output configurations.

Example::

    from modelport.data import TabularDataset, OutputFileDatasetConfig
"""

from __future__ import annotations

from modelport._refused import refused
from modelport.core.dataset import FileDataset, TabularDataset
from modelport.data.output_dataset_config import (
    HDFSOutputDatasetConfig,
    LinkFileOutputDatasetConfig,
    LinkTabularOutputDatasetConfig,
    OutputFileDatasetConfig,
    OutputTabularDatasetConfig,
)

__all__ = [
    "DataType",
    "DatacacheStore",
    "FileDataset",
    "HDFSOutputDatasetConfig",
    "LinkFileOutputDatasetConfig",
    "LinkTabularOutputDatasetConfig",
    "OutputFileDatasetConfig",
    "OutputTabularDatasetConfig",
    "TabularDataset",
]

DataType = refused(
    "DataType",
    "column types are not set on a dataset here (set_column_types is refused too); convert the "
    "columns of ds.to_pandas_dataframe() with pandas (astype, to_datetime)",
    __name__,
)
DatacacheStore = refused(
    "DatacacheStore",
    "data caches are Azure storage for remote compute; local steps read the datastore's folder directly",
    __name__,
)
