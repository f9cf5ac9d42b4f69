"""Load a scoring script by its file path and give it v1's environment variables."""

from __future__ import annotations

import importlib.util
import keyword
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

FALLBACK_MODULE_NAME = "modelport_entry_script"


@dataclass(frozen=True, slots=True)
class ScriptLocation:
    """Where a scoring script and its files are.

    ``entry_script`` is an absolute path; ``source_directory`` and ``app_root`` are folders put on
    ``sys.path`` (after the script's own folder); ``model_dir`` is what ``AZUREML_MODEL_DIR`` says.
    """

    entry_script: Path
    source_directory: Path | None
    app_root: Path
    model_dir: Path | None

    def environment(self) -> dict[str, str]:
        """The environment variables a v1 scoring script expects (``AZUREML_*``, ``AML_APP_ROOT``)."""
        env = {
            "AML_APP_ROOT": str(self.app_root),
            "AZUREML_ENTRY_SCRIPT": self._entry_script_name(),
            "AZUREML_SOURCE_DIRECTORY": str(self.source_directory or self.entry_script.parent),
        }
        if self.model_dir is not None:
            env["AZUREML_MODEL_DIR"] = str(self.model_dir)
            env["MODELPORT_MODEL_DIR"] = str(self.model_dir)
        return env

    def _entry_script_name(self) -> str:
        # v1 gave the script's path relative to the source directory ("score.py").
        base = self.source_directory or self.entry_script.parent
        try:
            return str(self.entry_script.relative_to(base))
        except ValueError:
            return str(self.entry_script)

    def search_path(self) -> list[str]:
        """Folders to put first on ``sys.path``: the script's folder, the source directory, the app root."""
        out: list[str] = []
        for folder in (self.entry_script.parent, self.source_directory, self.app_root):
            if folder is not None and str(folder) not in out:
                out.append(str(folder))
        return out


def module_name_for(path: Path) -> str:
    """The name the script is imported under: its file stem when free (so pickles and
    ``import score`` from helper modules agree), else a fresh fallback name (inference-schema
    keys its registry by module name, so a name is never reused)."""
    stem = path.stem
    taken = stem in sys.modules or stem in sys.stdlib_module_names
    if stem.isidentifier() and not keyword.iskeyword(stem) and not taken:
        return stem
    n = 0
    while f"{FALLBACK_MODULE_NAME}_{n}" in sys.modules:
        n += 1
    return f"{FALLBACK_MODULE_NAME}_{n}"


def load_module(location: ScriptLocation) -> ModuleType:
    """Import the entry script from its path, its folders first on ``sys.path``.

    Whatever the script raises at import time propagates unchanged; the caller wraps it.
    """
    for folder in reversed(location.search_path()):
        if folder in sys.path:
            sys.path.remove(folder)
        sys.path.insert(0, folder)
    name = module_name_for(location.entry_script)
    spec = importlib.util.spec_from_file_location(name, location.entry_script)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {location.entry_script} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
