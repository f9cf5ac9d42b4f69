"""v1's ``azureml.data``: the dataset classes and a step's output configurations.

Example::

    from modelport.data import TabularDataset, OutputFileDatasetConfig
"""

from __future__ import annotations

from modelport.core.dataset import FileDataset, TabularDataset
from modelport.data.output_dataset_config import OutputFileDatasetConfig, OutputTabularDatasetConfig

__all__ = ["FileDataset", "OutputFileDatasetConfig", "OutputTabularDatasetConfig", "TabularDataset"]
