"""``CondaDependencies``: v1's description of an environment's packages (a conda YAML)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from modelport._refused import refused_method
from modelport.errors import InvalidInputError

__all__ = ["CondaDependencies"]


def _pkg_name(spec: str) -> str:
    return re.split(r"[\s=<>!~\[;@]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


class CondaDependencies:
    """The packages of an environment: conda packages, pip packages, channels, Python version.

    Example::

        deps = CondaDependencies.create(pip_packages=["scikit-learn==1.9.1", "joblib"])
        deps.add_pip_package("numpy")
        print(deps.serialize_to_string())
    """

    # v1 counted the packages of its base project file; a new CondaDependencies here has none
    DEFAULT_NUMBER_OF_CONDA_PACKAGES = 0
    DEFAULT_NUMBER_OF_PIP_PACKAGES = 0

    def __init__(
        self, conda_dependencies_file_path: str | os.PathLike[str] | None = None, **_v1: Any
    ) -> None:
        self.name = "project_environment"
        self._channels: list[str] = ["conda-forge"]
        self._conda: list[str] = []
        self._pip: list[str] = []
        self._pip_options: list[str] = []
        self._python: str | None = None
        if conda_dependencies_file_path is not None:
            path = Path(conda_dependencies_file_path)
            if not path.is_file():
                raise InvalidInputError(f"conda specification file '{path}' does not exist")
            self._load(path.read_text(), str(path))

    # -- construction --------------------------------------------------------------------------
    @staticmethod
    def create(
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
        pip_indexurl: str | None = None,
        **_v1: Any,
    ) -> CondaDependencies:
        """A new spec with these packages (v1's default Python version is the running one)."""
        deps = CondaDependencies()
        deps._python = python_version
        for p in conda_packages or []:
            deps.add_conda_package(p)
        for p in pip_packages or []:
            deps.add_pip_package(p)
        if pip_indexurl:
            deps.set_pip_option(f"--index-url {pip_indexurl}")
        return deps

    @classmethod
    def from_string(cls, text: str, source: str = "<string>") -> CondaDependencies:
        deps = cls()
        deps._load(text, source)
        return deps

    def _load(self, text: str, source: str) -> None:
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"conda specification {source} is not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidInputError(f"conda specification {source} must be a mapping with 'dependencies'")
        self.name = str(data.get("name") or self.name)
        self._channels = [str(c) for c in data.get("channels") or []]
        deps = data.get("dependencies") or []
        if not isinstance(deps, list):
            raise InvalidInputError(f"conda specification {source}: 'dependencies' must be a list")
        self._conda, self._pip = [], []
        for item in deps:
            if isinstance(item, dict) and "pip" in item:
                for p in item["pip"] or []:
                    p = str(p).strip()
                    if p.startswith("-"):
                        self._pip_options.append(p)
                    else:
                        self._pip.append(p)
            elif isinstance(item, str):
                if _pkg_name(item) == "pip":
                    continue
                if _pkg_name(item) == "python":
                    self._python = re.sub(r"^python\s*=*\s*", "", item.strip()) or None
                else:
                    self._conda.append(item.strip())
            else:
                raise InvalidInputError(f"conda specification {source}: unexpected dependency {item!r}")

    # -- edits ---------------------------------------------------------------------------------
    def add_pip_package(self, pip_package: str) -> None:
        self._check(pip_package)
        self._pip = [p for p in self._pip if _pkg_name(p) != _pkg_name(pip_package)] + [pip_package]

    def add_conda_package(self, conda_package: str) -> None:
        self._check(conda_package)
        self._conda = [p for p in self._conda if _pkg_name(p) != _pkg_name(conda_package)] + [conda_package]

    def remove_pip_package(self, pip_package: str) -> None:
        self._pip = [p for p in self._pip if _pkg_name(p) != _pkg_name(pip_package)]

    def remove_conda_package(self, conda_package: str) -> None:
        self._conda = [p for p in self._conda if _pkg_name(p) != _pkg_name(conda_package)]

    def add_channel(self, channel: str) -> None:
        if channel not in self._channels:
            self._channels.append(channel)

    def set_pip_option(self, pip_option: str) -> None:
        if pip_option not in self._pip_options:
            self._pip_options.append(pip_option)

    def remove_channel(self, channel: str) -> None:
        self._channels = [c for c in self._channels if c != channel]

    def remove_pip_option(self, pip_option: str) -> None:
        self._pip_options = [o for o in self._pip_options if o != pip_option]

    def set_pip_index_url(self, index_url: str) -> None:
        """Install pip packages from ``index_url`` (``--index-url``, replacing one set before)."""
        self._pip_options = [o for o in self._pip_options if not o.startswith("--index-url")]
        self.set_pip_option(f"--index-url {index_url}")

    def set_pip_requirements(self, pip_requirements: list[str]) -> None:
        """Replace the pip packages and options with ``pip_requirements`` (a requirements file's
        lines: an option starts with ``-``)."""
        options = [r for r in pip_requirements if r.strip().startswith("-")]
        packages = [r for r in pip_requirements if not r.strip().startswith("-")]
        for package in packages:
            self._check(package)
        self._pip_options, self._pip = options, packages

    @staticmethod
    def merge_requirements(requirements: list[str]) -> list[str]:
        """One requirement per package: a later one for the same package replaces an earlier one,
        in the place of the first."""
        merged: dict[str, str] = {}
        for requirement in requirements:
            merged[_pkg_name(requirement)] = requirement.strip()
        return list(merged.values())

    @staticmethod
    def sdk_origin_url() -> str:
        """The package index pip packages come from: ``UV_INDEX_URL`` or ``PIP_INDEX_URL`` when set,
        else PyPI."""
        return os.environ.get("UV_INDEX_URL") or os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple"

    def get_default_number_of_packages(self) -> tuple[int, int]:
        return self.DEFAULT_NUMBER_OF_CONDA_PACKAGES, self.DEFAULT_NUMBER_OF_PIP_PACKAGES

    def add_tensorflow_pip_package(self, core_type: str = "cpu", version: str | None = None) -> None:
        """Add TensorFlow from PyPI (one package for CPU and GPU since TensorFlow 2.1)."""
        self.add_pip_package(f"tensorflow=={version}" if version else "tensorflow")

    def add_tensorflow_conda_package(self, core_type: str = "cpu", version: str | None = None) -> None:
        """As :meth:`add_tensorflow_pip_package`: environments are installed from PyPI here."""
        self.add_tensorflow_pip_package(core_type, version)

    add_cntk_package = refused_method(
        "CondaDependencies.add_cntk_package",
        "CNTK was discontinued and has no release for this Python; add the framework the model needs "
        "with add_pip_package (onnxruntime runs exported CNTK models)",
    )

    def set_python_version(self, version: str) -> None:
        self._python = version

    def get_python_version(self) -> str | None:
        return self._python

    @staticmethod
    def _check(package: object) -> None:
        if not isinstance(package, str) or not package.strip() or not _pkg_name(package):
            raise InvalidInputError(f"invalid package specification {package!r}")

    # -- views ---------------------------------------------------------------------------------
    @property
    def pip_packages(self) -> list[str]:
        return list(self._pip)

    @property
    def conda_packages(self) -> list[str]:
        return list(self._conda)

    @property
    def conda_channels(self) -> list[str]:
        return list(self._channels)

    @property
    def pip_options(self) -> list[str]:
        return list(self._pip_options)

    def as_dict(self) -> dict[str, Any]:
        deps: list[Any] = [*([f"python={self._python}"] if self._python else []), *self._conda]
        if self._pip or self._pip_options:
            deps.append("pip")
            deps.append({"pip": [*self._pip_options, *self._pip]})
        return {"name": self.name, "dependencies": deps, "channels": list(self._channels)}

    def serialize_to_string(self) -> str:
        return yaml.safe_dump(self.as_dict(), sort_keys=False)

    def save_to_file(self, base_directory: str | os.PathLike[str], conda_file_path: str | None = None) -> str:
        """Write the YAML to ``base_directory/conda_file_path`` (default ``myenv.yml``)."""
        path = Path(base_directory) / (conda_file_path or "myenv.yml")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.serialize_to_string())
        return str(path)

    save = save_to_file

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CondaDependencies) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        return f"CondaDependencies(pip={self._pip!r}, conda={self._conda!r}, python={self._python!r})"
