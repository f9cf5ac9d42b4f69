"""Environment variables modelport reads, in one place."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The modelport home folder: ``$MODELPORT_HOME``, default ``~/.modelport``."""
    value = os.environ.get("MODELPORT_HOME")
    return Path(value).expanduser() if value else Path.home() / ".modelport"


def env_cache_root() -> Path:
    """Where built environments (virtualenvs) are cached, shared by every workspace."""
    value = os.environ.get("MODELPORT_ENV_CACHE")
    return Path(value).expanduser() if value else home() / "envs"


RAY_AUTH_TOKEN = "MODELPORT_RAY_AUTH_TOKEN"
"""The token of a Ray cluster to attach, when ``attach_configuration(token=...)`` does not give it."""


def ray_auth_token() -> str | None:
    """``$MODELPORT_RAY_AUTH_TOKEN``, or None when unset or empty."""
    return os.environ.get(RAY_AUTH_TOKEN) or None
