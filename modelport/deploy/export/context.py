"""A self-contained Docker build context: the engine's service bundle (``prepare()``) plus the
image's server configuration, the locks, modelport's wheel, a Dockerfile and a ``.dockerignore``::

    <context>/
      Dockerfile, .dockerignore
      requirements.lock    third-party packages, pinned, with their sha256 hashes
      modelport.lock       modelport's wheel and its hash
      wheels/              modelport's wheel
      serve.json           the server's settings as the image runs them (see dockerfile.serve_config)
      bundle.json, server.json, requirements.txt, app/ (with app/azureml-models/<name>/<version>/)
                           the bundle, exactly as a deployment prepares it, without its log
                           (``service.log``: what preparing it printed, told through ``progress``)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelport.deploy.bundle import ServiceBundle, prepare
from modelport.deploy.export import dockerfile, lock
from modelport.deploy.export.manifests import pods_scale
from modelport.deploy.spec import DeploymentSpec
from modelport.errors import InvalidInputError
from modelport.workspace import Workspace

__all__ = ["BuildContext", "build_context", "check_output_directory"]

Progress = Callable[[str], None]


@dataclass
class BuildContext:
    """A written build context: its folder, the bundle in it, the Python it targets, the phases."""

    root: Path
    bundle: ServiceBundle
    python: str
    image: str
    phases: list[dict[str, Any]] = field(default_factory=list)


def check_output_directory(path: str | Path) -> Path:
    """``path`` as a folder to write into: absent or empty, never one with files in it."""
    out = Path(path).expanduser().absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInputError(f"output directory {out} is not empty: give a new or empty folder")
    return out


def build_context(
    ws: Workspace,
    out: Path,
    *,
    name: str,
    spec: DeploymentSpec,
    image: str,
    progress: Progress | None = None,
) -> BuildContext:
    """Prepare ``spec`` into ``out`` (as a deployment would) and add what an image build needs."""
    if not spec.entry_script:
        raise InvalidInputError("inference_config is required (an InferenceConfig with the entry script)")
    if not spec.models:
        raise InvalidInputError("models: give at least one registered Model")
    out = check_output_directory(out)
    say = progress or (lambda _line: None)
    phases: list[dict[str, Any]] = []
    deployment_id = "export-" + time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    bundle = prepare(ws, name, deployment_id, spec, out, say, phases)

    started = time.monotonic()
    serve = dockerfile.serve_config(bundle, replicas_scale=pods_scale(spec.settings))
    serve.write(out / dockerfile.SERVE_FILE, relative_to=out.resolve())
    locked = lock.lock_interpreter(bundle.interpreter, bundle.app_root, serve.preload_modules or [])
    (out / lock.LOCK_FILE).write_text(locked.text)
    wheel, digest = lock.modelport_wheel(out / lock.WHEELS_DIR)
    (out / lock.MODELPORT_LOCK_FILE).write_text(f"./{lock.WHEELS_DIR}/{wheel.name} --hash=sha256:{digest}\n")
    took = time.monotonic() - started
    how = "from the lock cache" if locked.cached else "with uv"
    phases.append({"phase": "requirements locked", "seconds": round(took, 3), "cached": locked.cached})
    bundle.log(f"requirements locked ({how}), modelport's wheel added ({took:.2f} s)")
    say(f"requirements locked ({how}), modelport's wheel added ({took:.2f} s)")

    base = dockerfile.base_of(spec.environment, locked.python)
    if base.note:  # the environment's v1 docker section: said as the export runs, and in README.md
        bundle.log(f"base image: {base.note}")
        say(f"base image: {base.note}")
        (out / "README.md").write_text(
            f"# {name}: a Docker build context made by modelport\n\n"
            "Build it with `docker build -t IMAGE .` (see the Dockerfile's header).\n\n"
            f"## Base image\n\n{base.note[0].upper()}{base.note[1:]}.\n"
        )
    (out / "Dockerfile").write_text(
        dockerfile.dockerfile(
            python=locked.python,
            uv_version=lock.uv_version(),
            wheel=wheel.name,
            environment_variables=bundle.spec.environment_variables,
            service=name,
            base=base,
        )
    )
    (out / ".dockerignore").write_text(dockerfile.dockerignore())
    # A deployment's bundle keeps its log; a build context is what an image is built from, and a
    # log of this machine's paths and timings has no place in it (``progress`` heard every line).
    bundle.log_file.unlink(missing_ok=True)
    return BuildContext(root=out, bundle=bundle, python=locked.python, image=image, phases=phases)
