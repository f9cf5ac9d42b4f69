"""A pipeline's ParallelRunStep as a batch run: its plan entry turned into a :class:`BatchSpec`.

Everything is resolved by now (parameters, datasets as files, the environment as an interpreter),
so the same step submitted again makes the same spec, and the batch runner's fingerprint finds
the mini-batches an interrupted run of it already scored.
"""

from __future__ import annotations

from typing import Any

from modelport.jobs import batch
from modelport.jobs.pipeline_types import Inputs, StepContext, step_details
from modelport.jobs.ray import RayCompute
from modelport.registry import runs as registry

__all__ = ["start_batch"]


def _text(item: dict[str, Any], inputs: Inputs, outputs: dict[str, dict[str, str]]) -> str:
    if "v" in item:
        return str(item["v"])
    if "input" in item:
        return inputs.paths[item["input"]]
    return outputs[item["output"]]["absolute"]


def build_spec(
    ctx: StepContext,
    step: dict[str, Any],
    interpreter: str,
    inputs: Inputs,
    outputs: dict[str, dict[str, str]],
) -> batch.BatchSpec:
    config = step["batch"]
    batch_inputs = []
    for name in config["input_names"]:
        spec = step["inputs"][name]
        files = inputs.files[name]
        kind = spec["as"] if spec["kind"] == "step" else spec["kind"]
        partitions = tuple(spec.get("partitions") or ()) if config["partition_keys"] else ()
        batch_inputs.append(
            batch.BatchInput(
                name=name,
                kind=kind,
                files=tuple(source for source, _rel in files),
                reader=dict(spec.get("reader") or {}) if kind == "tabular" else {},
                partition_values=partitions,
            )
        )
    if config.get("output"):
        output_dir = outputs[config["output"]]["absolute"]
    else:  # summary_only with no output: the script keeps what it writes itself
        output_dir = str(ctx.outputs_folder(step))
    variables = dict((step.get("environment") or {}).get("environment_variables") or {})
    variables.update(config.get("environment_variables") or {})
    return batch.BatchSpec(
        entry_script=config["entry_script"],
        source_directory=step["source_directory"],
        interpreter=interpreter,
        inputs=tuple(batch_inputs),
        output_dir=output_dir,
        mini_batch_size=int(config["mini_batch_size"]),
        process_count_per_node=int(config["process_count_per_node"]),
        node_count=int(config["node_count"]),
        error_threshold=int(config["error_threshold"]),
        allowed_failed_count=config.get("allowed_failed_count"),
        allowed_failed_percent=config.get("allowed_failed_percent"),
        output_action=config["output_action"],
        append_row_file_name=config["append_row_file_name"],
        run_invocation_timeout=int(config["run_invocation_timeout"]),
        run_max_try=int(config["run_max_try"]),
        partition_keys=tuple(config["partition_keys"]),
        environment_variables=variables,
        logging_level=config["logging_level"],
        arguments=tuple(_text(i, inputs, outputs) for i in step.get("arguments") or []),
        side_inputs={n: inputs.paths[n] for n in config.get("side_input_names") or []},
    )


def start_batch(
    ctx: StepContext,
    step: dict[str, Any],
    interpreter: str,
    inputs: Inputs,
    outputs: dict[str, dict[str, str]],
    key: str,
    compute: RayCompute | None = None,
) -> registry.RunRecord:
    """Submit the step's batch run as a child of the pipeline run (on ``compute``'s Ray cluster
    when the step names one)."""
    spec = build_spec(ctx, step, interpreter, inputs, outputs)
    record = batch.submit(
        ctx.ws,
        ctx.experiment,
        spec,
        parent_id=ctx.pipeline_run_id,
        display_name=step["name"],
        compute=compute,
    )
    registry.update_run(
        ctx.ws,
        record.id,
        details=step_details(step, key, outputs),
    )
    return registry.get_run(ctx.ws, record.id)
