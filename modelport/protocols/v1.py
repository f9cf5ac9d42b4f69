"""Azure ML v1's scoring protocol: ``/``, ``/score``, ``/health/ready``, ``/swagger.json``.

Owns how a v1 request becomes run()'s arguments (the body as text for a plain ``run(raw_data)``,
a converted JSON object for inference-schema, an ``AMLRequest`` for ``@rawhttp``, an array from
JSON or npy for an array input, the query string as a JSON object for GET), how run()'s value
becomes the answer, and the error body ``{"message": "...", "code": "<error class>"}``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import orjson

from modelport.errors import (
    InvalidInputError,
    ModelportError,
    ScriptError,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from modelport.protocols import JSON, TEXT, Call, Protocol, Reply, Route, json_bytes, score_request, swagger
from modelport.runtime import fastjson
from modelport.runtime.bodies import is_json_type, json_kind, media_type, parse_json
from modelport.runtime.encode import encode_result
from modelport.runtime.json_arrays import fast_json_array, parse_json_array
from modelport.runtime.npy_arrays import NPY, parse_npy
from modelport.runtime.rawhttp import AMLRequest
from modelport.runtime.request import Body, ScoringRequest
from modelport.runtime.schema import REQUEST_HEADERS_PARAM
from modelport.runtime.script import InputStyle, Scored, ScoringScript

__all__ = ["V1", "V1Codec", "arguments", "error_value", "parse_array"]

_OPTIONS_HEADERS = [(b"allow", b"GET, POST, OPTIONS")]


def error_value(exc: ModelportError | None, debug: bool = False) -> dict[str, Any]:
    """The v1 error object: ``{"message", "code"}`` (and ``"traceback"`` of run() in debug mode).

    ``code`` names the error class (``PayloadTooLarge``, ``ScriptError``...), which the SDK's
    client maps back to the class; a failure of the server's own is ``ModelportError``."""
    if exc is None:
        return {"message": "internal server error", "code": "ModelportError"}
    if isinstance(exc, ScriptError):
        body: dict[str, Any] = {"message": f"{exc.exc_type}: {exc.exc_message}", "code": "ScriptError"}
        if debug:
            body["traceback"] = exc.traceback_text
        return body
    return {"message": exc.message, "code": type(exc).__name__}


class V1Codec:
    """v1's run-thread side (:class:`~modelport.protocols.Codec`): request -> run() -> answer.

    >>> V1Codec().score(script, ScoringRequest("POST", "/score", body=b"[1]")).response.body  # doctest: +SKIP
    """

    def score(self, script: ScoringScript, request: ScoringRequest) -> Scored:
        """Call run() for one request. Bad input raises InvalidInputError (4xx), run() raising
        raises ScriptError("run") with the traceback; a value that cannot be encoded is ScriptError too."""
        return score_request(script, lambda: arguments(script, request), self.encode)

    def decode_array(self, script: ScoringScript, request: ScoringRequest) -> np.ndarray[Any, Any]:
        """The request's array for an array-input run(): npy or JSON by Content-Type (4xx if neither)."""
        return parse_array(script, request)

    def encode(self, value: Any, parse_ms: float, run_ms: float) -> Scored:
        """run()'s value as a v1 answer: an ``AMLResponse`` as it says, bytes as
        ``application/octet-stream``, anything else as JSON."""
        t2 = time.perf_counter()
        try:
            response = encode_result(value)
        except (TypeError, ValueError) as exc:
            raise ScriptError(
                "run", type(exc).__name__, f"run() returned a value that cannot be sent as JSON: {exc}"
            ) from exc
        return Scored(response, parse_ms, run_ms, (time.perf_counter() - t2) * 1e3)


