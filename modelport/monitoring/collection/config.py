"""Whether collection is on in this process, where it writes, and how much it may keep.

The scoring server calls :func:`configure` in each worker before the entry script is loaded (the
settings come from its ``server.json``, written by the deploy engine from the deployment
configuration's ``collect_model_data``); anywhere else collection is off, as v1's was outside its
AKS services, unless ``AML_MODEL_DC_DEBUG=true`` asks for the rows on stdout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError

__all__ = ["CollectionConfig", "Hooks", "configure", "current", "debug_enabled", "hooks"]

DEBUG_ENV = "AML_MODEL_DC_DEBUG"
"""v1's switch: ``true`` prints each collected row on stdout (collection on or off)."""


@dataclass(frozen=True, slots=True)
class CollectionConfig:
    """Settings of collection in one service. JSON-able: it travels in ``server.json``.

    >>> CollectionConfig(root=Path("/ws/datastores/workspaceblobstore/modeldata"),
    ...                  workspace="00000000-0000-0000-0000-000000000000/local/demo",
    ...                  service="mnist-svc").flush_interval_s
    1.0
    """

    root: Path
    """The default datastore's ``modeldata`` folder."""
    workspace: str
    """v1's ``{subscription_id}/{resource_group}/{workspace_name}`` (the first three folders)."""
    service: str
    """The service's name: v1's ``webservice_name`` when the script leaves it 'default'."""
    models: list[dict[str, str]] = field(default_factory=list)
    """The served models ``[{"name", "version"}]``: ``model_version='default'`` becomes the served
    version of that model."""
    flush_interval_s: float = 1.0
    """How often buffered rows are written. A worker killed with SIGKILL loses at most the rows
    collected during the last interval (and a write in progress)."""
    buffer_mb: float = 64.0
    """Rows waiting to be written may take this much memory per worker (estimated); beyond it new
    rows are dropped and counted, never waited for."""
    retention_days: int = 30
    """Day folders older than this are deleted (0: keep every day)."""
    max_mb: float = 1024.0
    """The service's collected data is kept under this size: the oldest days go first, and when
    today's files alone reach it new rows are dropped and counted until the next day."""

    def __post_init__(self) -> None:
        checks = [
            (self.flush_interval_s > 0, "flush_interval_s must be positive"),
            (self.buffer_mb > 0, "buffer_mb must be positive"),
            (isinstance(self.retention_days, int) and self.retention_days >= 0, "retention_days >= 0"),
            (self.max_mb > 0, "max_mb must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise InvalidInputError(f"model data collection: {message}")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["root"] = str(self.root)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CollectionConfig:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInputError(f"model data collection: unknown setting(s) {', '.join(unknown)}")
        values = dict(data)
        values["root"] = Path(str(values["root"]))
        return cls(**values)

    def served_version(self, model: str) -> str | None:
        """The version of ``model`` this service serves, if it serves it."""
        for m in self.models:
            if m.get("name") == model:
                return str(m.get("version"))
        return None


@dataclass(slots=True)
class Hooks:
    """What the server wants to hear from the writer (its Prometheus counters)."""

    written: Callable[[str, int], None] | None = None
    """``written(designation, rows)`` after rows reached the disk."""
    dropped: Callable[[str, str, int], None] | None = None
    """``dropped(designation, reason, rows)``: rows lost (buffer_full, write_error, disk_full,
    retention)."""


_config: CollectionConfig | None = None
_hooks = Hooks()


def configure(config: CollectionConfig | None, hooks: Hooks | None = None) -> None:
    """Switch collection on in this process (``None``: off). Collectors made afterwards write."""
    global _config, _hooks
    _config = config
    _hooks = hooks or Hooks()


def current() -> CollectionConfig | None:
    """The settings in force in this process, or None when collection is off."""
    return _config


def hooks() -> Hooks:
    return _hooks


def debug_enabled() -> bool:
    """v1's ``AML_MODEL_DC_DEBUG=true``: print collected rows."""
    return os.environ.get(DEBUG_ENV, "").lower() == "true"
