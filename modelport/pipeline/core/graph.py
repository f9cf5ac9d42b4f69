"""v1's ``azureml.pipeline.core.graph``: ``PipelineParameter`` and the graph's other names.

Example (v1's publish-and-run notebook, ``azureml`` renamed)::

    from modelport.pipeline.core.graph import PipelineParameter
    pipeline_param = PipelineParameter(name="pipeline_arg", default_value=10)
    compare = PythonScriptStep(script_name="compare.py", arguments=["--pipeline_param", pipeline_param])
    run = Experiment(ws, "exp").submit(pipeline, pipeline_parameters={"pipeline_arg": 45})
"""

from __future__ import annotations

import re
from typing import Any

from modelport.errors import InvalidInputError
from modelport.pipeline.core._refused import InputPortBinding, OutputPortBinding, TrainingOutput

__all__ = ["InputPortBinding", "OutputPortBinding", "PipelineParameter", "TrainingOutput", "parameter_type"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,254}$")


def parameter_type(value: Any, what: str) -> str:
    """The kind of a parameter's value: ``int``, ``float``, ``bool``, ``string``, ``dataset`` or
    ``datapath``; anything else is an :class:`InvalidInputError` naming ``what``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if hasattr(value, "_full_definition") and hasattr(value, "partition_keys"):
        return "dataset"
    if hasattr(value, "path_on_datastore") and hasattr(value, "datastore"):
        return "datapath"
    raise InvalidInputError(
        f"{what}: a pipeline parameter is a number, a string, a bool, a dataset or a DataPath, "
        f"got {type(value).__name__}"
    )


class PipelineParameter:
    """A value given when a pipeline run is submitted; ``default_value`` when it is not.

    It may stand for a script argument, a step's ``params`` value, a dataset input
    (``DatasetConsumptionConfig(name, param)``), a ``DataPath``, and the ParallelRunConfig values v1
    allowed (``mini_batch_size``, ``process_count_per_node``, ``node_count``, ``logging_level``,
    ``run_invocation_timeout``, ``run_max_try``, ``partition_keys``).
    """

    def __init__(self, name: str, default_value: Any) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InvalidInputError(
                f"invalid pipeline parameter name {name!r}: letters, digits, '_', '.' and '-', starting with "
                "a letter or '_'"
            )
        self.name = name
        self.default_value = default_value
        self.type = parameter_type(default_value, f"pipeline parameter '{name}'")

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"

    def __str__(self) -> str:
        return f"PipelineParameter_Name:{self.name}_Default:{self.default_value}"
