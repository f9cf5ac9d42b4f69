"""The scoring server's ASGI app: one pipeline (request id, auth, limits, headers, metrics, error
statuses) in front of the routes the wire protocols declare (modelport.protocols), plus ``/metrics``.

A raw ASGI callable rather than a framework app: exact paths are one dict lookup, and measured on
this stack a framework's routing and middleware cost more per request than the rest of the
pipeline (see docs/serving.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from modelport import __version__
from modelport.errors import (
    InvalidInputError,
    MethodNotAllowed,
    ModelportError,
    NotFoundError,
    PayloadTooLarge,
    RequestTimeout,
    ScriptError,
)
from modelport.protocols import JSON, Call, Codec, Protocol, Reply, Route, Router
from modelport.protocols.apipage import ApiPage
from modelport.protocols.v1 import V1
from modelport.protocols.v2 import V2
from modelport.runtime.request import Body, ScoringRequest
from modelport.runtime.script import Scored, ScoringScript
from modelport.server.auth import Authenticator, KeyStore
from modelport.server.config import ServerConfig
from modelport.server.logs import log_request
from modelport.server.metrics import CONTENT_TYPE as METRICS_TYPE
from modelport.server.metrics import Metrics
from modelport.server.service import ExitHook, ReportHook, ScoringService
from modelport.server.traces import TraceWriter

log = logging.getLogger("modelport.server")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

SERVER_VERSION = f"modelport/{__version__}".encode()
MAX_REQUEST_ID = 100
PROTOCOLS: list[type[Protocol]] = [V1, V2, ApiPage]
"""The wire protocols every service speaks, the first one's error body for unknown paths."""

__all__ = ["PROTOCOLS", "Call", "ClientDisconnected", "Reply", "ScoringApp", "create_app", "read_body"]


class ClientDisconnected(Exception):
    """The client went away before sending its whole body."""


def json_reply(status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None) -> Reply:
    """A JSON response."""
    return Reply(status, orjson.dumps(value), JSON, headers or [])


def _valid_request_id(value: bytes) -> str:
    if len(value) > MAX_REQUEST_ID:
        raise InvalidInputError(f"x-request-id is longer than {MAX_REQUEST_ID} characters")
    if not value or any(b < 0x21 or b > 0x7E for b in value):
        raise InvalidInputError("x-request-id must be printable ASCII without spaces")
    return value.decode("ascii")


def _mb(size: int) -> str:
    return f"{size / 2**20:.3g} MB"


def too_large(limit: int, size: int | None = None) -> PayloadTooLarge:
    """The 413 in people's units, with the two ways to raise the limit (issue 19: it said
    ``larger than the limit of 104857600``)."""
    body = "the request body"
    if size is not None:  # in bytes when MB would round to the limit itself
        body += f" ({_mb(size)})" if _mb(size) != _mb(limit) else f" ({size} bytes)"
    return PayloadTooLarge(
        f"{body} is larger than the service's limit of {_mb(limit)}; raise it with max_body_mb in the "
        "deployment configuration (e.g. LocalWebservice.deploy_configuration(max_body_mb=200)) or "
        "--max-body-mb (modelport deploy, modelport serve)"
    )


async def read_body(
    receive: Receive, limit: int, content_length: int | None, timeout: float | None = None
) -> Body:
    """The request body, refused with 413 as soon as it is known to pass ``limit`` bytes:
    from Content-Length before reading anything, else while counting a chunked stream; and with
    408 if it has not all arrived within ``timeout`` seconds (a trickling client)."""
    if content_length is not None and content_length > limit:
        raise too_large(limit, content_length)
    if timeout is None or getattr(receive, "complete", False):  # here already: nothing to wait for
        return await _receive_body(receive, limit)
    try:
        async with asyncio.timeout(timeout):
            return await _receive_body(receive, limit)
    except TimeoutError:
        raise RequestTimeout(
            f"the request body did not arrive within {timeout:g} s (the server's read_timeout_s)"
        ) from None


