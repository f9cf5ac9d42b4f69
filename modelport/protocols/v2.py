"""The Open Inference Protocol (KServe V2) REST routes, beside v1's, on every service.

Routes (kserve/open-inference-protocol, ``inference_rest.md``): ``GET /v2/health/live`` and
``/v2/health/ready`` (200 with ``{"live": true}`` / ``{"ready": true}``), ``GET /v2`` (server
metadata and the extensions implemented: ``binary_tensor_data``), ``GET /v2/models/{name}[/versions/{v}]``
(model metadata), ``.../ready``, ``POST .../infer``. A model name is the service's name or the name
of one of its registered models; all of them are the same scoring script.

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

The model metadata lists what is known without guessing: inputs from the array input, the
``@input_schema`` samples, or (plain run()) a hand-written swagger file's ``ServiceInput``;
outputs from the ``@output_schema`` sample, else those of this worker's first successful V2
inference (none before it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from modelport import __version__
from modelport.errors import (
    InvalidInputError,
    ModelportError,
    NotFoundError,
    ScriptError,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from modelport.protocols import JSON, Call, Protocol, Reply, Route, score_request, swagger, v1
from modelport.protocols import tensors as t
from modelport.runtime import fastjson
from modelport.runtime.bodies import is_json_type, media_type
from modelport.runtime.encode import Encoded
from modelport.runtime.request import Body, ScoringRequest
from modelport.runtime.response import AMLResponse
from modelport.runtime.schema import REQUEST_HEADERS_PARAM
from modelport.runtime.script import InputStyle, Scored, ScoringScript

__all__ = [
    "EXTENSIONS",
    "OUTPUT_NAME",
    "V2",
    "InferCodec",
    "error_value",
    "input_metadata",
    "outputs_seen",
    "plain_inputs",
    "swagger_tensors",
]

EXTENSIONS = ["binary_tensor_data"]
"""The V2 extensions this server implements (``GET /v2``)."""
OUTPUT_NAME = "output-0"
"""The output tensor's name when run() returns anything but a dict."""
HEADER_LENGTH = b"inference-header-content-length"
_BINARY_TYPE = "application/octet-stream"
_NOT_READY = "init() is still running"

PARAMETERS_ARG = "parameters"
"""A run() that declares this argument gets the request's ``parameters`` object."""
_SERVER_PARAMETERS = frozenset({"binary_data_output"})


def error_value(exc: ModelportError | None, debug: bool = False) -> dict[str, Any]:
    """The V2 error object ``{"error": "..."}`` (and run()'s ``traceback`` in debug mode)."""
    if exc is None:
        return {"error": "internal server error"}
    if isinstance(exc, ScriptError):
        body: dict[str, Any] = {"error": f"run() raised {exc.exc_type}: {exc.exc_message}"}
        if debug:
            body["traceback"] = exc.traceback_text
        return body
    return {"error": exc.message}


