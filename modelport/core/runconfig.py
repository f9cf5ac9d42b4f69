"""v1's ``azureml.core.runconfig``: ``RunConfiguration`` for code that imports it from here."""

from __future__ import annotations

from modelport.core.script_run_config import RunConfiguration

__all__ = ["RunConfiguration"]
