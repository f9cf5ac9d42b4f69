"""Open Inference Protocol (V2) tensors: datatypes, JSON and binary request tensors, output tensors.

The binary tensor data extension is Triton's: an input whose ``parameters`` hold
``binary_data_size`` has no ``data``; its raw little-endian bytes follow the JSON header, whose
length the ``Inference-Header-Content-Length`` header gives; inputs take their bytes in order.
BYTES elements are each a 4-byte little-endian length and the bytes. Responses use the same layout
for outputs asked for with ``"binary_data": true`` (or ``"binary_data_output": true`` on the
request).

JSON ``data`` may be flat or nested (row-major); either way its element count must be the shape's
product. Numeric data is read by simdjson straight into a flat buffer (as modelport.runtime.arrays
does for v1 bodies); anything else (booleans, strings, NaN...) goes through orjson/json.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from modelport.errors import InvalidInputError
from modelport.runtime.bodies import parse_json
from modelport.runtime.encode import dumps
from modelport.runtime.request import Body

__all__ = [
    "BYTES",
    "DATATYPES",
    "DTYPES",
    "Output",
    "Tensor",
    "datatype_of",
    "encode_binary",
    "load_request",
    "objects",
    "outputs_of",
    "read_binary",
    "tensor_from_json",
]

DTYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
"""Fixed-size datatypes and their (little-endian) numpy dtypes."""
BYTES = "BYTES"
DATATYPES = (*DTYPES, BYTES)
_SIMD_TYPE = {"i": ("i", np.int64), "u": ("u", np.uint64), "f": ("d", np.float64)}
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


@dataclass(slots=True)
class Tensor:
    """A decoded input tensor: ``array`` has ``shape`` and the datatype's dtype (object for BYTES)."""

    name: str
    datatype: str
    shape: list[int]
    array: np.ndarray[Any, Any]
    parameters: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        return f"{self.datatype} {self.shape}"


@dataclass(slots=True)
class Output:
    """An output tensor: ``array`` in its datatype (BYTES: an object array of str/bytes)."""

    name: str
    datatype: str
    array: np.ndarray[Any, Any]


def datatype_of(dtype: np.dtype[Any]) -> str | None:
    """The V2 datatype of a numpy dtype (None if it has none: complex, datetime, records...)."""
    if dtype.kind == "b":
        return "BOOL"
    if dtype.kind in "iuf" and dtype.fields is None:
        name = {"i": "INT", "u": "UINT", "f": "FP"}[dtype.kind] + str(dtype.itemsize * 8)
        return name if name in DTYPES else None
    if dtype.kind in "USO":
        return BYTES
    return None


# -- requests ------------------------------------------------------------------------------------
def load_request(header: Body) -> dict[str, Any]:
    """The JSON inference request, with each input's numeric ``data`` already a flat ndarray
    where simdjson could read it (else the plain JSON value)."""
    import simdjson

    try:
        doc = simdjson.Parser().parse(bytes(header) if isinstance(header, memoryview) else header)
        if not isinstance(doc, simdjson.Object):
            raise InvalidInputError("the body must be a JSON object (an inference request)")
        out: dict[str, Any] = {}
        for key in doc.keys():  # noqa: SIM118 - items() would convert every value to Python
            value = doc[key]  # (a key holding NUL is not found again: KeyError, the generic parser)
            if key == "inputs" and isinstance(value, simdjson.Array):
                out[key] = [_input(item, simdjson) for item in value]
            else:
                out[key] = _plain(value, simdjson)
        return out
    except (ValueError, RuntimeError, KeyError, TypeError):  # invalid JSON, what only json.loads
        pass  # takes (NaN), strings simdjson will not give back (lone surrogates): the generic parser
    payload = parse_json(header)
    if not isinstance(payload, dict):
        raise InvalidInputError("the body must be a JSON object (an inference request)")
    return payload


def _plain(value: Any, simdjson: Any) -> Any:
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def _input(item: Any, simdjson: Any) -> Any:
    if not isinstance(item, simdjson.Object):
        return _plain(item, simdjson)
    fields = {k: _plain(item[k], simdjson) for k in item.keys() if k != "data"}  # noqa: SIM118
    if "data" in item:
        data = item["data"]
        datatype = fields.get("datatype")
        dtype = DTYPES.get(datatype) if isinstance(datatype, str) else None
        fields["data"] = None
        if isinstance(data, simdjson.Array) and dtype is not None and dtype.kind in _SIMD_TYPE:
            of_type, np_type = _SIMD_TYPE[dtype.kind]
            try:
                fields["data"] = np.frombuffer(data.as_buffer(of_type=of_type), dtype=np_type)
            except (ValueError, TypeError, RuntimeError):  # not all numbers of that kind
                pass
        if fields["data"] is None:
            fields["data"] = _plain(data, simdjson)
    return fields


