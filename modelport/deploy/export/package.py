"""``Model.package``'s result: v1's ``ModelPackage``, a Docker build context made on this machine."""

from __future__ import annotations

import json
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from modelport.deploy.export.context import build_context, check_output_directory
from modelport.deploy.spec import DeploymentSpec
from modelport.errors import InvalidInputError, NotSupported
from modelport.workspace import Workspace

__all__ = ["ModelPackage", "create_package"]

_IMAGE_NAME_HINT = "lowercase letters, digits, '.', '_', '-' and '/'"


class ModelPackage:
    """A packaged model: a Docker build context with the models, the entry script and its
    source, the server's settings, the environment's locked requirements and a Dockerfile.

    Example::

        package = Model.package(ws, [model], inference_config, generate_dockerfile=True)
        package.wait_for_creation(show_output=True)
        package.save("./mnist-image")      # then: docker build -t mnist ./mnist-image
    """

    def __init__(
        self,
        workspace: Workspace,
        package_id: str,
        location: Path,
        image_name: str,
        image_label: str,
        models: list[str],
        log: str,
    ) -> None:
        self.workspace = workspace
        self.id = package_id
        self.location = str(location)
        self.image_name = image_name
        self.image_label = image_label
        self.models = models
        self.generate_dockerfile = True
        self.state = "Succeeded"
        self._log = log

    @property
    def image(self) -> str:
        """``image_name:image_label``, the tag to build the context under."""
        return f"{self.image_name}:{self.image_label}"

    def update_creation_state(self) -> None:
        """Nothing to refresh: a package is made when ``Model.package`` returns (``state`` says so)."""

    def wait_for_creation(self, show_output: bool = False) -> None:
        """The package is made when ``Model.package`` returns; with ``show_output`` its log is printed."""
        if show_output:
            print(self._log, end="" if self._log.endswith("\n") else "\n", file=sys.stdout, flush=True)
            print(f"Succeeded: build context at {self.location} (docker build -t {self.image} <folder>)")

    def get_logs(self, decode: bool = True, offset: int = 0) -> str:
        """What making the package printed (environment, models, lock), from ``offset``."""
        return self._log[offset:]

    def save(self, output_directory: str | Path) -> None:
        """Write the build context into ``output_directory`` (new or empty)."""
        out = check_output_directory(output_directory)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            out.rmdir()
        # The build context only: the package's own record stays in the workspace.
        shutil.copytree(
            self.location, out, symlinks=True, ignore=lambda folder, _names: _own_files(folder, self.location)
        )

    def get_container_registry(self) -> Any:
        raise NotSupported(
            "a local package has no container registry: save() the build context and "
            "docker build / docker push it to your own registry"
        )

    def pull(self) -> None:
        raise NotSupported(
            "there is no built image to pull: save() the build context and run docker build on it"
        )

    def serialize(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "location": self.location,
            "imageName": self.image_name,
            "imageLabel": self.image_label,
            "generateDockerfile": True,
            "models": list(self.models),
            "state": self.state,
            "workspace": {"name": self.workspace.name, "path": str(self.workspace.path)},
        }

    @staticmethod
    def deserialize(workspace: Workspace, obj: dict[str, Any]) -> ModelPackage:
        """The package a ``serialize()`` payload describes (its build context must still exist)."""
        try:
            location = Path(obj["location"])
            log = _saved_log(location)
            return ModelPackage(
                workspace,
                str(obj["id"]),
                location,
                str(obj["imageName"]),
                str(obj["imageLabel"]),
                [str(m) for m in obj.get("models", [])],
                log,
            )
        except (KeyError, TypeError) as exc:
            raise InvalidInputError(f"package payload lacks {exc}") from None

    def __repr__(self) -> str:
        return f"ModelPackage(id={self.id!r}, image={self.image!r}, location={self.location!r})"


PACKAGE_FILE = "package.json"
"""The package's own record in its folder (id, image, log); not part of the saved build context."""


def _own_files(folder: str, location: str) -> list[str]:
    return [PACKAGE_FILE] if Path(folder) == Path(location) else []


def _saved_log(location: Path) -> str:
    try:
        log = json.loads((location / PACKAGE_FILE).read_text()).get("log")
    except (OSError, ValueError, AttributeError):
        log = None
    if isinstance(log, str):
        return log
    old = location / "service.log"  # a package made before the log moved into package.json
    return old.read_text() if old.is_file() else ""


def _check_image_part(what: str, value: str) -> str:
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9][a-z0-9._/-]{0,127}", value):
        raise InvalidInputError(f"{what} {value!r} is not a valid image name part ({_IMAGE_NAME_HINT})")
    return value


def create_package(
    ws: Workspace,
    spec: DeploymentSpec,
    *,
    generate_dockerfile: bool,
    image_name: str | None = None,
    image_label: str | None = None,
) -> ModelPackage:
    """Make the build context in the workspace (``<workspace>/packages/<id>``); see ModelPackage."""
    if not generate_dockerfile:
        raise NotSupported(
            "generate_dockerfile=False builds and pushes an image to a cloud registry, which modelport "
            "does not have: use generate_dockerfile=True, then package.save(dir) and docker build dir"
        )
    package_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    name = _check_image_part("image_name", image_name or f"package-{package_id[-6:]}")
    label = _check_image_part("image_label", image_label or "latest")
    location = ws.path / "packages" / package_id
    lines: list[str] = []
    build_context(
        ws,
        location,
        name=name.replace("/", "-").replace("_", "-").replace(".", "-"),
        spec=spec,
        image=f"{name}:{label}",
        progress=lines.append,
    )
    log = "\n".join(lines) + "\n"
    record = {"id": package_id, "image": f"{name}:{label}", "log": log}
    (location / PACKAGE_FILE).write_text(json.dumps(record) + "\n")
    return ModelPackage(ws, package_id, location, name, label, list(spec.models), log)
