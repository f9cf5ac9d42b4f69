"""The Open Inference Protocol (KServe V2) REST routes, beside v1's, on every service.

Routes (kserve/open-inference-protocol, ``inference_rest.md``): ``GET /v2/health/live`` and
``/v2/health/ready`` (200 with ``{"live": true}`` / ``{"ready": true}``), ``GET /v2`` (server
metadata and the extensions implemented: ``binary_tensor_data``), ``GET /v2/models/{name}[/versions/{v}]``
(model metadata), ``.../ready``, ``POST .../infer``. A model name is the service's name or the name
of one of its registered models; all of them are the same scoring script. Errors are
``{"error": "..."}``.

The protocol is three modules, one idea each: these routes; how an inference request becomes
run()'s arguments and its value the answer (:mod:`modelport.protocols.v2_infer`, its tensors in
:mod:`modelport.protocols.tensors`); and what the model metadata says of inputs and outputs
(:mod:`modelport.protocols.v2_metadata`).
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from modelport import __version__
from modelport.errors import ModelportError, NotFoundError, ScriptError, ServiceUnavailable
from modelport.protocols import JSON, Call, Protocol, Reply, Route, json_bytes
from modelport.protocols import tensors as t
from modelport.protocols.v2_infer import InferCodec
from modelport.protocols.v2_metadata import Metadata, input_metadata, outputs_seen, plain_inputs
from modelport.runtime.request import ScoringRequest
from modelport.runtime.script import InputStyle

__all__ = ["EXTENSIONS", "V2", "InferCodec", "error_value"]

EXTENSIONS = ["binary_tensor_data"]
"""The V2 extensions this server implements (``GET /v2``)."""
_NOT_READY = "init() is still running"


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
            Route(f"{model}/infer", ("POST",), True, self.infer, scoring=True, whole_body=True),
            Route(f"{version}/infer", ("POST",), True, self.infer, scoring=True, whole_body=True),
        ]

    def error_body(self, exc: ModelportError | None, debug: bool = False) -> bytes:
        return json_bytes(error_value(exc, debug))

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
        request = ScoringRequest.from_scope(call.scope, await self.host.read_body(call), call.request_id)
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
