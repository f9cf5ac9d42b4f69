"""What the steps share: where they run, their environment, their source folder and script."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

from modelport.core.environment import Environment
from modelport.core.script_run_config import RunConfiguration, check_target
from modelport.errors import InvalidInputError, ModelportError, NotFoundError, NotSupported
from modelport.jobs.batch import check_entry_script
from modelport.pipeline.core.builder import PipelineStep, identity

__all__ = [
    "ScriptLikeStep",
    "check_compute",
    "check_script",
    "compute_name",
    "environment_spec",
    "source_folder",
]


def check_compute(compute_target: Any, what: str) -> None:
    """``None`` or ``'local'`` runs here; an AmlCompute target (or a name, looked up at submit)
    runs on its Ray cluster; anything else is refused in one line naming the step."""
    try:
        check_target(compute_target)
    except ModelportError as exc:
        raise type(exc)(f"{what}: {exc}") from None


def compute_name(compute_target: Any) -> str | None:
    """The name a step's graph keeps of where it runs (None: this machine): a published
    pipeline looks the target up again each time it runs."""
    if compute_target is None:
        return None
    name = compute_target if isinstance(compute_target, str) else compute_target.name
    return None if name == "local" else str(name)


def source_folder(source_directory: Any, what: str) -> str | None:
    """An absolute source folder, checked to exist (None when not given)."""
    if source_directory is None:
        return None
    if not isinstance(source_directory, str | os.PathLike):
        raise InvalidInputError(
            f"{what}: source_directory must be a folder path, got {type(source_directory).__name__}"
        )
    folder = Path(source_directory).resolve()
    if not folder.is_dir():
        raise NotFoundError(f"{what}: source_directory '{source_directory}' is not a folder")
    return str(folder)


def check_script(folder: str, script: Any, what: str, entry_script: bool = False) -> None:
    """``script`` must be a file in ``folder``; an entry script must also parse and define
    ``run()`` at its top level (checked by reading it, nothing of it runs)."""
    if not isinstance(script, str) or not script.strip():
        raise InvalidInputError(f"{what}: the script name must be a non-empty string, got {script!r}")
    if entry_script:
        try:
            check_entry_script(folder, script.strip())
        except ModelportError as exc:
            raise type(exc)(f"{what}: {exc}") from None
        return
    if not (Path(folder) / script).is_file():
        raise NotFoundError(f"{what}: script '{script}' not found in {folder}")


def environment_spec(environment: Any, what: str) -> dict[str, Any] | None:
    """The spec of an environment to build for a step, or None for this Python (no environment,
    or a RunConfiguration's untouched default one)."""
    if environment is None:
        return None
    if not isinstance(environment, Environment):
        raise InvalidInputError(
            f"{what}: environment must be an Environment, got {type(environment).__name__}"
        )
    untouched = getattr(environment, "_untouched_default", None)
    if untouched is not None and untouched():
        return None
    return environment.to_spec()


def runconfig_parts(runconfig: Any, what: str) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """A RunConfiguration's environment spec and environment variables."""
    if runconfig is None:
        return None, {}
    if not isinstance(runconfig, RunConfiguration):
        raise InvalidInputError(
            f"{what}: runconfig must be a RunConfiguration, got {type(runconfig).__name__}"
        )
    check_compute(runconfig.target if runconfig.target != "local" else None, what)
    variables = runconfig.environment_variables or {}
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise InvalidInputError(f"{what}: runconfig.environment_variables must map strings to strings")
    return environment_spec(runconfig.environment, what), dict(variables)


_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def step_params(params: Any, what: str) -> dict[str, Any]:
    """v1's ``params``: each becomes the environment variable ``AML_PARAMETER_<name>``."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InvalidInputError(f"{what}: params must be a dict of names to values")
    for name in params:
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise InvalidInputError(f"{what}: params name {name!r} must be letters, digits and '_'")
    return dict(params)


class ScriptLikeStep(PipelineStep):
    """What ``PythonScriptStep`` and ``CommandStep`` share: where they run, their environment,
    ``params``, and how they describe themselves to the pipeline's graph."""

    def _settle(
        self,
        what: str,
        compute_target: Any,
        runconfig: Any,
        runconfig_pipeline_params: Any,
        params: Any,
        source_directory: Any,
    ) -> None:
        check_compute(compute_target, what)
        # v1: the step's compute_target, else its runconfig's target.
        self._compute = compute_name(compute_target) or (
            compute_name(runconfig.target) if isinstance(runconfig, RunConfiguration) else None
        )
        if runconfig_pipeline_params:
            raise NotSupported(
                f"{what}: runconfig_pipeline_params sets cloud run settings per run; give the values in "
                "the runconfig, or pass a PipelineParameter as an argument"
            )
        self.source_directory = source_folder(source_directory, what)
        self._environment, self._variables = runconfig_parts(runconfig, what)
        self._params = step_params(params, what)

    def _script_graph(self, builder: Any, script: str | None, as_command: bool) -> dict[str, Any]:
        """The graph entry of a script (``arguments`` after it) or of a command (the arguments are
        the command)."""
        builder.begin(self)
        for inp in self._inputs:
            if not any(identity(inp) is identity(o) for o in self._outputs):
                builder.input(inp)
        items = [builder.argument(a) for a in self._arguments]
        folder = self.source_directory or builder.default_source_directory or os.getcwd()
        if script is not None:
            check_script(folder, script, f"{type(self).__name__} '{self.name}'")
        variables = {k: {"v": v} for k, v in self._variables.items()}
        for key, value in self._params.items():
            variables[f"AML_PARAMETER_{key}"] = builder.value(value, f"step '{self.name}': params['{key}']")
        return builder.end(
            {
                "kind": "script",
                "source_directory": folder,
                "script": script,
                "arguments": [] if as_command else items,
                "command": items if as_command else None,
                "environment": self._environment,
                "interpreter": sys.executable,
                "environment_variables": variables,
                "compute": self._compute,
            }
        )
