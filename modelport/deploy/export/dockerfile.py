"""The Dockerfile and ``.dockerignore`` of a build context, and the server configuration the
image runs (``serve.json``).

The image runs the same command a local service runs (``python -m modelport.server`` with the
bundle's settings), from the same working directory (the app root), with the environment's
variables; only what belongs to the machine changes: it listens on 0.0.0.0:5001 (v1's port), CPU
affinity is left to the container runtime, and keys come from a file mounted at run time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

import modelport
from modelport.deploy.bundle import ServiceBundle
from modelport.deploy.workers import forked
from modelport.environments import EnvSpec
from modelport.servicefiles import ServerSettings

__all__ = [
    "IMAGE_ROOT",
    "KEYS_FILE",
    "PORT",
    "Base",
    "base_of",
    "command",
    "dockerfile",
    "dockerignore",
    "serve_config",
]

PORT = 5001
"""v1's scoring port; also the scoring server's default (``ServerConfig.port``)."""
IMAGE_ROOT = "/srv/modelport"
"""Where the bundle lives in the image; the working directory is its ``app/`` (AML_APP_ROOT)."""
VENV = "/opt/venv"
KEYS_FILE = "/run/secrets/modelport/keys.json"
"""Where an auth-enabled image reads its keys (a mounted Secret or file; never baked in)."""
SERVE_FILE = "serve.json"
USER_ID = 10001


PYTHON_DIR = "/opt/python"
"""Where a base image that is not Python's own gets its Python (uv's standalone build)."""
BASE_STAGE = "modelport-base"
# Azure ML's images (mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04, ...), and images it built
_AZUREML = re.compile(r"^(?:mcr\.microsoft\.com/|[\w.-]+\.azurecr\.io/)?azureml/", re.IGNORECASE)
_FROM = re.compile(r"^(\s*FROM\s+)((?:--\S+\s+)*)(\S+)(.*)$", re.IGNORECASE)


@dataclass(frozen=True)
class Base:
    """What the image's run stage builds on: ``image`` (a tag, or the first stage's name), whether
    that is Python's own slim image (its interpreter at /usr/local), the user's Dockerfile stages
    that come first (``prelude``), and what to tell the user about it (``note``)."""

    image: str
    python_slim: bool = True
    prelude: str = ""
    note: str | None = None


def is_azureml_image(image: str) -> bool:
    """Whether ``image`` is one of Azure ML's base images (v1's ``DEFAULT_CPU_IMAGE``, ...)."""
    return _AZUREML.match(image.strip()) is not None


def base_of(environment: EnvSpec | None, python: str) -> Base:
    """The run stage's base for an environment's v1 ``docker`` section.

    - none: ``python:<X.Y>-slim``;
    - an Azure ML image (``mcr.microsoft.com/azureml/...``, v1's ``DEFAULT_CPU_IMAGE``): not public
      any more, and its conda Python is not the environment's; its public equivalent,
      ``python:<X.Y>-slim`` (Debian, Python X.Y), is used, and the note says so;
    - another image: the run stage is ``FROM`` it, with Python X.Y (uv's standalone build) and the
      virtualenv copied in from the build stage;
    - ``base_dockerfile``: its stages come first, its last stage named ``modelport-base`` is the
      run stage's base (an Azure ML image in its ``FROM`` lines mapped as above).
    """
    slim = f"python:{python}-slim"
    text = None if environment is None else environment.docker_base_dockerfile
    image = None if environment is None else environment.docker_base_image
    if isinstance(text, str) and text.strip():
        prelude, mapped = _prelude(text, slim)
        said = f"; its Azure ML image {', '.join(mapped)} became {slim}" if mapped else ""
        return Base(
            BASE_STAGE,
            python_slim=False,
            prelude=prelude,
            note=f"the environment's base_dockerfile is the first stage ({BASE_STAGE}){said}; the "
            f"service's Python {python} and its virtualenv are copied onto it",
        )
    if not isinstance(image, str) or not image.strip():
        return Base(slim)
    if is_azureml_image(image):
        return Base(
            slim,
            note=f"the environment's base image {image} is Azure ML's; its public equivalent {slim} "
            f"(Debian with Python {python}) is used: the service's packages come from requirements.lock",
        )
    return Base(
        image.strip(),
        python_slim=False,
        note=f"the run stage builds on the environment's base image {image.strip()}; the service's "
        f"Python {python} (uv's standalone build, in {PYTHON_DIR}) and its virtualenv are copied onto it",
    )


def _prelude(text: str, slim: str) -> tuple[str, list[str]]:
    """The user's Dockerfile with Azure ML images mapped and its last stage named ``modelport-base``."""
    lines = text.strip("\n").splitlines()
    mapped: list[str] = []
    last = None
    for i, line in enumerate(lines):
        match = _FROM.match(line)
        if match is None:
            continue
        last = i
        if is_azureml_image(match.group(3)):
            mapped.append(match.group(3))
            lines[i] = f"{match.group(1)}{match.group(2)}{slim}{match.group(4)}"
    if last is None:
        lines.insert(0, f"FROM {slim}")
        last = 0
    match = _FROM.match(lines[last])
    assert match is not None
    rest = re.sub(r"\s+AS\s+\S+\s*$", "", match.group(4), flags=re.IGNORECASE)
    lines[last] = f"{match.group(1)}{match.group(2)}{match.group(3)}{rest} AS {BASE_STAGE}"
    return "\n".join(lines) + "\n", mapped


def serve_config(bundle: ServiceBundle, *, replicas_scale: bool) -> ServerSettings:
    """The image's server settings: the bundle's ``server.json``, sized for forked workers in a
    container (:func:`modelport.deploy.workers.forked`; no CPU affinity: that is the container
    runtime's), and the keys file when auth is on. ``replicas_scale``: replicas are pods (AKS), so
    one worker each with the whole memory share."""
    asked = bundle.spec.settings
    # As prepared: paths under the bundle, the entry script relative to its source directory.
    server = forked(
        ServerSettings.from_json_file(bundle.server_file), bundle, workers=1 if replicas_scale else None
    )
    if asked.auth_enabled or asked.token_auth_enabled:
        server = replace(server, keys_file=Path(KEYS_FILE), token_auth=asked.token_auth_enabled)
    return server


def command() -> list[str]:
    """The image's CMD, run in ``IMAGE_ROOT/app``: the scoring server on 0.0.0.0:5001. Flags given
    after it win over ``serve.json`` (``--host``/``--port`` move it, as the tests do)."""
    return [
        "python",
        "-m",
        "modelport.server",
        "--config",
        f"../{SERVE_FILE}",
        "--host",
        "0.0.0.0",
        "--port",
        str(PORT),
    ]


def healthcheck() -> list[str]:
    """Readiness (``/health/ready``, with a key from the keys file when auth is on)."""
    return [
        "python",
        "-m",
        "modelport.deploy.export.probe",
        "--config",
        f"../{SERVE_FILE}",
        "--port",
        str(PORT),
    ]


def dockerfile(
    *,
    python: str,
    uv_version: str,
    wheel: str,
    environment_variables: dict[str, str],
    service: str,
    base: Base | None = None,
) -> str:
    """The Dockerfile text (checked by hadolint in the tests; no rule ignored). ``base``: what
    the run stage builds on (:func:`base_of`; default ``python:<python>-slim``)."""
    base = base or Base(f"python:{python}-slim")
    env_lines = "".join(
        f"ENV {name}={json.dumps(value)}\n" for name, value in sorted(environment_variables.items())
    )
    cmd = json.dumps(command())
    health = json.dumps(healthcheck())
    if base.python_slim:
        interpreter = f"RUN uv venv {VENV} --python /usr/local/bin/python{python}\n"
        copy_python = ""
    else:  # a base without Python X.Y: uv's standalone Python, copied beside the virtualenv
        interpreter = (
            f"ENV UV_PYTHON_INSTALL_DIR={PYTHON_DIR}\n"
            f"RUN UV_PYTHON_DOWNLOADS=automatic uv python install {python} \\\n"
            f" && uv venv {VENV} --python-preference only-managed --python {python}\n"
        )
        copy_python = f"COPY --from=build {PYTHON_DIR} {PYTHON_DIR}\n"
    note = f"# Base: {base.note}.\n" if base.note else ""
    prelude = (
        f"# -- the environment's base_dockerfile ({BASE_STAGE}) --\n{base.prelude}\n" if base.prelude else ""
    )
    return f"""\
# syntax=docker/dockerfile:1
# Generated by modelport {modelport.__version__} for '{service}'. Build and run:
#   docker build -t {service} .
#   docker run --rm -p {PORT}:{PORT} {service}
# With auth on, mount the keys (never baked in): -v $PWD/keys.json:{KEYS_FILE}:ro
# See docs/export.md for what each line comes from.
{note}
{prelude}# -- build stage: a virtualenv from the lock files, every file checked against its sha256 --------
FROM python:{python}-slim AS build
RUN pip install --no-cache-dir uv=={uv_version}
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1
WORKDIR /build
{interpreter}# Third-party packages: one layer, rebuilt only when requirements.lock changes.
COPY requirements.lock ./
RUN uv pip install --python {VENV}/bin/python --require-hashes --no-deps -r requirements.lock
# modelport itself, the wheel of the version that exported this context (hash in modelport.lock).
COPY modelport.lock ./
COPY wheels/{wheel} wheels/
RUN uv pip install --python {VENV}/bin/python --require-hashes --no-deps -r modelport.lock

# -- run stage: the base, the virtualenv, the bundle, a non-root user ----------------------------
FROM {base.image}
RUN groupadd --system --gid {USER_ID} modelport \\
 && useradd --system --uid {USER_ID} --gid {USER_ID} --no-create-home --home-dir /nonexistent modelport
{copy_python}COPY --from=build {VENV} {VENV}
ENV PATH="{VENV}/bin:$PATH" VIRTUAL_ENV={VENV} PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
{env_lines}WORKDIR {IMAGE_ROOT}/app
# Owned by root and read-only for the server's user, as the bundle is the service's code.
COPY {SERVE_FILE} bundle.json {IMAGE_ROOT}/
COPY app/ {IMAGE_ROOT}/app/
USER {USER_ID}:{USER_ID}
EXPOSE {PORT}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD {health}
CMD {cmd}
"""


def dockerignore() -> str:
    """Only what the Dockerfile copies reaches the builder (keys, logs and manifests never do)."""
    return """\
# Generated by modelport: send the builder only what the Dockerfile copies.
*
!requirements.lock
!modelport.lock
!wheels/
!serve.json
!bundle.json
!app/
app/**/__pycache__
app/**/*.pyc
"""
