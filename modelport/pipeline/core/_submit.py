"""Starting a pipeline run of a graph: what ``Experiment.submit(pipeline)``, a published
pipeline's ``submit`` and its REST endpoint share."""

from __future__ import annotations

import json
from typing import Any

from modelport.core.experiment import Experiment
from modelport.jobs import pipeline as runner
from modelport.jobs import run_dir
from modelport.pipeline.core._plan import resolve
from modelport.pipeline.core.run import GRAPH_FILE, PipelineRun

__all__ = ["submit_graph"]


def submit_graph(
    experiment: Experiment,
    graph: dict[str, Any],
    parameters: dict[str, Any] | None,
    *,
    regenerate_outputs: bool = False,
    continue_on_step_failure: bool | None = None,
    tags: dict[str, Any] | None = None,
    display_name: str | None = None,
    published_id: str | None = None,
) -> Any:
    """Resolve ``graph`` with ``parameters`` and start a pipeline run of it; return its PipelineRun."""
    ws = experiment.workspace
    plan = resolve(
        ws,
        graph,
        parameters,
        regenerate_outputs=regenerate_outputs,
        continue_on_step_failure=continue_on_step_failure,
    )
    record = runner.submit(
        ws,
        experiment.name,
        plan,
        tags=tags,
        display_name=display_name,
        details={"publishedPipelineId": published_id} if published_id else None,
    )
    (run_dir(ws, record.id) / GRAPH_FILE).write_text(json.dumps(graph))
    return PipelineRun._wrap(experiment, record)
