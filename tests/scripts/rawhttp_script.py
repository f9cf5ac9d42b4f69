"""A @rawhttp script: it sees the whole request and answers with its own status and headers."""

from modelport.contrib.services.aml_request import AMLRequest, rawhttp
from modelport.contrib.services.aml_response import AMLResponse


def init():
    pass


@rawhttp
def run(request: AMLRequest):
    if request.method == "GET":
        return AMLResponse(
            {"args": request.args.to_dict(), "full_path": request.full_path}, 200, json_str=True
        )
    if request.headers.get("X-Teapot"):
        return AMLResponse("short and stout", 418, {"X-Custom": "teapot"})
    body = request.get_json(silent=True)
    return AMLResponse(
        {"json": body, "text": request.get_data(as_text=True), "method": request.method},
        201,
        headers={"x-custom": "created"},
        json_str=True,
    )
