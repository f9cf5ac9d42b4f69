"""The rest of v1's ``Environment`` surface, kept out of ``environment.py``: environments from a
Docker image or a Dockerfile (the image is recorded for the export; locally the packages are
installed into a virtualenv), private wheels kept in the workspace, ``build_local`` (the
virtualenv built now, with its progress); building an image in the cloud, build contexts and
existing conda environments refuse, naming the local way."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from modelport._refused import refused_method
from modelport.errors import AlreadyExistsError, InvalidInputError

__all__ = ["EnvironmentV1"]

_NO_IMAGE = (
    "no container image is built here; the environment becomes a virtualenv on this machine "
    "(env.build_local(ws) builds it now), and 'modelport export' writes a Dockerfile on its base image"
)


class EnvironmentV1:
    """v1's ``Environment`` members beyond what ``environment.py`` implements (a base of it)."""

    # sections for Azure's Spark, Databricks and R runtimes: none is set, none is used locally
    spark: Any = None
    databricks: Any = None
    r: Any = None
    asset_id: str | None = None  # v1's registry asset id: a local environment is name + version
    label: str | None = None

    @classmethod
    def _with_packages(
        cls,
        name: str,
        conda_specification: str | os.PathLike[str] | None,
        pip_requirements: str | os.PathLike[str] | None,
    ) -> Any:
        if conda_specification is not None and pip_requirements is not None:
            raise InvalidInputError("give conda_specification or pip_requirements, not both")
        if conda_specification is not None:
            return cls.from_conda_specification(name, conda_specification)  # type: ignore[attr-defined]
        if pip_requirements is not None:
            return cls.from_pip_requirements(name, pip_requirements)  # type: ignore[attr-defined]
        return cls(name)  # type: ignore[call-arg]

    @classmethod
    def from_docker_image(
        cls,
        name: str,
        image: str,
        container_registry: Any = None,
        conda_specification: str | os.PathLike[str] | None = None,
        pip_requirements: str | os.PathLike[str] | None = None,
    ) -> Any:
        """An environment on ``image``: the image is recorded (the export's Dockerfile builds on
        it); locally the packages of ``conda_specification`` or ``pip_requirements`` are installed
        into a virtualenv of this Python."""
        if not isinstance(image, str) or not image:
            raise InvalidInputError(f"image must be an image name, got {image!r}")
        env = cls._with_packages(name, conda_specification, pip_requirements)
        env.docker.base_image = image
        if container_registry is not None:
            env.docker.base_image_registry = container_registry
        return env

    @classmethod
    def from_dockerfile(
        cls,
        name: str,
        dockerfile: str,
        conda_specification: str | os.PathLike[str] | None = None,
        pip_requirements: str | os.PathLike[str] | None = None,
    ) -> Any:
        """An environment on a Dockerfile (its text, or the path of a file holding it), recorded as
        ``docker.base_dockerfile`` for the export; locally as :meth:`from_docker_image`."""
        if not isinstance(dockerfile, str) or not dockerfile.strip():
            raise InvalidInputError("dockerfile must be a Dockerfile's text or its path")
        env = cls._with_packages(name, conda_specification, pip_requirements)
        env.docker.base_dockerfile = dockerfile
        return env

    @staticmethod
    def add_private_pip_wheel(
        workspace: Any, file_path: str | os.PathLike[str], exist_ok: bool = False
    ) -> str:
        """Keep a wheel in the workspace and return its path, to give to
        ``CondaDependencies.add_pip_package`` (v1 uploaded it and returned its URL)."""
        source = Path(file_path)
        if not source.is_file() or source.suffix != ".whl":
            raise InvalidInputError(f"'{file_path}' is not a wheel file (.whl)")
        folder = Path(workspace.path) / "wheels"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / source.name
        if target.exists() and not exist_ok:
            raise AlreadyExistsError(
                f"wheel '{source.name}' is already in the workspace (pass exist_ok=True)"
            )
        if not target.exists():
            shutil.copyfile(source, target)
        return str(target)

    def build_local(self, workspace: Any = None, platform: str | None = None, **_v1: Any) -> str:
        """Build the environment's virtualenv on this machine now (once; later builds reuse it),
        printing its progress; return its Python interpreter's path."""
        from modelport import _settings
        from modelport.environments import EnvSpec, resolve_interpreter

        spec = EnvSpec.from_dict(self.to_spec())  # type: ignore[attr-defined]
        return str(resolve_interpreter(spec, _settings.env_cache_root(), log=print))

    build = refused_method("Environment.build", _NO_IMAGE)
    get_image_details = refused_method("Environment.get_image_details", _NO_IMAGE)
    from_docker_build_context = staticmethod(
        refused_method(
            "Environment.from_docker_build_context",
            "a build context is not built here; give the Dockerfile with Environment.from_dockerfile and "
            "the packages with pip_requirements",
        )
    )
    from_existing_conda_environment = staticmethod(
        refused_method(
            "Environment.from_existing_conda_environment",
            "conda is not used here; export its packages (pip freeze > requirements.txt) and use "
            "Environment.from_pip_requirements, or point python.interpreter_path at its python with "
            "user_managed_dependencies=True",
        )
    )
