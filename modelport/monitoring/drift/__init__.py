"""Drift between a baseline and a target (v1's ``azureml.datadrift``), computed with scipy.

Used by the v1 facade (:mod:`modelport.datadrift`), the CLI (``modelport monitor drift``) and the
studio; never inside a service. Heavy imports (pandas, scipy, matplotlib) happen when a run needs
them.
"""

from __future__ import annotations

from modelport.monitoring.drift.detector import DataDriftDetector

__all__ = ["DataDriftDetector"]
