"""``azureml.contrib.services`` for scoring scripts: ``aml_request`` and ``aml_response``."""

from __future__ import annotations

from modelport.contrib.services.aml_request import AMLRequest, rawhttp
from modelport.contrib.services.aml_response import AMLResponse

__all__ = ["AMLRequest", "AMLResponse", "rawhttp"]
