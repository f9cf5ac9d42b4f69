"""run() with a request_headers parameter gets the request's headers as a dict."""

import json


def init():
    pass


def run(raw_data, request_headers):
    return {
        "data": json.loads(raw_data),
        "trace": request_headers.get("X-Trace"),
        "all": dict(request_headers),
    }