async def _receive_body(receive: Receive, limit: int) -> Body:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnected
    body: Body = message.get("body", b"")  # a bytearray when handed over whole
    if not message.get("more_body", False):
        if len(body) > limit:
            raise too_large(limit)
        return body
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class ScoringApp:
    """The ASGI app of one worker. Build it with :func:`create_app`."""

    def __init__(
        self, config: ServerConfig, service: ScoringService, auth: Authenticator, metrics: Metrics
    ) -> None:
        self.config = config
        self.service = service
        self.auth = auth
        self.metrics = metrics
        self.traces = (
            TraceWriter(config.traces_file, int(config.retention_mb * 2**20), config.retention_days)
            if config.traces_file
            else None
        )
        self.debug = config.debug
        self.service_name = config.service_name
        self.auth_enabled = auth.enabled
        self.models = config.served_models()
        # The Host interface: protocols queue their work straight to the service (no extra frame).
        self.score: Callable[[Codec, ScoringRequest], Awaitable[Scored]] = service.score
        self.protocols = [kind(self) for kind in PROTOCOLS]
        self.router = Router()
        for protocol in self.protocols:
            for route in protocol.routes():
                self.router.add(route, protocol)
        self.router.add(Route("/metrics", ("GET",), True, self.prometheus), self.protocols[0])
        self._exact = self.router.exact

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.http(scope, receive, send)
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Start the service (init() begins on the run thread) and stop it."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.service.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.service.stop()
                if self.config.model_data is not None:  # what was collected reaches the disk
                    await asyncio.to_thread(_flush_collected)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- the pipeline: every request goes through here, every error is mapped here ----------------
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Route, authenticate, call the handler, map errors, add headers, send, log, count."""
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        given_id: bytes | None = None
        authorization: str | None = None
        content_length: int | None = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given_id = value
            elif name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-length":
                content_length = int(value) if value.isdigit() else None
        ms_id = str(uuid.uuid4())
        request_id = ms_id
        entry = self._exact.get(path)
        params = None
        if entry is None and self.router.patterns:
            entry, params = self.router.match_pattern(path)
        protocol = entry[1] if entry is not None else self.unrouted(path)
        route_name = "other" if entry is None else entry[0].path
        traces = self.traces if entry is not None and entry[0].scoring else None
        self.metrics.in_flight.inc()
        try:
            try:
                if given_id is not None:
                    request_id = _valid_request_id(given_id)
                if entry is None:
                    raise NotFoundError(f"no route {path}: {protocol.routes_hint}")
                route = entry[0]
                methods = route.methods
                if method not in methods and not (method == "HEAD" and methods == ("GET",)):
                    raise MethodNotAllowed(method, path, methods)
                if route.protected and self.auth.enabled:
                    self.auth.check(authorization)
                reply = await route.handler(
                    Call(scope, receive, request_id, content_length, authorization, params)
                )
            except ClientDisconnected:
                reply = Reply(499, content_type=None)
            except ModelportError as exc:
                reply = self.error_reply(exc, request_id, protocol)
                reply.printed = getattr(exc, "printed", "")
            except Exception as exc:  # a bug of ours: say so without details, log them
                log.exception("unexpected error handling %s %s rid=%s", method, path, request_id)
                reply = Reply(500, protocol.error_body(None))
                del exc
            if traces is not None:
                # Written before the answer is sent, so a client that got its answer finds its trace.
                ms = (time.perf_counter() - started) * 1e3
                traces.write(request_id, method, path, reply.status, ms, reply.run_ms, reply.printed)
            if reply.status != 499:
                await self.send_reply(send, reply, request_id, ms_id, head=method == "HEAD")
        finally:
            self.metrics.in_flight.dec()
        elapsed = time.perf_counter() - started
        log_request(method, path, reply.status, elapsed * 1e3, request_id)
        self.metrics.observe_request(route_name, reply.status, elapsed)

    def unrouted(self, path: str) -> Protocol:
        """The protocol that answers an unknown path: the one owning its prefix, else the first."""
        for protocol in self.protocols:
            if protocol.prefix and (path == protocol.prefix or path.startswith(protocol.prefix + "/")):
                return protocol
        return self.protocols[0]

    def error_reply(self, exc: ModelportError, request_id: str, protocol: Protocol | None = None) -> Reply:
        """The one place where errors become HTTP answers: the status and headers the error carries,
        the body the protocol writes; logged by the first handler its class hierarchy finds."""
        protocol = protocol or self.protocols[0]
        for kind in type(exc).__mro__:
            log_error = _ERROR_LOGS.get(kind)
            if log_error is not None:
                log_error(exc, request_id)
                break
        headers = [(k.lower().encode(), v.encode("latin-1")) for k, v in exc.response_headers().items()]
        if exc.http_status == 503 and self.service.stopping is not None:
            headers.append((b"connection", b"close"))  # reconnect: another worker will answer
        return Reply(exc.http_status, protocol.error_body(exc, self.config.debug), JSON, headers)

    async def send_reply(
        self, send: Send, reply: Reply, request_id: str, ms_id: str, head: bool = False
    ) -> None:
        """Send ``reply`` with the headers every response carries."""
        headers = [
            (b"x-request-id", request_id.encode()),
            (b"x-ms-request-id", ms_id.encode()),
            (b"x-ms-server-version", SERVER_VERSION),
            (b"content-length", str(len(reply.body)).encode()),
        ]
        if reply.content_type is not None:
            headers.append((b"content-type", reply.content_type))
        headers.extend(reply.headers)
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else reply.body})

    # -- the Host interface, for the protocols' handlers -----------------------------------------
    @property
    def ready(self) -> bool:
        """Whether init() succeeded in this worker and it takes requests."""
        return self.service.ready

    @property
    def stopping(self) -> str | None:
        """Why this worker no longer takes requests, if it does not."""
        return self.service.stopping

    @property
    def script(self) -> ScoringScript | None:
        """The loaded scoring script."""
        return self.service.script

    @property
    def app_root(self) -> Path:
        """The service's app root."""
        return self.service.location.app_root

    async def read_body(self, call: Call) -> Body:
        """The request body within ``max_body_mb`` and ``read_timeout_s`` (413, 408)."""
        service = self.service
        service.receiving += 1  # a batch being gathered may wait for this one
        try:
            return await read_body(
                call.receive, self.config.max_body_bytes, call.content_length, self.config.read_timeout_s
            )
        finally:
            service.receiving -= 1

    # -- the server's own route -------------------------------------------------------------------
    async def prometheus(self, call: Call) -> Reply:
        """``GET /metrics``: Prometheus text format, summed over the service's workers."""
        return Reply(200, self.metrics.render(), METRICS_TYPE.encode())


