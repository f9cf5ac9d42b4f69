"""v1's ``azureml.core.script_run``: ``ScriptRun``, the run of a submitted script.

``Experiment.submit(ScriptRunConfig(...))`` returns one, and ``Run.list`` opens a script's run as
one; it is a :class:`~modelport.core.run.Run` with v1's ``RUN_TYPE``.
"""

from __future__ import annotations

from modelport.core.run import Run

__all__ = ["ScriptRun"]


class ScriptRun(Run, kinds=("script",)):
    """The run of a script submitted with ``Experiment.submit(ScriptRunConfig(...))``."""

    RUN_TYPE = "azureml.scriptrun"
