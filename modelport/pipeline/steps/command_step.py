"""v1's ``CommandStep``: a command (``python train.py``, ``Rscript x.R``, any program) as a step.

Example::

    step = CommandStep(name="count", command=["python", "count.py", "--out", counted],
                       source_directory="scripts")
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import Any

from modelport.errors import InvalidInputError
from modelport.pipeline.core.builder import PipelineStep, identity
from modelport.pipeline.steps._common import check_compute, runconfig_parts, source_folder, step_params

__all__ = ["CommandStep"]


class CommandStep(PipelineStep):
    """Run ``command`` (a string or a list; its items may be inputs, outputs and parameters) in
    ``source_directory``; a leading ``python`` is the step's environment's Python."""

    def __init__(
        self,
        command: str | list[Any] | None = None,
        name: str | None = None,
        compute_target: Any = None,
        runconfig: Any = None,
        runconfig_pipeline_params: dict[str, Any] | None = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        params: dict[str, Any] | None = None,
        source_directory: str | None = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ) -> None:
        what = f"CommandStep '{name or 'command'}'"
        check_compute(compute_target, what)
        if command is None or (isinstance(command, str) and not command.strip()):
            raise InvalidInputError(f"{what}: give the command to run")
        items = shlex.split(command) if isinstance(command, str) else list(command)
        if not items:
            raise InvalidInputError(f"{what}: give the command to run")
        self.source_directory = source_folder(source_directory, what)
        self._environment, self._variables = runconfig_parts(runconfig, what)
        self._params = step_params(params, what)
        super().__init__(name or "command_step", inputs, outputs, items, allow_reuse)

    def _graph(self, builder: Any) -> dict[str, Any]:
        builder.begin(self)
        for inp in self._inputs:
            if not any(identity(inp) is identity(o) for o in self._outputs):
                builder.input(inp)
        command = [builder.argument(a) for a in self._arguments]
        folder = self.source_directory or getattr(builder, "default_source_directory", None) or os.getcwd()
        variables = {k: {"v": v} for k, v in self._variables.items()}
        for key, value in self._params.items():
            variables[f"AML_PARAMETER_{key}"] = builder.value(value, f"step '{self.name}': params['{key}']")
        return builder.end(
            {
                "kind": "script",
                "source_directory": folder,
                "script": None,
                "arguments": [],
                "command": command,
                "environment": self._environment,
                "interpreter": sys.executable,
                "environment_variables": variables,
            }
        )