def _log_script_error(exc: ModelportError, request_id: str) -> None:
    assert isinstance(exc, ScriptError)
    log.error(
        "run() failed rid=%s: %s: %s\n%s",
        request_id,
        exc.exc_type,
        exc.exc_message,
        exc.traceback_text.rstrip(),
    )


def _log_error(exc: ModelportError, request_id: str) -> None:
    if exc.http_status >= 500:
        log.warning("%s rid=%s", exc.message, request_id)


_ERROR_LOGS: dict[type[ModelportError], Callable[[ModelportError, str], None]] = {
    ScriptError: _log_script_error,  # the user's traceback, where the user looks: the service log
    ModelportError: _log_error,
}
"""How an error is logged, by its class: the most derived class found in its MRO decides."""


def _flush_collected() -> None:
    from modelport.monitoring.collection import writer

    if not writer.shutdown(timeout=10.0):
        log.warning("collected rows not all written within 10 s at shutdown")


def _collect(config: ServerConfig, metrics: Metrics) -> None:
    """Switch ModelDataCollector on in this worker (v1's collect_model_data), counting its rows."""
    settings = config.collection()
    if settings is None:
        return
    from modelport.monitoring.collection import config as collection

    collection.configure(
        settings,
        collection.Hooks(
            written=lambda designation, rows: metrics.collected.labels(designation).inc(rows),
            dropped=lambda designation, reason, rows: metrics.collect_dropped.labels(designation, reason).inc(
                rows
            ),
        ),
    )


def create_app(
    config: ServerConfig,
    on_exit: ExitHook,
    on_ready: Callable[[], None] | None = None,
    metrics: Metrics | None = None,
    on_report: ReportHook | None = None,
    key_store: KeyStore | None = None,
) -> ScoringApp:
    """Build one worker's ASGI app. init() starts with the ASGI lifespan startup.

    ``on_exit(code, reason)`` is called when the worker must end (see ScoringService);
    ``on_report(event, **details)`` tells the supervisor's status file what happened to it;
    ``key_store``: where the keys come from instead of the settings' (a Ray replica's).
    """
    drift = config.monitoring_dir / "drift" if config.monitoring_dir else None
    metrics = metrics or Metrics(drift)
    _collect(config, metrics)
    store = key_store or KeyStore(config.keys_file, config.auth_key)
    auth = Authenticator(
        store,
        keys_enabled=bool(config.auth_key or config.keys_file or key_store),
        token_enabled=config.token_auth,
    )

    def ready() -> None:
        metrics.ready_workers.inc()
        if on_ready is not None:
            on_ready()

    service = ScoringService(config, config.location(), on_exit, ready, metrics.run_time.observe, on_report)
    log.debug("worker %d app built", os.getpid())
    return ScoringApp(config, service, auth, metrics)