def _shape(value: Any, name: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise InvalidInputError(
            f"input '{name}': shape must be a list of sizes (integers >= 0), got {value!r}"
        )
    return value


def header_fields(fields: Any, index: int) -> tuple[str, str, list[int], dict[str, Any]]:
    """An input's name, datatype, shape and parameters, checked (400 naming what is wrong)."""
    if not isinstance(fields, dict):
        raise InvalidInputError(f"inputs[{index}] must be an object with name, shape, datatype and data")
    name = fields.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"inputs[{index}] has no name")
    datatype = fields.get("datatype")
    if datatype not in DATATYPES:
        raise InvalidInputError(
            f"input '{name}': unknown datatype {datatype!r}; use one of {', '.join(DATATYPES)}"
        )
    parameters = fields.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise InvalidInputError(f"input '{name}': parameters must be an object")
    return name, datatype, _shape(fields.get("shape"), name), parameters


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def tensor_from_json(name: str, datatype: str, shape: list[int], data: Any) -> np.ndarray[Any, Any]:
    """An input's JSON ``data`` (flat or nested) as an array of ``shape`` in ``datatype``."""
    count = math.prod(shape)
    if datatype == BYTES:
        flat = list(_flatten(data if isinstance(data, list) else [data]))
        if not all(isinstance(v, str) for v in flat):
            raise InvalidInputError(f"input '{name}' is BYTES: its data must be strings")
        array = objects(flat)
    else:
        if isinstance(data, np.ndarray):
            array = data
        else:
            if not isinstance(data, list):
                data = [data]
            try:
                array = np.asarray(data)
            except ValueError:  # ragged nesting: the elements in row-major order still count
                array = np.asarray(list(_flatten(data)))
            if array.dtype == object:
                array = np.asarray(list(_flatten(data)))
            array = array.reshape(-1)
        array = _checked_cast(array, DTYPES[datatype], datatype, name)
    if array.size != count:
        raise InvalidInputError(
            f"input '{name}': shape {shape} holds {count} element(s), but its data has {array.size}"
        )
    return array.reshape(shape)


def _checked_cast(array: np.ndarray[Any, Any], dtype: np.dtype[Any], datatype: str, name: str) -> Any:
    kind = array.dtype.kind
    if array.size == 0:
        return array.astype(dtype)
    allowed = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}[dtype.kind]
    if kind not in allowed:
        what = {"b": "booleans", "i": "integers", "u": "integers", "f": "numbers"}[dtype.kind]
        got = {"f": "non-integer numbers", "b": "booleans", "U": "strings"}.get(kind, f"{array.dtype} values")
        raise InvalidInputError(f"input '{name}' is {datatype}: its data must be {what}, not {got}")
    if dtype.kind in "iu" and array.dtype != dtype:
        info = np.iinfo(dtype)
        low, high = array.min(), array.max()
        if low < info.min or high > info.max:
            bad = low if low < info.min else high
            raise InvalidInputError(f"input '{name}' is {datatype}: {bad} is out of its range")
    return array if array.dtype == dtype else array.astype(dtype)


def read_binary(body: Body, offset: int, size: int, name: str, datatype: str, shape: list[int]) -> Any:
    """An input's raw bytes (``size`` of them from ``offset``) as an array: a view of the body
    itself when it is writable (the server's scoring bodies are bytearrays) and the tensor starts
    at a multiple of its item size, else a copy (writable, aligned)."""
    count = math.prod(shape)
    if datatype == BYTES:
        return _read_bytes(memoryview(body)[offset : offset + size], name, count).reshape(shape)
    dtype = DTYPES[datatype]
    needed = count * dtype.itemsize
    if size != needed:
        raise InvalidInputError(
            f"input '{name}': binary_data_size is {size} bytes, "
            f"but {datatype} of shape {shape} takes {needed}"
        )
    array = np.frombuffer(body, dtype=dtype, count=count, offset=offset)
    if datatype == "BOOL" and array.view(np.uint8).max(initial=0) > 1:
        raise InvalidInputError(f"input '{name}' is BOOL: its bytes must be 0 or 1")
    if not array.flags.writeable or not array.flags.aligned:
        # Read-only: copied, as np.load's arrays are writable. Misaligned (the tensor starts where
        # the client's JSON header happens to end): numpy computes on such data without BLAS;
        # sklearn's predict() on 10k x 784 FP64 rows took 220-320 ms instead of 60, the copy ~10.
        array = array.copy()
    if not dtype.isnative:  # big-endian machines
        array = array.astype(dtype.newbyteorder("="))
    return array.reshape(shape)


