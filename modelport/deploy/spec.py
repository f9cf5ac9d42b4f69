"""``DeploymentSpec``: everything a service is deployed from, typed, made once.

The v1 facade (``modelport.core``) turns what a user gave (models, an ``InferenceConfig`` and its
``Environment``, a deployment configuration) into one frozen spec. The engine deploys it,
``prepare`` makes a bundle of it, endpoints deploy their versions from it, an export builds an
image from it, and the service's record stores it; changing a service is a
``dataclasses.replace`` of its spec::

    spec = DeploymentSpec(
        models=("sklearn_mnist:1",),
        entry_script="score.py",
        source_directory="/home/me/project/src",
        environment=EnvSpec("tutorial-env", pip_packages=("scikit-learn",)),
        settings=aci_configuration(cpu_cores=1, memory_gb=1),
    )
    engine.deploy(ws, "mnist-svc", spec)
    engine.update(ws, "mnist-svc", replace(spec, settings=replace(spec.settings, cpu_cores=2)))
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from modelport.deploy.configs import DeploymentSettings
from modelport.deploy.inference import check_entry_script
from modelport.environments import EnvSpec
from modelport.errors import InvalidInputError

__all__ = ["DeploymentSpec", "with_metadata"]


@dataclass(frozen=True)
class DeploymentSpec:
    """What a service runs and how it is asked to run. Nothing in it depends on the service's
    name, port, keys or where it runs: the same spec deploys a service, a version of an endpoint
    or an exported image.
    """

    models: tuple[str, ...]
    """Registered model ids (``name:version``), copied into the service in this order."""
    entry_script: str
    """The scoring script: relative to ``source_directory``, or an absolute path without one."""
    source_directory: str | None = None
    """The folder copied with the script (absolute), if any."""
    environment: EnvSpec | None = None
    """What the script's interpreter has installed; None: modelport's own interpreter."""
    environment_variables: dict[str, str] = field(default_factory=dict)
    """The environment's variables, set for the scoring server."""
    settings: DeploymentSettings = field(default_factory=DeploymentSettings)
    description: str | None = None
    """The inference configuration's description."""
    sample_input: Any = None
    """A request body the service accepts (JSON data), shown as the example (swagger, V2, studio)."""

    @property
    def script_path(self) -> Path:
        """The entry script's absolute path."""
        if self.source_directory:
            return Path(self.source_directory) / self.entry_script
        return Path(self.entry_script)

    def check_script(self) -> None:
        """Read the entry script again (a reload, an export): it still exists, parses and defines
        run(). Raises InvalidInputError naming the file."""
        check_entry_script(self.script_path, self.source_directory)

    # -- the record's JSON ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able, without secrets (keys stay in the service's 0600 key file)."""
        return {
            "models": list(self.models),
            "entry_script": self.entry_script,
            "source_directory": self.source_directory,
            "environment": None if self.environment is None else self.environment.to_dict(),
            "environment_variables": dict(self.environment_variables),
            "settings": self.settings.to_dict(),
            "description": self.description,
            "sample_input": self.sample_input,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentSpec:
        """What :meth:`to_dict` wrote."""
        environment = data.get("environment")
        return cls(
            models=tuple(data.get("models") or ()),
            entry_script=str(data.get("entry_script") or ""),
            source_directory=data.get("source_directory"),
            environment=EnvSpec.from_dict(environment) if environment else None,
            environment_variables=dict(data.get("environment_variables") or {}),
            settings=DeploymentSettings.from_dict(data.get("settings") or {}),
            description=data.get("description"),
            sample_input=data.get("sample_input"),
        )

    @classmethod
    def from_v1_record(cls, data: dict[str, Any]) -> DeploymentSpec:
        """The spec of a record an earlier modelport wrote: its ``models``, ``settings`` and
        ``inference_config`` (v1's serialized form, with the environment's spec inside) kept
        side by side. An endpoint's record had no inference config: its versions have theirs."""
        config = data.get("inference_config") or {}
        environment = config.get("environment") or data.get("environment")
        source = config.get("sourceDirectory")
        script = str(config.get("scriptPath") or config.get("entryScript") or "")
        if source and script and Path(script).is_absolute() and Path(script).is_relative_to(source):
            script = str(Path(script).relative_to(source))
        return cls(
            models=tuple(data.get("models") or ()),
            entry_script=script,
            source_directory=source,
            environment=EnvSpec.from_dict(environment) if environment else None,
            environment_variables=dict((environment or {}).get("environment_variables") or {}),
            settings=DeploymentSettings.from_dict(data.get("settings") or {}),
            description=config.get("description"),
            sample_input=config.get("sampleInput"),
        )


def with_metadata(
    spec: DeploymentSpec,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    description: str | None = None,
) -> DeploymentSpec:
    """``spec`` with new tags, more properties (add-only: changing one is refused) or a new
    description; None leaves each as it is."""
    settings = spec.settings
    if tags is not None:
        settings = replace(settings, tags=dict(tags))
    if properties is not None:
        merged = dict(settings.properties)
        for key, value in properties.items():
            if key in merged and merged[key] != value:
                raise InvalidInputError(
                    f"property '{key}' is already '{merged[key]}'; properties are add-only"
                )
            merged[key] = value
        settings = replace(settings, properties=merged)
    if description is not None:
        settings = replace(settings, description=description)
    return replace(spec, settings=settings)
