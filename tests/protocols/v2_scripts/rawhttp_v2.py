"""A @rawhttp script: what it was handed (path, body length, the V2 header length), or a 418."""

from modelport.contrib.services.aml_request import AMLRequest, rawhttp
from modelport.contrib.services.aml_response import AMLResponse


@rawhttp
def run(request: AMLRequest):
    if request.headers.get("X-Teapot"):
        return AMLResponse("short and stout", 418)
    return {
        "path": request.path,
        "method": request.method,
        "body_bytes": len(request.get_data()),
        "header_length": request.headers.get("Inference-Header-Content-Length", "none"),
    }
