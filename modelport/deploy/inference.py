"""What an inference configuration is checked for, early: its entry script and its sample input.

The v1 class (``InferenceConfig``) is the facade's (``modelport.core.inference``); it and a
reload or an export of a deployed service check the same way, here.
"""

from __future__ import annotations

import ast
import json
import os
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError

__all__ = ["SAMPLE_INPUT_MAX_BYTES", "check_entry_script", "check_sample_input"]

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


def check_entry_script(
    entry_script: str | os.PathLike[str], source_directory: str | os.PathLike[str] | None
) -> Path:
    """The entry script's resolved path (relative to ``source_directory``, or to the working
    directory without one), checked: it exists, is a ``.py`` file whose name is a valid module
    name, parses (a syntax error names the file and line), may define run(), and lies inside
    the source directory. Raises InvalidInputError, one line."""
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
    return full.resolve()
