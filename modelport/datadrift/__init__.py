"""v1's ``azureml.datadrift`` import path: :class:`DataDriftDetector` (modelport.monitoring.drift)."""

from __future__ import annotations

from modelport.monitoring.drift.detector import DataDriftDetector

__all__ = ["DataDriftDetector"]
