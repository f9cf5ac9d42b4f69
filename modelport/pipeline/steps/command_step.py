"""v1's ``CommandStep``: a command (``python train.py``, ``Rscript x.R``, any program) as a step.

Example::

    step = CommandStep(name="count", command=["python", "count.py", "--out", counted],
                       source_directory="scripts")
"""

from __future__ import annotations

import shlex
from typing import Any

from modelport.errors import InvalidInputError
from modelport.pipeline.steps._common import ScriptLikeStep

__all__ = ["CommandStep"]


class CommandStep(ScriptLikeStep):
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
        if command is None or (isinstance(command, str) and not command.strip()):
            raise InvalidInputError(f"{what}: give the command to run")
        items = shlex.split(command) if isinstance(command, str) else list(command)
        if not items:
            raise InvalidInputError(f"{what}: give the command to run")
        self._settle(what, compute_target, runconfig, runconfig_pipeline_params, params, source_directory)
        super().__init__(name or "command_step", inputs, outputs, items, allow_reuse)

    def _graph(self, builder: Any) -> dict[str, Any]:
        return self._script_graph(builder, None, as_command=True)
