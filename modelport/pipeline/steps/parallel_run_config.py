"""v1's ``ParallelRunConfig``: how a ``ParallelRunStep`` splits its input and runs its entry script.

Every value is checked when the config is made (and again, with the values given at submit, for
those that are ``PipelineParameter``s), with one line naming what is wrong.

Example (v1's batch-inference notebook, ``azureml`` renamed)::

    parallel_run_config = ParallelRunConfig(
        source_directory="Code", entry_script="digit_identification.py",
        mini_batch_size=PipelineParameter(name="batch_size_param", default_value="5"),
        error_threshold=10, output_action="append_row", append_row_file_name="mnist_outputs.txt",
        environment=batch_env, compute_target="local",
        process_count_per_node=PipelineParameter(name="process_count_param", default_value=2),
        node_count=1)
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from modelport._refused import refused_method
from modelport.errors import InvalidInputError
from modelport.jobs.batch import parse_mini_batch_size
from modelport.pipeline.core.graph import PipelineParameter
from modelport.pipeline.steps._common import (
    check_compute,
    check_script,
    compute_name,
    environment_spec,
    source_folder,
)

__all__ = ["ParallelRunConfig", "check_batch_values"]

DEFAULT_FILES = 10  # v1: 10 files per mini-batch for file inputs
DEFAULT_BYTES = 1024 * 1024  # v1: about 1 MB per mini-batch for tabular inputs
_BAD_FILE_NAME = re.compile(r'[~"#%&*:<>?\/\\{|}]')
_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
#: What a PipelineParameter may stand for (v1's list, and partition_keys as a JSON list).
PARAMETER_FIELDS = (
    "mini_batch_size",
    "node_count",
    "process_count_per_node",
    "logging_level",
    "run_invocation_timeout",
    "run_max_try",
    "partition_keys",
)


def _int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(f"{name} must be a whole number >= {low}, got {value!r}")
    return value


def mini_batch_size(value: Any, kind: str | None) -> int | None:
    """``mini_batch_size`` as a number: files (file inputs) or bytes (tabular; ``'1KB'``, ``'10MB'``).
    ``kind`` None (not known yet) checks the form only; None stays None (the kind's default)."""
    if value is None:
        return None
    if not isinstance(value, int | str) or isinstance(value, bool):
        raise InvalidInputError(
            f"mini_batch_size must be a number or a string like '5' or '1MB', got {value!r}"
        )
    return parse_mini_batch_size(value, kind or "tabular")


def partition_keys(value: Any) -> list[str] | None:
    """``partition_keys``: a list of key names (as a PipelineParameter: its JSON text)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInputError(
                f"partition_keys given as text must be a JSON list, got {value!r}"
            ) from None
    if not isinstance(value, list | tuple) or not value or not all(isinstance(k, str) and k for k in value):
        raise InvalidInputError(f"partition_keys must be a non-empty list of key names, got {value!r}")
    return list(value)


def _check_one(name: str, value: Any) -> Any:
    """One ParallelRunConfig value that may also come from a PipelineParameter."""
    if name == "mini_batch_size":
        mini_batch_size(value, None)
    elif name == "node_count":
        _int("node_count", value, 1)
    elif name == "process_count_per_node":
        if value is not None:
            _int("process_count_per_node", value, 1)
    elif name == "logging_level":
        if not isinstance(value, str) or value.upper() not in _LEVELS:
            raise InvalidInputError(f"logging_level must be one of {', '.join(_LEVELS)}, got {value!r}")
    elif name in ("run_invocation_timeout", "run_max_try"):
        _int(name, value, 1)
    elif name == "partition_keys":
        partition_keys(value)
    return value


class ParallelRunConfig:
    """The settings of a ``ParallelRunStep`` (v1's signature; ``compute_target`` may be left out,
    and ``environment=None`` runs the entry script with this Python). On an ``AmlCompute``
    target the workers are ``node_count`` x ``process_count_per_node`` Ray actors on its cluster;
    ``node_count`` is checked against its ``max_nodes``, as v1 did."""

    _YAML = "ParallelRunConfig is not kept as a YAML file here; keep its settings in code"
    save_to_yaml = refused_method("ParallelRunConfig.save_to_yaml", _YAML)
    load_yaml = staticmethod(refused_method("ParallelRunConfig.load_yaml", _YAML))

    def __init__(
        self,
        environment: Any,
        entry_script: str,
        error_threshold: int,
        output_action: str,
        compute_target: Any = None,
        node_count: Any = 1,
        process_count_per_node: Any = None,
        mini_batch_size: Any = None,
        source_directory: str | None = None,
        description: str | None = None,
        logging_level: Any = "INFO",
        run_invocation_timeout: Any = 60,
        run_max_try: Any = 3,
        append_row_file_name: str | None = None,
        allowed_failed_count: int | None = None,
        allowed_failed_percent: float | None = None,
        partition_keys: Any = None,
        environment_variables: dict[str, str] | None = None,
    ) -> None:
        what = "ParallelRunConfig"
        check_compute(compute_target, what)
        self.environment = environment
        self._environment_spec = environment_spec(environment, what)
        self.source_directory = source_folder(source_directory, what)
        check_script(self.source_directory or os.getcwd(), entry_script, what, entry_script=True)
        self.entry_script = entry_script.strip()
        _int("error_threshold", error_threshold, -1)
        if not isinstance(output_action, str) or output_action.lower() not in ("append_row", "summary_only"):
            raise InvalidInputError(
                f"output_action must be 'append_row' or 'summary_only', got {output_action!r}"
            )
        if allowed_failed_count is not None:
            _int("allowed_failed_count", allowed_failed_count, -1)
        if allowed_failed_percent is not None and (
            isinstance(allowed_failed_percent, bool)
            or not isinstance(allowed_failed_percent, int | float)
            or not 0 <= allowed_failed_percent <= 100
        ):
            raise InvalidInputError(
                f"allowed_failed_percent must be a number from 0 to 100, got {allowed_failed_percent!r}"
            )
        if append_row_file_name is not None and (
            not isinstance(append_row_file_name, str)
            or not append_row_file_name
            or _BAD_FILE_NAME.search(append_row_file_name)
        ):
            raise InvalidInputError(
                f"append_row_file_name must be a valid UNIX file name, got {append_row_file_name!r}"
            )
        if environment_variables is not None and (
            not isinstance(environment_variables, dict)
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in environment_variables.items())
        ):
            raise InvalidInputError("environment_variables must be a dict of strings to strings")
        values = {
            "mini_batch_size": mini_batch_size,
            "node_count": node_count,
            "process_count_per_node": process_count_per_node,
            "logging_level": logging_level,
            "run_invocation_timeout": run_invocation_timeout,
            "run_max_try": run_max_try,
            "partition_keys": partition_keys,
        }
        for name, value in values.items():
            if isinstance(value, PipelineParameter):
                _check_one(name, value.default_value)
            else:
                _check_one(name, value)
        _check_node_count(compute_target, node_count)
        if partition_keys is not None and mini_batch_size is not None:
            raise InvalidInputError(
                "give mini_batch_size or partition_keys, not both: "
                "with partition_keys each partition is a mini-batch"
            )
        self.error_threshold = error_threshold
        self.output_action = output_action.lower()
        self.compute_target = compute_target
        self._compute = compute_name(compute_target)
        self.node_count = node_count
        self.process_count_per_node = process_count_per_node
        self.mini_batch_size = mini_batch_size
        self.description = description
        self.logging_level = logging_level
        self.run_invocation_timeout = run_invocation_timeout
        self.run_max_try = run_max_try
        self.append_row_file_name = append_row_file_name or "parallel_run_step.txt"
        self.allowed_failed_count = allowed_failed_count
        self.allowed_failed_percent = allowed_failed_percent
        self.partition_keys = partition_keys
        self.environment_variables = dict(environment_variables or {})

    def __repr__(self) -> str:
        return f"ParallelRunConfig(entry_script={self.entry_script!r}, output_action={self.output_action!r})"


def _check_node_count(compute_target: Any, node_count: Any) -> None:
    """v1's check, when the target is an object: ``node_count`` within its ``max_nodes`` (a
    target given by name, or a PipelineParameter, is checked when the pipeline is submitted)."""
    if isinstance(node_count, PipelineParameter) or getattr(compute_target, "type", None) != "AmlCompute":
        return
    most = compute_target.scale_settings.maximum_node_count
    if not 1 <= node_count <= most:
        raise InvalidInputError(f"node_count '{node_count}' is not between 1 and max_nodes {most}.")


def check_batch_values(
    step: dict[str, Any],
    batch: dict[str, Any],
    inputs: dict[str, Any],
    parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ParallelRunStep's settings with every parameter filled in, checked against its inputs as
    they resolved: one kind of input, ``mini_batch_size`` in that kind's unit, partition keys
    every input has. ``parameters`` names the PipelineParameter each field came from, for the
    message. Raises :class:`InvalidInputError` naming the step."""
    name = step["name"]
    parameters = parameters or {}

    def checked(field: str, check: Any) -> Any:
        try:
            return check()
        except InvalidInputError as exc:
            origin = f" (from PipelineParameter '{parameters[field]}')" if field in parameters else ""
            raise InvalidInputError(f"ParallelRunStep '{name}': {exc}{origin}") from None

    kinds = {
        inputs[n]["kind"] if inputs[n]["kind"] != "step" else inputs[n]["as"] for n in batch["input_names"]
    }
    if len(kinds) > 1:
        raise InvalidInputError(
            f"ParallelRunStep '{name}': its inputs must all be of "
            f"one kind, files or tabular; they are {sorted(kinds)}"
        )
    kind = kinds.pop()
    for field in PARAMETER_FIELDS:
        if field != "mini_batch_size":
            checked(field, lambda field=field: _check_one(field, batch.get(field)))
    size = checked("mini_batch_size", lambda: mini_batch_size(batch.get("mini_batch_size"), kind))
    keys = partition_keys(batch.get("partition_keys"))
    if keys is not None and batch.get("mini_batch_size") is not None:
        raise InvalidInputError(f"ParallelRunStep '{name}': give mini_batch_size or partition_keys, not both")
    for n in batch["input_names"]:
        spec = inputs[n]
        if keys and spec["kind"] == "step":
            raise InvalidInputError(
                f"ParallelRunStep '{name}': input '{n}' comes from another step and has no partitions for "
                "partition_keys"
            )
        missing = [k for k in keys or [] if k not in spec.get("partition_keys", [])]
        if missing:
            raise InvalidInputError(
                f"ParallelRunStep '{name}': input '{n}' is not "
                f"partitioned by {', '.join(map(repr, missing))}; "
                f"its partition keys: {spec.get('partition_keys') or 'none'}"
            )
    return {
        **batch,
        "input_kind": kind,
        "mini_batch_size": size
        if size is not None
        else (DEFAULT_FILES if kind == "files" else DEFAULT_BYTES),
        "partition_keys": keys or [],
        "logging_level": str(batch.get("logging_level") or "INFO").upper(),
        "process_count_per_node": batch.get("process_count_per_node") or default_processes(),
    }


def default_processes() -> int:
    """``process_count_per_node`` left out: one process per core of this machine (v1's default on
    CPU nodes)."""
    return max(1, os.cpu_count() or 1)
