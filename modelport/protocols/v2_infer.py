"""An Open Inference (V2) inference request on the run thread: its tensors become run()'s
arguments, run()'s value the answer (:class:`InferCodec`).

How an inference request becomes run()'s arguments (see docs/serving.md):

- ``@array_input`` / a lone ``NumpyParameterType``: the input of that name, checked and cast as v1
  checks arrays (dimensions, declared sizes, kind-preserving casts);
- other inference-schema scripts: each input is the parameter of its name (an ndarray for numpy
  parameters, the nested list, or the single value for a scalar sample);
- a plain ``run(raw_data)``: a v1 JSON body ``{"<input name>": <nested list>, ...}`` as text, so
  the tutorial's score.py answers an input named ``data``;
- ``@rawhttp``: the V2 request itself as an ``AMLRequest``, as v1 hands it ``/score``'s (the body
  is still checked as an inference request first).

run()'s value becomes an output tensor named ``output-0`` (a dict: one output per key), datatype
and shape taken from the value; the request's ``id`` is echoed. Errors are ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from modelport.errors import InvalidInputError, ModelportError, ScriptError, UnsupportedMediaType
from modelport.protocols import score_request, v1
from modelport.protocols import tensors as t
from modelport.runtime import fastjson
from modelport.runtime.bodies import is_json_type, media_type
from modelport.runtime.encode import Encoded
from modelport.runtime.request import Body, ScoringRequest
from modelport.runtime.response import AMLResponse
from modelport.runtime.schema import REQUEST_HEADERS_PARAM
from modelport.runtime.script import InputStyle, Scored, ScoringScript

__all__ = ["OUTPUT_NAME", "InferCodec", "ScriptAnswered"]

OUTPUT_NAME = "output-0"
"""The output tensor's name when run() returns anything but a dict."""
HEADER_LENGTH = b"inference-header-content-length"
_BINARY_TYPE = "application/octet-stream"

PARAMETERS_ARG = "parameters"
"""A run() that declares this argument gets the request's ``parameters`` object."""
_SERVER_PARAMETERS = frozenset({"binary_data_output"})