class V1(V1Codec, Protocol):
    """The v1 routes over a :class:`~modelport.protocols.Host`; also the v1 codec (run thread)."""

    name = "v1"

    def routes(self) -> list[Route]:
        return [
            Route("/", ("GET",), False, self.liveness),
            Route(
                "/score", ("POST", "GET", "OPTIONS"), True, self.score_route, scoring=True, whole_body=True
            ),
            Route("/health/ready", ("GET",), True, self.readiness),
            Route("/swagger.json", ("GET",), True, self.swagger),
        ]

    def error_body(self, exc: ModelportError | None, debug: bool = False) -> bytes:
        return json_bytes(error_value(exc, debug))

    # -- routes (event loop) ------------------------------------------------------------------------
    async def liveness(self, call: Call) -> Reply:
        """``GET /``: the process is up."""
        return Reply(200, b"Healthy", TEXT)

    async def readiness(self, call: Call) -> Reply:
        """``GET /health/ready``: 200 once init() succeeded in this worker, else 503."""
        host = self.host
        if host.ready:
            return Reply(200, b"Ready", TEXT)
        reason = host.stopping or "init() is still running"
        body = self.error_body(ServiceUnavailable(f"not ready: {reason}"))
        return Reply(503, body, JSON, [(b"retry-after", b"1")])

    async def score_route(self, call: Call) -> Reply:
        """``/score``: POST (body), GET (query as a JSON object), OPTIONS (empty 200, or a
        ``@rawhttp`` run()'s answer: v1's entry scripts answer CORS preflights themselves)."""
        scope = call.scope
        method = scope["method"]
        script = self.host.script
        if method == "OPTIONS" and (script is None or script.style is not InputStyle.RAWHTTP):
            return Reply(200, b"", None, _OPTIONS_HEADERS)
        body: Body = await self.host.read_body(call) if method == "POST" else b""
        request = ScoringRequest.from_scope(scope, body, call.request_id)
        scored = await self.host.score(self, request)
        response = scored.response
        content_type = response.content_type.encode("latin-1") if response.content_type else None
        headers = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in response.headers]
        headers.append((b"x-ms-run-fn-exec-ms", f"{scored.run_ms:.3f}".encode()))
        timing = (
            f"parse;dur={scored.parse_ms:.3f}, run;dur={scored.run_ms:.3f}, "
            f"serialize;dur={scored.serialize_ms:.3f}"
        )
        headers.append((b"server-timing", timing.encode()))
        return Reply(response.status, response.body, content_type, headers, scored.run_ms, scored.printed)

    async def swagger(self, call: Call) -> Reply:
        """``GET /swagger.json?version=2|3``: a swagger file in the app root, else built from the schema."""
        host = self.host
        script = host.script
        if script is None:
            raise ServiceUnavailable("init() is still running; the schema is not known yet", retry_after=1)
        query = ScoringRequest.from_scope(call.scope).query_object()
        supported = script.schema.versions if script.schema else ["2.0", "3.0", "3.1"]
        version = swagger.parse_version(query.get("version"), supported)
        hand_written = swagger.file_document(host.app_root, version)
        if hand_written is not None:
            return Reply(200, hand_written.read_bytes(), JSON)
        array = script.array_spec.to_json() if script.array_spec is not None else None
        sample = swagger.sample_input(host.app_root)
        doc = swagger.build(script.schema, version, host.service_name, host.auth_enabled, array, sample)
        return Reply(200, orjson.dumps(doc), JSON)


def arguments(script: ScoringScript, request: ScoringRequest) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """run()'s positional and keyword arguments for a v1 request, by the script's input style."""
    kwargs: dict[str, Any] = {}
    if script.wants_headers:
        kwargs[REQUEST_HEADERS_PARAM] = request.headers()
    style = script.style
    if style is InputStyle.RAWHTTP:
        return (AMLRequest(request),), kwargs
    if style is InputStyle.PLAIN:
        if request.method == "GET":
            return (orjson.dumps(request.query_object()).decode(),), kwargs
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInputError(
                f"the request body is not valid UTF-8 text (bad byte at offset {exc.start})"
            ) from exc
        fastjson.remember(text, request.body)
        return (text,), kwargs
    if style is InputStyle.ARRAY:
        return (parse_array(script, request),), kwargs
    schema = script.schema
    assert schema is not None
    spec = script.array_spec
    if spec is not None and request.method == "POST" and media_type(request.content_type) == NPY:
        kwargs.update(schema.convert({spec.name: parse_npy(request.body, spec)}))
        return (), kwargs
    if request.method == "GET":
        payload: Any = request.query_object()
    else:
        if not is_json_type(request.content_type):
            raise UnsupportedMediaType(
                f"run() takes JSON: send Content-Type: application/json, not '{request.content_type}'"
            )
        fast = fast_json_array(request.body, spec, bare=False) if spec is not None else None
        if fast is not None:
            kwargs.update(schema.convert({spec.name: fast}))  # type: ignore[union-attr]
            return (), kwargs
        payload = parse_json(request.body)
    if not isinstance(payload, dict):
        raise InvalidInputError(
            "the JSON body must be an object whose keys are run()'s parameters "
            f"({', '.join(schema.required or schema.arg_names)}), not {json_kind(payload)}"
        )
    kwargs.update(schema.convert(payload))
    return (), kwargs


def parse_array(script: ScoringScript, request: ScoringRequest) -> np.ndarray[Any, Any]:
    """The array of a request to an array-input run(): npy or JSON by Content-Type (4xx if neither)."""
    spec = script.array_spec
    assert spec is not None
    if request.method != "POST":
        raise InvalidInputError(f"run() takes a {spec.describe()}: POST it as JSON or {NPY}")
    if media_type(request.content_type) == NPY:
        return parse_npy(request.body, spec)
    if not is_json_type(request.content_type):
        raise UnsupportedMediaType(
            f"run() takes a {spec.describe()}: send Content-Type application/json or {NPY}, "
            f"not '{request.content_type}'"
        )
    return parse_json_array(request.body, spec)
