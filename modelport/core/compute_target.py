"""v1's ``azureml.core.compute_target``: the compute target base class and its exception."""

from __future__ import annotations

from modelport.core.compute import ComputeTarget
from modelport.errors import ComputeTargetError

__all__ = ["ComputeTarget", "ComputeTargetException"]

ComputeTargetException = ComputeTargetError
