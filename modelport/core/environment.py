"""``Environment``: the packages and settings a scoring script runs with (v1's API).

Curated environments (``AzureML-Minimal``, ``AzureML-sklearn-1.0-ubuntu20.04-py38-cpu``, ...) come
from a built-in catalog (:mod:`modelport.environments.curated`): ``Environment.get`` returns them
without any registration and ``Environment.list`` shows them beside the registered ones.
"""

from __future__ import annotations

import builtins
import copy
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelport.core._environment_v1 import EnvironmentV1
from modelport.core.conda_dependencies import CondaDependencies
from modelport.core.container_registry import ContainerRegistry
from modelport.environments import pins
from modelport.environments.curated import curated_names, curated_spec, is_curated
from modelport.errors import AlreadyExistsError, InvalidInputError
from modelport.registry import environments as registry
from modelport.workspace import Workspace

__all__ = ["DEFAULT_CPU_IMAGE", "DEFAULT_GPU_IMAGE", "DockerSection", "Environment", "PythonSection"]

#: v1's default base images (``azureml.core.environment``). Local services run no container; an
#: export builds on the public equivalent of these (``python:<X.Y>-slim``), saying so.
DEFAULT_CPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04"
DEFAULT_GPU_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.1-cudnn8-ubuntu20.04"

_ENV_FILE = "azureml_environment.json"
_CONDA_FILE = "conda_dependencies.yml"


class PythonSection:
    """``env.python``: how the environment's Python is made."""

    def __init__(self) -> None:
        self.conda_dependencies: CondaDependencies = CondaDependencies()
        self.user_managed_dependencies: bool = False
        self.interpreter_path: str | None = None
        self.conda_dependencies_file: str | None = None


class DockerSection:
    """``env.docker``: v1's container settings. Local services run no container: the base image
    and Dockerfile are recorded with the environment, shown (``modelport environment show``, the
    studio) and used by the export (``Model.package``, ``modelport export``), whose Dockerfile
    builds on them (see docs/export.md)."""

    def __init__(self) -> None:
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.base_image_registry: Any = ContainerRegistry()  # kept on the object; none is used locally
        self.enabled: bool = False


