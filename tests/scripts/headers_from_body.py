"""run() answers with the response headers the JSON body asks for (to test what the server sends)."""

import json

from modelport.contrib.services.aml_response import AMLResponse


def init():
    pass


def run(raw_data):
    data = json.loads(raw_data) if raw_data else {}
    return AMLResponse({"ok": True}, 200, headers=data.get("headers") or {}, json_str=True)
