"""modelport's Open Inference (V2) rows: the typed script (``@array_input`` named ``data``)
spoken to as MLServer is (bench/servers.py ``V2``), one FP64 tensor of shape ``[n, 784]``.

The binary-extension row is not here yet: it needs an ``Inference-Header-Content-Length`` header
per request, which the load tools (wrk script, aioload) do not send.
"""

from __future__ import annotations

import json

import numpy as np

MODEL = "modelport"  # ``python -m modelport.server`` without --config serves the service's default name


class V2Json:
    """``POST /v2/models/modelport/infer`` with the rows as one flattened FP64 tensor ``data``."""

    path = f"/v2/models/{MODEL}/infer"
    name = "V2 JSON (FP64 tensor)"
    content_type = "application/json"

    def body(self, x: np.ndarray) -> bytes:
        tensor = {"name": "data", "shape": list(x.shape), "datatype": "FP64", "data": x.reshape(-1).tolist()}
        return json.dumps({"inputs": [tensor]}).encode()

    def predictions(self, body: bytes) -> list[int]:
        output = json.loads(body)["outputs"][0]
        return [int(v) for v in np.asarray(output["data"]).reshape(-1)]