class ScriptAnswered(ModelportError):
    """run() returned an ``AMLResponse`` with an error status: the V2 answer keeps that status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"run() answered {status}: {text[:500]}")
        self.http_status = status


class InferCodec:
    """One inference request's run-thread side (:class:`~modelport.protocols.Codec`): a codec per
    request, because the answer depends on it (its id, the outputs asked for, binary or JSON)."""

    def __init__(
        self, model: str, version: str, learn: Callable[[list[t.Output]], None] | None = None
    ) -> None:
        self.model = model
        self.version = version
        self.learn = learn
        """Told run()'s outputs once they are known (the model metadata of a run() declaring none)."""
        self.request_id: Any = None
        self.requested: list[dict[str, Any]] | None = None
        self.binary_all = False
        self.parameters: dict[str, Any] = {}

    def score(self, script: ScoringScript, request: ScoringRequest) -> Scored:
        """Decode, call run(), encode (4xx: InvalidInputError; run() raising: ScriptError)."""
        return score_request(
            script, lambda: self.arguments(script, request, self.decode(request)), self.encode
        )

    def decode_array(self, script: ScoringScript, request: ScoringRequest) -> np.ndarray[Any, Any]:
        """The array of a batchable script's one input."""
        spec = script.array_spec
        assert spec is not None
        return _only_input(self.decode(request), spec.name, spec.conform)

    # -- decoding ---------------------------------------------------------------------------------
    def decode(self, request: ScoringRequest) -> list[t.Tensor]:
        """The request's input tensors (JSON or with binary data); remembers id and outputs asked."""
        body = request.body
        header_length = request.header(HEADER_LENGTH)
        if header_length is None:
            content_type = request.content_type
            if not is_json_type(content_type) and media_type(content_type) != _BINARY_TYPE:
                raise UnsupportedMediaType(
                    f"an inference request is JSON (or JSON + binary data with an "
                    f"Inference-Header-Content-Length header), not '{content_type}'"
                )
            header: Body = body
            offset = len(body)
        else:
            if not header_length.strip().isdigit() or int(header_length) > len(body):
                raise InvalidInputError(
                    f"Inference-Header-Content-Length is '{header_length}', which is not a length "
                    f"within the body ({len(body)} bytes)"
                )
            offset = int(header_length)
            header = body[:offset]
        doc = t.load_request(header)
        self.request_id = doc.get("id")
        parameters = doc.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise InvalidInputError("parameters must be a JSON object")
        self.binary_all = bool(parameters.get("binary_data_output"))
        # The request's own parameters, for a run() that declares `parameters` (the binary
        # extension's are the server's, not the model's).
        self.parameters = {k: v for k, v in parameters.items() if k not in _SERVER_PARAMETERS}
        outputs = doc.get("outputs")
        if outputs is not None:
            if not isinstance(outputs, list) or not all(
                isinstance(o, dict) and isinstance(o.get("name"), str) for o in outputs
            ):
                raise InvalidInputError("outputs must be a list of objects with a name")
            self.requested = outputs
        inputs = doc.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise InvalidInputError("an inference request needs 'inputs': a list of tensors")
        tensors = []
        for index, fields in enumerate(inputs):
            name, datatype, shape, params = t.header_fields(fields, index)
            size = params.get("binary_data_size")
            if size is None:
                if "data" not in fields:
                    raise InvalidInputError(f"input '{name}' has neither data nor binary_data_size")
                array = t.tensor_from_json(name, datatype, shape, fields["data"])
            else:
                if header_length is None:
                    raise InvalidInputError(
                        f"input '{name}' has binary_data_size, but the request has no "
                        "Inference-Header-Content-Length header"
                    )
                if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                    raise InvalidInputError(f"input '{name}': binary_data_size must be a byte count")
                if offset + size > len(body):
                    raise InvalidInputError(
                        f"input '{name}': binary_data_size is {size} bytes, but only "
                        f"{len(body) - offset} bytes of binary data are left in the body"
                    )
                array = t.read_binary(body, offset, size, name, datatype, shape)
                offset += size
            tensors.append(t.Tensor(name, datatype, shape, array, params))
        if header_length is not None and offset != len(body):
            raise InvalidInputError(
                f"the body has {len(body) - offset} bytes of binary data "
                "that no input's binary_data_size claims"
            )
        names = [x.name for x in tensors]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"an input name appears twice: {', '.join(names)}")
        return tensors

    def arguments(
        self, script: ScoringScript, request: ScoringRequest, tensors: list[t.Tensor]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """run()'s arguments for the decoded tensors, by the script's input style."""
        style = script.style
        if style is InputStyle.RAWHTTP:  # v1's way: run() gets the request itself (this V2 one)
            return v1.arguments(script, request)
        kwargs: dict[str, Any] = {}
        if script.wants_headers:
            kwargs[REQUEST_HEADERS_PARAM] = request.headers()
        if style is InputStyle.PLAIN:  # the v1 body a plain run(raw_data) expects
            body = {x.name: _jsonable(x.array) for x in tensors}
            try:
                text = orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
            except orjson.JSONEncodeError:
                # A lone surrogate ("\ud800" is valid JSON) orjson will not write: the standard
                # library writes it escaped, as the client sent it, and run()'s json.loads reads it.
                text = json.dumps(body, default=np.ndarray.tolist).encode()
            decoded = text.decode()
            fastjson.remember(decoded, text)
            return (decoded,), kwargs
        spec = script.array_spec
        if style is InputStyle.ARRAY:
            assert spec is not None
            return (_only_input(tensors, spec.name, spec.conform),), kwargs
        schema = script.schema
        assert schema is not None
        payload: dict[str, Any] = {}
        for tensor in tensors:
            if tensor.name == REQUEST_HEADERS_PARAM or (
                tensor.name not in schema.arg_names and not schema.accepts_any_kwargs
            ):
                takes = ", ".join(f"'{n}'" for n in schema.arg_names if n != REQUEST_HEADERS_PARAM)
                raise InvalidInputError(f"unknown input '{tensor.name}': run() takes {takes}")
            if spec is not None and tensor.name == spec.name:
                payload[tensor.name] = spec.conform(tensor.array)
            else:
                param = schema.params.get(tensor.name)
                sample = getattr(param.param_type, "sample_input", None) if param else None
                payload[tensor.name] = _schema_value(tensor, sample)
        kwargs.update(schema.convert(payload))
        if PARAMETERS_ARG in schema.arg_names and PARAMETERS_ARG not in payload:
            kwargs[PARAMETERS_ARG] = dict(self.parameters)
        return (), kwargs

    # -- encoding ---------------------------------------------------------------------------------
    def encode(self, value: Any, parse_ms: float, run_ms: float) -> Scored:
        """run()'s value as an inference response (JSON, or JSON + binary outputs)."""
        t2 = time.perf_counter()
        if isinstance(value, AMLResponse):
            value = _aml_value(value)
        outputs = t.outputs_of(value, OUTPUT_NAME)
        if self.learn is not None:
            self.learn(outputs)
        binary = {o.name for o in outputs} if self.binary_all else set()
        if self.requested is not None:
            produced = {o.name: o for o in outputs}
            unknown = [r["name"] for r in self.requested if r["name"] not in produced]
            if unknown:
                raise InvalidInputError(
                    f"unknown output {', '.join(repr(n) for n in unknown)}: run() gave {', '.join(produced)}"
                )
            outputs = [produced[r["name"]] for r in self.requested]
            for r in self.requested:
                params = r.get("parameters") or {}
                wants = params.get("binary_data") if isinstance(params, dict) else None
                if wants is True or (wants is None and self.binary_all):
                    binary.add(r["name"])
                elif wants is False:
                    binary.discard(r["name"])
        entries: list[dict[str, Any]] = []
        parts: list[bytes] = []
        for output in outputs:
            entry: dict[str, Any] = {
                "name": output.name,
                "datatype": output.datatype,
                "shape": list(output.array.shape),
            }
            if output.name in binary:
                raw = t.encode_binary(output)
                entry["parameters"] = {"binary_data_size": len(raw)}
                parts.append(raw)
            else:
                entry["data"] = t.json_data(output)
            entries.append(entry)
        doc: dict[str, Any] = {"model_name": self.model, "model_version": self.version}
        if self.request_id is not None:
            doc["id"] = self.request_id
        doc["outputs"] = entries
        try:
            header = t.dumps_response(doc)
        except TypeError as exc:  # pragma: no cover - outputs_of gives only serializable data
            raise ScriptError("run", type(exc).__name__, f"run()'s value cannot be sent: {exc}") from exc
        if parts:
            response = Encoded(
                200,
                b"".join([header, *parts]),
                _BINARY_TYPE,
                [("inference-header-content-length", str(len(header)))],
            )
        else:
            response = Encoded(200, header, "application/json")
        return Scored(response, parse_ms, run_ms, (time.perf_counter() - t2) * 1e3)


def _only_input(tensors: list[t.Tensor], name: str, conform: Any) -> np.ndarray[Any, Any]:
    """The one input a single-array run() takes, checked by its ``conform``."""
    unknown = [x.name for x in tensors if x.name != name]
    if unknown:
        raise InvalidInputError(
            f"unknown input {', '.join(repr(n) for n in unknown)}: run() takes one input, '{name}'"
        )
    array: np.ndarray[Any, Any] = conform(tensors[0].array)
    return array


def _jsonable(array: np.ndarray[Any, Any]) -> Any:
    """An array as orjson takes it: numeric arrays as they are, BYTES as nested lists of str."""
    if array.dtype == object:
        flat = [
            v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in array.reshape(-1).tolist()
        ]
        return t.objects(flat).reshape(array.shape).tolist()
    return array if array.flags.c_contiguous else np.ascontiguousarray(array)


def _schema_value(tensor: t.Tensor, sample: Any) -> Any:
    """An input for an inference-schema parameter: numpy params take the array; a scalar sample
    takes the one value; anything else the nested list."""
    array = tensor.array
    if isinstance(sample, np.ndarray) and tensor.datatype != t.BYTES:
        return array
    value = _jsonable(array)
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if sample is not None and not isinstance(sample, list | dict | tuple | np.ndarray) and array.size == 1:
        while isinstance(value, list):
            value = value[0]
    return value


def _aml_value(response: AMLResponse) -> Any:
    if response.status_code >= 400:
        raise ScriptAnswered(response.status_code, str(response.get_data(as_text=True)))
    if is_json_type(response.content_type) and response.data:
        try:
            return orjson.loads(response.data)
        except orjson.JSONDecodeError:
            pass
    return response.data
