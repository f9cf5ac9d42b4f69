"""v1's ``ParallelRunStep``: score many files or rows in mini-batches, in parallel, as a step.

The step's run is a batch run (:mod:`modelport.jobs.batch`): the entry script's ``init()`` runs
once per worker process and ``run(mini_batch)`` once per mini-batch; with
``output_action='append_row'`` what ``run()`` returns lands in ``append_row_file_name`` in the
step's output folder. Resubmitting a pipeline whose ParallelRunStep was interrupted scores only
the mini-batches not yet done.

Example (v1's batch-inference notebooks, ``azureml`` renamed)::

    parallelrun_step = ParallelRunStep(
        name="predict-digits-mnist",
        parallel_run_config=parallel_run_config,
        inputs=[mnist_ds.as_named_input("mnist").as_mount()],
        output=PipelineData(name="inferences", datastore=def_data_store),
        arguments=["--model_name", "mnist"],
        allow_reuse=False)
"""

from __future__ import annotations

import re
import sys
from typing import Any

from modelport.core.dataset import DatasetConsumptionConfig, FileDataset, TabularDataset, _Registered
from modelport.core.datastore import DataReference
from modelport.data.output_dataset_config import OutputDatasetConfig, OutputInput
from modelport.errors import InvalidInputError
from modelport.pipeline.core.builder import PipelineData, PipelineStep, _PipelineDataView
from modelport.pipeline.core.graph import PipelineParameter
from modelport.pipeline.steps.parallel_run_config import ParallelRunConfig, mini_batch_size, partition_keys

__all__ = ["ParallelRunStep"]

_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
#: Argument names ParallelRunStep keeps for itself (v1's list).
RESERVED = (
    "mini_batch_size",
    "error_threshold",
    "allowed_failed_count",
    "allowed_failed_percent",
    "output",
    "output_action",
    "logging_level",
    "process_count_per_node",
    "run_invocation_timeout",
    "run_max_try",
    "append_row_file_name",
)


def _kind(obj: Any, step: str) -> str:
    """``files`` or ``tabular``: what a ParallelRunStep input is."""
    if isinstance(obj, DatasetConsumptionConfig):
        ds = obj.dataset.default_value if isinstance(obj.dataset, PipelineParameter) else obj.dataset
        if isinstance(ds, TabularDataset):
            if obj.mode != "direct":
                raise InvalidInputError(
                    f"ParallelRunStep '{step}': tabular input '{obj.name}' must be given directly"
                )
            return "tabular"
        if isinstance(ds, FileDataset):
            return "files"
    if isinstance(obj, OutputInput | _PipelineDataView):
        return obj.kind
    if isinstance(obj, PipelineData):
        return "files"
    if isinstance(obj, _Registered):
        raise InvalidInputError(
            f"ParallelRunStep '{step}': give each input dataset a name: ds.as_named_input('name')"
        )
    raise InvalidInputError(
        f"ParallelRunStep '{step}': an input must be a dataset "
        "(ds.as_named_input(name)), a PipelineData or an "
        f"output's .as_input(), got {type(obj).__name__}"
    )


