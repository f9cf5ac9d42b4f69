"""What an Open Inference (V2) model's metadata says of its inputs and outputs.

The model metadata lists what is known without guessing: inputs from the array input, the
``@input_schema`` samples, or (plain run()) a hand-written swagger file's ``ServiceInput``;
outputs from the ``@output_schema`` sample, else those of this worker's first successful V2
inference (none before it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from modelport.protocols import swagger
from modelport.protocols import tensors as t
from modelport.protocols.v2_infer import OUTPUT_NAME
from modelport.runtime.schema import REQUEST_HEADERS_PARAM
from modelport.runtime.script import InputStyle, ScoringScript

__all__ = ["Metadata", "input_metadata", "outputs_seen", "plain_inputs", "swagger_tensors"]

Metadata = list[dict[str, Any]]
"""The model metadata's ``inputs`` or ``outputs``: ``{"name", "datatype", "shape"}`` each."""


def _describe(sample: Any) -> tuple[str, list[int]]:
    if isinstance(sample, np.ndarray):
        return t.datatype_of(sample.dtype) or t.BYTES, [-1, *sample.shape[1:]]
    if isinstance(sample, list):
        try:
            array = np.asarray(sample)
        except ValueError:
            return t.BYTES, [-1]
        return t.datatype_of(array.dtype) or t.BYTES, [-1, *array.shape[1:]]
    if isinstance(sample, bool | int | float):
        return t.datatype_of(np.asarray(sample).dtype) or t.BYTES, [1]
    return t.BYTES, [-1]


def _swagger_datatype(leaf: dict[str, Any]) -> str | None:
    """The datatype of a swagger scalar schema (inference-schema writes numpy's dtype as the
    ``format``: ``int8``, ``uint64``, ``float`` for FP32, ``double``...); None for objects."""
    kind, fmt = leaf.get("type"), str(leaf.get("format", ""))
    if kind == "boolean":
        return "BOOL"
    if kind == "integer":
        return fmt.upper() if fmt.upper() in t.DTYPES else "INT64"
    if kind == "number":
        return "FP32" if fmt == "float" else "FP64"
    if kind == "string":
        return t.BYTES
    return None


def _swagger_tensor(name: str, schema: dict[str, Any], example: Any) -> dict[str, Any]:
    """One tensor as a swagger schema (and its example) describe it: nested ``array`` levels are
    dimensions, the first one the batch (-1); the example gives the others."""
    leaf, depth = schema, 0
    while leaf.get("type") == "array" and isinstance(leaf.get("items"), dict):
        leaf, depth = leaf["items"], depth + 1
    datatype = _swagger_datatype(leaf)
    if datatype is None:  # objects: run()'s value of that kind is sent as its JSON text
        return {"name": name, "datatype": t.BYTES, "shape": [1]}
    shape = [-1] * depth or [1]
    if depth and isinstance(example, list) and example:
        try:
            dims = np.asarray(example).shape
        except ValueError:  # ragged: the declared nesting only
            dims = ()
        if len(dims) == depth:
            shape = [-1, *dims[1:]]
    return {"name": name, "datatype": datatype, "shape": shape}


def swagger_tensors(schema: Any, default_name: str) -> Metadata:
    """The tensors a swagger schema describes, named as :func:`~modelport.protocols.tensors.outputs_of`
    names run()'s values: an object is one tensor per property, a DataFrame one per column,
    anything else one tensor named ``default_name``."""
    if not isinstance(schema, dict):
        return []
    example = schema.get("example")
    properties = schema.get("properties")
    if schema.get("type") == "object" and isinstance(properties, dict):
        values = example if isinstance(example, dict) else {}
        return [
            _swagger_tensor(str(k), v, values.get(k)) for k, v in properties.items() if isinstance(v, dict)
        ]
    items = schema.get("items")
    if str(schema.get("format", "")).startswith("pandas.DataFrame") and isinstance(items, dict):
        columns = items.get("properties")
        if isinstance(columns, dict):
            return [
                {"name": str(k), "datatype": _swagger_datatype(v) or t.BYTES, "shape": [-1]}
                for k, v in columns.items()
                if isinstance(v, dict)
            ]
    return [_swagger_tensor(default_name, schema, example)]


def outputs_seen(outputs: list[t.Output]) -> Metadata:
    """What run()'s outputs look like, for the metadata: their first dimension is the batch (-1)."""
    return [{"name": o.name, "datatype": o.datatype, "shape": [-1, *o.array.shape[1:]]} for o in outputs]


def _service_input(app_root: Path) -> dict[str, Any] | None:
    """The ``ServiceInput`` schema of a hand-written swagger file in the app root, if any."""
    for version in ("2.0", "3.0"):
        path = swagger.file_document(app_root, version)
        if path is None:
            continue
        try:
            doc = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return None  # the v1 route reports a broken file; the metadata just lists no inputs
        if not isinstance(doc, dict):
            return None
        definitions = doc.get("definitions") or (doc.get("components") or {}).get("schemas") or {}
        found = definitions.get("ServiceInput") if isinstance(definitions, dict) else None
        return found if isinstance(found, dict) else None
    return None


def input_metadata(script: ScoringScript) -> tuple[Metadata, Metadata]:
    """The model metadata's ``inputs`` and ``outputs``, from what run() declares: the array input,
    the ``@input_schema`` samples, the ``@output_schema`` sample (none declared: no outputs)."""
    schema = script.schema
    outputs = swagger_tensors(schema.output_swagger, OUTPUT_NAME) if schema and schema.output_swagger else []
    spec = script.array_spec
    if script.style is InputStyle.ARRAY and spec is not None:
        shape = [-1] if spec.shape is None else [-1 if d is None else d for d in spec.shape]
        return [{"name": spec.name, "datatype": t.datatype_of(spec.dtype), "shape": shape}], outputs
    if schema is None:
        return [], outputs
    inputs = []
    for name, param in schema.params.items():
        if name == REQUEST_HEADERS_PARAM:
            continue
        datatype, shape = _describe(getattr(param.param_type, "sample_input", None))
        if spec is not None and name == spec.name and spec.shape is not None:
            shape = [-1 if d is None else d for d in spec.shape]
        inputs.append({"name": name, "datatype": datatype, "shape": shape})
    return inputs, outputs


def plain_inputs(app_root: Path) -> Metadata:
    """A plain ``run(raw_data)``'s inputs: the properties of the ``ServiceInput`` a hand-written
    swagger file in the app root declares (its example gives the shapes), else the keys of the
    sample input given at deployment (each value's datatype and shape, the first dimension
    variable), else none: a plain run() declares nothing, and V2 hands it
    ``{"<input name>": ...}``, so only an object body maps."""
    service_input = _service_input(app_root)
    if service_input is not None:
        if service_input.get("type") != "object":
            return []
        return swagger_tensors(service_input, "data")
    sample = swagger.sample_input(app_root)
    if not isinstance(sample, dict):
        return []
    inputs = []
    for name, value in sample.items():
        datatype, shape = _describe(value)
        inputs.append({"name": str(name), "datatype": datatype, "shape": shape})
    return inputs
