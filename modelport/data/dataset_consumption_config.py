"""v1's ``azureml.data.dataset_consumption_config``: how a run or a pipeline step gets a dataset.

Example (v1's batch-inference cells, ``azureml`` renamed)::

    from modelport.data.dataset_consumption_config import DatasetConsumptionConfig
    from modelport.pipeline.core import PipelineParameter

    param = PipelineParameter(name="mnist_param", default_value=mnist_ds)
    mnist_input = DatasetConsumptionConfig("mnist_param_config", param).as_mount()
"""

from __future__ import annotations

from modelport.core.dataset import DatasetConsumptionConfig

__all__ = ["DatasetConsumptionConfig"]
