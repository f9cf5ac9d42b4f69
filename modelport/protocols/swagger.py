"""The OpenAPI document of a service (``/swagger.json``), from inference-schema's samples."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from modelport.errors import InvalidInputError, NotFoundError
from modelport.runtime.schema import RunSchema

NPY = "application/x-npy"
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
    schema: RunSchema | None, version: str, title: str, auth: bool, array: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An OpenAPI 2.0, 3.0 or 3.1 document for ``/`` and ``/score``.

    ``array`` (``ArraySpec.to_json()``): run() takes an array, also as ``application/x-npy``; the
    document says so in ``x-modelport-array-input``, which the SDK's ``run(ndarray)`` reads.
    """
    if schema:
        service_input = copy.deepcopy(schema.input_swagger)
    else:
        service_input = _array_input(array) if array else dict(_PLAIN_INPUT)
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
    return document
