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


PIN_POLICY = "MODELPORT_PIN_POLICY"
"""What an environment build does with a pin that has no wheel for this Python: ``nearest`` (the
default: the nearest release that installs, said in one line) or ``strict`` (refuse it)."""


def pin_policy() -> str | None:
    """``$MODELPORT_PIN_POLICY`` as set (checked by the environment builder), or None when unset."""
    return os.environ.get(PIN_POLICY) or None


def java_home() -> str | None:
    """``$JAVA_HOME`` (where a Java runtime is, for environments with pyspark), or None."""
    return os.environ.get("JAVA_HOME") or None


BATCH_SHIP_INPUTS = "MODELPORT_BATCH_SHIP_INPUTS"
"""``1``: a batch run's Ray workers get their inputs as bytes even when they could read them in
place (the path a node without the workspace takes; for tests and the benchmark)."""


def batch_ship_inputs() -> bool:
    return os.environ.get(BATCH_SHIP_INPUTS, "") == "1"


BATCH_FRESH_WORKERS = "MODELPORT_BATCH_FRESH_WORKERS"
"""``1``: a batch run on Ray takes no kept worker and keeps none (each run starts its own)."""


def batch_fresh_workers() -> bool:
    return os.environ.get(BATCH_FRESH_WORKERS, "") == "1"
