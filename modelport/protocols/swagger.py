"""The OpenAPI document of a service (``/swagger.json``: v1's ``/score`` from inference-schema's
samples, and the Open Inference (V2) routes), and the interactive API page that shows it.

A run() without schema decorators declares nothing; a sample input given at deployment
(``InferenceConfig(sample_input=...)``, or a model's ``sample_input_dataset``) reaches the server as
:data:`SAMPLE_INPUT_FILE` in the app root, and becomes the document's example."""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError, NotFoundError
from modelport.protocols.tensors import DATATYPES
from modelport.runtime.schema import RunSchema

NPY = "application/x-npy"
SAMPLE_INPUT_FILE = "modelport-sample-input.json"
"""The sample input, in the app root (written by ``modelport.deploy.bundle.prepare``)."""
EXAMPLE_SOURCE = "x-modelport-example"
"""Set to ``"sample"`` on ``ServiceInput`` when its example is the sample input given at deployment."""
_log = logging.getLogger("modelport.server")
ARRAY_EXTENSION = "x-modelport-array-input"
"""Root key of the document naming run()'s array input: ``{"name", "dtype", "shape"}``."""
_ERROR = {
    "type": "object",
    "properties": {"message": {"type": "string"}, "code": {"type": "string"}},
}
_PLAIN_INPUT = {"description": "run() receives the request body as text; any JSON is accepted."}
_ANY_OUTPUT = {"description": "Whatever run() returns, as JSON."}


def parse_version(value: str | None, supported: list[str]) -> str:
    """``?version=`` (``2``, ``3``, ``3.0``, ``3.1``; default 2 when the schema allows it) as ``"2.0"``..."""
    if value is None:
        return "2.0" if "2.0" in supported else "3.0"
    normal = {"2": "2.0", "2.0": "2.0", "3": "3.0", "3.0": "3.0", "3.1": "3.1"}.get(value.strip())
    if normal is None:
        raise InvalidInputError(f"unknown swagger version '{value}': use 2 or 3")
    if normal not in supported:
        raise NotFoundError(f"this service's schema cannot be described in OpenAPI {normal}; try version=3")
    return normal


def file_document(app_root: Path, version: str) -> Path | None:
    """A hand-written ``swagger{2,3}.json`` or ``swagger.json`` in the app root, which wins."""
    for name in (f"swagger{version[0]}.json", "swagger.json"):
        candidate = app_root / name
        if candidate.is_file():
            return candidate
    return None


def sample_input(app_root: Path) -> Any:
    """The sample input given at deployment (a JSON object or array), or None."""
    path = app_root / SAMPLE_INPUT_FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # written by prepare(): unreadable means damaged
        _log.warning("ignoring the sample input %s: %s", path, exc)
        return None
    return data if isinstance(data, dict | list) else None


def _value_schema(value: Any) -> dict[str, Any]:
    """A JSON schema a value fits (the shape of a sample: objects, arrays of the first item)."""
    if isinstance(value, bool):
        return {"type": "boolean"}
    if isinstance(value, int):
        return {"type": "integer"}
    if isinstance(value, float):
        return {"type": "number"}
    if isinstance(value, str):
        return {"type": "string"}
    if isinstance(value, list):
        return {"type": "array", "items": _value_schema(value[0]) if value else {}}
    if isinstance(value, dict):
        return {"type": "object", "properties": {str(k): _value_schema(v) for k, v in value.items()}}
    return {}


def _sample_input(sample: Any) -> dict[str, Any]:
    return {
        **_value_schema(sample),
        "description": "run() receives the request body as text; the example is the sample input "
        "given at deployment.",
    }


def _array_input(array: dict[str, Any]) -> dict[str, Any]:
    items: dict[str, Any] = {"type": "integer" if array["dtype"][0] in "iu" else "number"}
    if array["dtype"] == "bool":
        items = {"type": "boolean"}
    for _ in array["shape"] or [None, None]:
        items = {"type": "array", "items": items}
    return {
        "type": "object",
        "required": [array["name"]],
        "properties": {array["name"]: items},
        "description": f"run() takes one {array['dtype']} array; send it as JSON or as {NPY}.",
    }


