"""What a batch run does: :class:`BatchSpec` and its inputs, resolved (no v1 objects left).

The pipeline facade (a ``ParallelRunStep``) and ``modelport batch score`` both end here: every
``PipelineParameter`` resolved, every dataset turned into a list of files, the environment built
into an interpreter. A spec crosses into the run's supervisor as JSON (:meth:`BatchSpec.to_json`),
and :meth:`BatchSpec.fingerprint` says whether two runs are the same work, which is how a
resubmission reuses the mini-batches an earlier, unfinished run already scored.

Example::

    spec = BatchSpec(
        entry_script="score.py", source_directory="/abs/code", interpreter=sys.executable,
        inputs=(BatchInput("images", "files", tuple(sorted(paths))),),
        output_dir="/abs/out", mini_batch_size=10, process_count_per_node=2,
    )
    spec.validate()
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError, NotFoundError

__all__ = [
    "DEFAULT_FILES_PER_MINI_BATCH",
    "DEFAULT_TABULAR_BYTES",
    "KINDS",
    "OUTPUT_ACTIONS",
    "TABULAR_FORMATS",
    "BatchInput",
    "BatchSpec",
    "check_entry_script",
    "parse_mini_batch_size",
]

KINDS = ("files", "tabular")
OUTPUT_ACTIONS = ("append_row", "summary_only")
LOGGING_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
#: Tabular formats a worker reads; v1's dataset names ("delimited", "json_lines") are accepted too.
TABULAR_FORMATS = {
    "csv": "csv",
    "delimited": "csv",
    "parquet": "parquet",
    "jsonl": "jsonl",
    "json_lines": "jsonl",
}
DEFAULT_FILES_PER_MINI_BATCH = 10  # v1's default for file inputs
DEFAULT_TABULAR_BYTES = 1024 * 1024  # v1's default for tabular inputs: 1 MB
_SIZE = re.compile(r"^\s*(\d+)\s*([kKmMgG][bB]|[bB])?\s*$")
_UNITS = {"": 1, "B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}
_ARGUMENT_FILE = re.compile(r"^[^/\\\x00]+$")


@dataclass(frozen=True)
class BatchInput:
    """One input of a batch run: the files it stands for and how to read them.

    ``kind`` is ``"files"`` (``run()`` gets a list of paths) or ``"tabular"`` (``run()`` gets a
    pandas DataFrame read with ``reader``: ``{"format": "csv"|"parquet"|"jsonl", "separator",
    "header", "encoding", "include_path", "empty_as_string"}``, the keys of a tabular dataset's
    definition). ``partition_values`` (for a partitioned dataset, from its ``partition_format``)
    holds each file's partition column values, aligned with ``files``.
    """

    name: str
    kind: str
    files: tuple[str, ...]
    reader: dict[str, Any] = field(default_factory=dict)
    partition_values: tuple[dict[str, str], ...] = ()

    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInputError(f"a batch input needs a name, got {self.name!r}")
        if self.kind not in KINDS:
            raise InvalidInputError(
                f"input '{self.name}': kind must be 'files' or 'tabular', got {self.kind!r}"
            )
        if not self.files:
            raise InvalidInputError(f"input '{self.name}' has no files")
        for f in self.files:
            if not os.path.isabs(f):
                raise InvalidInputError(f"input '{self.name}': file paths must be absolute, got {f!r}")
        if self.partition_values and len(self.partition_values) != len(self.files):
            raise InvalidInputError(
                f"input '{self.name}': {len(self.partition_values)} partition values for "
                f"{len(self.files)} files (they must be aligned)"
            )
        if self.kind == "tabular":
            fmt = self.reader.get("format")
            if fmt not in TABULAR_FORMATS:
                raise InvalidInputError(
                    f"input '{self.name}': tabular format must be one of csv, parquet, jsonl; got {fmt!r}"
                )

    @property
    def format(self) -> str:
        """The tabular format as a worker reads it (csv, parquet or jsonl); '' for files."""
        return TABULAR_FORMATS.get(str(self.reader.get("format")), "") if self.kind == "tabular" else ""


@dataclass(frozen=True)
class BatchSpec:
    """Everything a batch run needs, resolved. Field names and defaults are v1's ParallelRunConfig's.

    ``mini_batch_size`` is a number of files (file inputs) or of bytes (tabular inputs; see
    :func:`parse_mini_batch_size` for v1's ``"10MB"``); with ``partition_keys`` it is not used:
    each combination of the keys' values is one mini-batch. ``output_dir`` is where the
    ``append_row`` file goes (``AZUREML_BI_OUTPUT_PATH``). ``side_inputs`` maps a name to a
    local path every worker can read. ``model_workspace`` (a workspace folder) is where
    ``Model.get_model_path`` finds models inside the workers; by default the run's own workspace.
    """

    entry_script: str
    source_directory: str
    interpreter: str
    inputs: tuple[BatchInput, ...]
    output_dir: str
    mini_batch_size: int
    process_count_per_node: int
    node_count: int = 1
    error_threshold: int = -1
    allowed_failed_count: int | None = None
    allowed_failed_percent: float | None = None
    output_action: str = "append_row"
    append_row_file_name: str = "parallel_run_step.txt"
    run_invocation_timeout: int = 60
    run_max_try: int = 3
    partition_keys: tuple[str, ...] = ()
    environment_variables: dict[str, str] = field(default_factory=dict)
    logging_level: str = "INFO"
    arguments: tuple[str, ...] = ()
    side_inputs: dict[str, str] = field(default_factory=dict)
    model_workspace: str | None = None

    # -- the kind of work ---------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``"files"`` or ``"tabular"`` (every input has the same kind)."""
        return self.inputs[0].kind if self.inputs else "files"

    @property
    def script_path(self) -> Path:
        return Path(self.source_directory) / self.entry_script

    @property
    def output_file(self) -> Path:
        return Path(self.output_dir) / self.append_row_file_name

    # -- checks -------------------------------------------------------------------------------
    def validate(self) -> None:
        """Refuse a spec that cannot run, naming the first problem (an InvalidInputError or a
        NotFoundError), before any process starts."""
        if not self.inputs:
            raise InvalidInputError("a batch run needs at least one input")
        for inp in self.inputs:
            inp.validate()
        kinds = sorted({inp.kind for inp in self.inputs})
        if len(kinds) > 1:
            names = ", ".join(f"{i.name} ({i.kind})" for i in self.inputs)
            raise InvalidInputError(
                f"all inputs of a batch run must be of one kind (files or tabular): {names}"
            )
        if len({i.name for i in self.inputs}) != len(self.inputs):
            raise InvalidInputError("two inputs of a batch run have the same name")
        if not os.path.isabs(self.source_directory):
            raise InvalidInputError(
                f"source_directory must be an absolute path, got {self.source_directory!r}"
            )
        if not os.path.isabs(self.output_dir):
            raise InvalidInputError(f"output_dir must be an absolute path, got {self.output_dir!r}")
        check_entry_script(self.source_directory, self.entry_script)
        _positive(self.mini_batch_size, "mini_batch_size")
        _positive(self.process_count_per_node, "process_count_per_node")
        _positive(self.node_count, "node_count")
        _positive(self.run_invocation_timeout, "run_invocation_timeout")
        _positive(self.run_max_try, "run_max_try")
        _at_least(self.error_threshold, -1, "error_threshold")
        if self.allowed_failed_count is not None:
            _at_least(self.allowed_failed_count, -1, "allowed_failed_count")
        if self.allowed_failed_percent is not None:
            pct = self.allowed_failed_percent
            if isinstance(pct, bool) or not isinstance(pct, int | float) or not 0 <= pct <= 100:
                raise InvalidInputError(f"allowed_failed_percent must be a number from 0 to 100, got {pct!r}")
        if self.output_action not in OUTPUT_ACTIONS:
            raise InvalidInputError(
                f"output_action must be 'append_row' or 'summary_only', got {self.output_action!r}"
            )
        if not isinstance(self.append_row_file_name, str) or not _ARGUMENT_FILE.match(
            self.append_row_file_name
        ):
            raise InvalidInputError(
                f"append_row_file_name must be a file name (no folder), got {self.append_row_file_name!r}"
            )
        if str(self.logging_level).upper() not in LOGGING_LEVELS:
            raise InvalidInputError(
                f"logging_level must be one of {', '.join(LOGGING_LEVELS)}, got {self.logging_level!r}"
            )
        if self.partition_keys:
            for inp in self.inputs:
                if not inp.partition_values:
                    raise InvalidInputError(
                        f"partition_keys {list(self.partition_keys)} given but input '{inp.name}' is not "
                        "partitioned (make it with partition_format or partition_by)"
                    )
                missing = [k for k in self.partition_keys if k not in inp.partition_values[0]]
                if missing:
                    have = ", ".join(sorted(inp.partition_values[0])) or "none"
                    raise InvalidInputError(
                        f"partition key {missing[0]!r} is not a partition key of input '{inp.name}' "
                        f"(its keys: {have})"
                    )
        for name, value in {**self.environment_variables, **self.side_inputs}.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise InvalidInputError(
                    f"environment_variables and side_inputs map strings to strings: {name!r}"
                )
        if not all(isinstance(a, str) for a in self.arguments):
            raise InvalidInputError("arguments must be strings (resolve PipelineParameters first)")

    # -- crossing a process boundary ----------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict; :meth:`from_json` makes the same spec back."""
        data = asdict(self)
        data["inputs"] = [
            {**asdict(i), "files": list(i.files), "partition_values": [dict(p) for p in i.partition_values]}
            for i in self.inputs
        ]
        data["partition_keys"] = list(self.partition_keys)
        data["arguments"] = list(self.arguments)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchSpec:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}  # a newer writer's extra keys are ignored
        values["inputs"] = tuple(
            BatchInput(
                name=i["name"],
                kind=i["kind"],
                files=tuple(i["files"]),
                reader=dict(i.get("reader") or {}),
                partition_values=tuple(dict(p) for p in i.get("partition_values") or ()),
            )
            for i in data.get("inputs", ())
        )
        values["partition_keys"] = tuple(data.get("partition_keys") or ())
        values["arguments"] = tuple(data.get("arguments") or ())
        values["environment_variables"] = dict(data.get("environment_variables") or {})
        values["side_inputs"] = dict(data.get("side_inputs") or {})
        return cls(**values)

    def fingerprint(self) -> str:
        """What makes two runs the same work: the script and its folder, the inputs (each file's
        path, size and modification time), how they are cut into mini-batches and read, the
        arguments, variables, side inputs and interpreter. Not: process and node counts,
        thresholds, retries, timeouts, logging or where the output goes (a rerun may change
        those and still reuse what was scored)."""
        work = {
            "entry_script": self.entry_script,
            "source": _folder_digest(Path(self.source_directory)),
            "interpreter": self.interpreter,
            "inputs": [
                {
                    "name": i.name,
                    "kind": i.kind,
                    "reader": i.reader,
                    "partition_values": [dict(p) for p in i.partition_values],
                    "files": [_stat(f) for f in i.files],
                }
                for i in self.inputs
            ],
            "mini_batch_size": None if self.partition_keys else self.mini_batch_size,
            "partition_keys": list(self.partition_keys),
            "output_action": self.output_action,
            "environment_variables": self.environment_variables,
            "arguments": list(self.arguments),
            "side_inputs": {k: _stat(v) for k, v in sorted(self.side_inputs.items())},
            "model_workspace": self.model_workspace,
        }
        body = json.dumps(work, sort_keys=True, default=str)
        return hashlib.sha256(body.encode()).hexdigest()


