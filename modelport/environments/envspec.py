"""``EnvSpec``: what an environment needs installed, the builder's view of a registered
``Environment`` (``Environment.to_spec()``'s dict, typed), as a deployment's spec records it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from modelport.errors import InvalidInputError

__all__ = ["EnvSpec"]


@dataclass(frozen=True)
class EnvSpec:
    """What an environment needs installed; the builder's view of a registered Environment.

    Example::

        spec = EnvSpec("tutorial-env", pip_packages=("azureml-defaults",), conda_packages=("scikit-learn",))
        python = resolve_interpreter(spec, Path("~/.modelport/envs").expanduser())
    """

    name: str
    pip_packages: tuple[str, ...] = ()
    conda_packages: tuple[str, ...] = ()
    python_version: str | None = None
    user_managed: bool = False
    interpreter_path: str | None = None
    #: pip options such as ``--index-url URL`` or ``--extra-index-url URL``.
    pip_options: tuple[str, ...] = ()
    #: Said when the environment is built (a curated environment's difference from v1's image).
    note: str = ""
    #: The registered version it came from, if any (shown, not built: equal specs share a venv, and
    #: are equal whatever version each was registered as).
    version: str | None = field(default=None, compare=False)
    #: ``"nearest"`` or ``"strict"`` for this environment; None follows ``MODELPORT_PIN_POLICY``.
    pin_policy: str | None = None
    #: v1's ``docker.base_image``: recorded, said, used by the export (not built: no container here).
    docker_base_image: str | None = None
    #: v1's ``docker.base_dockerfile`` (its text): the export's first stage.
    docker_base_dockerfile: str | None = None

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EnvSpec:
        """The spec of an environment as the registry stores it (unknown keys are ignored)."""
        name = d.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"environment spec needs a 'name', got {name!r}")
        python_version = d.get("python_version")
        interpreter_path = d.get("interpreter_path")
        pin_policy = d.get("pin_policy")
        for key, value in (
            ("python_version", python_version),
            ("interpreter_path", interpreter_path),
            ("pin_policy", pin_policy),
        ):
            if value is not None and not isinstance(value, str):
                raise InvalidInputError(f"environment '{name}': '{key}' must be a string, got {value!r}")
        return cls(
            name=name,
            pip_packages=_strings(d, "pip_packages"),
            conda_packages=_strings(d, "conda_packages"),
            python_version=python_version or None,
            user_managed=bool(d.get("user_managed_dependencies", False)),
            interpreter_path=interpreter_path or None,
            pip_options=_strings(d, "pip_options"),
            note=str(d.get("note") or ""),
            version=None if d.get("version") is None else str(d.get("version")),
            pin_policy=pin_policy or None,
            docker_base_image=_optional_string(d, "docker_base_image"),
            docker_base_dockerfile=_optional_string(d, "docker_base_dockerfile"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The spec in the registry's names (what :meth:`from_dict` reads back)."""
        return {
            "name": self.name,
            "version": self.version,
            "python_version": self.python_version,
            "pip_packages": list(self.pip_packages),
            "conda_packages": list(self.conda_packages),
            "pip_options": list(self.pip_options),
            "user_managed_dependencies": self.user_managed,
            "interpreter_path": self.interpreter_path,
            "note": self.note,
            # Only when set, as the registry's specs have them (a record stays as it was without).
            **{
                key: value
                for key, value in (
                    ("pin_policy", self.pin_policy),
                    ("docker_base_image", self.docker_base_image),
                    ("docker_base_dockerfile", self.docker_base_dockerfile),
                )
                if value
            },
        }

    @property
    def docker_base(self) -> str | None:
        """What v1's docker section names, as said to the user: the base image, or ``"a
        base_dockerfile"``; None when neither is set."""
        return "a base_dockerfile" if self.docker_base_dockerfile else self.docker_base_image


def _optional_string(d: Mapping[str, Any], key: str) -> str | None:
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"environment '{d.get('name')}': '{key}' must be a string, got {value!r}")
    return value or None


def _strings(d: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = d.get(key) or ()
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(f"environment '{d.get('name')}': '{key}' must be a list of strings")
    return tuple(value)
