"""v1's ``azureml.contrib.services.aml_request``: ``AMLRequest`` and ``@rawhttp``.

Example (a v1 script after renaming ``azureml`` to ``modelport``)::

    from modelport.contrib.services.aml_request import AMLRequest, rawhttp
    from modelport.contrib.services.aml_response import AMLResponse

    @rawhttp
    def run(request: AMLRequest):
        return AMLResponse(request.get_data(as_text=True), 200)
"""

from __future__ import annotations

from modelport.runtime.rawhttp import AMLRequest, rawhttp

__all__ = ["AMLRequest", "rawhttp"]
