"""The serving floor: the least any in-process Python server can do for the tutorial's model.

A bare ASGI callable, no framework, run by uvicorn with httptools and uvloop in one process
(``python -m uvicorn --app-dir bench/wrappers asgi_floor:app --loop uvloop --http httptools``,
from the directory holding the tutorial's unchanged ``score.py``; ``AZUREML_MODEL_DIR`` set as for
any v1 server). Startup imports ``score.py`` and calls ``init()``; each ``POST`` reads the whole
body, calls ``run(body.decode())`` (``json.loads``, ``np.array``, ``predict``, ``.tolist()``) on
the event loop itself, and answers the list as JSON with ``json.dumps``. Nothing else: no auth,
no request ids, no metrics, no timeouts, no access log, no thread hop, no error mapping beyond a
bare 500. What a server adds on top of this is what its features cost.

Run inside the measured server's own venv (the bench's modelport venv: same numpy, scikit-learn,
uvicorn, httptools, uvloop), so the two differ only by the server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

_score: Any = None
_JSON = [(b"content-type", b"application/json")]


def _load() -> Any:
    path = Path(os.environ.get("FLOOR_ENTRY_SCRIPT", "score.py")).resolve()
    spec = importlib.util.spec_from_file_location("score", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.init()
    return module


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _score
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _score = _load()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    try:
        reply = json.dumps(_score.run(body.decode())).encode()
        status = 200
    except Exception:
        traceback.print_exc(file=sys.stderr)
        reply, status = b'{"message": "run() failed"}', 500
    headers = [*_JSON, (b"content-length", str(len(reply)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": reply})
