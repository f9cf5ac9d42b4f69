"""v1's ``InferenceConfig`` with all its keywords (``azureml.core.model.InferenceConfig``).

Before environments, v1 code described a service's Python with ``conda_file`` (and Docker settings:
``base_image``, ``base_image_registry``, ``extra_docker_file_steps``, ``enable_gpu``,
``cuda_version``). Here ``conda_file`` becomes the service's environment (as
``Environment.from_conda_specification``), the base image and registry are recorded on it for the
export, and the GPU and Docker-step settings are kept on the configuration with no local effect.

Example (v1's 2019 cell, ``azureml`` renamed)::

    inference_config = InferenceConfig(runtime="python", entry_script="score.py", conda_file="myenv.yml")
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from modelport._refused import refused_method
from modelport.deploy.inference import InferenceConfig as _InferenceConfig
from modelport.errors import InvalidInputError

__all__ = ["InferenceConfig"]


class InferenceConfig(_InferenceConfig):
    """What a service runs: the entry script, its folder and its environment (v1's keywords too)."""

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
        environment: Any = None,
        sample_input: Any = None,
    ) -> None:
        if environment is not None and (conda_file is not None or base_image is not None):
            raise InvalidInputError(
                "InferenceConfig: give an environment, or v1's conda_file/base_image, not both"
            )
        if conda_file is not None or base_image is not None:
            environment = _environment(conda_file, source_directory, base_image, base_image_registry)
        super().__init__(
            entry_script,
            runtime=runtime,
            source_directory=source_directory,
            environment=environment,
            description=description,
            sample_input=sample_input,
        )
        self.conda_file = None if conda_file is None else os.fspath(conda_file)
        self.base_image = base_image
        self.base_image_registry = base_image_registry
        # no local effect: a local service runs no container and uses the machine's devices
        self.extra_docker_file_steps = (
            None if extra_docker_file_steps is None else os.fspath(extra_docker_file_steps)
        )
        self.enable_gpu = enable_gpu
        self.cuda_version = cuda_version

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


def _environment(
    conda_file: str | os.PathLike[str] | None,
    source_directory: str | os.PathLike[str] | None,
    base_image: str | None,
    base_image_registry: Any,
) -> Any:
    from modelport.core.environment import Environment

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
