"""``InferenceConfig``: the scoring script, its source folder and its environment, checked early."""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError

__all__ = ["InferenceConfig"]


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


class InferenceConfig:
    """What a service runs: ``entry_script`` (relative to ``source_directory`` or the cwd).

    Checked when constructed, not at deploy time: the script exists, is a ``.py`` file whose
    name is a valid module name, and parses (a syntax error names the file and line).

    Example::

        inference_config = InferenceConfig(entry_script="score.py", environment=myenv)
    """

    def __init__(
        self,
        entry_script: str | os.PathLike[str],
        runtime: str | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        environment: Any = None,
        description: str | None = None,
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
        self._script_path = full.resolve()

    @property
    def script_path(self) -> Path:
        """The absolute path of the entry script."""
        return self._script_path

    def serialize(self) -> dict[str, Any]:
        return {
            "entryScript": self.entry_script,
            "sourceDirectory": self.source_directory,
            "scriptPath": str(self._script_path),
            "environment": None if self.environment is None else self.environment.to_spec(),
            "description": self.description,
        }

    def __repr__(self) -> str:
        return (
            f"InferenceConfig(entry_script={self.entry_script!r}, source_directory={self.source_directory!r})"
        )