class Environment(EnvironmentV1):
    """A named, versioned set of Python packages and environment variables.

    Example::

        env = Environment("tutorial-env")
        env.python.conda_dependencies = CondaDependencies.create(pip_packages=["scikit-learn"])
        env.register(ws)                    # version "1"
        env = Environment.get(ws, "tutorial-env", version="1")

        sklearn = Environment.get(ws, "AzureML-sklearn-1.0-ubuntu20.04-py38-cpu")   # curated
        mine = sklearn.clone("my-sklearn")                  # a copy to change and register
    """

    def __init__(self, name: str, **_v1: Any) -> None:
        # A curated name is allowed here (v1 builds curated objects the same way); register() refuses it.
        self.name = name if is_curated(name) else registry.check_env_name(name)
        self.version: str | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.inferencing_stack_version: str | None = None
        #: For a curated environment: how the local catalog's packages differ from v1's image.
        self.curated_note: str | None = None
        #: What a build does with a pin that has no wheel for this Python: ``"nearest"`` (replace it
        #: with the nearest release that installs, said in one line) or ``"strict"`` (refuse it).
        #: None (the default) follows ``MODELPORT_PIN_POLICY``, itself ``nearest`` when unset.
        self.pin_policy: str | None = None

    # -- serialization -------------------------------------------------------------------------
    def to_spec(self) -> dict[str, Any]:
        """The JSON-able form stored in the registry and given to the environment builder."""
        deps = self.python.conda_dependencies
        variables = self.environment_variables or {}
        if not isinstance(variables, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
        ):
            raise InvalidInputError("environment_variables must be a dict of strings to strings")
        curated = (
            {"curated": True, "note": self.curated_note or ""}
            if self.curated_note is not None and is_curated(self.name)
            else {}
        )
        # Only when set: specs registered before the setting existed keep their hash (and version).
        optional: dict[str, Any] = {}
        if self.pin_policy is not None:
            optional["pin_policy"] = pins.effective_policy(self.pin_policy)
        if self.docker.base_dockerfile:
            optional["docker_base_dockerfile"] = _dockerfile_text(self.docker.base_dockerfile)
        return {
            **curated,
            **optional,
            "name": self.name,
            "version": self.version,
            "python_version": deps.get_python_version(),
            "pip_packages": deps.pip_packages,
            "conda_packages": deps.conda_packages,
            "pip_options": deps.pip_options,
            "channels": deps.conda_channels,
            "user_managed_dependencies": bool(self.python.user_managed_dependencies),
            "interpreter_path": self.python.interpreter_path,
            "environment_variables": dict(variables),
            "docker_base_image": self.docker.base_image,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Environment:
        env = cls(spec["name"])
        env.version = spec.get("version")
        deps = CondaDependencies.create(
            pip_packages=list(spec.get("pip_packages") or []),
            conda_packages=list(spec.get("conda_packages") or []),
            python_version=spec.get("python_version"),
        )
        for option in spec.get("pip_options") or []:
            deps.set_pip_option(option)
        deps._channels = list(spec.get("channels") or [])
        env.python.conda_dependencies = deps
        env.python.user_managed_dependencies = bool(spec.get("user_managed_dependencies"))
        env.python.interpreter_path = spec.get("interpreter_path")
        env.environment_variables = dict(spec.get("environment_variables") or {})
        env.docker.base_image = spec.get("docker_base_image")
        env.docker.base_dockerfile = spec.get("docker_base_dockerfile")
        env.pin_policy = spec.get("pin_policy")
        if spec.get("curated"):
            env.curated_note = str(spec.get("note") or "")
        return env

    def serialize(self) -> dict[str, Any]:
        return self.to_spec()

    @staticmethod
    def deserialize(environment_payload: dict[str, Any]) -> Environment:
        return Environment.from_spec(environment_payload)

    # -- registry ------------------------------------------------------------------------------
    def register(self, workspace: Workspace) -> Environment:
        """Register as the next version; a spec identical to the latest returns that version."""
        if is_curated(self.name):
            raise InvalidInputError(
                f"'{self.name}' is a curated environment: it needs no registration; to change it, "
                f"register a copy: env.clone('my-env').register(ws)"
            )
        version, _created = registry.register(workspace, self.to_spec())
        self.version = version
        return Environment.get(workspace, self.name, version)

    @staticmethod
    def get(
        workspace: Workspace, name: str, version: str | None = None, label: str | None = None
    ) -> Environment:
        """The environment ``name`` at ``version`` (latest when None).

        A curated name (``AzureML-Minimal``, ...) returns the built-in catalog's environment,
        whatever ``version`` asks (the catalog holds one version of each).
        """
        if label is not None:
            raise InvalidInputError("environment labels are not supported; ask for a version")
        if is_curated(name):
            return Environment.from_spec(curated_spec(name))
        return Environment.from_spec(registry.get(workspace, name, version))

    @staticmethod
    def list(workspace: Workspace) -> dict[str, Environment]:
        """The latest version of every registered environment and every curated one, by name (as v1)."""
        found = {n: Environment.from_spec(curated_spec(n)) for n in curated_names()}
        found.update({s["name"]: Environment.from_spec(s) for s in registry.list_latest(workspace)})
        return found

    def clone(self, new_name: str) -> Environment:
        """A copy named ``new_name``, unregistered: the way to change a curated environment.

        Example::

            env = Environment.get(ws, "AzureML-Minimal").clone("my-env")
            env.python.conda_dependencies.add_pip_package("scikit-learn==1.5.2")
            env.register(ws)
        """
        spec = {k: v for k, v in copy.deepcopy(self.to_spec()).items() if k not in ("curated", "note")}
        env = Environment.from_spec(dict(spec, name=registry.check_env_name(new_name), version=None))
        env.inferencing_stack_version = self.inferencing_stack_version
        return env

    # -- files ---------------------------------------------------------------------------------
    @staticmethod
    def from_pip_requirements(name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment whose pip packages are the lines of a requirements file."""
        path = Path(file_path)
        if not path.is_file():
            raise InvalidInputError(f"requirements file '{path}' does not exist")
        env = Environment(name)
        deps = CondaDependencies()
        for lineno, raw in enumerate(path.read_text().splitlines(), 1):
            line = raw.split(" #", 1)[0].strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith(("-r", "-c", "--requirement", "--constraint")):
                raise InvalidInputError(f"{path}:{lineno}: nested requirement files are not supported")
            if line.startswith("-"):
                deps.set_pip_option(line)
            else:
                deps.add_pip_package(line)
        env.python.conda_dependencies = deps
        return env

    @staticmethod
    def from_conda_specification(name: str, file_path: str | os.PathLike[str]) -> Environment:
        """An environment from a conda YAML: its dependencies, its pip section, its python."""
        env = Environment(name)
        env.python.conda_dependencies = CondaDependencies(conda_dependencies_file_path=file_path)
        return env

    def save_to_directory(self, path: str | os.PathLike[str], overwrite: bool = False) -> None:
        """Write ``azureml_environment.json`` and ``conda_dependencies.yml`` into ``path``."""
        folder = Path(path)
        files = [folder / _ENV_FILE, folder / _CONDA_FILE]
        if not overwrite and any(f.exists() for f in files):
            raise AlreadyExistsError(f"environment files already exist in '{folder}' (pass overwrite=True)")
        folder.mkdir(parents=True, exist_ok=True)
        spec = self.to_spec()
        files[0].write_text(json.dumps(spec, indent=2))
        files[1].write_text(self.python.conda_dependencies.serialize_to_string())

    @staticmethod
    def load_from_directory(path: str | os.PathLike[str]) -> Environment:
        folder = Path(path)
        env_file = folder / _ENV_FILE
        if not env_file.is_file():
            raise InvalidInputError(f"'{folder}' holds no {_ENV_FILE}")
        try:
            spec = json.loads(env_file.read_text())
        except ValueError as exc:
            raise InvalidInputError(f"{env_file} is not valid JSON: {exc}") from exc
        env = Environment.from_spec(spec)
        conda_file = folder / _CONDA_FILE
        if conda_file.is_file():
            env.python.conda_dependencies = CondaDependencies(conda_dependencies_file_path=conda_file)
        return env

    def pin_replacements(self) -> builtins.list[str]:
        """What building this environment replaced, one line each (``python 3.6 -> 3.11: ...``,
        ``scikit-learn==0.22.1 -> 1.1.3: 0.22.1 has no wheel for Python 3.11``); the Python line
        is known at once, the pins' once the environment was built (its first deployment)."""
        from modelport import _settings
        from modelport.environments import EnvSpec, cached_interpreter
        from modelport.environments.builder import environment_notices

        spec = self.to_spec()
        env = EnvSpec.from_dict(spec)
        built = None if env.user_managed else cached_interpreter(env, _settings.env_cache_root())
        return environment_notices(spec, built)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Environment) and other.to_spec() == self.to_spec()

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version!r})"


