"""``ContainerImage``: 2019-era v1 code's image configuration, turned into an inference config.

v1 built a Docker image from ``ContainerImage.image_configuration(execution_script, runtime,
conda_file)`` and deployed it with ``Webservice.deploy_from_model``. modelport builds no image:
the execution script becomes the entry script and the conda file the environment, and the
service runs as any other.

Example::

    image_config = ContainerImage.image_configuration(execution_script="score.py",
                                                      runtime="python", conda_file="myenv.yml")
    service = Webservice.deploy_from_model(ws, "mnist-svc", [model], image_config, aciconfig)
"""

from __future__ import annotations

import os
from typing import Any

from modelport._refused import refused, refused_method
from modelport.core.environment import Environment
from modelport.core.inference import InferenceConfig
from modelport.errors import InvalidInputError, NotSupported

__all__ = ["ContainerImage", "ContainerImageConfig", "Image", "UnknownImage"]

_NO_IMAGE = {
    "docker_file": "no image is built; put the packages in conda_file",
    "base_image": "no image is built; the service runs in a virtualenv made from conda_file",
    "base_image_registry": "no image is built",
    "enable_gpu": "GPU images are not available on the local target",
    "cuda_version": "GPU images are not available on the local target",
}


class ContainerImageConfig:
    """What ``ContainerImage.image_configuration`` returns: a script, a runtime, a conda file."""

    def __init__(
        self,
        execution_script: str,
        runtime: str,
        conda_file: str | None = None,
        source_directory: str | None = None,
        dependencies: list[str] | None = None,
        schema_file: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
    ) -> None:
        if runtime not in ("python", "python-slim"):
            raise InvalidInputError(f"runtime {runtime!r} is not supported (only 'python')")
        self.execution_script = execution_script
        self.runtime = runtime
        self.conda_file = conda_file
        self.source_directory = source_directory
        self.dependencies = list(dependencies or [])
        self.schema_file = schema_file
        self.description = description
        self.tags = dict(tags or {})
        self.properties = dict(properties or {})

    def inference_config(self) -> InferenceConfig:
        """The equivalent InferenceConfig (its environment from the conda file, if any)."""
        environment = None
        if self.conda_file is not None:
            if not os.path.isfile(self.conda_file):
                raise InvalidInputError(f"conda_file '{self.conda_file}' not found")
            environment = Environment.from_conda_specification("image-env", self.conda_file)
        return InferenceConfig(
            entry_script=self.execution_script,
            runtime="python",
            source_directory=self.source_directory,
            environment=environment,
            description=self.description,
        )


class ContainerImage:
    """v1's container image class; only its ``image_configuration`` has a local meaning."""

    @staticmethod
    def image_configuration(
        execution_script: str | None = None,
        runtime: str | None = None,
        conda_file: str | None = None,
        docker_file: str | None = None,
        schema_file: str | None = None,
        dependencies: list[str] | None = None,
        enable_gpu: bool | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
        base_image: str | None = None,
        base_image_registry: Any = None,
        cuda_version: str | None = None,
        source_directory: str | None = None,
    ) -> ContainerImageConfig:
        given = {
            "docker_file": docker_file,
            "base_image": base_image,
            "base_image_registry": base_image_registry,
            "enable_gpu": enable_gpu,
            "cuda_version": cuda_version,
        }
        for key, value in given.items():
            if value:
                raise NotSupported(f"image_configuration: {key} is not supported: {_NO_IMAGE[key]}")
        if not execution_script:
            raise InvalidInputError("image_configuration: execution_script is required")
        return ContainerImageConfig(
            execution_script,
            runtime or "python",
            conda_file,
            source_directory,
            dependencies,
            schema_file,
            description,
            tags,
            properties,
        )

    @staticmethod
    def list(workspace: Any = None, **_v1: Any) -> list[Any]:
        """The workspace's images: none, services run without images here."""
        return []

    _NONE = (
        "no container image is ever built here, so there is none to change or wait for; deploy with "
        "Model.deploy(...), or export a Docker build context with "
        "Model.package(..., generate_dockerfile=True)"
    )
    wait_for_creation = refused_method("Image.wait_for_creation", _NONE)
    update_creation_state = refused_method("Image.update_creation_state", _NONE)
    update = refused_method("Image.update", _NONE)
    add_tags = refused_method("Image.add_tags", _NONE)
    remove_tags = refused_method("Image.remove_tags", _NONE)
    add_properties = refused_method("Image.add_properties", _NONE)
    delete = refused_method("Image.delete", _NONE)
    serialize = refused_method("Image.serialize", _NONE)
    deserialize = staticmethod(refused_method("Image.deserialize", _NONE))
    run = refused_method("ContainerImage.run", _NONE)

    @staticmethod
    def create(*args: Any, **kwargs: Any) -> Any:
        raise NotSupported(
            "ContainerImage.create builds a cloud image; deploy with "
            "Webservice.deploy_from_model(ws, name, models, image_config, deployment_config), "
            "or export a Docker build context with Model.package(..., generate_dockerfile=True)"
        )


Image = ContainerImage
UnknownImage = refused(
    "UnknownImage",
    "no container image is ever built here; deploy with Model.deploy(...) or export with Model.package(...)",
    __name__,
)
