"""The Consume tab's ready-to-paste snippets, built from a service's real URI, auth and input."""

from __future__ import annotations

import json
import shlex
from typing import Any

__all__ = ["snippets"]


def snippets(
    name: str, workspace: str, scoring_uri: str, credential: str | None, example: Any
) -> dict[str, str]:
    """curl, Python ``requests`` and modelport SDK code calling ``scoring_uri`` with ``example``.

    ``credential`` is the key or token to send (None: the service needs none). Every value is
    quoted for the language it lands in (``shlex.quote`` for the shell, ``repr`` for Python).
    """
    body = json.dumps(example)
    curl = ["curl", "-sS", "-X", "POST", scoring_uri, "-H", "Content-Type: application/json"]
    if credential:
        curl += ["-H", f"Authorization: Bearer {credential}"]
    curl += ["-d", body]
    headers = "{'Content-Type': 'application/json'"
    if credential:
        headers += f", 'Authorization': 'Bearer ' + {credential!r}"
    headers += "}"
    python = (
        "import json\n"
        "import requests\n\n"
        f"scoring_uri = {scoring_uri!r}\n"
        f"headers = {headers}\n"
        f"body = json.dumps({example!r})\n"
        "response = requests.post(scoring_uri, data=body, headers=headers, timeout=60)\n"
        "print(response.status_code, response.json())\n"
    )
    sdk = (
        "import json\n"
        "from modelport.core import Workspace\n"
        "from modelport.core.webservice import Webservice\n\n"
        f"ws = Workspace.get({workspace!r})\n"
        f"service = Webservice(ws, {name!r})\n"
        f"print(service.run(input_data=json.dumps({example!r})))\n"
    )
    return {"curl": " ".join(shlex.quote(part) for part in curl), "python": python, "sdk": sdk}
