"""v1's ``azureml.data``: the dataset classes, for code that imports them from there.

Example::

    from modelport.data import TabularDataset
"""

from __future__ import annotations

from modelport.core.dataset import FileDataset, TabularDataset

__all__ = ["FileDataset", "TabularDataset"]
