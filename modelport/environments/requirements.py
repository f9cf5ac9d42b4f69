"""What modelport installs beside a user's packages: its scoring server's requirements, and the
Python version every environment needs (the server runs inside it)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import modelport
from modelport.environments.packages import canonical_name

#: Mirrors ``requires-python`` in pyproject.toml: the scoring server runs inside every environment.
MIN_PYTHON = (3, 11)


@lru_cache(maxsize=1)
def _source_root() -> Path:
    """The folder holding the ``modelport`` package that is running now."""
    return Path(modelport.__file__).resolve().parent.parent


#: What modelport's scoring server imports inside an environment, and what ``modelport.core``
#: imports (scoring scripts call v1's ``Model.get_model_path``): not the SDK's build tools (uv)
#: nor its studio (starlette). Ranges are wide and numpy has none, so that a user's pins decide:
#: a tutorial pinning ``numpy==1.23.5`` gets numpy 1.23.5. Mirrors pyproject.toml's dependencies;
#: tests/test_server_requirements.py derives what the server imports and fails when this list
#: lacks any of it (``swagger-ui-bundle`` was missing: ``/swagger`` was blank in environments).
SERVER_REQUIREMENTS: tuple[str, ...] = (
    "filelock>=3.13",
    "gunicorn>=23",
    "httptools>=0.6",
    "inference-schema>=1.8",
    "numpy",
    "orjson>=3.10",
    "prometheus-client>=0.20",
    "psutil>=5.9",
    "pysimdjson>=6",
    "pyyaml>=6",
    "requests>=2.31",
    "swagger-ui-bundle>=1.1",
    "uvicorn>=0.36",
    "uvicorn-worker>=0.3",
    "uvloop>=0.19; sys_platform != 'win32'",
)

#: The module each of :data:`SERVER_REQUIREMENTS` provides, to check a user-managed interpreter.
_SERVER_MODULES: dict[str, str] = {
    "filelock": "filelock",
    "gunicorn": "gunicorn",
    "httptools": "httptools",
    "inference-schema": "inference_schema",
    "numpy": "numpy",
    "orjson": "orjson",
    "prometheus-client": "prometheus_client",
    "psutil": "psutil",
    "pysimdjson": "simdjson",
    "pyyaml": "yaml",
    "requests": "requests",
    "swagger-ui-bundle": "swagger_ui_bundle",
    "uvicorn": "uvicorn",
    "uvicorn-worker": "uvicorn_worker",
    "uvloop": "uvloop",
}


def _runtime_requirements() -> tuple[str, ...]:
    """What modelport installs beside the user's packages: its scoring server's requirements."""
    return SERVER_REQUIREMENTS


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return canonical_name(match.group(1)) if match else requirement.strip()
