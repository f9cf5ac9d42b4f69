"""``InferenceConfig``: the scoring script, its source folder and its environment, checked early."""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError

__all__ = ["SAMPLE_INPUT_MAX_BYTES", "InferenceConfig"]

SAMPLE_INPUT_MAX_BYTES = 1024 * 1024
"""A sample input is an example (a row or a few), kept in the service's record: 1 MB at most."""


def _top_level_names(tree: ast.Module) -> set[str]:
    """Names a module may bind (defs, assignments, imports, anywhere: lenient on purpose, so only a
    script that surely has no run() is refused). ``from x import *`` may bind anything."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
            if any(a.name == "*" for a in node.names):
                names.add("run")
    return names


def _jsonable(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def check_sample_input(value: Any) -> Any:
    """``sample_input`` as JSON data: a dict or list as given (numpy arrays become lists), JSON
    text, or the object or array in the JSON file a path names. None stays None."""
    if value is None:
        return None
    what = "InferenceConfig: sample_input"
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):  # JSON text, as run() takes
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise InvalidInputError(f"{what} is not valid JSON: {exc}") from None
    elif isinstance(value, str | os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise InvalidInputError(
                f"{what} file '{value}' not found (give a dict or list, or the path of a JSON file)"
            )
        try:
            value = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise InvalidInputError(f"{what} file '{value}' is not JSON: {exc}") from None
    if not isinstance(value, dict | list):
        raise InvalidInputError(
            f"{what} must be the body a client sends to /score, a dict or list such as "
            f"{{'data': [[0.1, 0.2]]}} (or the path of a JSON file holding one), not {type(value).__name__}"
        )
    try:
        text = json.dumps(value, default=_jsonable, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{what} is not JSON data: {exc}") from None
    if len(text) > SAMPLE_INPUT_MAX_BYTES:
        raise InvalidInputError(
            f"{what} is {len(text) / 2**20:.1f} MB as JSON; an example of a row or a few is enough "
            f"(at most {SAMPLE_INPUT_MAX_BYTES // 2**20} MB)"
        )
    return json.loads(text)


class InferenceConfig:
    """What a service runs: ``entry_script`` (relative to ``source_directory`` or the cwd).

    Checked when constructed, not at deploy time: the script exists, is a ``.py`` file whose
    name is a valid module name, and parses (a syntax error names the file and line).

    ``sample_input`` (modelport's own keyword): a request body the service accepts, such as
    ``{"data": [[0.0] * 784]}`` (or that as JSON text, or the path of a JSON file holding it). A
    ``run()`` without inference-schema decorators declares no input; with a sample, the service's
    ``/swagger.json`` and ``/swagger`` page show it as the example, its Open Inference (V2)
    metadata lists its inputs (name, datatype, shape), and the studio's Test tab starts from it.
    Without one, a model registered with ``sample_input_dataset`` gives its first row, as
    ``{"data": [row]}`` (``Model.deploy`` and ``Model.package``).

    Example::

        inference_config = InferenceConfig(entry_script="score.py", environment=myenv)
        inference_config = InferenceConfig(
            entry_script="score.py", sample_input={"data": [[0.0] * 784]}
        )
    """

    def __init__(
        self,
        entry_script: str | os.PathLike[str],
        runtime: str | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        environment: Any = None,
        description: str | None = None,
        sample_input: Any = None,
        **v1_only: Any,
    ) -> None:
        unsupported = sorted(k for k, v in v1_only.items() if v is not None)
        if unsupported:
            raise InvalidInputError(
                f"InferenceConfig: {', '.join(unsupported)} not supported; give an environment instead"
            )
        if runtime not in (None, "python"):
            raise InvalidInputError(f"InferenceConfig: runtime {runtime!r} is not supported (only 'python')")
        if environment is not None and not hasattr(environment, "to_spec"):
            raise InvalidInputError(
                f"InferenceConfig: environment must be an Environment, got {type(environment).__name__}"
            )
        base = Path(source_directory).resolve() if source_directory is not None else Path.cwd()
        if source_directory is not None and not base.is_dir():
            raise InvalidInputError(f"InferenceConfig: source_directory '{source_directory}' is not a folder")
        script = Path(entry_script)
        full = script if script.is_absolute() else base / script
        if not full.is_file():
            raise InvalidInputError(f"InferenceConfig: entry_script '{entry_script}' not found in {base}")
        if full.suffix != ".py":
            raise InvalidInputError(f"InferenceConfig: entry_script '{entry_script}' is not a .py file")
        if not full.stem.isidentifier():
            raise InvalidInputError(
                f"InferenceConfig: entry_script '{full.name}' is not a valid Python module name"
            )
        try:
            tree = ast.parse(full.read_bytes(), filename=str(full))
        except SyntaxError as exc:
            raise InvalidInputError(
                f"InferenceConfig: entry_script {exc.filename} line {exc.lineno}: {exc.msg}"
            ) from exc
        if "run" not in _top_level_names(tree):
            raise InvalidInputError(
                f"InferenceConfig: {full.name} defines no run() function (the server calls run() per request)"
            )
        if source_directory is not None and not full.resolve().is_relative_to(base):
            raise InvalidInputError(
                f"InferenceConfig: entry_script '{entry_script}' is outside source_directory '{base}'"
            )
        self.entry_script = str(script)
        self.source_directory = str(base) if source_directory is not None else None
        self.environment = environment
        self.description = description
        self.runtime = runtime
        self.sample_input = check_sample_input(sample_input)
        self._script_path = full.resolve()

    @property
    def script_path(self) -> Path:
        """The absolute path of the entry script."""
        return self._script_path

    def serialize(self) -> dict[str, Any]:
        data = {
            "entryScript": self.entry_script,
            "sourceDirectory": self.source_directory,
            "scriptPath": str(self._script_path),
            "environment": None if self.environment is None else self.environment.to_spec(),
            "description": self.description,
        }
        if self.sample_input is not None:
            data["sampleInput"] = self.sample_input
        return data

    def __repr__(self) -> str:
        return (
            f"InferenceConfig(entry_script={self.entry_script!r}, source_directory={self.source_directory!r})"
        )
