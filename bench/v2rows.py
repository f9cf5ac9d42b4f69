"""modelport's Open Inference (V2) rows: the typed script (``@array_input`` named ``data``)
spoken to as MLServer is (bench/servers.py ``V2``), one FP64 tensor of shape ``[n, 784]``: as JSON,
and with the binary tensor extension (the raw float64 rows after the JSON header, whose length
the ``Inference-Header-Content-Length`` header gives; the answer's output as binary too).
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


class V2Binary(V2Json):
    """The same tensor as raw little-endian float64 bytes, the output asked for as binary."""

    name = "V2 binary (FP64 tensor)"
    content_type = "application/octet-stream"

    def _header(self, x: np.ndarray) -> bytes:
        tensor = {
            "name": "data",
            "shape": list(x.shape),
            "datatype": "FP64",
            "parameters": {"binary_data_size": x.size * 8},
        }
        return json.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}}).encode()

    def body(self, x: np.ndarray) -> bytes:
        return self._header(x) + np.ascontiguousarray(x, dtype="<f8").tobytes()

    def headers(self, body: bytes) -> dict[str, str]:
        # The JSON header ends where its braces balance: it holds no strings with braces.
        depth = 0
        for i, c in enumerate(body):
            depth += {123: 1, 125: -1}.get(c, 0)
            if depth == 0:
                return {"Inference-Header-Content-Length": str(i + 1)}
        raise ValueError("no JSON header")

    def predictions(self, body: bytes) -> list[int]:
        head = body.index(b"}]}") + 3  # the response's JSON header: {..."outputs":[{...}]}
        output = json.loads(body[:head])["outputs"][0]
        from modelport.protocols.tensors import DTYPES

        return [int(v) for v in np.frombuffer(body[head:], dtype=DTYPES[output["datatype"]])]