class ScriptAnswered(ModelportError):
    """run() returned an ``AMLResponse`` with an error status: the V2 answer keeps that status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"run() answered {status}: {text[:500]}")
        self.http_status = status


class V2(Protocol):
    """The V2 routes over a :class:`~modelport.protocols.Host`."""

    name = "v2"
    prefix = "/v2"
    routes_hint = "use /v2/health/{live,ready}, GET /v2, /v2/models/{name}[/versions/{v}][/ready|/infer]"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        # Model name -> its versions: the service's name (its first model's version) and each model's.
        models = list(getattr(host, "models", None) or [(host.service_name, "1")])
        self.models: dict[str, list[str]] = {host.service_name: [models[0][1]]}
        for name, version in models:
            versions = self.models.setdefault(name, [])
            if version not in versions:
                versions.append(version)
        self.declared: tuple[Metadata, Metadata] | None = None
        """The metadata's inputs and outputs as the script (or a swagger file) declares them."""
        self.seen: Metadata | None = None
        """The outputs of this worker's first successful inference, for a run() that declares none."""

    def routes(self) -> list[Route]:
        model, version = "/v2/models/{name}", "/v2/models/{name}/versions/{version}"
        return [
            Route("/v2/health/live", ("GET",), False, self.live),
            Route("/v2/health/ready", ("GET",), True, self.server_ready),
            Route("/v2", ("GET",), True, self.server_metadata),
            Route(model, ("GET",), True, self.model_metadata),
            Route(version, ("GET",), True, self.model_metadata),
            Route(f"{model}/ready", ("GET",), True, self.model_ready),
            Route(f"{version}/ready", ("GET",), True, self.model_ready),
            Route(f"{model}/infer", ("POST",), True, self.infer),
            Route(f"{version}/infer", ("POST",), True, self.infer),
        ]

    def error_body(self, exc: ModelportError | None, debug: bool = False) -> bytes:
        return orjson.dumps(error_value(exc, debug))

    def model(self, call: Call) -> tuple[str, str]:
        """The model and version a route names (404 naming the ones served if unknown)."""
        params = call.params or {}
        name = params.get("name", "")
        versions = self.models.get(name)
        if versions is None:
            raise NotFoundError(f"model '{name}' not found; this service serves {', '.join(self.models)}")
        version = params.get("version")
        if version is None:
            return name, versions[-1]
        if version not in versions:
            raise NotFoundError(f"model '{name}' has no version '{version}'; it has {', '.join(versions)}")
        return name, version

    # -- health and metadata (event loop) -------------------------------------------------------
    async def live(self, call: Call) -> Reply:
        """``GET /v2/health/live``: the process answers."""
        return Reply(200, b'{"live":true}')

    def _readiness(self, extra: dict[str, Any]) -> Reply:
        host = self.host
        if host.ready:
            return Reply(200, orjson.dumps({**extra, "ready": True}))
        reason = host.stopping or _NOT_READY
        body = {**extra, "ready": False, "error": f"not ready: {reason}"}
        return Reply(503, orjson.dumps(body), JSON, [(b"retry-after", b"1")])

    async def server_ready(self, call: Call) -> Reply:
        """``GET /v2/health/ready``: 200 once init() succeeded in this worker, else 503."""
        return self._readiness({})

    async def model_ready(self, call: Call) -> Reply:
        """``GET /v2/models/{name}[/versions/{v}]/ready``: as the server's readiness (one script)."""
        name, _ = self.model(call)
        return self._readiness({"name": name})

    async def server_metadata(self, call: Call) -> Reply:
        """``GET /v2``: name, version and the extensions implemented."""
        return Reply(
            200,
            orjson.dumps({"name": self.host.service_name, "version": __version__, "extensions": EXTENSIONS}),
        )

    async def model_metadata(self, call: Call) -> Reply:
        """``GET /v2/models/{name}[/versions/{v}]``: versions, platform, inputs, outputs."""
        name, _ = self.model(call)
        script = self.host.script
        if script is None:
            raise ServiceUnavailable(f"{_NOT_READY}; the model's inputs are not known yet", retry_after=1)
        if self.declared is None:
            inputs, outputs = input_metadata(script)
            if script.style is InputStyle.PLAIN:
                inputs = await asyncio.to_thread(plain_inputs, self.host.app_root)
            self.declared = inputs, outputs
        inputs, outputs = self.declared
        if not outputs and self.seen is not None:
            outputs = self.seen
        doc = {"name": name, "versions": self.models[name], "platform": "modelport"}
        return Reply(200, orjson.dumps({**doc, "inputs": inputs, "outputs": outputs}))

    def _learn(self, outputs: list[t.Output]) -> None:
        if self.seen is None:  # (run thread) the first answer wins; later ones are not looked at
            self.seen = outputs_seen(outputs)

    # -- inference --------------------------------------------------------------------------------
    async def infer(self, call: Call) -> Reply:
        """``POST /v2/models/{name}[/versions/{v}]/infer``: decode, run(), encode on the run thread."""
        name, version = self.model(call)
        scope = call.scope
        body = await self.host.read_body(call)
        request = ScoringRequest(
            method="POST",
            path=scope["path"],
            query_string=scope.get("query_string", b""),
            raw_headers=scope["headers"],
            body=body,
            scheme=scope.get("scheme", "http"),
            server=scope.get("server"),
            client=scope.get("client"),
            request_id=call.request_id,
        )
        learn = self._learn if self.seen is None else None
        scored = await self.host.score(InferCodec(name, version, learn), request)
        response = scored.response
        content_type = response.content_type.encode("latin-1") if response.content_type else None
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        timing = (
            f"parse;dur={scored.parse_ms:.3f}, run;dur={scored.run_ms:.3f}, "
            f"serialize;dur={scored.serialize_ms:.3f}"
        )
        headers.append((b"server-timing", timing.encode()))
        return Reply(response.status, response.body, content_type, headers, scored.run_ms, scored.printed)


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
            text = orjson.dumps(
                {x.name: _jsonable(x.array) for x in tensors}, option=orjson.OPT_SERIALIZE_NUMPY
            )
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


# -- metadata ----------------------------------------------------------------------------------
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
