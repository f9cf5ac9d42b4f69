"""``InferenceConfig`` (v1's ``azureml.core.model.InferenceConfig``): the scoring script, its
source folder and its environment, checked when made; and the one place v1's deployment objects
become the engine's :class:`~modelport.deploy.spec.DeploymentSpec`.

It takes all of v1's keywords. Before environments, v1 code described a service's Python with
``conda_file`` (and Docker settings: ``base_image``, ``base_image_registry``,
``extra_docker_file_steps``, ``enable_gpu``, ``cuda_version``). Here ``conda_file`` becomes the
service's environment (as ``Environment.from_conda_specification``), the base image and registry
are recorded on it (the spec's ``environment.docker_base_image``, which the export builds on),
and the GPU and Docker-step settings are kept on the configuration with no local effect.

Example (v1's 2019 cell, ``azureml`` renamed)::

    inference_config = InferenceConfig(runtime="python", entry_script="score.py", conda_file="myenv.yml")
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from modelport._refused import refused_method
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
        conda_file: str | os.PathLike[str] | None = None,
        extra_docker_file_steps: str | os.PathLike[str] | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        enable_gpu: bool | None = None,
        description: str | None = None,
        base_image: str | None = None,
        base_image_registry: Any = None,
        cuda_version: str | None = None,
        environment: Environment | None = None,
        sample_input: Any = None,
    ) -> None:
        if environment is not None and (conda_file is not None or base_image is not None):
            raise InvalidInputError(
                "InferenceConfig: give an environment, or v1's conda_file/base_image, not both"
            )
        if conda_file is not None or base_image is not None:
            environment = _v1_environment(conda_file, source_directory, base_image, base_image_registry)
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
        self.conda_file = None if conda_file is None else os.fspath(conda_file)
        self.base_image = base_image
        self.base_image_registry = base_image_registry
        # no local effect: a local service runs no container and uses the machine's devices
        self.extra_docker_file_steps = (
            None if extra_docker_file_steps is None else os.fspath(extra_docker_file_steps)
        )
        self.enable_gpu = enable_gpu
        self.cuda_version = cuda_version

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

    def validate_configuration(self) -> None:
        """Nothing left to check: an InferenceConfig is checked when it is made (the script exists
        and defines run(), the folder and environment are usable)."""

    _REST = (
        "Azure's REST payloads are not built here; deploy with "
        "Model.deploy(ws, name, models, inference_config)"
    )
    build_create_payload = refused_method("InferenceConfig.build_create_payload", _REST)
    build_profile_payload = refused_method("InferenceConfig.build_profile_payload", _REST)
    validation_script_content = refused_method("InferenceConfig.validation_script_content", _REST)

    def __repr__(self) -> str:
        return (
            f"InferenceConfig(entry_script={self.entry_script!r}, source_directory={self.source_directory!r})"
        )


def _v1_environment(
    conda_file: str | os.PathLike[str] | None,
    source_directory: str | os.PathLike[str] | None,
    base_image: str | None,
    base_image_registry: Any,
) -> Environment:
    """The environment v1's ``conda_file``/``base_image`` keywords describe."""
    if conda_file is not None:
        path = Path(conda_file)
        if (
            not path.is_absolute()
            and source_directory is not None
            and (Path(source_directory) / path).is_file()
        ):
            path = Path(source_directory) / path  # v1: relative to source_directory
        if not path.is_file():
            raise InvalidInputError(f"InferenceConfig: conda_file '{conda_file}' not found")
        # named after the file's content: the same file gives the same environment (one build)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        env = Environment.from_conda_specification(f"inference-{digest}", path)
    else:
        env = Environment(f"inference-{hashlib.sha256(str(base_image).encode()).hexdigest()[:12]}")
    if base_image is not None:
        env.docker.base_image = base_image
    if base_image_registry is not None:
        env.docker.base_image_registry = base_image_registry
    return env


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