def _read_bytes(view: memoryview, name: str, count: int) -> np.ndarray[Any, Any]:
    items: list[Any] = []
    at = 0
    while at < len(view):
        if at + 4 > len(view):
            raise InvalidInputError(f"input '{name}': its BYTES data ends inside an element's length")
        length = int.from_bytes(view[at : at + 4], "little")
        at += 4
        if at + length > len(view):
            raise InvalidInputError(
                f"input '{name}': a BYTES element of {length} bytes passes its data's end"
            )
        raw = bytes(view[at : at + length])
        at += length
        try:
            items.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            items.append(raw)
    if len(items) != count:
        raise InvalidInputError(
            f"input '{name}': its shape holds {count} element(s), its data has {len(items)}"
        )
    return objects(items)


# -- responses -----------------------------------------------------------------------------------
def _tensor(value: Any) -> tuple[str, np.ndarray[Any, Any]]:
    """run()'s value (or one value of its dict) as a datatype and an array (at least 1-D)."""
    if isinstance(value, bytes | bytearray | memoryview | str):
        return BYTES, objects([bytes(value) if not isinstance(value, str) else value])
    array = value if isinstance(value, np.ndarray) else None
    if array is None:
        try:
            array = np.asarray(value)
        except (ValueError, TypeError):
            array = None
    if array is not None:
        datatype = datatype_of(array.dtype)
        if datatype is not None and datatype != BYTES:
            return datatype, array.reshape(1) if array.ndim == 0 else array
        if datatype == BYTES:
            flat = array.reshape(-1)
            if all(isinstance(v, str | bytes) for v in flat.tolist()):
                return BYTES, (flat.astype(object) if array.dtype.kind != "O" else flat).reshape(
                    array.shape or (1,)
                )
    # Not a tensor (ragged lists, dicts in lists, objects...): one BYTES element, its JSON text.
    return BYTES, objects([dumps(value).decode()])


def objects(items: list[Any]) -> np.ndarray[Any, Any]:
    """A 1-D object array of ``items`` (never a 2-D one, as ``np.array`` makes of equal lists)."""
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def outputs_of(value: Any, default_name: str) -> list[Output]:
    """run()'s value as output tensors: a dict (or DataFrame) gives one per key, anything else one
    named ``default_name``; numpy arrays keep their dtype and shape."""
    if hasattr(value, "columns") and hasattr(value, "to_dict"):  # pandas.DataFrame: a tensor per column
        value = {str(c): value[c].to_numpy() for c in value.columns}
    if isinstance(value, dict):
        return [Output(str(k), *_tensor(v)) for k, v in value.items()]
    return [Output(default_name, *_tensor(value))]


def json_data(output: Output) -> Any:
    """An output's ``data``: flat, row-major, as orjson serializes it."""
    if output.datatype == BYTES:
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in output.array.reshape(-1)]
    flat = np.ascontiguousarray(output.array).reshape(-1)
    if flat.dtype.byteorder == ">":
        flat = flat.astype(flat.dtype.newbyteorder("="))
    return flat


def encode_binary(output: Output) -> bytes:
    """An output's raw bytes for the binary extension."""
    if output.datatype == BYTES:
        parts = []
        for v in output.array.reshape(-1).tolist():
            raw = v.encode("utf-8") if isinstance(v, str) else bytes(v)
            parts.append(len(raw).to_bytes(4, "little") + raw)
        return b"".join(parts)
    return np.ascontiguousarray(output.array, dtype=DTYPES[output.datatype]).tobytes()


def dumps_response(value: dict[str, Any]) -> bytes:
    """A response object with numpy ``data`` as JSON."""
    return orjson.dumps(value, option=_JSON_OPTIONS)