def _dockerfile_text(given: Any) -> str:
    """v1's ``base_dockerfile``: the Dockerfile's text, or the path of a file holding it."""
    text = str(given)
    if "\n" not in text and Path(text).expanduser().is_file():
        return Path(text).expanduser().read_text()
    return text


class _BuildProgress:
    """Deploy progress for ``show_output=False``: silent, but for an environment being built and
    for what the environment replaced (``scikit-learn==0.22.1 -> 1.1.3: ...``, said once).

    A build is the one phase that can take minutes; v1 notebooks call ``Model.deploy(...)`` and
    only then ``wait_for_deployment(show_output=True)``, so without this they would sit silent
    through it and see nothing of it after. A cached environment prints only its replacements.
    """

    def __init__(self) -> None:
        self.building = False
        self.notices: list[str] = []

    def __call__(self, line: str) -> None:
        self.building = self.building or (
            "': building a Python" in line or "waiting for another process" in line
        )
        if pins.is_notice(line):
            if line in self.notices:
                return
            self.notices.append(line)
            print(line, flush=True)
        elif self.building and line.startswith("environment '"):
            print(line, flush=True)


def build_progress() -> Callable[[str], None]:
    """The progress ``Model.deploy`` prints without ``show_output`` (see :class:`_BuildProgress`)."""
    return _BuildProgress()
