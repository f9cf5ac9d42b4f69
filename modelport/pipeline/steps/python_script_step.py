"""v1's ``PythonScriptStep``: a Python script run as one step of a pipeline, on this machine.

Example (v1's data-dependency notebook, ``azureml`` renamed)::

    train = PythonScriptStep(
        script_name="train.py",
        arguments=["--input_data", blob_input_data, "--output_train", processed_data1],
        inputs=[blob_input_data],
        outputs=[processed_data1],
        source_directory="train",
        runconfig=run_config,          # its environment is built (and cached) for this step
        allow_reuse=True,
    )
"""

from __future__ import annotations

import os
from typing import Any

from modelport.errors import InvalidInputError
from modelport.pipeline.core.builder import PipelineData, identity
from modelport.pipeline.steps._common import ScriptLikeStep, check_script

__all__ = ["PythonScriptStep"]


class PythonScriptStep(ScriptLikeStep):
    """Run ``script_name`` from ``source_directory`` with ``arguments``.

    Arguments may hold plain values, ``PipelineParameter``s, datasets
    (``ds.as_named_input('x').as_mount()``), ``PipelineData`` and ``OutputFileDatasetConfig``
    outputs and their ``.as_input()``: the script gets a value or a local path for each. The step
    runs in ``runconfig``'s environment (this Python when there is none). ``params`` become
    environment variables ``AML_PARAMETER_<name>``.
    """

    def __init__(
        self,
        script_name: str,
        name: str | None = None,
        arguments: list[Any] | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        runconfig_pipeline_params: dict[str, Any] | None = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
        hash_paths: list[str] | None = None,
    ) -> None:
        what = f"PythonScriptStep '{name or script_name}'"
        self._settle(what, compute_target, runconfig, runconfig_pipeline_params, params, source_directory)
        self.script_name = script_name
        check_script(self.source_directory or os.getcwd(), script_name, what)
        args = list(arguments or []) if not isinstance(arguments, str) else None
        if args is None:
            raise InvalidInputError(f"{what}: arguments must be a list, e.g. ['--alpha', 0.5]")
        outs = list(outputs or [])
        ins = list(inputs or [])
        # A PipelineData among the arguments that no earlier step writes and that is not an
        # input is written by this step (v1 added it to the step's outputs).
        for arg in args:
            if (
                isinstance(arg, PipelineData)
                and getattr(identity(arg), "_producer", None) is None
                and not any(identity(i) is identity(arg) for i in [*ins, *outs])
            ):
                outs.append(arg)
        super().__init__(name or script_name, ins, outs, args, allow_reuse)

    def _graph(self, builder: Any) -> dict[str, Any]:
        return self._script_graph(builder, self.script_name, as_command=False)
