"""v1's ``azureml.pipeline``: pipelines of steps run on this machine.

``modelport.pipeline.core`` holds ``Pipeline``, ``PipelineData``, ``PipelineParameter``,
``PipelineRun``, ``StepRun`` and ``PublishedPipeline``; ``modelport.pipeline.steps`` holds
``PythonScriptStep``, ``CommandStep``, ``ParallelRunConfig`` and ``ParallelRunStep``. See
``docs/pipelines.md`` for how v1's pipeline API maps onto local runs.
"""

from __future__ import annotations