def _positive(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInputError(f"{name} must be a whole number >= 1, got {value!r}")


def _at_least(value: Any, low: int, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InvalidInputError(f"{name} must be a whole number >= {low}, got {value!r}")


def _stat(path: str) -> list[Any]:
    try:
        st = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, st.st_size, st.st_mtime_ns]


def _folder_digest(folder: Path) -> str:
    """Each file's relative path, size and modification time under ``folder`` (caches left out)."""
    h = hashlib.sha256()
    if not folder.is_dir():
        return ""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", ".git", ".venv", ".ipynb_checkpoints"))
        for name in sorted(files):
            if name.endswith(".pyc"):
                continue
            p = Path(root) / name
            h.update(json.dumps([*_stat(str(p))[1:], p.relative_to(folder).as_posix()]).encode())
    return h.hexdigest()


def parse_mini_batch_size(value: Any, kind: str) -> int:
    """v1's ``mini_batch_size`` as a number: files per mini-batch (file inputs, default 10), or
    approximate bytes (tabular inputs: ``1024``, ``"100KB"``, ``"10MB"``, ``"1GB"``, KB = 1024;
    default 1 MB). ``None`` gives the default."""
    if value is None:
        return DEFAULT_FILES_PER_MINI_BATCH if kind == "files" else DEFAULT_TABULAR_BYTES
    if isinstance(value, bool):
        raise InvalidInputError(f"mini_batch_size must be a number or a size such as '10MB', got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise InvalidInputError(f"mini_batch_size must be >= 1, got {value}")
        return value
    match = _SIZE.match(str(value))
    if not match:
        want = "a number of files, e.g. 10" if kind == "files" else "a size such as 1024, '100KB' or '10MB'"
        raise InvalidInputError(f"mini_batch_size must be {want}; got {value!r}")
    unit = (match.group(2) or "").upper()
    if kind == "files" and unit:
        raise InvalidInputError(
            f"mini_batch_size {value!r}: for a file input it is a number of files, e.g. 10 (sizes like "
            "'10MB' are for tabular inputs)"
        )
    number = int(match.group(1)) * _UNITS[unit]
    if number < 1:
        raise InvalidInputError(f"mini_batch_size must be >= 1, got {value!r}")
    return number


def check_entry_script(source_directory: str | os.PathLike[str], entry_script: str) -> Path:
    """The entry script's path, after checking it exists and defines ``run`` at its top level.

    The script is parsed, not imported: nothing of the user's runs before the workers start.
    """
    path = Path(source_directory) / entry_script
    if not path.is_file():
        raise NotFoundError(f"entry_script {entry_script} not found in source_directory {source_directory}")
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as exc:
        raise InvalidInputError(
            f"entry_script {path}: syntax error on line {exc.lineno}: {exc.msg}"
        ) from None
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"entry_script {path} cannot be read: {exc}") from None
    if "run" not in _top_level_names(tree):
        raise InvalidInputError(f"entry_script {path} has no run() function (v1's run(mini_batch))")
    return path


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.If | ast.Try):  # def run() under a try/if still defines it
            inner = ast.Module(body=[*node.body, *getattr(node, "orelse", [])], type_ignores=[])
            names |= _top_level_names(inner)
    return names