class ParallelRunStep(PipelineStep):
    """Split ``inputs`` into mini-batches and call the entry script's ``run()`` on each."""

    @property
    def running_on_windows(self) -> bool:
        """Whether the step's compute runs Windows: it runs on this machine."""
        return sys.platform == "win32"

    def __init__(
        self,
        name: str,
        parallel_run_config: ParallelRunConfig,
        inputs: list[Any],
        output: Any = None,
        side_inputs: list[Any] | None = None,
        arguments: list[Any] | None = None,
        allow_reuse: bool = True,
    ) -> None:
        if not isinstance(name, str) or not 3 <= len(name) <= 32 or not _NAME.match(name):
            raise InvalidInputError(
                f"ParallelRunStep name {name!r} must be 3-32 characters: lowercase letters, digits and '-', "
                "starting with a letter and not ending with '-'"
            )
        if not isinstance(parallel_run_config, ParallelRunConfig):
            raise InvalidInputError(
                f"ParallelRunStep '{name}': parallel_run_config must be a ParallelRunConfig"
            )
        if not isinstance(inputs, list | tuple) or not inputs:
            raise InvalidInputError(f"ParallelRunStep '{name}': inputs must be a list of at least one input")
        kinds = {_kind(i, name) for i in inputs}
        if len(kinds) > 1:
            raise InvalidInputError(
                f"ParallelRunStep '{name}': all inputs must be of one kind, files or tabular; they mix both"
            )
        self.input_kind = kinds.pop()
        config = parallel_run_config
        if not isinstance(config.mini_batch_size, PipelineParameter):
            mini_batch_size(config.mini_batch_size, self.input_kind)
        if output is None and config.output_action == "append_row":
            raise InvalidInputError(
                f"ParallelRunStep '{name}': output_action 'append_row' needs an output (a PipelineData or an "
                "OutputFileDatasetConfig) to append the rows to"
            )
        if output is not None and not isinstance(output, PipelineData | OutputDatasetConfig):
            raise InvalidInputError(
                f"ParallelRunStep '{name}': output must be a PipelineData or an OutputFileDatasetConfig"
            )
        args = list(arguments or [])
        if args and not (isinstance(args[0], str) and args[0].startswith("-")):
            raise InvalidInputError(
                f"ParallelRunStep '{name}': arguments must start "
                f"with an option ('--name value'), got {args[0]!r}"
            )
        for item in args:
            if isinstance(item, str) and item.startswith("--") and item[2:].split("=")[0] in RESERVED:
                raise InvalidInputError(
                    f"ParallelRunStep '{name}': '{item}' is an argument "
                    "ParallelRunStep keeps for itself; use another name"
                )
        keys = (
            None
            if isinstance(config.partition_keys, PipelineParameter)
            else partition_keys(config.partition_keys)
        )
        for obj in inputs:
            ds = getattr(obj, "dataset", None)
            ds = ds.default_value if isinstance(ds, PipelineParameter) else ds
            if keys and isinstance(ds, _Registered):
                missing = [k for k in keys if k not in ds.partition_keys]
                if missing:
                    raise InvalidInputError(
                        f"ParallelRunStep '{name}': input '{obj.name}' is not partitioned by "
                        f"{', '.join(map(repr, missing))}; its partition keys: {ds.partition_keys or 'none'}"
                    )
        self.parallel_run_config = config
        self._side_inputs = list(side_inputs or [])
        for side in self._side_inputs:
            if not isinstance(
                side,
                DatasetConsumptionConfig | DataReference | PipelineData | OutputInput | _PipelineDataView,
            ):
                raise InvalidInputError(
                    f"ParallelRunStep '{name}': a side input is a "
                    "dataset (as_named_input), a DataReference, a "
                    f"PipelineData or an output's .as_input(), got {type(side).__name__}"
                )
        super().__init__(name, list(inputs), [output] if output is not None else [], args, allow_reuse)

    def _graph(self, builder: Any) -> dict[str, Any]:
        builder.begin(self)
        config = self.parallel_run_config
        input_names = [builder.input(i) for i in self._inputs]
        side_names = [builder.input(s) for s in self._side_inputs]
        arguments = [builder.argument(a) for a in self._arguments]
        output = self._outputs[0].name if self._outputs else None

        def value(v: Any) -> Any:
            return (
                {"param": builder.param(v, f"step '{self.name}'")} if isinstance(v, PipelineParameter) else v
            )

        batch = {
            "entry_script": config.entry_script,
            "mini_batch_size": value(config.mini_batch_size),
            "error_threshold": config.error_threshold,
            "allowed_failed_count": config.allowed_failed_count,
            "allowed_failed_percent": config.allowed_failed_percent,
            "output_action": config.output_action,
            "append_row_file_name": config.append_row_file_name,
            "process_count_per_node": value(config.process_count_per_node),
            "node_count": value(config.node_count),
            "run_invocation_timeout": value(config.run_invocation_timeout),
            "run_max_try": value(config.run_max_try),
            "logging_level": value(config.logging_level),
            "partition_keys": value(config.partition_keys),
            "environment_variables": config.environment_variables,
            "input_names": input_names,
            "side_input_names": side_names,
            "output": output,
        }
        import os

        return builder.end(
            {
                "kind": "batch",
                "source_directory": config.source_directory
                or builder.default_source_directory
                or os.getcwd(),
                "script": config.entry_script,
                "arguments": arguments,
                "command": None,
                "environment": config._environment_spec,
                "interpreter": sys.executable,
                "environment_variables": {},
                "batch": batch,
                "compute": config._compute,
            }
        )