def build(
    schema: RunSchema | None,
    version: str,
    title: str,
    auth: bool,
    array: dict[str, Any] | None = None,
    sample: Any = None,
) -> dict[str, Any]:
    """An OpenAPI 2.0, 3.0 or 3.1 document for ``/`` and ``/score``.

    ``array`` (``ArraySpec.to_json()``): run() takes an array, also as ``application/x-npy``; the
    document says so in ``x-modelport-array-input``, which the SDK's ``run(ndarray)`` reads.
    ``sample`` (:func:`sample_input`): the example of a script that declares none of its own.
    """
    if schema:
        service_input = copy.deepcopy(schema.input_swagger)
    elif array:
        service_input = _array_input(array)
    else:
        service_input = _sample_input(sample) if sample is not None else dict(_PLAIN_INPUT)
    if sample is not None and "example" not in service_input:  # the script's own example wins
        service_input["example"] = sample
        service_input[EXAMPLE_SOURCE] = "sample"
    output = schema.output_swagger if schema and schema.output_swagger else None
    service_output = copy.deepcopy(output) if output else dict(_ANY_OUTPUT)
    info = {
        "title": title,
        "description": f"API specification of the modelport scoring service {title}",
        "version": "1.0",
    }
    health: dict[str, Any] = {
        "operationId": "ServiceHealthCheck",
        "description": "Liveness: answers 'Healthy' while the service runs.",
        "responses": {"200": {"description": "The service is up."}},
    }
    score_desc = "Run the model and get its prediction."
    success = "The prediction (run()'s return value)."
    failed = "The service failed to score the input."
    security: list[dict[str, list[str]]] = [{"Bearer": []}] if auth else []
    if version == "2.0":
        score: dict[str, Any] = {
            "operationId": "RunMLService",
            "description": score_desc,
            "parameters": [
                {
                    "name": "serviceInputPayload",
                    "in": "body",
                    "description": "The input payload for run().",
                    "schema": {"$ref": "#/definitions/ServiceInput"},
                }
            ],
            "responses": {
                "200": {"description": success, "schema": {"$ref": "#/definitions/ServiceOutput"}},
                "default": {"description": failed, "schema": {"$ref": "#/definitions/ErrorResponse"}},
            },
        }
        health["responses"]["200"]["schema"] = {"type": "string"}
        doc: dict[str, Any] = {
            "swagger": "2.0",
            "info": info,
            "schemes": ["http"],  # what the server serves (no TLS)
            "consumes": ["application/json", NPY] if array else ["application/json"],
            "produces": ["application/json"],
            "paths": {"/": {"get": health}, "/score": {"post": score}},
            "definitions": {
                "ServiceInput": service_input,
                "ServiceOutput": service_output,
                "ErrorResponse": _ERROR,
            },
        }
        if array:
            doc[ARRAY_EXTENSION] = array
        if auth:
            doc["securityDefinitions"] = {
                "Bearer": {
                    "type": "apiKey",
                    "name": "Authorization",
                    "in": "header",
                    "description": "'Bearer <key or token>'",
                }
            }
            score["security"] = security
        add_v2(doc, title, auth, schema, array, sample)
        return doc
    json_of = lambda ref: {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}  # noqa: E731
    score = {
        "operationId": "RunMLService",
        "description": score_desc,
        "requestBody": {
            "description": "The input payload for run().",
            "required": True,
            "content": json_of("ServiceInput"),
        },
        "responses": {
            "200": {"description": success, "content": json_of("ServiceOutput")},
            "default": {"description": failed, "content": json_of("ErrorResponse")},
        },
    }
    health["responses"]["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    components: dict[str, Any] = {
        "schemas": {"ServiceInput": service_input, "ServiceOutput": service_output, "ErrorResponse": _ERROR}
    }
    if auth:
        components["securitySchemes"] = {"Bearer": {"type": "http", "scheme": "bearer"}}
        score["security"] = security
    if array:
        npy = {"schema": {"type": "string", "format": "binary"}}
        score["requestBody"]["content"][NPY] = npy
    document = {
        "openapi": "3.1.0" if version == "3.1" else "3.0.3",
        "info": info,
        "paths": {"/": {"get": health}, "/score": {"post": score}},
        "components": components,
    }
    if array:
        document[ARRAY_EXTENSION] = array
    add_v2(document, title, auth, schema, array, sample)
    return document


# -- the Open Inference (V2) routes ----------------------------------------------------------------
_V2_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}}
_V2_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {
            "type": "string",
            "enum": list(DATATYPES),
        },
        "parameters": {"type": "object"},
        "data": {"type": "array", "items": {}},
    },
}
_V2_SCHEMAS: dict[str, Any] = {
    "InferenceRequest": {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": {"$ref": "#/definitions/V2Tensor"}},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": {"type": "string"}, "parameters": {"type": "object"}},
                },
            },
        },
    },
    "InferenceResponse": {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "outputs": {"type": "array", "items": {"$ref": "#/definitions/V2Tensor"}},
        },
    },
    "V2Tensor": _V2_TENSOR,
    "V2Error": _V2_ERROR,
}
_V2_OPERATIONS = [  # path, operationId, description, request body?, success schema
    ("/v2/health/live", "V2ServerLive", 'Open Inference: the server is live ({"live": true}).', False),
    ("/v2/health/ready", "V2ServerReady", 'Open Inference: the server is ready ({"ready": true}).', False),
    ("/v2", "V2ServerMetadata", "Open Inference: server name, version and extensions.", False),
    ("/v2/models/{model_name}", "V2ModelMetadata", "Open Inference: the model's versions and inputs.", False),
    ("/v2/models/{model_name}/ready", "V2ModelReady", "Open Inference: the model is ready.", False),
    ("/v2/models/{model_name}/infer", "V2ModelInfer", "Open Inference: run the model on tensors.", True),
]


