"""``InferenceConfig`` (v1's ``azureml.core.model.InferenceConfig``): the scoring script, its
source folder and its environment, checked when made; and the one place v1's deployment objects
become the engine's :class:`~modelport.deploy.spec.DeploymentSpec`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from modelport.core.environment import Environment
from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.inference import check_entry_script, check_sample_input
from modelport.deploy.spec import DeploymentSpec
from modelport.environments import EnvSpec
from modelport.errors import InvalidInputError

__all__ = ["InferenceConfig", "deployment_spec", "environment_spec", "with_inference"]


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
        environment: Environment | None = None,
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
        if environment is not None and not isinstance(environment, Environment):
            raise InvalidInputError(
                f"InferenceConfig: environment must be an Environment, got {type(environment).__name__}"
            )
        self._script_path = check_entry_script(entry_script, source_directory)
        self.entry_script = str(entry_script)
        self.source_directory = (
            str(Path(source_directory).resolve()) if source_directory is not None else None
        )
        self.environment = environment
        self.description = description
        self.runtime = runtime
        self.sample_input = check_sample_input(sample_input)

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


def environment_spec(environment: Environment | None) -> tuple[EnvSpec | None, dict[str, str]]:
    """An Environment as the engine takes it: what it installs, and its variables."""
    if environment is None:
        return None, {}
    spec = environment.to_spec()  # checks the variables are strings
    return EnvSpec.from_dict(spec), dict(spec["environment_variables"])


def deployment_spec(
    models: list[str], inference_config: InferenceConfig, settings: DeploymentSettings
) -> DeploymentSpec:
    """The spec of ``models`` (ids) behind ``inference_config``, deployed with ``settings``."""
    environment, variables = environment_spec(inference_config.environment)
    source = inference_config.source_directory
    script = inference_config.script_path
    return DeploymentSpec(
        models=tuple(models),
        entry_script=str(script.relative_to(source)) if source else str(script),
        source_directory=source,
        environment=environment,
        environment_variables=variables,
        settings=settings,
        description=inference_config.description,
        sample_input=inference_config.sample_input,
    )


def with_inference(spec: DeploymentSpec, inference_config: Any) -> DeploymentSpec:
    """``spec`` running ``inference_config``'s script, source folder and environment instead."""
    if not isinstance(inference_config, InferenceConfig):
        raise InvalidInputError(
            f"inference_config must be an InferenceConfig, got {type(inference_config).__name__}"
        )
    return deployment_spec(list(spec.models), inference_config, spec.settings)
