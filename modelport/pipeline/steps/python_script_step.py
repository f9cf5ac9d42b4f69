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
import sys
from typing import Any

from modelport.errors import InvalidInputError, NotSupported
from modelport.pipeline.core.builder import PipelineData, PipelineStep, identity
from modelport.pipeline.steps._common import (
    check_compute,
    check_script,
    runconfig_parts,
    source_folder,
    step_params,
)

__all__ = ["PythonScriptStep"]


class PythonScriptStep(PipelineStep):
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
        check_compute(compute_target, what)
        if runconfig_pipeline_params:
            raise NotSupported(
                f"{what}: runconfig_pipeline_params sets cloud run settings per run; give the values in "
                "the runconfig, or pass a PipelineParameter as an argument"
            )
        self.script_name = script_name
        self.source_directory = source_folder(source_directory, what)
        check_script(self.source_directory or os.getcwd(), script_name, what)
        self._environment, self._variables = runconfig_parts(runconfig, what)
        self._params = step_params(params, what)
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
        builder.begin(self)
        for inp in self._inputs:
            if not any(identity(inp) is identity(o) for o in self._outputs):
                builder.input(inp)
        arguments = [builder.argument(a) for a in self._arguments]
        folder = self.source_directory or getattr(builder, "default_source_directory", None) or os.getcwd()
        check_script(folder, self.script_name, f"PythonScriptStep '{self.name}'")
        variables = {k: {"v": v} for k, v in self._variables.items()}
        for key, value in self._params.items():
            variables[f"AML_PARAMETER_{key}"] = builder.value(value, f"step '{self.name}': params['{key}']")
        return builder.end(
            {
                "kind": "script",
                "source_directory": folder,
                "script": self.script_name,
                "arguments": arguments,
                "command": None,
                "environment": self._environment,
                "interpreter": sys.executable,
                "environment_variables": variables,
            }
        )