def _v2_example(schema: RunSchema | None, array: dict[str, Any] | None, sample: Any = None) -> dict[str, Any]:
    """An inference request for the document's example: zeros of the declared input, or the
    schema's sample converted to tensors, or the sample input's (an object: a tensor per key), or a
    one-element ``data`` input."""
    tensors = []
    declared = schema.input_swagger.get("example") if schema is not None else None
    if declared is None and isinstance(sample, dict) and (array is None or array["name"] in sample):
        for name, value in sample.items():
            if array is None or name == array["name"]:
                tensors.append(_tensor_example(str(name), value))
    elif array is not None:
        rest = [d or 1 for d in (array["shape"] or [None, 1])[1:]]
        count = 1
        for d in rest:
            count *= d
        datatype = _V2_DATATYPE.get(array["dtype"], "FP64")
        zero: Any = False if datatype == "BOOL" else 0
        tensors.append(
            {"name": array["name"], "shape": [1, *rest], "datatype": datatype, "data": [zero] * count}
        )
    elif schema is not None:
        example = schema.input_swagger.get("example")
        for name, value in (example if isinstance(example, dict) else {}).items():
            tensors.append(_tensor_example(name, value))
    if not tensors:
        tensors.append({"name": "data", "shape": [1, 1], "datatype": "FP64", "data": [0.0]})
    return {"inputs": tensors}


_V2_DATATYPE = {
    "bool": "BOOL",
    **{f"int{n}": f"INT{n}" for n in (8, 16, 32, 64)},
    **{f"uint{n}": f"UINT{n}" for n in (8, 16, 32, 64)},
    **{f"float{n}": f"FP{n}" for n in (16, 32, 64)},
}


def _tensor_example(name: str, value: Any) -> dict[str, Any]:
    import numpy as np

    try:
        sample = np.asarray(value)
    except ValueError:
        sample = np.asarray([str(value)])
    if sample.ndim == 0:
        sample = sample.reshape(1)
    datatype = _V2_DATATYPE.get(sample.dtype.name, "BYTES")
    data = sample.reshape(-1).tolist() if datatype != "BYTES" else [str(v) for v in sample.reshape(-1)]
    return {"name": name, "shape": list(sample.shape), "datatype": datatype, "data": data}


def add_v2(
    doc: dict[str, Any],
    model: str,
    auth: bool,
    schema: RunSchema | None,
    array: dict[str, Any] | None,
    sample: Any = None,
) -> None:
    """Add the Open Inference (V2) routes to an OpenAPI 2.0 or 3.x document ``doc``."""
    v2 = doc.get("swagger") == "2.0"
    ref_root = "#/definitions/" if v2 else "#/components/schemas/"
    schemas = copy.deepcopy(_V2_SCHEMAS)
    text = _refs(schemas, ref_root)
    if v2:
        doc["definitions"].update(text)
    else:
        doc["components"]["schemas"].update(text)
    example = _v2_example(schema, array, sample)
    model_param = {
        "name": "model_name",
        "in": "path",
        "required": True,
        "description": "The service's name (its registered models' names are accepted too).",
    }
    if v2:
        model_param.update({"type": "string", "enum": [model], "default": model})
    else:
        model_param["schema"] = {"type": "string", "enum": [model], "default": model}
    for path, operation_id, description, infer in _V2_OPERATIONS:
        success = {"$ref": ref_root + "InferenceResponse"} if infer else {"type": "object"}
        error = {"$ref": ref_root + "V2Error"}
        op: dict[str, Any] = {
            "operationId": operation_id,
            "description": description,
            "tags": ["Open Inference (V2)"],
        }
        if v2:
            op["responses"] = {
                "200": {"description": "OK", "schema": success},
                "default": {"description": "An error.", "schema": error},
            }
            op["parameters"] = [model_param] if "{model_name}" in path else []
            if infer:
                body = {"$ref": ref_root + "InferenceRequest"}
                op["parameters"].append(
                    {"name": "inferenceRequest", "in": "body", "required": True, "schema": body}
                )
        else:
            op["responses"] = {
                "200": {"description": "OK", "content": {"application/json": {"schema": success}}},
                "default": {"description": "An error.", "content": {"application/json": {"schema": error}}},
            }
            if "{model_name}" in path:
                op["parameters"] = [model_param]
            if infer:
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": ref_root + "InferenceRequest"},
                            "example": example,
                        }
                    },
                }
        if auth and path != "/v2/health/live":
            op["security"] = [{"Bearer": []}]
        doc["paths"][path] = {"post" if infer else "get": op}


def _refs(schemas: dict[str, Any], ref_root: str) -> dict[str, Any]:
    """``schemas`` with their ``#/definitions/`` references pointing under ``ref_root``."""
    import json

    return dict(json.loads(json.dumps(schemas).replace("#/definitions/", ref_root)))
