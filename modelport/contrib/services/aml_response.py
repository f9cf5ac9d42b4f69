"""v1's ``azureml.contrib.services.aml_response``: ``AMLResponse(message, status_code, headers)``."""

from __future__ import annotations

from modelport.runtime.response import AMLResponse

__all__ = ["AMLResponse"]
